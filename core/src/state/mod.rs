//! The replicated state machine openraft drives (DESIGN.md §3): the catalog (nodes, services,
//! checks), config entries (intentions among them), the CA's roots and configuration, and KV.
//!
//! ```text
//!  API write ─► validate ─► propose Command ─► raft log ─► StateMachine::apply(index, &cmd)
//!                                                               │ (validates again, BTreeMaps only)
//!                               waiters on WatchKeys ◄── ApplyResult.changed
//!  blocking read ─► index_of(&WatchKey) > ?index=N ?  ─► read fn ─► X-Consul-Index
//! ```
//!
//! No I/O, clocks or randomness: the same commands at the same indexes give the same state
//! and the same [`snapshot`](StateMachine::snapshot) bytes on every server. The raft index is
//! always given by the caller, never invented. A refused command (`Err`) or a CAS mismatch
//! (`succeeded: false`) changes nothing at all, indexes included.

mod autopilot;
mod ca_provider;
mod catalog;
mod command;
mod coordinate;
mod entries;
mod error;
mod gateway_services;
mod health;
mod kv;
mod kv_lock;
mod model;
mod query;
mod query_exec;
mod restore;
mod session;
mod snapshot;
mod txn;
mod txn_catalog;
mod usage;
mod watch;

use std::collections::{BTreeMap, BTreeSet};

pub use autopilot::{AutopilotConfig, AutopilotSet, ServerStats, failure_tolerance};
pub use ca_provider::StoredCaProvider;
pub use command::{ApplyOutput, ApplyResult, Command};
pub use coordinate::{COORDINATE_DIMENSIONS, Coord, Coordinate, CoordinateBatch};
pub use entries::StoredConfigEntry;
pub use error::StateError;
pub use gateway_services::GatewayService;
pub use kv::KvEntry;
pub use kv_lock::{KvLock, KvUnlock};
pub use model::{
    Check, HealthStatus, Node, ProxyConfig, Service, ServiceAddress, ServiceConnect, ServiceHealth,
    ServiceKind, Upstream, Weights,
};
pub use query::{
    PreparedQuery, QueryConnect, QueryDelete, QueryDns, QueryError, QueryFailover, QuerySet,
    QueryTemplate, ServiceQuery, TEMPLATE_NAME_PREFIX_MATCH,
};
pub use query_exec::QueryExecution;
pub use restore::SnapshotRestore;
pub use session::{
    LOCK_DELAY_DEFAULT, LOCK_DELAY_MAX, SERF_HEALTH, SESSION_TTL_MAX, SESSION_TTL_MIN,
    SESSION_TTL_MULTIPLIER, ServiceCheck, Session, SessionBehavior, SessionCreate, SessionDestroy,
    SessionError, SessionExpire, SessionRenew,
};
pub use snapshot::{SNAPSHOT_VERSION, SnapshotError};
pub use txn::{
    CatalogVerb, KvVerb, TXN_MAX_OPS, Txn, TxnCheckOp, TxnError, TxnKvOp, TxnNodeOp, TxnOp,
    TxnOutcome, TxnResult, TxnServiceOp,
};
pub use usage::Usage;
pub use watch::WatchKey;

use crate::ca::{CaConfig, RootsResponse};
use crate::config::{ConfigEntries, Kind};
use crate::ids::Datacenter;
use watch::Indexes;

/// `(node name, service id)`: where an instance lives.
type InstanceRef = (String, String);

/// A table that may grow with the cluster (nodes, instances, checks, KV). A persistent
/// B-tree: cloning the state shares every table and costs O(1), so a raft snapshot takes a
/// frozen copy under the lock and serialises it while apply goes on (memdb's snapshots do
/// the same for Consul). Writes copy only the path they change while a copy is alive.
pub(crate) type Table<K, V> = imbl::OrdMap<K, V>;

/// The whole replicated state of one datacenter.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    /// Config entries are validated against this datacenter's chains. Not replicated: every
    /// server of a datacenter is configured with the same name.
    datacenter: Datacenter,
    nodes: Table<String, Node>,
    /// node → service id → instance. Boxed: a map's node holds room for eleven values, so
    /// unboxed a node's one service took a 5 KB allocation (and its one check 2.4 KB).
    services: Table<String, BTreeMap<String, Box<Service>>>,
    /// node → check id → check (boxed for the same reason).
    checks: Table<String, BTreeMap<String, Box<Check>>>,
    /// Derived, rebuilt on restore: service name → its instances.
    by_name: Table<String, BTreeSet<InstanceRef>>,
    /// Derived, rebuilt on restore: service name → its sidecars and native instances.
    by_connect: Table<String, BTreeSet<InstanceRef>>,
    config: ConfigEntries,
    /// `(kind, name)` → `(create_index, modify_index)` of each entry in `config`.
    config_meta: BTreeMap<(Kind, String), (u64, u64)>,
    kv: Table<String, KvEntry>,
    /// Deleted key → delete index, so a prefix's index moves on delete (Consul's graveyard).
    kv_tombstones: Table<String, u64>,
    ca_roots: Option<RootsResponse>,
    ca_config: Option<CaConfig>,
    /// The CA's keys and signer; never served (see `ca_provider.rs`).
    ca_provider: Option<StoredCaProvider>,
    /// `None` until first written: reads as the defaults.
    autopilot: Option<AutopilotConfig>,
    coordinates: coordinate::CoordinateTable,
    sessions: session::SessionTable,
    /// Prepared queries by id.
    queries: BTreeMap<String, PreparedQuery>,
    indexes: Indexes,
}

