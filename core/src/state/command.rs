//! The replicated commands: every write to the state goes through the raft log as one
//! [`Command`], serialized with serde (`{"Op": "KvSet", ...}`).
//!
//! Versioning: an `Op`'s shape never changes once released. A new shape is a new `Op` name
//! (`RegisterV2`), and the old one stays decodable, so a log written by an older server
//! replays on a newer one. Unknown `Op`s fail to decode before they reach apply.

use crate::ca::{CaConfig, CaProviderState, RootsResponse};
use crate::config::{ConfigEntry, Kind};

use super::model::{Check, Node, Service};
use super::watch::WatchKey;

/// One write to the replicated state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "Op")]
#[allow(
    clippy::large_enum_variant,
    reason = "commands are decoded one at a time from the log; boxing buys nothing"
)]
pub enum Command {
    /// Consul's catalog register: the node, optionally one service instance, and checks
    /// (`PUT /v1/catalog/register`; the agent's anti-entropy sends the same).
    Register {
        /// The node (indexes ignored).
        #[serde(rename = "Node")]
        node: Node,
        /// A service instance on it.
        #[serde(rename = "Service", default)]
        service: Option<Service>,
        /// Checks on the node or on the instance.
        #[serde(rename = "Checks", default)]
        checks: Vec<Check>,
    },
    /// Removes a node with its services and checks.
    DeregisterNode {
        /// Node name.
        #[serde(rename = "Node")]
        node: String,
    },
    /// Removes a service instance and its checks.
    DeregisterService {
        /// Node name.
        #[serde(rename = "Node")]
        node: String,
        /// Instance id.
        #[serde(rename = "ServiceID")]
        service_id: String,
    },
    /// Removes one check.
    DeregisterCheck {
        /// Node name.
        #[serde(rename = "Node")]
        node: String,
        /// Check id.
        #[serde(rename = "CheckID")]
        check_id: String,
    },
    /// A check's new state, as reported by the agent that runs it.
    UpdateCheckStatus {
        /// Node name.
        #[serde(rename = "Node")]
        node: String,
        /// Check id.
        #[serde(rename = "CheckID")]
        check_id: String,
        /// New status.
        #[serde(rename = "Status")]
        status: super::model::HealthStatus,
        /// New output.
        #[serde(rename = "Output", default)]
        output: String,
    },
    /// Writes a config entry; with `cas`, only if its ModifyIndex matches (0: only if absent).
    ConfigEntrySet {
        /// The entry (decoding normalizes and validates it alone).
        #[serde(rename = "Entry")]
        entry: ConfigEntry,
        /// Expected ModifyIndex.
        #[serde(rename = "Cas", default)]
        cas: Option<u64>,
    },
    /// Deletes a config entry; with `cas`, only if its ModifyIndex matches.
    ConfigEntryDelete {
        /// Kind.
        #[serde(rename = "Kind", with = "kind_serde")]
        kind: Kind,
        /// Name.
        #[serde(rename = "Name")]
        name: String,
        /// Expected ModifyIndex.
        #[serde(rename = "Cas", default)]
        cas: Option<u64>,
    },
    /// Writes a KV key; with `cas`, only if its ModifyIndex matches (0: only if absent).
    KvSet {
        /// Key.
        #[serde(rename = "Key")]
        key: String,
        /// Value bytes.
        #[serde(rename = "Value")]
        value: Vec<u8>,
        /// Opaque client flags.
        #[serde(rename = "Flags", default)]
        flags: u64,
        /// Expected ModifyIndex.
        #[serde(rename = "Cas", default)]
        cas: Option<u64>,
    },
    /// Deletes a key, or with `recurse` every key starting with it; `cas` (single key only)
    /// deletes only if the ModifyIndex matches.
    KvDelete {
        /// Key or prefix.
        #[serde(rename = "Key")]
        key: String,
        /// Delete the tree under `key`.
        #[serde(rename = "Recurse", default)]
        recurse: bool,
        /// Expected ModifyIndex.
        #[serde(rename = "Cas", default)]
        cas: Option<u64>,
    },
    /// Replaces the published CA roots (the leader's CA manager writes them).
    CaSetRoots {
        /// The new roots record.
        #[serde(rename = "Roots")]
        roots: RootsResponse,
    },
    /// Replaces the CA configuration.
    CaSetConfig {
        /// The new configuration.
        #[serde(rename = "Config")]
        config: CaConfig,
    },
    /// Replaces the CA's private provider state, the roots it publishes and the
    /// configuration in one step; with `cas`, only if the provider state's modify index
    /// matches (0: only if there is none yet).
    CaSetProviderState {
        /// Keys, signer, roots and serial counter.
        #[serde(rename = "State")]
        state: CaProviderState,
        /// The configuration in force with it.
        #[serde(rename = "Config")]
        config: CaConfig,
        /// Expected modify index of the provider state.
        #[serde(rename = "Cas", default)]
        cas: Option<u64>,
    },
    /// Replaces autopilot's configuration, optionally by CAS.
    AutopilotSetConfig(super::autopilot::AutopilotSet),
    /// Stores agents' network coordinates.
    CoordinateBatchUpdate(super::coordinate::CoordinateBatch),
    /// Creates a session.
    SessionCreate(super::session::SessionCreate),
    /// Destroys a session, releasing or deleting its keys.
    SessionDestroy(super::session::SessionDestroy),
    /// Restarts a TTL session's clock.
    SessionRenew(super::session::SessionRenew),
    /// Destroys the TTL sessions whose deadline has passed.
    SessionExpire(super::session::SessionExpire),
    /// `?acquire=`: takes a KV lock for a session.
    KvLock(super::kv_lock::KvLock),
    /// `?release=`: gives a KV lock back.
    KvUnlock(super::kv_lock::KvUnlock),
    /// An all-or-nothing transaction (`/v1/txn`).
    Txn(super::txn::Txn),
    /// Creates or replaces a prepared query.
    PreparedQuerySet(super::query::QuerySet),
    /// Deletes a prepared query.
    PreparedQueryDelete(super::query::QueryDelete),
    /// Replaces the whole state with a snapshot (`PUT /v1/snapshot`).
    SnapshotRestore(super::restore::SnapshotRestore),
}

/// What an applied command did.
#[derive(Debug, Clone, PartialEq, Default)]
#[must_use]
pub struct ApplyResult {
    /// Consul's `true`/`false` answer: false when a CAS did not match (nothing changed).
    pub succeeded: bool,
    /// The watch keys whose index is now the applied raft index, sorted and deduplicated:
    /// wake the waiters these [`WatchKey::affects`]. Empty when nothing changed.
    pub changed: Vec<WatchKey>,
    /// What the command answers besides `succeeded` (a transaction's results or errors).
    pub output: Option<ApplyOutput>,
}

/// A command's answer beyond Consul's boolean, sent back to the proposer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ApplyOutput {
    /// `/v1/txn`: results when committed, errors when rolled back.
    Txn(super::txn::TxnOutcome),
}

/// `Kind` as its wire name (`service-router`).
mod kind_serde {
    use crate::config::Kind;

    pub(super) fn serialize<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
