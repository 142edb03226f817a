//! Sidecars: the seed `counting` chain (RDS, split, failover aggregates) and a tcp service
//! with intentions and a grpc upstream.

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, LbPolicy,
};
use envoy_types::pb::envoy::config::core::v3::{ApiVersion, HealthStatus, TrafficDirection};
use envoy_types::pb::envoy::config::core::v3::{config_source, data_source};
use envoy_types::pb::envoy::config::rbac::v3::{principal, rbac};
use envoy_types::pb::envoy::config::route::v3::{route, route_action, route_match};
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3::ClusterConfig;
use envoy_types::pb::envoy::extensions::filters::http::grpc_stats::v3::FilterConfig as GrpcStats;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac as HttpRbac;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::rbac::v3::Rbac as NetworkRbac;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    DownstreamTlsContext, UpstreamTlsContext, common_tls_context, subject_alt_name_matcher,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use proconsul_core::xds::generate::generate;

use super::fixtures::*;
use super::*;

fn hcm(l: &Listener) -> HttpConnectionManager {
    let [f] = l.filter_chains[0].filters.as_slice() else { panic!("one filter") };
    assert_eq!(f.name, "envoy.filters.network.http_connection_manager");
    unpack(typed(f))
}

fn http_filter_names(h: &HttpConnectionManager) -> Vec<&str> {
    h.http_filters.iter().map(|f| f.name.as_str()).collect()
}

fn http_typed(h: &HttpConnectionManager, i: usize) -> &Any {
    let Some(http_filter::ConfigType::TypedConfig(any)) = &h.http_filters[i].config_type else {
        panic!("no typed_config")
    };
    any
}

fn inline(d: Option<&envoy_types::pb::envoy::config::core::v3::DataSource>) -> &str {
    let Some(data_source::Specifier::InlineString(s)) = d.and_then(|d| d.specifier.as_ref()) else {
        panic!("not inline: {d:?}")
    };
    s
}

#[test]
fn counting_sidecar_round_trips_every_resource() {
    assert_all_round_trip(&generate(&counting_sidecar()));
    assert_all_round_trip(&generate(&tcp_sidecar()));
}

#[test]
fn counting_upstream_listener_fetches_its_routes_over_ads() {
    let set = generate(&counting_sidecar());
    let l = listener(&set, "counting:127.0.0.1:9001");
    assert_eq!(addr(l.address.as_ref()), "127.0.0.1:9001");
    assert_eq!(l.traffic_direction, TrafficDirection::Outbound as i32);
    let h = hcm(&l);
    assert_eq!(h.stat_prefix, "upstream.counting.default.default.dc1");
    let Some(http_connection_manager::RouteSpecifier::Rds(rds)) = &h.route_specifier else {
        panic!("RDS")
    };
    assert_eq!(rds.route_config_name, "counting");
    let source = rds.config_source.as_ref().unwrap();
    assert_eq!(source.resource_api_version, ApiVersion::V3 as i32);
    assert!(matches!(
        source.config_source_specifier,
        Some(config_source::ConfigSourceSpecifier::Ads(_))
    ));
    assert_eq!(http_filter_names(&h), ["envoy.filters.http.router"]);
    let _: Router = unpack(http_typed(&h, 0));
    assert_eq!(h.tracing.as_ref().unwrap().random_sampling.as_ref().unwrap().value, 0.0);
    assert_eq!(h.upgrade_configs[0].upgrade_type, "websocket");
    assert!(h.http2_protocol_options.is_none());
}

#[test]
fn counting_public_listener_terminates_mtls_and_applies_http_rbac() {
    let set = generate(&counting_sidecar());
    let l = listener(&set, "public_listener:0.0.0.0:9999");
    assert_eq!(l.traffic_direction, TrafficDirection::Inbound as i32);
    let chain = &l.filter_chains[0];
    assert!(chain.filter_chain_match.is_none());
    let tls: DownstreamTlsContext = unpack(socket_config(chain.transport_socket.as_ref()));
    assert_eq!(tls.require_client_certificate.map(|b| b.value), Some(true));
    let common = tls.common_tls_context.unwrap();
    assert_eq!(inline(common.tls_certificates[0].certificate_chain.as_ref()), LEAF_PEM);
    assert_eq!(inline(common.tls_certificates[0].private_key.as_ref()), KEY_PEM);
    let Some(common_tls_context::ValidationContextType::ValidationContext(v)) =
        common.validation_context_type
    else {
        panic!("inline validation context")
    };
    assert_eq!(inline(v.trusted_ca.as_ref()), ROOT_PEM);
    assert!(v.match_typed_subject_alt_names.is_empty());

    let h = hcm(&l);
    assert_eq!(http_filter_names(&h), ["envoy.filters.http.rbac", "envoy.filters.http.router"]);
    let rbac: HttpRbac = unpack(http_typed(&h, 0));
    let rules = rbac.rules.expect("rules present: ALLOW nothing is default deny");
    assert_eq!((rules.action, rules.policies.len()), (rbac::Action::Allow as i32, 0));
    assert_eq!(
        h.forward_client_cert_details,
        http_connection_manager::ForwardClientCertDetails::AppendForward as i32
    );
    let current = h.set_current_client_cert_details.unwrap();
    assert!(current.uri && current.cert && current.chain && current.dns);
    let Some(http_connection_manager::RouteSpecifier::RouteConfig(rc)) = &h.route_specifier else {
        panic!("inline routes")
    };
    let r = &rc.virtual_hosts[0].routes[0];
    let Some(route::Action::Route(a)) = &r.action else { panic!() };
    assert_eq!(
        a.cluster_specifier,
        Some(route_action::ClusterSpecifier::Cluster("local_app".into()))
    );
    assert_eq!(rc.validate_clusters.map(|b| b.value), Some(false));
}

