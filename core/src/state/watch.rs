//! Watch keys and the indexes behind Consul's blocking queries (CONSUL-FACTS.md §8).
//!
//! A blocking read names what it read as a [`WatchKey`]; [`super::StateMachine::index_of`]
//! gives that key's index, which the HTTP layer sends as `X-Consul-Index`, and a waiter with
//! `?index=N` returns once `index_of(key) > N`. Every apply reports the keys it touched
//! (sorted, deduplicated), and each of them then has `index_of == ` the apply's raft index, so a
//! runtime wakes exactly the waiters [`WatchKey::affects`] selects and no others.
//!
//! Per-name indexes (service names, config entries) outlive the rows they describe: a delete
//! must move the index a waiter is blocked on, like Consul's KV graveyard. They are bounded by
//! the number of distinct names ever written.

use std::collections::BTreeMap;

use crate::config::Kind;

/// What a blocking query read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WatchKey {
    /// The node table (`/v1/catalog/nodes`).
    Nodes,
    /// The service table (`/v1/catalog/services`).
    Services,
    /// The instances of one service, their nodes and checks (`/v1/health/service/<name>`).
    ServiceName(String),
    /// The Connect-capable instances of one service (`/v1/health/connect/<name>`): its
    /// sidecars and native instances, with their nodes and checks.
    ConnectService(String),
    /// The check table (`/v1/health/state/...`).
    Checks,
    /// Every config entry (`/v1/config/<kind>`).
    ConfigEntries,
    /// One config entry (`/v1/config/<kind>/<name>`).
    ConfigEntry {
        /// Kind.
        kind: Kind,
        /// Name.
        name: String,
    },
    /// Every `service-intentions` entry (`/v1/connect/intentions`).
    Intentions,
    /// The CA roots (`/v1/connect/ca/roots`).
    CaRoots,
    /// The CA configuration (`/v1/connect/ca/configuration`).
    CaConfig,
    /// Autopilot's configuration (`/v1/operator/autopilot/configuration`).
    Autopilot,
    /// Network coordinates (`/v1/coordinate/*`).
    Coordinates,
    /// The session table (`/v1/session/*`).
    Sessions,
    /// The prepared query table (`/v1/query`).
    PreparedQueries,
    /// As a changed key: the whole state was replaced (snapshot restore), which affects
    /// every waiter. As a watched key: the highest index of any table.
    All,
    /// KV keys starting with a prefix (`/v1/kv/<prefix>`); the empty prefix is every key.
    /// As a changed key, it names the exact key written or the prefix deleted.
    KvPrefix(String),
}

impl WatchKey {
    /// True when a waiter on `self` must wake for a change reported as `changed`. Equal keys
    /// match; a KV change matches a watched prefix when either is a prefix of the other (a
    /// written key under the prefix, or a deleted tree that contains it).
    pub fn affects(&self, changed: &WatchKey) -> bool {
        match (self, changed) {
            (_, WatchKey::All) => true,
            (WatchKey::KvPrefix(watched), WatchKey::KvPrefix(changed)) => {
                changed.starts_with(watched.as_str()) || watched.starts_with(changed.as_str())
            }
            _ => self == changed,
        }
    }
}

/// Consul never reports index 0 (clients treat it as "don't block"): 0 becomes 1.
pub(crate) fn never_zero(index: u64) -> u64 {
    index.max(1)
}

/// The modify index of every table and of every per-name key, all replicated.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Indexes {
    pub(crate) nodes: u64,
    pub(crate) services: u64,
    pub(crate) checks: u64,
    pub(crate) config_entries: u64,
    pub(crate) intentions: u64,
    pub(crate) ca_roots: u64,
    pub(crate) ca_config: u64,
    /// The KV table including its tombstones.
    pub(crate) kvs: u64,
    #[serde(default)]
    pub(crate) autopilot: u64,
    #[serde(default)]
    pub(crate) coordinates: u64,
    #[serde(default)]
    pub(crate) sessions: u64,
    #[serde(default)]
    pub(crate) prepared_queries: u64,
    pub(crate) service_names: super::Table<String, u64>,
    pub(crate) connect_services: super::Table<String, u64>,
    /// `"<kind>/<name>"` so the map serializes as a JSON object.
    pub(crate) config_entry_names: BTreeMap<String, u64>,
}

fn entry_key(kind: Kind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

impl Indexes {
    /// Sets the stored index of `key`. `KvPrefix` is computed from the KV rows and their
    /// tombstones, so only the table index moves here.
    pub(crate) fn touch(&mut self, key: &WatchKey, index: u64) {
        match key {
            WatchKey::Nodes => self.nodes = index,
            WatchKey::Services => self.services = index,
            WatchKey::ServiceName(n) => {
                self.service_names.insert(n.clone(), index);
            }
            WatchKey::ConnectService(n) => {
                self.connect_services.insert(n.clone(), index);
            }
            WatchKey::Checks => self.checks = index,
            WatchKey::ConfigEntries => self.config_entries = index,
            WatchKey::ConfigEntry { kind, name } => {
                self.config_entry_names.insert(entry_key(*kind, name), index);
            }
            WatchKey::Intentions => self.intentions = index,
            WatchKey::CaRoots => self.ca_roots = index,
            WatchKey::CaConfig => self.ca_config = index,
            WatchKey::KvPrefix(_) => self.kvs = index,
            WatchKey::Autopilot => self.autopilot = index,
            WatchKey::Coordinates => self.coordinates = index,
            WatchKey::Sessions => self.sessions = index,
            WatchKey::PreparedQueries => self.prepared_queries = index,
            // A restore sets every index itself (see `restore.rs`).
            WatchKey::All => {}
        }
    }

    /// The stored index of `key` (0 when never touched); `KvPrefix` is not stored here.
    pub(crate) fn get(&self, key: &WatchKey) -> u64 {
        let named = |m: &BTreeMap<String, u64>, n: &str| m.get(n).copied().unwrap_or(0);
        match key {
            WatchKey::Nodes => self.nodes,
            WatchKey::Services => self.services,
            WatchKey::ServiceName(n) => self.service_names.get(n).copied().unwrap_or(0),
            WatchKey::ConnectService(n) => self.connect_services.get(n).copied().unwrap_or(0),
            WatchKey::Checks => self.checks,
            WatchKey::ConfigEntries => self.config_entries,
            WatchKey::ConfigEntry { kind, name } => {
                named(&self.config_entry_names, &entry_key(*kind, name))
            }
            WatchKey::Intentions => self.intentions,
            WatchKey::CaRoots => self.ca_roots,
            WatchKey::CaConfig => self.ca_config,
            WatchKey::KvPrefix(_) => self.kvs,
            WatchKey::Autopilot => self.autopilot,
            WatchKey::Coordinates => self.coordinates,
            WatchKey::Sessions => self.sessions,
            WatchKey::PreparedQueries => self.prepared_queries,
            WatchKey::All => self.max(),
        }
    }

    /// The highest index of any table: the state machine's last data change.
    pub(crate) fn max(&self) -> u64 {
        [
            self.nodes,
            self.services,
            self.checks,
            self.config_entries,
            self.intentions,
            self.ca_roots,
            self.ca_config,
            self.kvs,
            self.autopilot,
            self.coordinates,
            self.sessions,
            self.prepared_queries,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}
