//! Mesh gateway resources (CONSUL-FACTS.md §5.2). A gateway never terminates TLS: the
//! `tls_inspector` reads the SNI of the sidecars' ClientHello and the listener routes on it.
//!
//! ```text
//!  default:<addr>:<port>  [tls_inspector]
//!    ├─ *.dc2.internal.<td> ──► tcp_proxy ─► dc2.internal.<td>   (dc2's gateways, WAN)
//!    ├─ *.dc3.internal.<td> ──► ...                               (remote dcs, sorted)
//!    └─ (anything else)     ──► sni_cluster + tcp_proxy ─► cluster named by the SNI:
//!                               <svc>.default.<dc>.internal.<td>, <subset>.<svc>...  (sidecars, LAN)
//! ```

use super::chain::lb_endpoint;
use super::endpoints::single_priority;
use super::names::{gateway_sni, service_sni};
use crate::config::GoDuration;
use crate::xds::model::{
    Cluster, DiscoveryType, DnsLookupFamily, FilterChain, FilterChainMatch, LbEndpoint, LbPolicy,
    Listener, ListenerFilter, NetworkFilter, OutlierDetection, Resource, SocketAddress, TcpProxy,
    TrafficDirection,
};
use crate::xds::snapshot::{Endpoint, MeshGatewaySnapshot};

/// Envoy re-resolves hostname gateways this often (Consul's value).
const DNS_REFRESH_RATE: GoDuration = GoDuration::from_secs(10);

/// Every resource of the gateway.
pub(super) fn resources(snap: &MeshGatewaySnapshot) -> Vec<Resource> {
    let mut out = vec![Resource::Listener(listener(snap))];
    for (dc, gateways) in remote_dcs(snap) {
        let name = gateway_sni(dc, &snap.trust_domain);
        let eps: Vec<LbEndpoint> =
            gateways.iter().map(|e| lb_endpoint(e, true, false, None)).collect();
        let hostname = eps.first().filter(|e| e.address.is_hostname()).cloned();
        let mut cluster = gateway_cluster(&name, snap.connect_timeout, LbPolicy::RoundRobin);
        match hostname {
            // LOGICAL_DNS takes one host; Consul uses the first hostname gateway.
            Some(first) => {
                cluster.discovery = DiscoveryType::LogicalDns {
                    load_assignment: single_priority(name, vec![first]),
                    dns_refresh_rate: DNS_REFRESH_RATE,
                    dns_lookup_family: DnsLookupFamily::V4Only,
                };
            }
            None => out.push(Resource::ClusterLoadAssignment(single_priority(name, eps))),
        }
        out.push(Resource::Cluster(cluster));
    }
    for (service, svc) in &snap.services {
        let lb = LbPolicy::from_consul(&svc.lb_policy);
        let timeout = if svc.connect_timeout.as_nanos() > 0 {
            svc.connect_timeout
        } else {
            snap.connect_timeout
        };
        let mut push = |subset: Option<&str>, endpoints: &[Endpoint], only_passing: bool| {
            let name = service_sni(service, subset, &snap.datacenter, &snap.trust_domain);
            let eps = endpoints.iter().map(|e| lb_endpoint(e, false, only_passing, None)).collect();
            out.push(Resource::Cluster(gateway_cluster(&name, timeout, lb)));
            out.push(Resource::ClusterLoadAssignment(single_priority(name, eps)));
        };
        push(None, &svc.endpoints, false);
        for (subset, s) in &svc.subsets {
            push(Some(subset), &s.endpoints, s.only_passing);
        }
    }
    out
}

/// Other datacenters, sorted (BTreeMap order), never the gateway's own.
fn remote_dcs(
    snap: &MeshGatewaySnapshot,
) -> impl Iterator<Item = (&crate::ids::Datacenter, &Vec<Endpoint>)> {
    snap.remote_datacenters.iter().filter(move |(dc, _)| **dc != snap.datacenter)
}

fn listener(snap: &MeshGatewaySnapshot) -> Listener {
    let name = &snap.listener_name;
    let mut filter_chains: Vec<FilterChain> = remote_dcs(snap)
        .map(|(dc, _)| FilterChain {
            filter_chain_match: Some(FilterChainMatch {
                server_names: vec![format!("*.{dc}.internal.{}", snap.trust_domain)],
            }),
            filters: vec![NetworkFilter::TcpProxy(TcpProxy {
                stat_prefix: format!("mesh_gateway_remote.{name}.{dc}"),
                cluster: gateway_sni(dc, &snap.trust_domain),
            })],
            transport_socket: None,
        })
        .collect();
    filter_chains.push(FilterChain {
        filter_chain_match: None,
        filters: vec![
            NetworkFilter::SniCluster,
            NetworkFilter::TcpProxy(TcpProxy {
                stat_prefix: format!("mesh_gateway_local.{name}"),
                cluster: String::new(),
            }),
        ],
        transport_socket: None,
    });
    let at = &snap.listener;
    Listener {
        name: format!("{name}:{}:{}", at.host, at.port),
        address: SocketAddress::new(at.host.clone(), at.port),
        listener_filters: vec![ListenerFilter::TlsInspector],
        filter_chains,
        traffic_direction: TrafficDirection::Unspecified,
    }
}

/// An EDS cluster without TLS: the bytes pass through untouched.
fn gateway_cluster(name: &str, connect_timeout: GoDuration, lb_policy: LbPolicy) -> Cluster {
    Cluster {
        name: name.to_owned(),
        alt_stat_name: None,
        discovery: DiscoveryType::Eds,
        connect_timeout,
        lb_policy,
        circuit_breakers: None,
        outlier_detection: Some(OutlierDetection::default()),
        healthy_panic_threshold: None,
        http2: false,
        transport_socket: None,
    }
}
