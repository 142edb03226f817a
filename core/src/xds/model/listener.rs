//! `config.listener.v3.Listener` and the network and HTTP filters we put in it.

use super::common::SocketAddress;
use super::rbac::{NetworkRbac, Rbac};
use super::route::RouteConfiguration;
use super::tls::DownstreamTlsContext;

/// A listener (LDS resource).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Listener {
    /// `public_listener:<addr>:<port>`, `<EnvoyID>:<addr>:<port>` or
    /// `<addrName>:<addr>:<port>` for gateways.
    pub name: String,
    /// Bind address.
    pub address: SocketAddress,
    /// Listener filters, run before a filter chain is chosen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listener_filters: Vec<ListenerFilter>,
    /// Filter chains; Envoy picks the most specific `filter_chain_match`, a chain without one
    /// is the fallback.
    pub filter_chains: Vec<FilterChain>,
    /// Inbound for `public_listener`, outbound for upstreams, unset on gateways (as Consul).
    #[serde(skip_serializing_if = "TrafficDirection::is_unspecified")]
    pub traffic_direction: TrafficDirection,
}

/// `core.v3.TrafficDirection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrafficDirection {
    /// Not stated.
    #[default]
    Unspecified,
    /// Connections into the proxied service.
    Inbound,
    /// Connections from the proxied service to its upstreams.
    Outbound,
}

impl TrafficDirection {
    /// True when not stated.
    pub fn is_unspecified(&self) -> bool {
        *self == TrafficDirection::Unspecified
    }
}

/// Listener filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerFilter {
    /// `envoy.filters.listener.tls_inspector`: reads the SNI from the ClientHello without
    /// terminating TLS, so gateways can match `server_names`.
    TlsInspector,
}

impl ListenerFilter {
    /// The Envoy filter name.
    pub fn name(&self) -> &'static str {
        match self {
            ListenerFilter::TlsInspector => "envoy.filters.listener.tls_inspector",
        }
    }
}

/// `FilterChain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FilterChain {
    /// When this chain applies; `None` is the catch-all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_chain_match: Option<FilterChainMatch>,
    /// Network filters in order; the last one is terminal.
    pub filters: Vec<NetworkFilter>,
    /// TLS terminated by this chain (only `public_listener`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<DownstreamTlsContext>,
}

/// `FilterChainMatch`: the SNI names a chain serves (exact names or `*.` wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FilterChainMatch {
    /// Server names.
    pub server_names: Vec<String>,
}

/// Network filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkFilter {
    /// `envoy.filters.network.rbac`: intentions for `tcp` services.
    Rbac(NetworkRbac),
    /// `envoy.filters.network.tcp_proxy`.
    TcpProxy(TcpProxy),
    /// `envoy.filters.network.sni_cluster`: the SNI becomes the upstream cluster name
    /// (mesh gateways' local services).
    SniCluster,
    /// `envoy.filters.network.http_connection_manager`.
    HttpConnectionManager(Box<HttpConnectionManager>),
}

impl NetworkFilter {
    /// The Envoy filter name.
    pub fn name(&self) -> &'static str {
        match self {
            NetworkFilter::Rbac(_) => "envoy.filters.network.rbac",
            NetworkFilter::TcpProxy(_) => "envoy.filters.network.tcp_proxy",
            NetworkFilter::SniCluster => "envoy.filters.network.sni_cluster",
            NetworkFilter::HttpConnectionManager(_) => {
                "envoy.filters.network.http_connection_manager"
            }
        }
    }
}

/// `extensions.filters.network.tcp_proxy.v3.TcpProxy`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TcpProxy {
    /// Stats prefix.
    pub stat_prefix: String,
    /// Upstream cluster; empty behind `sni_cluster`, which sets it per connection.
    pub cluster: String,
}

/// `extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`
/// (codec `AUTO`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HttpConnectionManager {
    /// Stats prefix.
    pub stat_prefix: String,
    /// Routes: RDS or inline.
    pub route_specifier: RouteSpecifier,
    /// HTTP filters in order; `Router` last.
    pub http_filters: Vec<HttpFilter>,
    /// Tracing; Consul samples 0% unless the client propagates a sampled trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// `upgrade_configs` types (`websocket`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upgrade_types: Vec<String>,
    /// Set `http2_protocol_options {}` (http2 and grpc services).
    pub http2: bool,
    /// What happens to `x-forwarded-client-cert`.
    pub forward_client_cert: ForwardClientCert,
}

/// `route_specifier` of the connection manager.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteSpecifier {
    /// Fetch `route_config_name` over RDS (ADS, v3).
    Rds {
        /// The RouteConfiguration's name.
        route_config_name: String,
    },
    /// Inline routes.
    RouteConfig(RouteConfiguration),
}

/// `forward_client_cert_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ForwardClientCert {
    /// Envoy's default: drop the header.
    #[default]
    Sanitize,
    /// Append the caller's certificate details (subject, cert, chain, DNS and URI SANs, as
    /// Consul sets `set_current_client_cert_details`) so the app can see who called.
    AppendForward,
}

/// `HttpConnectionManager.Tracing`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Tracing {
    /// `random_sampling`, in percent.
    pub random_sampling_percent: u32,
}

/// HTTP filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpFilter {
    /// `envoy.filters.http.grpc_stats` (grpc services, first).
    GrpcStats,
    /// `envoy.filters.http.grpc_http1_bridge` (grpc services).
    GrpcHttp1Bridge,
    /// `envoy.filters.http.rbac`: intentions for http-like services.
    Rbac(Rbac),
    /// `envoy.filters.http.router` (terminal).
    Router,
}

impl HttpFilter {
    /// The Envoy filter name.
    pub fn name(&self) -> &'static str {
        match self {
            HttpFilter::GrpcStats => "envoy.filters.http.grpc_stats",
            HttpFilter::GrpcHttp1Bridge => "envoy.filters.http.grpc_http1_bridge",
            HttpFilter::Rbac(_) => "envoy.filters.http.rbac",
            HttpFilter::Router => "envoy.filters.http.router",
        }
    }
}
