//! Consul's own golden files (v1.16.4 `agent/xds/testdata/{listeners,clusters}/
//! {defaults,mesh-gateway}.latest.golden`, copies in `shared/consul-golden/`): the same
//! scenario must give the same resource names, SNI, SANs, stat prefixes, cluster types and
//! filter chain order. The expected values below were read from those files; the tests do
//! not read them at run time. (The `defaults` scenario's prepared-query upstream
//! `geo-cache` is not modelled and is left out.)

use std::collections::BTreeMap;

use super::fixtures::*;
use crate::config::{ConfigEntries, GoDuration};
use crate::xds::TypeUrl;
use crate::xds::generate::{generate, generate_mesh_gateway};
use crate::xds::model::{
    DiscoveryType, DnsLookupFamily, HealthStatus, ListenerFilter, NetworkFilter, RbacAction,
    SanType, StringMatcher, TrafficDirection,
};
use crate::xds::snapshot::{
    CheckHealth, Endpoint, GatewayService, HostPort, MeshGatewaySnapshot, Protocol,
};

const DB_SNI: &str = "db.default.dc1.internal.11111111-2222-3333-4444-555555555555.consul";

/// `defaults`: web on 0.0.0.0:9999, app 127.0.0.1:8080, upstream db on 127.0.0.1:9191
/// (default tcp chain, endpoints 10.10.1.1/10.10.1.2:8080), default deny.
fn defaults_snapshot() -> crate::xds::snapshot::ProxySnapshot {
    let mut snap = sidecar("web", Protocol::Tcp);
    let mut db = upstream("db", chain(&ConfigEntries::new(), "db", "dc1"), 9191);
    db.endpoints
        .insert("db.default.default.dc1".into(), eps(&["10.10.1.1:8080", "10.10.1.2:8080"]));
    snap.upstreams.push(db);
    snap
}

#[test]
fn defaults_listeners_match_consul() {
    let set = generate(&defaults_snapshot());
    assert_eq!(
        names(&set, TypeUrl::Listener),
        ["db:127.0.0.1:9191", "public_listener:0.0.0.0:9999"]
    );

    let db = listener(&set, "db:127.0.0.1:9191");
    assert_eq!(db.address.to_string(), "127.0.0.1:9191");
    assert_eq!(db.traffic_direction, TrafficDirection::Outbound);
    assert_eq!(db.filter_chains.len(), 1);
    let NetworkFilter::TcpProxy(tcp) = &db.filter_chains[0].filters[0] else { panic!() };
    assert_eq!(tcp.stat_prefix, "upstream.db.default.default.dc1");
    assert_eq!(tcp.cluster, DB_SNI);
    assert!(db.filter_chains[0].transport_socket.is_none());

    let public = listener(&set, "public_listener:0.0.0.0:9999");
    assert_eq!(public.address.to_string(), "0.0.0.0:9999");
    assert_eq!(public.traffic_direction, TrafficDirection::Inbound);
    assert!(public.listener_filters.is_empty());
    let chain = &public.filter_chains[0];
    assert!(chain.filter_chain_match.is_none());
    assert_eq!(
        filter_names(&chain.filters),
        ["envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"]
    );
    let NetworkFilter::Rbac(rbac) = &chain.filters[0] else { panic!() };
    assert_eq!(rbac.stat_prefix, "connect_authz");
    // `"rules": {}`: ALLOW (Envoy's default) with no policies, so everyone is denied.
    assert_eq!(rbac.rules.action, RbacAction::Allow);
    assert!(rbac.rules.policies.is_empty());
    let NetworkFilter::TcpProxy(tcp) = &chain.filters[1] else { panic!() };
    assert_eq!((tcp.stat_prefix.as_str(), tcp.cluster.as_str()), ("public_listener", "local_app"));
    let tls = chain.transport_socket.as_ref().unwrap();
    assert!(tls.require_client_certificate);
    let common = &tls.common_tls_context;
    assert_eq!(common.tls_certificates[0].certificate_chain.as_str(), LEAF_PEM);
    assert_eq!(common.tls_certificates[0].private_key.as_str(), KEY_PEM);
    let validation = common.validation_context.as_ref().unwrap();
    assert_eq!(validation.trusted_ca.as_str(), ROOT_PEM);
    assert!(validation.match_typed_subject_alt_names.is_empty());
}

