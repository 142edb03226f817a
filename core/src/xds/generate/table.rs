//! Load assignments shared between sidecars: one row per EDS cluster and endpoint source,
//! built once and handed to every subscribed sidecar as the same `Arc`.
//!
//! Generating from each [`ProxySnapshot`] rebuilds a target's load assignment once per
//! subscriber and walks the discovery chain every time, although the chain only decides
//! *where* endpoints come from, not *which* they are. The table splits the two:
//!
//! ```text
//!  subscribe(snap) ── chain walk, once per subscription ──► rows: (cluster name, target, source)
//!  set_instances(target, instances) ── catalog data ──► rebuild that target's rows only
//!  set_gateways(gateways) ──────────────────────────────► rebuild the rows fed by gateways
//!  assignments(proxy) ──► {cluster name: Versioned}   (Arc clones, no rebuild)
//! ```
//!
//! Rows live in one flat `Vec` in creation order, their cluster names back to back in one
//! string and their current digests inline, so rebuilding many rows reads memory mostly
//! sequentially instead of chasing a pointer per row. A row's assignment always equals
//! what [`super::generate_type`] gives for a subscriber whose snapshot carries the table's
//! instances and gateways: both use the same source decision and the same builder.
//!
//! The table is the catalog view of the agent that owns it: the `endpoints` and `gateways`
//! inside subscribed snapshots are not read; instances come only from
//! [`EndpointTable::set_instances`] and gateways from [`EndpointTable::set_gateways`]. A
//! target nobody set instances for has none (an empty assignment, as in a snapshot without
//! the target).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::chain::{EndpointSource, build_endpoints, endpoint_source, resolver_clusters};
use super::endpoints::single_priority;
use crate::xds::Versioned;
use crate::xds::hash::{ContentHash, content_hash};
use crate::xds::model::Resource;
use crate::xds::snapshot::{Endpoint, GatewayEndpoints, ProxySnapshot};

/// A row of the table: valid until the next [`EndpointTable::subscribe`] or
/// [`EndpointTable::unsubscribe`], which may free and reuse rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssignmentId(u32);

impl std::fmt::Display for AssignmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "assignment#{}", self.0)
    }
}

/// What a row's assignment is a function of, besides catalog data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    cluster_name: String,
    target_id: String,
    source: EndpointSource,
}

/// Where a row's cluster name sits in [`EndpointTable::names`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct Row {
    name: Span,
    /// Digest of `assignment`, so an unchanged rebuild is detected without following the
    /// version string.
    digest: ContentHash,
    /// The target's instances, shared with [`Target::instances`].
    instances: Arc<[Endpoint]>,
    key: RowKey,
    assignment: Versioned<Resource>,
    /// Proxy ids using this row; the row is freed when the last one leaves.
    subscribers: BTreeSet<String>,
}

/// Catalog data of one target and the rows it feeds.
#[derive(Debug, Default)]
struct Target {
    instances: Arc<[Endpoint]>,
    rows: BTreeSet<u32>,
}

/// What a [`EndpointTable::rebuild_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuild {
    /// Assignments built and hashed.
    pub rebuilt: usize,
    /// Those whose version changed (their subscribers need a push).
    pub changed: Vec<AssignmentId>,
}

/// Shared endpoint assignments of every sidecar one agent serves. See the module docs.
#[derive(Debug, Default)]
pub struct EndpointTable {
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    /// Cluster names of the rows, back to back, plus `garbage` bytes of freed rows' names;
    /// compacted when the garbage outweighs the live names.
    names: String,
    garbage: usize,
    by_key: BTreeMap<RowKey, u32>,
    targets: BTreeMap<String, Target>,
    gateways: GatewayEndpoints,
    /// Proxy id → cluster name → row: its load assignments.
    proxies: BTreeMap<String, BTreeMap<String, u32>>,
}

impl EndpointTable {
    /// An empty table: no instances, no gateways, no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Live rows.
    pub fn len(&self) -> usize {
        self.rows.len() - self.free.len()
    }

