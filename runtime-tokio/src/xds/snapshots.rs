//! Where ADS streams get the resources of their proxy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use proconsul_core::xds::ResourceSet;
use tokio::sync::watch;

/// Supplies each proxy's current resources and wakes streams when they change.
pub trait SnapshotSource<R>: Send + Sync + 'static {
    /// A receiver of the resource sets for the proxy with this node id, or why there is
    /// none (the stream is then refused with `NotFound`).
    fn subscribe(&self, node_id: &str) -> Result<watch::Receiver<Arc<ResourceSet<R>>>, String>;
}

/// A table of per-proxy resource sets set from outside (the agent's proxy manager, tests).
pub struct Snapshots<R> {
    by_node: Mutex<BTreeMap<String, watch::Sender<Arc<ResourceSet<R>>>>>,
}

impl<R> Default for Snapshots<R> {
    fn default() -> Self {
        Snapshots { by_node: Mutex::new(BTreeMap::new()) }
    }
}

impl<R: Send + Sync + 'static> Snapshots<R> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes the resources of a proxy; open streams for it are woken.
    pub fn set(&self, node_id: &str, resources: ResourceSet<R>) {
        let mut map = self.by_node.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(node_id) {
            Some(tx) => {
                tx.send_replace(Arc::new(resources));
            }
            None => {
                let (tx, _) = watch::channel(Arc::new(resources));
                map.insert(node_id.to_owned(), tx);
            }
        }
    }

    /// Forgets a proxy; its open streams end.
    pub fn remove(&self, node_id: &str) {
        self.by_node.lock().unwrap_or_else(|p| p.into_inner()).remove(node_id);
    }
}

impl<R: Send + Sync + 'static> SnapshotSource<R> for Snapshots<R> {
    fn subscribe(&self, node_id: &str) -> Result<watch::Receiver<Arc<ResourceSet<R>>>, String> {
        let map = self.by_node.lock().unwrap_or_else(|p| p.into_inner());
        map.get(node_id)
            .map(watch::Sender::subscribe)
            .ok_or_else(|| format!("no proxy with id {node_id:?} is registered with this agent"))
    }
}
