//! The snapshot format: every table as ordered rows in one JSON document, with a version.
//!
//! `{"Version": 2, "Index": N, "Nodes": [...], "Services": [...], ...}`. Rows come from
//! ordered maps, so equal states give equal bytes on every server (tests compare them). A
//! reader checks `Version` first and refuses one it does not know rather than guess at its
//! fields; a new layout gets a new version and this module keeps reading the old ones.
//! Derived lookups (instances by service name) are not stored; restore rebuilds them.
//!
//! Versions: 1 has the catalog, config entries, CA and KV; 2 adds sessions (with their TTL
//! deadlines), KV lock-delays and prepared queries. A version-1 document reads as a state
//! with none of those.

use std::collections::BTreeMap;

use crate::ca::{CaConfig, RootsResponse};

use super::StateMachine;
use super::entries::StoredConfigEntry;
use super::kv::KvEntry;
use super::model::{Check, Node, Service};
use super::watch::Indexes;

/// The snapshot version this build writes; it reads every version from 1 up to this one.
pub const SNAPSHOT_VERSION: u32 = 2;

/// Why a snapshot was not restored. The state is unchanged; the runtime should fetch the
/// snapshot again or from another server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Written by a build with a different format.
    #[error("unsupported snapshot version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// Not a snapshot, or damaged.
    #[error("invalid snapshot: {0}")]
    Decode(String),
    /// Decoded, but its rows contradict each other (e.g. a service on a missing node).
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionOnly {
    version: u32,
}

/// A service instance row: the node it is on, then the instance.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceRow {
    node: String,
    service: Service,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Snapshot {
    #[expect(
        dead_code,
        reason = "checked first through VersionOnly; listed for deny_unknown_fields"
    )]
    version: u32,
    index: u64,
    nodes: Vec<Node>,
    services: Vec<ServiceRow>,
    checks: Vec<Check>,
    config_entries: Vec<StoredConfigEntry>,
    kv: Vec<KvEntry>,
    kv_tombstones: BTreeMap<String, u64>,
    ca_roots: Option<RootsResponse>,
    ca_config: Option<CaConfig>,
    /// Absent until a CA exists, so older snapshots read unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_provider: Option<super::StoredCaProvider>,
    #[serde(default)]
    autopilot: Option<super::AutopilotConfig>,
    #[serde(default)]
    coordinates: Vec<super::Coordinate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sessions: Vec<super::session::SessionRow>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    lock_delays: BTreeMap<String, super::session::LockDelay>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prepared_queries: Vec<super::PreparedQuery>,
    indexes: Indexes,
}

/// [`ServiceRow`] as written: borrowed from the state.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceRowOut<'a> {
    node: &'a str,
    service: &'a Service,
}

/// A sequence written from an iterator, so a table is serialised without a copy. The
/// closure makes the iterator (serialisation takes `&self`).
struct Rows<F>(F);

impl<F, I> serde::Serialize for Rows<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// A map written from an iterator of pairs.
struct Pairs<F>(F);

impl<F, I, K, V> serde::Serialize for Pairs<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (K, V)>,
    K: serde::Serialize,
    V: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map((self.0)())
    }
}

/// [`Snapshot`] as written: the same fields in the same order, borrowed from the state.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotOut<'a, N, Sv, C, Kv, Kt> {
    version: u32,
    index: u64,
    nodes: N,
    services: Sv,
    checks: C,
    config_entries: Vec<StoredConfigEntry>,
    kv: Kv,
    kv_tombstones: Kt,
    ca_roots: &'a Option<RootsResponse>,
    ca_config: &'a Option<CaConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_provider: &'a Option<super::StoredCaProvider>,
    autopilot: &'a Option<super::AutopilotConfig>,
    coordinates: Vec<super::Coordinate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sessions: Vec<super::session::SessionRow>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    lock_delays: &'a BTreeMap<String, super::session::LockDelay>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prepared_queries: Vec<&'a super::PreparedQuery>,
    indexes: &'a Indexes,
}

impl StateMachine {
    /// The whole state as snapshot bytes (version [`SNAPSHOT_VERSION`]). The large tables
    /// are written straight from the maps, row by row, without copying them first.
    pub fn snapshot(&self) -> Vec<u8> {
        let snapshot = SnapshotOut {
            version: SNAPSHOT_VERSION,
            index: self.last_index(),
            nodes: Rows(|| self.nodes.values()),
            services: Rows(|| {
                self.services.iter().flat_map(|(node, m)| {
                    m.values().map(move |service| ServiceRowOut { node, service })
                })
            }),
            checks: Rows(|| self.checks.values().flat_map(|m| m.values())),
            config_entries: self.config_entries(None),
            kv: Rows(|| self.kv.values()),
            kv_tombstones: Pairs(|| self.kv_tombstones.iter()),
            ca_roots: &self.ca_roots,
            ca_config: &self.ca_config,
            ca_provider: &self.ca_provider,
            autopilot: &self.autopilot,
            coordinates: self.coordinates(),
            sessions: self.sessions.rows(),
            lock_delays: &self.sessions.lock_delays,
            prepared_queries: self.queries.values().collect(),
            indexes: &self.indexes,
        };
        // Plain structs with string keys: serializing cannot fail.
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    /// Replaces the whole state with a snapshot's, keeping this state's datacenter. On `Err`
    /// nothing changed.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let decode = |e: serde_json::Error| SnapshotError::Decode(e.to_string());
        let VersionOnly { version } = serde_json::from_slice(bytes).map_err(decode)?;
        if !(1..=SNAPSHOT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_VERSION,
            });
        }
        let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(decode)?;
        let mut next = StateMachine::new(self.datacenter.clone());
        next.fill(snapshot)?;
        *self = next;
        Ok(())
    }

    fn fill(&mut self, s: Snapshot) -> Result<(), SnapshotError> {
        let bad = |what: String| Err(SnapshotError::Inconsistent(what));
        for n in s.nodes {
            self.nodes.insert(n.node.clone(), n);
        }
        for ServiceRow { node, service } in s.services {
            if !self.nodes.contains_key(&node) {
                return bad(format!("service {:?} on unknown node {node:?}", service.id));
            }
            self.services.entry(node).or_default().insert(service.id.clone(), Box::new(service));
        }
        for c in s.checks {
            if !self.nodes.contains_key(&c.node) {
                return bad(format!("check {:?} on unknown node {:?}", c.check_id, c.node));
            }
            self.checks.entry(c.node.clone()).or_default().insert(c.check_id.clone(), Box::new(c));
        }
        for e in s.config_entries {
            let key = (e.entry.kind(), e.entry.name().to_owned());
            self.config_meta.insert(key, (e.create_index, e.modify_index));
            self.config.insert(e.entry);
        }
        self.kv = s.kv.into_iter().map(|e| (e.key.clone(), e)).collect();
        self.kv_tombstones = s.kv_tombstones.into_iter().collect();
        self.ca_roots = s.ca_roots;
        self.ca_config = s.ca_config;
        self.ca_provider = s.ca_provider;
        self.autopilot = s.autopilot;
        self.fill_coordinates(s.coordinates);
        let nodes = &self.nodes;
        self.sessions = super::session::SessionTable::from_rows(s.sessions, s.lock_delays, |n| {
            nodes.contains_key(n)
        })
        .map_err(SnapshotError::Inconsistent)?;
        self.queries = s.prepared_queries.into_iter().map(|q| (q.id.clone(), q)).collect();
        self.indexes = s.indexes;
        if self.last_index() != s.index {
            return bad(format!("Index {} but tables end at {}", s.index, self.last_index()));
        }
        self.reindex();
        Ok(())
    }
}