    /// True when no row is live (no subscribed sidecar has an EDS cluster).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the instances of a target (already filtered by subset, as
    /// [`crate::xds::snapshot::UpstreamSnapshot::endpoints`]) and rebuilds the rows it
    /// feeds. Returns the rows whose version changed: each of their
    /// [`subscribers`](Self::subscribers) MUST be sent the new [`assignment`](Self::assignment).
    pub fn set_instances(
        &mut self,
        target_id: &str,
        instances: Vec<Endpoint>,
    ) -> Vec<AssignmentId> {
        let instances: Arc<[Endpoint]> = instances.into();
        let target = match self.targets.get_mut(target_id) {
            Some(t) if *t.instances == *instances => return Vec::new(),
            Some(t) => t,
            None if instances.is_empty() => return Vec::new(),
            None => self.targets.entry(target_id.to_owned()).or_default(),
        };
        target.instances = Arc::clone(&instances);
        let rows: Vec<u32> = target.rows.iter().copied().collect();
        if instances.is_empty() && rows.is_empty() {
            self.targets.remove(target_id);
        }
        let mut changed = Vec::new();
        for i in rows {
            let row =
                self.rows[i as usize].as_mut().expect("rows referenced by the table are live");
            row.instances = Arc::clone(&instances);
            if rebuild(row, &self.names, &self.gateways) {
                changed.push(AssignmentId(i));
            }
        }
        changed
    }

    /// Sets the mesh gateways (this datacenter's and every other one's) and rebuilds the
    /// rows that dial gateways. Returns the rows whose version changed, as
    /// [`set_instances`](Self::set_instances).
    pub fn set_gateways(&mut self, gateways: GatewayEndpoints) -> Vec<AssignmentId> {
        if gateways == self.gateways {
            return Vec::new();
        }
        self.gateways = gateways;
        let mut changed = Vec::new();
        for (i, slot) in self.rows.iter_mut().enumerate() {
            let Some(row) = slot.as_mut() else { continue };
            if !matches!(row.key.source, EndpointSource::Instances { .. })
                && rebuild(row, &self.names, &self.gateways)
            {
                changed.push(id(i));
            }
        }
        changed
    }

    /// Builds and hashes every assignment again from the table's current instances and
    /// gateways: a full endpoint regeneration. Rows whose version did not change keep their
    /// `Arc`, so subscribers see no difference.
    pub fn rebuild_all(&mut self) -> Rebuild {
        let mut out = Rebuild::default();
        for (i, slot) in self.rows.iter_mut().enumerate() {
            let Some(row) = slot.as_mut() else { continue };
            out.rebuilt += 1;
            if rebuild(row, &self.names, &self.gateways) {
                out.changed.push(id(i));
            }
        }
        out
    }

    /// Subscribes (or re-subscribes) a sidecar: decides where each of its EDS clusters takes
    /// endpoints from, and joins or creates those rows. Rows the previous subscription of the
    /// same proxy used and this one does not are left, and freed if nobody else uses them.
    /// As in [`super::generate`], a later cluster of the same name replaces an earlier one.
    pub fn subscribe(&mut self, snap: &ProxySnapshot) {
        let mut plan: BTreeMap<String, RowKey> = BTreeMap::new();
        for upstream in &snap.upstreams {
            for rc in resolver_clusters(&upstream.chain) {
                for (name, target) in rc.targets {
                    let source = endpoint_source(snap, upstream, target);
                    let key =
                        RowKey { cluster_name: name.clone(), target_id: target.id.clone(), source };
                    plan.insert(name, key);
                }
            }
        }
        let proxy = &snap.proxy_id;
        let mut rows = BTreeMap::new();
        for (name, key) in plan {
            let i = self.join(key, proxy);
            rows.insert(name, i);
        }
        let old = self.proxies.insert(proxy.clone(), rows).unwrap_or_default();
        let kept: BTreeSet<u32> = self.proxies[proxy].values().copied().collect();
        for i in old.into_values().filter(|i| !kept.contains(i)) {
            self.leave(i, proxy);
        }
    }

    /// Forgets a sidecar; rows nobody else uses are freed.
    pub fn unsubscribe(&mut self, proxy_id: &str) {
        for i in self.proxies.remove(proxy_id).unwrap_or_default().into_values() {
            self.leave(i, proxy_id);
        }
    }

    /// Every load assignment of a subscribed sidecar, by cluster name: equal to
    /// [`super::generate_type`] of its snapshot with the table's instances and gateways.
    /// `None` for a proxy that is not subscribed.
    pub fn assignments(&self, proxy_id: &str) -> Option<BTreeMap<String, Versioned<Resource>>> {
        let rows = self.proxies.get(proxy_id)?;
        Some(rows.iter().map(|(name, &i)| (name.clone(), self.row(i).assignment.clone())).collect())
    }

    /// The current assignment of a row (`None` for a freed or unknown row).
    pub fn assignment(&self, row: AssignmentId) -> Option<&Versioned<Resource>> {
        self.slot(row.0).map(|r| &r.assignment)
    }

