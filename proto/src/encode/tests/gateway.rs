//! Mesh gateways: SNI filter chains, the sni_cluster catch-all, no TLS, LOGICAL_DNS for
//! hostname gateways.

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, DnsLookupFamily,
};
use envoy_types::pb::envoy::config::core::v3::HealthStatus;
use envoy_types::pb::envoy::config::listener::v3::listener_filter;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::sni_cluster::v3::SniCluster;
use proconsul_core::xds::generate::generate_mesh_gateway;

use super::fixtures::*;
use super::*;

#[test]
fn mesh_gateway_round_trips_every_resource() {
    assert_all_round_trip(&generate_mesh_gateway(&mesh_gateway()));
}

#[test]
fn mesh_gateway_listener_routes_by_sni_without_terminating_tls() {
    let set = generate_mesh_gateway(&mesh_gateway());
    let l = listener(&set, "default:1.2.3.4:8443");
    assert_eq!(addr(l.address.as_ref()), "1.2.3.4:8443");
    let [inspector] = l.listener_filters.as_slice() else { panic!("one listener filter") };
    assert_eq!(inspector.name, "envoy.filters.listener.tls_inspector");
    let Some(listener_filter::ConfigType::TypedConfig(any)) = &inspector.config_type else {
        panic!()
    };
    let _: TlsInspector = unpack(any);
    let chains: Vec<_> = l
        .filter_chains
        .iter()
        .map(|c| {
            assert!(c.transport_socket.is_none(), "gateways never terminate TLS");
            let names = c.filter_chain_match.as_ref().map(|m| m.server_names.clone());
            (names, c.filters.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
        })
        .collect();
    let remote = |dcn: &str| {
        (
            Some(vec![format!("*.{dcn}.internal.{TD}")]),
            vec!["envoy.filters.network.tcp_proxy".to_owned()],
        )
    };
    let catch_all = (
        None,
        vec![
            "envoy.filters.network.sni_cluster".to_owned(),
            "envoy.filters.network.tcp_proxy".to_owned(),
        ],
    );
    assert_eq!(chains, [remote("dc2"), remote("dc4"), catch_all]);
    assert_eq!(
        tcp_proxy(&l.filter_chains[0].filters[0]),
        ("mesh_gateway_remote.default.dc2".into(), sni("dc2"))
    );
    let catch_all = &l.filter_chains[2].filters;
    let _: SniCluster = unpack(typed(&catch_all[0]));
    // `cluster: ""` must survive the round trip as a set oneof (Envoy requires it).
    assert_eq!(tcp_proxy(&catch_all[1]), ("mesh_gateway_local.default".into(), String::new()));
}

#[test]
fn mesh_gateway_clusters_are_plain_eds_or_logical_dns() {
    let set = generate_mesh_gateway(&mesh_gateway());
    for name in ["foo.default.dc1", "v1.bar.default.dc1", "dc2"].map(sni) {
        let c = cluster(&set, &name);
        assert_eq!(
            c.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
        );
        assert!(c.transport_socket.is_none() && c.outlier_detection.is_some());
        assert!(c.alt_stat_name.is_empty() && c.common_lb_config.is_none());
    }
    let dc4 = cluster(&set, &sni("dc4"));
    assert_eq!(
        dc4.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::LogicalDns as i32))
    );
    assert_eq!(dc4.dns_lookup_family, DnsLookupFamily::V4Only as i32);
    #[allow(deprecated, reason = "Consul's LOGICAL_DNS shape")]
    let refresh = dc4.dns_refresh_rate.unwrap();
    assert_eq!((refresh.seconds, refresh.nanos), (10, 0));
    let ep = &dc4.load_assignment.unwrap().endpoints[0].lb_endpoints[0];
    let Some(envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
        e,
    )) = &ep.host_identifier
    else {
        panic!()
    };
    assert_eq!(addr(e.address.as_ref()), "123.us-west-2.elb.notaws.com:443");

    let dc2 = cla(&set, &sni("dc2"));
    let health: Vec<i32> = dc2.endpoints[0].lb_endpoints.iter().map(|e| e.health_status).collect();
    assert_eq!(health, [HealthStatus::Healthy as i32, HealthStatus::Unhealthy as i32]);
}