#[test]
#[allow(deprecated, reason = "total_weight is encoded and checked")]
fn counting_routes_split_admin_80_20_with_prefix_rewrite() {
    let set = generate(&counting_sidecar());
    let rc = route(&set, "counting");
    assert_eq!(rc.validate_clusters.map(|b| b.value), Some(true));
    let vh = &rc.virtual_hosts[0];
    assert_eq!((vh.name.as_str(), vh.domains.as_slice()), ("counting", &["*".to_owned()][..]));
    let [admin, rest] = vh.routes.as_slice() else { panic!("two routes") };
    let m = admin.r#match.as_ref().unwrap();
    assert_eq!(m.path_specifier, Some(route_match::PathSpecifier::Prefix("/admin".into())));
    let Some(route::Action::Route(a)) = &admin.action else { panic!() };
    assert_eq!(a.prefix_rewrite, "/");
    let Some(route_action::ClusterSpecifier::WeightedClusters(w)) = &a.cluster_specifier else {
        panic!("weighted")
    };
    let legs: Vec<_> =
        w.clusters.iter().map(|c| (c.name.clone(), c.weight.unwrap().value)).collect();
    assert_eq!(
        legs,
        [
            (sni("v1.counting-admin.default.dc1"), 8000),
            (sni("v2.counting-admin.default.dc1"), 2000)
        ]
    );
    assert_eq!(w.total_weight.unwrap().value, 10_000);
    let Some(route::Action::Route(a)) = &rest.action else { panic!() };
    assert_eq!(
        a.cluster_specifier,
        Some(route_action::ClusterSpecifier::Cluster(sni("counting.default.dc1")))
    );
    assert!(a.prefix_rewrite.is_empty());
}

#[test]
fn counting_target_clusters_pin_sni_and_spiffe_san() {
    let set = generate(&counting_sidecar());
    let base = sni("v1.counting-admin.default.dc1");
    for (i, dcn) in [(0, "dc1"), (1, "dc-aws"), (2, "dc-gcp")] {
        let name = format!("failover-target~{i}~{base}");
        let c = cluster(&set, &name);
        assert_eq!(c.alt_stat_name, name);
        assert_eq!(
            c.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
        );
        let eds = c.eds_cluster_config.as_ref().unwrap().eds_config.as_ref().unwrap();
        assert!(matches!(
            eds.config_source_specifier,
            Some(config_source::ConfigSourceSpecifier::Ads(_))
        ));
        assert_eq!(
            (c.connect_timeout.unwrap().seconds, c.lb_policy),
            (5, LbPolicy::RoundRobin as i32)
        );
        assert!(c.circuit_breakers.is_some() && c.outlier_detection.is_some());
        let panic = c.common_lb_config.as_ref().unwrap().healthy_panic_threshold.unwrap();
        assert_eq!(panic.value, 0.0);
        assert!(c.typed_extension_protocol_options.is_empty(), "http/1.1 upstream");
        let tls: UpstreamTlsContext = unpack(socket_config(c.transport_socket.as_ref()));
        assert_eq!(tls.sni, sni(&format!("v1.counting-admin.default.{dcn}")));
        let Some(common_tls_context::ValidationContextType::ValidationContext(v)) =
            tls.common_tls_context.unwrap().validation_context_type
        else {
            panic!()
        };
        let [san] = v.match_typed_subject_alt_names.as_slice() else { panic!("one SAN") };
        assert_eq!(san.san_type, subject_alt_name_matcher::SanType::Uri as i32);
        assert_eq!(
            san.matcher.as_ref().unwrap().match_pattern,
            Some(MatchPattern::Exact(format!(
                "spiffe://{TD}/ns/default/dc/{dcn}/svc/counting-admin"
            )))
        );
    }
}