#[test]
fn defaults_clusters_match_consul() {
    let set = generate(&defaults_snapshot());
    assert_eq!(names(&set, TypeUrl::Cluster), [DB_SNI, "local_app"]);

    let db = cluster(&set, DB_SNI);
    assert_eq!(db.discovery, DiscoveryType::Eds);
    assert_eq!(db.alt_stat_name.as_deref(), Some(DB_SNI));
    assert_eq!(db.connect_timeout, GoDuration::from_secs(5));
    assert!(db.circuit_breakers.is_some() && db.outlier_detection.is_some());
    assert_eq!(db.healthy_panic_threshold, Some(0));
    let tls = db.transport_socket.as_ref().unwrap();
    assert_eq!(tls.sni, DB_SNI);
    let common = &tls.common_tls_context;
    assert_eq!(common.tls_certificates[0].certificate_chain.as_str(), LEAF_PEM);
    let validation = common.validation_context.as_ref().unwrap();
    assert_eq!(validation.trusted_ca.as_str(), ROOT_PEM);
    let sans = &validation.match_typed_subject_alt_names;
    assert_eq!(sans.len(), 1);
    assert_eq!(sans[0].san_type, SanType::Uri);
    assert_eq!(
        sans[0].matcher,
        StringMatcher::Exact(
            "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/db".into()
        )
    );

    let app = cluster(&set, "local_app");
    assert_eq!(app.connect_timeout, GoDuration::from_secs(5));
    assert!(app.transport_socket.is_none() && app.alt_stat_name.is_none());
    let DiscoveryType::Static(la) = &app.discovery else { panic!("local_app is STATIC") };
    assert_eq!(la.cluster_name, "local_app");
    assert_eq!(addrs(la), ["127.0.0.1:8080"]);
}

#[test]
fn defaults_endpoints_and_no_routes() {
    let set = generate(&defaults_snapshot());
    assert_eq!(names(&set, TypeUrl::ClusterLoadAssignment), [DB_SNI]);
    let db = cla(&set, DB_SNI);
    assert_eq!(addrs(db), ["10.10.1.1:8080", "10.10.1.2:8080"]);
    assert!(db.endpoints[0].lb_endpoints.iter().all(|e| e.health_status == HealthStatus::Healthy
        && e.load_balancing_weight == Some(1)));
    // A default tcp chain needs no RDS.
    assert!(set[&TypeUrl::RouteConfiguration].is_empty());
    assert!(!set.contains_key(&TypeUrl::Secret));
}

/// `mesh-gateway`: dc1 gateway at 1.2.3.4:8443, local services foo and bar, remote dc2
/// (IP gateways), dc4 (hostname gateway, healthy), dc6 (hostname gateway, unhealthy).
pub(super) fn mesh_gateway_snapshot() -> MeshGatewaySnapshot {
    let service = |addrs: &[&str]| GatewayService {
        connect_timeout: GoDuration::from_secs(5),
        endpoints: eps(addrs),
        ..Default::default()
    };
    let wan = |host: &str| Endpoint::new("10.0.0.9", 8443).with_wan(host, 443);
    MeshGatewaySnapshot {
        datacenter: dc("dc1"),
        trust_domain: td(),
        listener_name: "default".into(),
        listener: HostPort::new("1.2.3.4", 8443),
        connect_timeout: GoDuration::from_secs(5),
        services: BTreeMap::from([
            (svc("foo"), service(&["172.16.1.6:2222", "172.16.1.7:2222"])),
            (svc("bar"), service(&["172.16.1.8:2222"])),
        ]),
        remote_datacenters: BTreeMap::from([
            (dc("dc2"), vec![wan("198.18.1.1"), wan("198.18.1.2")]),
            (dc("dc4"), vec![wan("123.us-west-2.elb.notaws.com")]),
            (
                dc("dc6"),
                vec![wan("123.us-east-1.elb.notaws.com").with_health(CheckHealth::Critical)],
            ),
        ]),
    }
}

#[test]
fn mesh_gateway_listener_matches_consul() {
    let set = generate_mesh_gateway(&mesh_gateway_snapshot());
    assert_eq!(names(&set, TypeUrl::Listener), ["default:1.2.3.4:8443"]);
    let l = listener(&set, "default:1.2.3.4:8443");
    assert_eq!(l.listener_filters, [ListenerFilter::TlsInspector]);
    assert_eq!(l.listener_filters[0].name(), "envoy.filters.listener.tls_inspector");
    assert_eq!(l.traffic_direction, TrafficDirection::Unspecified);
    let chains: Vec<_> = l
        .filter_chains
        .iter()
        .map(|c| {
            let server_names = c.filter_chain_match.as_ref().map(|m| m.server_names.clone());
            let tcp = c.filters.iter().find_map(|f| match f {
                NetworkFilter::TcpProxy(t) => Some((t.stat_prefix.clone(), t.cluster.clone())),
                _ => None,
            });
            (server_names, filter_names(&c.filters), tcp.unwrap())
        })
        .collect();
    let remote = |dcn: &str| {
        (
            Some(vec![format!("*.{dcn}.internal.{TD}")]),
            vec!["envoy.filters.network.tcp_proxy"],
            (format!("mesh_gateway_remote.default.{dcn}"), format!("{dcn}.internal.{TD}")),
        )
    };
    let catch_all = (
        None,
        vec!["envoy.filters.network.sni_cluster", "envoy.filters.network.tcp_proxy"],
        ("mesh_gateway_local.default".to_owned(), String::new()),
    );
    assert_eq!(chains, [remote("dc2"), remote("dc4"), remote("dc6"), catch_all]);
    assert!(l.filter_chains.iter().all(|c| c.transport_socket.is_none()));
}