    /// The proxies using a row, in id order (none for a freed or unknown row).
    pub fn subscribers(&self, row: AssignmentId) -> impl Iterator<Item = &str> {
        self.slot(row.0).into_iter().flat_map(|r| r.subscribers.iter().map(String::as_str))
    }

    /// Adds `proxy` to the row for `key`, creating (and building) it if needed.
    fn join(&mut self, key: RowKey, proxy: &str) -> u32 {
        if let Some(&i) = self.by_key.get(&key) {
            if !self.row(i).subscribers.contains(proxy) {
                self.row_mut(i).subscribers.insert(proxy.to_owned());
            }
            return i;
        }
        let instances =
            self.targets.get(&key.target_id).map(|t| Arc::clone(&t.instances)).unwrap_or_default();
        let (resource, digest) =
            build(&key.source, key.cluster_name.clone(), &instances, &self.gateways);
        let start = self.names.len();
        self.names.push_str(&key.cluster_name);
        let row = Row {
            name: Span { start, end: self.names.len() },
            digest,
            instances,
            key: key.clone(),
            assignment: Versioned { version: digest.to_hex(), resource: Arc::new(resource) },
            subscribers: BTreeSet::from([proxy.to_owned()]),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.rows[i as usize] = Some(row);
                i
            }
            None => {
                let i = u32::try_from(self.rows.len()).expect("fewer than 2^32 assignments");
                self.rows.push(Some(row));
                i
            }
        };
        self.targets.entry(key.target_id.clone()).or_default().rows.insert(i);
        self.by_key.insert(key, i);
        i
    }

    /// Removes `proxy` from row `i`, freeing the row when it was the last subscriber.
    fn leave(&mut self, i: u32, proxy: &str) {
        let row = self.row_mut(i);
        row.subscribers.remove(proxy);
        if !row.subscribers.is_empty() {
            return;
        }
        let row = self.rows[i as usize].take().expect("live row");
        self.free.push(i);
        self.garbage += row.name.end - row.name.start;
        if self.garbage > self.names.len() / 2 {
            self.compact_names();
        }
        self.by_key.remove(&row.key);
        if let Some(t) = self.targets.get_mut(&row.key.target_id) {
            t.rows.remove(&i);
            if t.rows.is_empty() && t.instances.is_empty() {
                self.targets.remove(&row.key.target_id);
            }
        }
    }

    /// Rewrites `names` with the live rows' names only, in row order.
    fn compact_names(&mut self) {
        let mut names = String::with_capacity(self.names.len() - self.garbage);
        for row in self.rows.iter_mut().flatten() {
            let start = names.len();
            names.push_str(&self.names[row.name.start..row.name.end]);
            row.name = Span { start, end: names.len() };
        }
        self.names = names;
        self.garbage = 0;
    }

    fn slot(&self, i: u32) -> Option<&Row> {
        self.rows.get(i as usize).and_then(Option::as_ref)
    }

    fn row(&self, i: u32) -> &Row {
        self.slot(i).expect("rows referenced by the table are live")
    }

    fn row_mut(&mut self, i: u32) -> &mut Row {
        self.rows[i as usize].as_mut().expect("rows referenced by the table are live")
    }
}

fn id(i: usize) -> AssignmentId {
    AssignmentId(u32::try_from(i).expect("rows are indexed by u32"))
}

/// Builds and hashes a row's assignment; true when its version changed. An unchanged
/// assignment keeps its `Arc`, which subscribers may already hold, and the fresh copy is
/// dropped before it is ever shared.
fn rebuild(row: &mut Row, names: &str, gateways: &GatewayEndpoints) -> bool {
    let name = names[row.name.start..row.name.end].to_owned();
    let (resource, digest) = build(&row.key.source, name, &row.instances, gateways);
    if digest == row.digest {
        return false;
    }
    row.digest = digest;
    row.assignment = Versioned { version: digest.to_hex(), resource: Arc::new(resource) };
    true
}

/// A load assignment and its digest (the digest [`Resource::into_versioned`] takes).
fn build(
    source: &EndpointSource,
    cluster_name: String,
    instances: &[Endpoint],
    gateways: &GatewayEndpoints,
) -> (Resource, ContentHash) {
    let lb_endpoints = build_endpoints(source, instances, gateways);
    let resource = Resource::ClusterLoadAssignment(single_priority(cluster_name, lb_endpoints));
    let digest = content_hash(&resource);
    (resource, digest)
}
