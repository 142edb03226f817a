//! Where the DNS server reads the catalog: a small trait, so servers answer from their raft
//! state and client agents (later) from their cache, with the same server code.

use std::sync::Arc;

use futures::future::BoxFuture;
use proconsul_core::dns::{Instance, NodeAddress};
use proconsul_core::state::{ServiceHealth, StateMachine};

use crate::raft::{RaftNode, ReadConsistency};

/// The catalog reads DNS answers need. Names arrive lower-case (DNS is case-insensitive);
/// implementations MUST match service and node names case-insensitively. Return every
/// instance regardless of health and tags: core filters both, so every implementation
/// answers alike. An `Err` becomes SERVFAIL; its text is logged.
pub trait DnsCatalog: Send + Sync + 'static {
    /// Every instance of `service`, or with `connect` its Connect-capable endpoints (the
    /// sidecar proxies in front of it and its Connect-native instances), in a stable order.
    fn service_instances<'a>(
        &'a self,
        service: &'a str,
        connect: bool,
    ) -> BoxFuture<'a, Result<Vec<Instance>, String>>;

    /// The node named `node`, if registered.
    fn node<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Option<NodeAddress>, String>>;
}

/// Servers answer from their applied state without a leader round trip: Consul's DNS
/// defaults to stale reads (`dns_config.allow_stale`), and a DNS answer that lags a commit
/// by a heartbeat is worth more than one that fails during an election.
impl DnsCatalog for Arc<RaftNode> {
    fn service_instances<'a>(
        &'a self,
        service: &'a str,
        connect: bool,
    ) -> BoxFuture<'a, Result<Vec<Instance>, String>> {
        Box::pin(async move {
            self.read(ReadConsistency::Stale, |sm| {
                instances_of(sm, service, connect).iter().map(Instance::from_health).collect()
            })
            .await
            .map_err(|e| e.to_string())
        })
    }

    fn node<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Option<NodeAddress>, String>> {
        Box::pin(async move {
            self.read(ReadConsistency::Stale, |sm| {
                let found = sm
                    .node(node)
                    .or_else(|| sm.nodes().find(|n| n.node.eq_ignore_ascii_case(node)));
                found.map(|n| NodeAddress { node: n.node.clone(), address: n.address.clone() })
            })
            .await
            .map_err(|e| e.to_string())
        })
    }
}

/// The health rows of `service`, trying the exact name first and then the registered name
/// that differs only in case (`Web` asked as `web`).
fn instances_of(sm: &StateMachine, service: &str, connect: bool) -> Vec<ServiceHealth> {
    let read = |name: &str| {
        if connect { sm.health_connect(name, false) } else { sm.health_service(name, false) }
    };
    let exact = read(service);
    if !exact.is_empty() {
        return exact;
    }
    let registered = sm
        .catalog_services()
        .into_keys()
        .find(|name| name != service && name.eq_ignore_ascii_case(service));
    registered.map(|name| read(&name)).unwrap_or_default()
}
