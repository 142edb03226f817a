//! Sidecar endpoints (EDS): one ClusterLoadAssignment per EDS cluster of every upstream,
//! named like the cluster. A target without instances still gets an (empty) assignment so
//! Envoy finishes warming the cluster instead of waiting for EDS.

use super::chain::{resolver_clusters, target_endpoints};
use super::names::customize_cluster_name;
use crate::discovery_chain::NodeType;
use crate::xds::model::{ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints};
use crate::xds::snapshot::{ProxySnapshot, UpstreamSnapshot};

/// Every load assignment of the sidecar.
pub(super) fn sidecar(snap: &ProxySnapshot) -> Vec<ClusterLoadAssignment> {
    let mut out = Vec::new();
    for upstream in &snap.upstreams {
        for rc in resolver_clusters(&upstream.chain) {
            for (name, target) in rc.targets {
                let eps = target_endpoints(snap, upstream, target);
                out.push(single_priority(name, eps));
            }
        }
    }
    out
}

/// The load assignments of `upstream` whose cluster is fed by `target_id`: its own cluster
/// and any `failover-target~<i>~` cluster it appears in.
pub(super) fn for_target(
    snap: &ProxySnapshot,
    upstream: &UpstreamSnapshot,
    target_id: &str,
) -> Vec<ClusterLoadAssignment> {
    let chain = &upstream.chain;
    let failover = chain.nodes.values().any(|n| {
        n.resolver.as_ref().and_then(|r| r.failover.as_ref()).is_some_and(|f| !f.targets.is_empty())
    });
    if !failover {
        // The common case, and the hot path of endpoint churn: without failover a target
        // feeds exactly the cluster of the resolvers that resolve to it, named after it.
        let Some(target) = chain.targets.get(target_id).filter(|t| !t.name.is_empty()) else {
            return Vec::new();
        };
        return chain
            .nodes
            .values()
            .filter(|n| n.r#type == NodeType::Resolver)
            .filter(|n| n.resolver.as_ref().is_some_and(|r| r.target == target_id))
            .map(|_| {
                let name = customize_cluster_name(&target.name, chain);
                single_priority(name, target_endpoints(snap, upstream, target))
            })
            .collect();
    }
    let mut out = Vec::new();
    for rc in resolver_clusters(chain) {
        for (name, target) in rc.targets.into_iter().filter(|(_, t)| t.id == target_id) {
            out.push(single_priority(name, target_endpoints(snap, upstream, target)));
        }
    }
    out
}

/// A load assignment with one priority group.
pub(super) fn single_priority(
    cluster_name: String,
    lb_endpoints: Vec<LbEndpoint>,
) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name,
        endpoints: vec![LocalityLbEndpoints {
            priority: 0,
            load_balancing_weight: None,
            lb_endpoints,
        }],
        overprovisioning_factor: None,
    }
}
