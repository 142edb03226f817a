//! Sidecar clusters (CDS): `local_app`, and per upstream one EDS cluster per resolver target
//! carrying mesh mTLS (SNI = target SNI, peer SAN = target's SPIFFE ID), plus an aggregate
//! cluster in front of failover targets.

use super::Sidecar;
use super::chain::{ResolverClusters, resolver_clusters};
use super::names::{LOCAL_APP, service_spiffe_uri};
use crate::discovery_chain::ChainTarget;
use crate::xds::model::{
    CircuitBreakers, Cluster, ClusterLoadAssignment, DiscoveryType, LbEndpoint, LbPolicy,
    LocalityLbEndpoints, OutlierDetection, SanMatcher, SocketAddress, UpstreamTlsContext,
};
use crate::xds::snapshot::Protocol;

/// Every cluster of the sidecar.
pub(super) fn sidecar(ctx: &Sidecar<'_>) -> Vec<Cluster> {
    let mut out = vec![local_app(ctx)];
    for upstream in &ctx.snap.upstreams {
        let http2 = Protocol::parse(&upstream.chain.protocol).is_http2();
        for rc in resolver_clusters(&upstream.chain) {
            if rc.failover {
                out.push(aggregate(&rc));
            }
            for (name, target) in &rc.targets {
                out.push(target_cluster(ctx, &rc, name, target, http2));
            }
        }
    }
    out
}

/// `local_app`: STATIC, the app's address, no TLS (the app is on the same host).
fn local_app(ctx: &Sidecar<'_>) -> Cluster {
    let app = &ctx.snap.local_app;
    Cluster {
        name: LOCAL_APP.to_owned(),
        alt_stat_name: None,
        discovery: DiscoveryType::Static(ClusterLoadAssignment {
            cluster_name: LOCAL_APP.to_owned(),
            endpoints: vec![LocalityLbEndpoints {
                priority: 0,
                load_balancing_weight: None,
                lb_endpoints: vec![LbEndpoint {
                    address: SocketAddress::new(app.host.clone(), app.port),
                    health_status: Default::default(),
                    load_balancing_weight: None,
                }],
            }],
            overprovisioning_factor: None,
        }),
        connect_timeout: ctx.snap.local_connect_timeout,
        lb_policy: LbPolicy::RoundRobin,
        circuit_breakers: None,
        outlier_detection: None,
        healthy_panic_threshold: None,
        http2: ctx.snap.protocol.is_http2(),
        transport_socket: None,
    }
}

/// `envoy.clusters.aggregate` over the failover targets' clusters, in order.
fn aggregate(rc: &ResolverClusters<'_>) -> Cluster {
    Cluster {
        name: rc.base_name.clone(),
        alt_stat_name: Some(rc.base_name.clone()),
        discovery: DiscoveryType::Aggregate {
            clusters: rc.targets.iter().map(|(n, _)| n.clone()).collect(),
        },
        connect_timeout: rc.connect_timeout,
        lb_policy: LbPolicy::ClusterProvided,
        circuit_breakers: None,
        outlier_detection: None,
        healthy_panic_threshold: None,
        http2: false,
        transport_socket: None,
    }
}

/// One target's EDS cluster. The panic threshold is 0 so Envoy never load-balances over
/// unhealthy endpoints (Consul), and the SAN pins the target's service and datacenter.
fn target_cluster(
    ctx: &Sidecar<'_>,
    rc: &ResolverClusters<'_>,
    name: &str,
    target: &ChainTarget,
    http2: bool,
) -> Cluster {
    let spiffe = service_spiffe_uri(
        &ctx.snap.trust_domain,
        &target.partition,
        &target.namespace,
        &target.datacenter,
        &target.service,
    );
    Cluster {
        name: name.to_owned(),
        alt_stat_name: Some(name.to_owned()),
        discovery: DiscoveryType::Eds,
        connect_timeout: rc.connect_timeout,
        lb_policy: rc.lb_policy,
        circuit_breakers: Some(CircuitBreakers::default()),
        outlier_detection: Some(OutlierDetection::default()),
        healthy_panic_threshold: Some(0),
        http2,
        transport_socket: Some(UpstreamTlsContext {
            common_tls_context: ctx.tls_context(vec![SanMatcher::uri_exact(spiffe)]),
            sni: target.sni.clone(),
        }),
    }
}
