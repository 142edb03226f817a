//! Sidecar endpoints (EDS): one ClusterLoadAssignment per EDS cluster of every upstream,
//! named like the cluster. A target without instances still gets an (empty) assignment so
//! Envoy finishes warming the cluster instead of waiting for EDS.

use super::chain::{resolver_clusters, target_endpoints};
use crate::xds::model::{ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints};
use crate::xds::snapshot::ProxySnapshot;

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