#[test]
fn mesh_gateway_clusters_match_consul() {
    let set = generate_mesh_gateway(&mesh_gateway_snapshot());
    let want: Vec<String> = ["bar.default.dc1", "dc2", "dc4", "dc6", "foo.default.dc1"]
        .iter()
        .map(|p| format!("{p}.internal.{TD}"))
        .collect();
    assert_eq!(names(&set, TypeUrl::Cluster), want);
    for c in set[&TypeUrl::Cluster].values() {
        let crate::xds::model::Resource::Cluster(c) = &*c.resource else { panic!() };
        assert!(c.transport_socket.is_none(), "{} must not touch TLS", c.name);
        assert_eq!(c.connect_timeout, GoDuration::from_secs(5));
        assert!(c.outlier_detection.is_some() && c.alt_stat_name.is_none());
    }
    for eds in [&want[0], &want[1], &want[4]] {
        assert_eq!(cluster(&set, eds).discovery, DiscoveryType::Eds, "{eds}");
    }
    for (name, host, health) in [
        (&want[2], "123.us-west-2.elb.notaws.com", HealthStatus::Healthy),
        (&want[3], "123.us-east-1.elb.notaws.com", HealthStatus::Unhealthy),
    ] {
        let DiscoveryType::LogicalDns { load_assignment, dns_refresh_rate, dns_lookup_family } =
            &cluster(&set, name).discovery
        else {
            panic!("{name} is LOGICAL_DNS")
        };
        assert_eq!(*dns_refresh_rate, GoDuration::from_secs(10));
        assert_eq!(*dns_lookup_family, DnsLookupFamily::V4Only);
        assert_eq!(&load_assignment.cluster_name, name);
        assert_eq!(addrs(load_assignment), [format!("{host}:443")]);
        let ep = &load_assignment.endpoints[0].lb_endpoints[0];
        assert_eq!((ep.health_status, ep.load_balancing_weight), (health, Some(1)));
    }
}

#[test]
fn mesh_gateway_endpoints_are_remote_wan_gateways_and_local_sidecars() {
    let set = generate_mesh_gateway(&mesh_gateway_snapshot());
    let dc2 = format!("dc2.internal.{TD}");
    let foo = format!("foo.default.dc1.internal.{TD}");
    let bar = format!("bar.default.dc1.internal.{TD}");
    // Hostname datacenters carry their endpoint inline; no EDS for them.
    assert_eq!(names(&set, TypeUrl::ClusterLoadAssignment), [&bar, &dc2, &foo]);
    assert_eq!(addrs(cla(&set, &dc2)), ["198.18.1.1:443", "198.18.1.2:443"]);
    assert_eq!(addrs(cla(&set, &foo)), ["172.16.1.6:2222", "172.16.1.7:2222"]);
    assert_eq!(addrs(cla(&set, &bar)), ["172.16.1.8:2222"]);
    assert!(set[&TypeUrl::RouteConfiguration].is_empty());
}

#[test]
fn mesh_gateway_subsets_get_their_own_clusters() {
    let mut snap = mesh_gateway_snapshot();
    let bar = snap.services.get_mut(&svc("bar")).unwrap();
    for (name, addr) in [("v1", "172.16.1.8:2222"), ("v2", "172.16.1.9:2222")] {
        bar.subsets.insert(
            name.into(),
            crate::xds::snapshot::GatewaySubset { only_passing: false, endpoints: eps(&[addr]) },
        );
    }
    let set = generate_mesh_gateway(&snap);
    let v1 = format!("v1.bar.default.dc1.internal.{TD}");
    let v2 = format!("v2.bar.default.dc1.internal.{TD}");
    assert_eq!(cluster(&set, &v1).discovery, DiscoveryType::Eds);
    assert_eq!(addrs(cla(&set, &v2)), ["172.16.1.9:2222"]);
    // Still one catch-all chain: sni_cluster resolves subset names too.
    assert_eq!(listener(&set, "default:1.2.3.4:8443").filter_chains.len(), 4);
}

#[test]
fn mesh_gateway_never_routes_its_own_datacenter_as_remote() {
    let mut snap = mesh_gateway_snapshot();
    snap.remote_datacenters.insert(dc("dc1"), eps(&["1.2.3.4:8443"]));
    let set = generate_mesh_gateway(&snap);
    assert!(!names(&set, TypeUrl::Cluster).contains(&format!("dc1.internal.{TD}").as_str()));
    assert_eq!(listener(&set, "default:1.2.3.4:8443").filter_chains.len(), 4);
}
