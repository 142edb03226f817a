//! Why the state machine refused a command. Every variant means the state is unchanged:
//! the command is committed in the log but applies as a no-op, and the error goes back to the
//! client that proposed it (the HTTP layer maps it to 400 with the message).

use crate::ca::{CaConfigError, CaError};
use crate::config::ConfigError;

/// A command the state machine refused. Nothing changed; report the message to the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The raft index did not increase: a runtime bug (entries applied twice or out of
    /// order). The runtime must stop applying and reload from a snapshot.
    #[error("raft index {index} is not above the last applied index {last}")]
    IndexNotIncreasing {
        /// The index given.
        index: u64,
        /// The highest index already applied.
        last: u64,
    },
    /// A catalog registration without a node name.
    #[error("Must provide node")]
    MissingNode,
    /// A catalog registration without an address.
    #[error("Must provide address")]
    MissingAddress,
    /// A service without a name.
    #[error("Must provide service name")]
    MissingServiceName,
    /// A service that breaks a rule of its kind (Consul's `NodeService.Validate`).
    #[error("Invalid service {service_id:?}: {message}")]
    InvalidService {
        /// Instance id.
        service_id: String,
        /// Consul's message.
        message: &'static str,
    },
    /// A check without an id.
    #[error("Must provide check ID")]
    MissingCheckId,
    /// A check on a service instance that is not registered on the node.
    #[error(
        "Missing service registration for check {check_id:?}: no service {service_id:?} on node {node:?}"
    )]
    UnknownServiceForCheck {
        /// Node.
        node: String,
        /// Check.
        check_id: String,
        /// The instance the check names.
        service_id: String,
    },
    /// A status update for a check that does not exist.
    #[error("Unknown check {check_id:?} on node {node:?}")]
    UnknownCheck {
        /// Node.
        node: String,
        /// Check.
        check_id: String,
    },
    /// A config entry refused by its own rules or the graph checks.
    #[error("{0}")]
    ConfigEntry(ConfigError),
    /// An out-of-range CA configuration.
    #[error("{0}")]
    CaConfig(CaConfigError),
    /// CA provider state that cannot rebuild a CA.
    #[error("{0}")]
    CaState(CaError),
    /// A roots record whose active root is not among its roots.
    #[error("ActiveRootID {0:?} is not one of the roots")]
    UnknownActiveRoot(String),
    /// A KV write to the empty key.
    #[error("Missing key name")]
    EmptyKey,
    /// An autopilot configuration field out of range.
    #[error("Invalid autopilot configuration: {field} {message}")]
    InvalidAutopilotConfig {
        /// The field, e.g. `ServerStabilizationTime`.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A coordinate that is not finite or has the wrong dimensionality (Consul's message).
    #[error("{0}")]
    InvalidCoordinate(&'static str),
    /// `cas` together with `recurse` on a KV delete.
    #[error("Conflicting flags: cas and recurse")]
    CasWithRecurse,
    /// A session command or KV lock refused (see the inner error).
    #[error("{0}")]
    Session(#[from] super::session::SessionError),
    /// A prepared query refused (see the inner error).
    #[error("{0}")]
    Query(#[from] super::query::QueryError),
    /// A transaction with more operations than Consul allows.
    #[error("Transaction contains too many operations ({ops} > {max})")]
    TxnTooLarge {
        /// Operations given.
        ops: usize,
        /// The limit.
        max: usize,
    },
    /// A snapshot restore whose document does not restore.
    #[error("{0}")]
    Snapshot(super::SnapshotError),
}