/// The keys an apply touched so far, and the index they get on commit.
struct Changes {
    index: u64,
    keys: BTreeSet<WatchKey>,
}

impl Changes {
    fn touch(&mut self, key: WatchKey) {
        self.keys.insert(key);
    }
}

impl StateMachine {
    /// An empty state for `datacenter`.
    pub fn new(datacenter: Datacenter) -> Self {
        StateMachine {
            datacenter,
            nodes: Table::new(),
            services: Table::new(),
            checks: Table::new(),
            by_name: Table::new(),
            by_connect: Table::new(),
            config: ConfigEntries::new(),
            config_meta: BTreeMap::new(),
            kv: Table::new(),
            kv_tombstones: Table::new(),
            ca_roots: None,
            ca_config: None,
            ca_provider: None,
            autopilot: None,
            coordinates: Table::new(),
            sessions: session::SessionTable::default(),
            queries: BTreeMap::new(),
            indexes: Indexes::default(),
        }
    }

    /// The datacenter config entries are validated for.
    pub fn datacenter(&self) -> &Datacenter {
        &self.datacenter
    }

    /// The raft index of the last command that changed anything (0 for an empty state).
    pub fn last_index(&self) -> u64 {
        self.indexes.max()
    }

    /// Applies one committed command at raft `index`.
    ///
    /// The runtime MUST call this in log order with each entry's own index. `Err` and
    /// `succeeded: false` leave the state untouched; the runtime still counts the entry as
    /// applied (openraft tracks the applied log id itself) and reports the outcome to the
    /// proposer. After `Ok`, wake the waiters [`ApplyResult::changed`] affects.
    pub fn apply(&mut self, index: u64, command: &Command) -> Result<ApplyResult, StateError> {
        let last = self.last_index();
        if index <= last {
            return Err(StateError::IndexNotIncreasing { index, last });
        }
        let mut tx = Changes { index, keys: BTreeSet::new() };
        let mut output = None;
        let succeeded = match command {
            Command::Register { node, service, checks } => {
                self.register(&mut tx, node, service.as_ref(), checks)?
            }
            Command::DeregisterNode { node } => self.deregister_node(&mut tx, node),
            Command::DeregisterService { node, service_id } => {
                self.deregister_service(&mut tx, node, service_id)
            }
            Command::DeregisterCheck { node, check_id } => {
                self.deregister_check(&mut tx, node, check_id)
            }
            Command::UpdateCheckStatus { node, check_id, status, output } => {
                self.update_check_status(&mut tx, node, check_id, *status, output)?
            }
            Command::ConfigEntrySet { entry, cas } => self.config_set(&mut tx, entry, *cas)?,
            Command::ConfigEntryDelete { kind, name, cas } => {
                self.config_delete(&mut tx, *kind, name, *cas)?
            }
            Command::KvSet { key, value, flags, cas } => {
                self.kv_set(&mut tx, key, value, *flags, *cas)?
            }
            Command::KvDelete { key, recurse, cas } => {
                self.kv_delete(&mut tx, key, *recurse, *cas)?
            }
            Command::CaSetRoots { roots } => self.ca_set_roots(&mut tx, roots)?,
            Command::CaSetConfig { config } => self.ca_set_config(&mut tx, config)?,
            Command::CaSetProviderState { state, config, cas } => {
                self.ca_set_provider_state(&mut tx, state, config, *cas)?
            }
            Command::AutopilotSetConfig(set) => self.autopilot_set(&mut tx, set)?,
            Command::CoordinateBatchUpdate(batch) => self.coordinates_update(&mut tx, batch)?,
            Command::SessionCreate(c) => self.session_create(&mut tx, c)?,
            Command::SessionDestroy(c) => self.session_destroy(&mut tx, c),
            Command::SessionRenew(c) => self.session_renew(c),
            Command::SessionExpire(c) => self.session_expire(&mut tx, c),
            Command::KvLock(c) => self.kv_lock(&mut tx, c)?,
            Command::KvUnlock(c) => self.kv_unlock(&mut tx, c)?,
            Command::Txn(t) => {
                let (ok, outcome) = self.txn_apply(&mut tx, t)?;
                output = Some(ApplyOutput::Txn(outcome));
                ok
            }
            Command::PreparedQuerySet(c) => self.query_set(&mut tx, c)?,
            Command::PreparedQueryDelete(c) => self.query_delete(&mut tx, c)?,
            Command::SnapshotRestore(c) => self.snapshot_restore(&mut tx, c)?,
        };
        if let Some(node) = session::catalog_node(command) {
            self.invalidate_sessions_on(&mut tx, node);
        }
        for key in &tx.keys {
            self.indexes.touch(key, index);
        }
        Ok(ApplyResult { succeeded, changed: tx.keys.into_iter().collect(), output })
    }

    /// The index to report for a read of `key` (`X-Consul-Index`); never 0. A blocking query
    /// with `?index=N` returns once this exceeds `N`.
    pub fn index_of(&self, key: &WatchKey) -> u64 {
        let raw = match key {
            WatchKey::KvPrefix(prefix) => self.kv_prefix_index(prefix),
            other => self.indexes.get(other),
        };
        watch::never_zero(raw)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
