//! `config.listener.v3.Listener`, its listener filters, and the network and HTTP filters
//! of its filter chains, each `typed_config` packed as the filter's own v3 type.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::filters::http::grpc_http1_bridge::v3 as grpc_bridge_v3;
use envoy_types::pb::envoy::extensions::filters::http::grpc_stats::v3 as grpc_stats_v3;
use envoy_types::pb::envoy::extensions::filters::http::router::v3 as router_v3;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3 as tls_inspector_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::filters::network::sni_cluster::v3 as sni_cluster_v3;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3 as tcp_proxy_v3;
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::util::pack_any;
use proconsul_core::xds::model::{
    FilterChain, ForwardClientCert, HttpConnectionManager, HttpFilter, Listener, ListenerFilter,
    NetworkFilter, RouteSpecifier, TcpProxy, TrafficDirection,
};

use super::{address, ads_config_source, bool_value, rbac, route_configuration, tls};

/// A listener (LDS resource).
pub(crate) fn listener(l: &Listener) -> listener_v3::Listener {
    listener_v3::Listener {
        name: l.name.clone(),
        address: Some(address(&l.address)),
        listener_filters: l.listener_filters.iter().map(listener_filter).collect(),
        filter_chains: l.filter_chains.iter().map(filter_chain).collect(),
        traffic_direction: traffic_direction(l.traffic_direction) as i32,
        ..Default::default()
    }
}

fn traffic_direction(d: TrafficDirection) -> core_v3::TrafficDirection {
    match d {
        TrafficDirection::Unspecified => core_v3::TrafficDirection::Unspecified,
        TrafficDirection::Inbound => core_v3::TrafficDirection::Inbound,
        TrafficDirection::Outbound => core_v3::TrafficDirection::Outbound,
    }
}

fn listener_filter(f: &ListenerFilter) -> listener_v3::ListenerFilter {
    let typed = match f {
        ListenerFilter::TlsInspector => pack_any(tls_inspector_v3::TlsInspector::default()),
    };
    listener_v3::ListenerFilter {
        name: f.name().to_owned(),
        config_type: Some(listener_v3::listener_filter::ConfigType::TypedConfig(typed)),
        ..Default::default()
    }
}

fn filter_chain(c: &FilterChain) -> listener_v3::FilterChain {
    listener_v3::FilterChain {
        filter_chain_match: c.filter_chain_match.as_ref().map(|m| listener_v3::FilterChainMatch {
            server_names: m.server_names.clone(),
            ..Default::default()
        }),
        filters: c.filters.iter().map(network_filter).collect(),
        transport_socket: c.transport_socket.as_ref().map(tls::downstream_socket),
        ..Default::default()
    }
}

fn network_filter(f: &NetworkFilter) -> listener_v3::Filter {
    let typed = match f {
        NetworkFilter::Rbac(r) => pack_any(rbac::network(r)),
        NetworkFilter::TcpProxy(t) => pack_any(tcp_proxy(t)),
        NetworkFilter::SniCluster => pack_any(sni_cluster_v3::SniCluster {}),
        NetworkFilter::HttpConnectionManager(h) => pack_any(http_connection_manager(h)),
    };
    listener_v3::Filter {
        name: f.name().to_owned(),
        config_type: Some(listener_v3::filter::ConfigType::TypedConfig(typed)),
    }
}

/// The cluster is always set, even empty: `cluster_specifier` is a required oneof, and
/// behind `sni_cluster` (mesh gateways) the empty name is replaced per connection.
fn tcp_proxy(t: &TcpProxy) -> tcp_proxy_v3::TcpProxy {
    tcp_proxy_v3::TcpProxy {
        stat_prefix: t.stat_prefix.clone(),
        cluster_specifier: Some(tcp_proxy_v3::tcp_proxy::ClusterSpecifier::Cluster(
            t.cluster.clone(),
        )),
        ..Default::default()
    }
}

/// Codec `AUTO` (Envoy's default), so HTTP/1.1 and HTTP/2 clients both work.
fn http_connection_manager(h: &HttpConnectionManager) -> hcm_v3::HttpConnectionManager {
    use hcm_v3::http_connection_manager::{
        ForwardClientCertDetails, RouteSpecifier as Routes, SetCurrentClientCertDetails, Tracing,
        UpgradeConfig,
    };
    let routes = match &h.route_specifier {
        RouteSpecifier::Rds { route_config_name } => Routes::Rds(hcm_v3::Rds {
            config_source: Some(ads_config_source()),
            route_config_name: route_config_name.clone(),
        }),
        RouteSpecifier::RouteConfig(rc) => Routes::RouteConfig(route_configuration(rc)),
    };
    let (forward, current) = match h.forward_client_cert {
        ForwardClientCert::Sanitize => (ForwardClientCertDetails::Sanitize, None),
        // Consul's `set_current_client_cert_details`: who called, for the app to read.
        ForwardClientCert::AppendForward => (
            ForwardClientCertDetails::AppendForward,
            Some(SetCurrentClientCertDetails {
                subject: Some(bool_value(true)),
                cert: true,
                chain: true,
                dns: true,
                uri: true,
                ..Default::default()
            }),
        ),
    };
    hcm_v3::HttpConnectionManager {
        stat_prefix: h.stat_prefix.clone(),
        route_specifier: Some(routes),
        http_filters: h.http_filters.iter().map(http_filter).collect(),
        tracing: h.tracing.as_ref().map(|t| Tracing {
            random_sampling: Some(Percent { value: f64::from(t.random_sampling_percent) }),
            ..Default::default()
        }),
        upgrade_configs: h
            .upgrade_types
            .iter()
            .map(|t| UpgradeConfig { upgrade_type: t.clone(), ..Default::default() })
            .collect(),
        http2_protocol_options: h.http2.then(core_v3::Http2ProtocolOptions::default),
        forward_client_cert_details: forward as i32,
        set_current_client_cert_details: current,
        ..Default::default()
    }
}

fn http_filter(f: &HttpFilter) -> hcm_v3::HttpFilter {
    let typed = match f {
        // Consul: stats for every method, so dashboards see each RPC.
        HttpFilter::GrpcStats => pack_any(grpc_stats_v3::FilterConfig {
            per_method_stat_specifier: Some(
                grpc_stats_v3::filter_config::PerMethodStatSpecifier::StatsForAllMethods(
                    bool_value(true),
                ),
            ),
            ..Default::default()
        }),
        HttpFilter::GrpcHttp1Bridge => pack_any(grpc_bridge_v3::Config::default()),
        HttpFilter::Rbac(r) => pack_any(rbac::http(r)),
        HttpFilter::Router => pack_any(router_v3::Router::default()),
    };
    hcm_v3::HttpFilter {
        name: f.name().to_owned(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(typed)),
        ..Default::default()
    }
}