#[test]
fn counting_failover_is_an_aggregate_cluster_in_target_order() {
    let set = generate(&counting_sidecar());
    let base = sni("v2.counting-admin.default.dc1");
    let c = cluster(&set, &base);
    assert_eq!(c.lb_policy, LbPolicy::ClusterProvided as i32);
    assert!(c.transport_socket.is_none() && c.eds_cluster_config.is_none());
    let Some(ClusterDiscoveryType::ClusterType(custom)) = &c.cluster_discovery_type else {
        panic!("custom cluster type")
    };
    assert_eq!(custom.name, "envoy.clusters.aggregate");
    let config: ClusterConfig = unpack(custom.typed_config.as_ref().unwrap());
    let want: Vec<String> = (0..3).map(|i| format!("failover-target~{i}~{base}")).collect();
    assert_eq!(config.clusters, want);

    let app = cluster(&set, "local_app");
    assert_eq!(
        app.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32))
    );
    let la = app.load_assignment.unwrap();
    let ep = &la.endpoints[0].lb_endpoints[0];
    let Some(envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
        e,
    )) = &ep.host_identifier
    else {
        panic!()
    };
    assert_eq!(addr(e.address.as_ref()), "127.0.0.1:8080");
    assert_eq!(ep.health_status, HealthStatus::Unknown as i32);
}

#[test]
fn counting_endpoints_are_healthy_and_weighted() {
    let set = generate(&counting_sidecar());
    let c = cla(&set, &sni("counting.default.dc1"));
    let group = &c.endpoints[0];
    assert_eq!(group.priority, 0);
    let ep = &group.lb_endpoints[0];
    assert_eq!(ep.health_status, HealthStatus::Healthy as i32);
    assert_eq!(ep.load_balancing_weight.map(|w| w.value), Some(1));
    let Some(envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
        e,
    )) = &ep.host_identifier
    else {
        panic!()
    };
    assert_eq!(addr(e.address.as_ref()), "10.0.1.10:21000");
    // A failover target without instances still gets an (empty) assignment.
    let empty = cla(&set, &format!("failover-target~2~{}", sni("v1.counting-admin.default.dc1")));
    assert!(empty.endpoints.iter().all(|g| g.lb_endpoints.is_empty()));
}

#[test]
fn tcp_public_listener_runs_network_rbac_before_tcp_proxy() {
    let set = generate(&tcp_sidecar());
    let l = listener(&set, "public_listener:0.0.0.0:9999");
    let filters = &l.filter_chains[0].filters;
    let names: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"]);
    let rbac: NetworkRbac = unpack(typed(&filters[0]));
    assert_eq!(rbac.stat_prefix, "connect_authz");
    let rules = rbac.rules.unwrap();
    assert_eq!(rules.action, rbac::Action::Allow as i32);
    let policy = &rules.policies["consul-intentions-layer4"];
    assert!(matches!(
        policy.permissions[0].rule,
        Some(envoy_types::pb::envoy::config::rbac::v3::permission::Rule::Any(true))
    ));
    // allow `*` except `web`: and_ids [any service, not_id web].
    let Some(principal::Identifier::AndIds(set_)) = &policy.principals[0].identifier else {
        panic!("{:?}", policy.principals)
    };
    let Some(principal::Identifier::Authenticated(any)) = &set_.ids[0].identifier else { panic!() };
    let Some(MatchPattern::SafeRegex(re)) = &any.principal_name.as_ref().unwrap().match_pattern
    else {
        panic!()
    };
    assert_eq!(re.regex, "^spiffe://[^/]+/ns/default/dc/[^/]+/svc/[^/]+$");
    assert!(matches!(set_.ids[1].identifier, Some(principal::Identifier::NotId(_))));
    assert_eq!(tcp_proxy(&filters[1]), ("public_listener".into(), "local_app".into()));

    let cache = listener(&set, "cache:127.0.0.1:9191");
    assert_eq!(
        tcp_proxy(&cache.filter_chains[0].filters[0]),
        ("upstream.cache.default.default.dc1".into(), sni("cache.default.dc1"))
    );
}

#[test]
fn grpc_upstreams_speak_http2_with_grpc_filters_first() {
    let set = generate(&tcp_sidecar());
    let h = hcm(&listener(&set, "billing:127.0.0.1:9192"));
    assert_eq!(
        http_filter_names(&h),
        [
            "envoy.filters.http.grpc_stats",
            "envoy.filters.http.grpc_http1_bridge",
            "envoy.filters.http.router"
        ]
    );
    let stats: GrpcStats = unpack(http_typed(&h, 0));
    assert!(stats.per_method_stat_specifier.is_some());
    assert!(h.http2_protocol_options.is_some());
    let c = cluster(&set, &sni("billing.default.dc1"));
    let options: HttpProtocolOptions = unpack(
        &c.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
    );
    let Some(http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(explicit)) =
        options.upstream_protocol_options
    else {
        panic!("explicit http config")
    };
    assert!(matches!(
        explicit.protocol_config,
        Some(http_protocol_options::explicit_http_config::ProtocolConfig::Http2ProtocolOptions(_))
    ));
}
