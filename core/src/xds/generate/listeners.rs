//! Sidecar listeners (LDS): `public_listener` (mTLS in, intentions, to `local_app`) and
//! one outbound listener per upstream.

use super::Sidecar;
use super::chain::resolver_node_cluster;
use super::names::{
    CONNECT_AUTHZ, LOCAL_APP, PUBLIC_LISTENER, chain_filter_name, upstream_stat_prefix,
};
use super::rbac::intention_rbac;
use crate::discovery_chain::{CompiledChain, NodeType};
use crate::xds::model::{
    DownstreamTlsContext, FilterChain, ForwardClientCert, HttpConnectionManager, HttpFilter,
    Listener, NetworkFilter, NetworkRbac, Rbac, Route, RouteAction, RouteConfiguration, RouteMatch,
    RouteSpecifier, SocketAddress, TcpProxy, Tracing, TrafficDirection, VirtualHost,
};
use crate::xds::snapshot::{HostPort, Protocol, UpstreamSnapshot};

/// Every listener of the sidecar.
pub(super) fn sidecar(ctx: &Sidecar<'_>) -> Vec<Listener> {
    let mut out = vec![public_listener(ctx)];
    out.extend(ctx.snap.upstreams.iter().filter_map(upstream_listener));
    out
}

fn listener_name(prefix: &str, at: &HostPort) -> String {
    format!("{prefix}:{}:{}", at.host, at.port)
}

/// `public_listener:<addr>:<port>`: terminates mesh mTLS with the proxy's leaf, requires a
/// client certificate (the caller's identity), applies intentions, forwards to `local_app`.
/// L4 services get the network RBAC filter before `tcp_proxy`; http-like services an HTTP
/// connection manager whose RBAC filter sees the same rules.
fn public_listener(ctx: &Sidecar<'_>) -> Listener {
    let snap = ctx.snap;
    let rules = intention_rbac(&snap.intentions, snap.service.as_str(), snap.default_policy);
    let filters = if snap.protocol.is_http_like() {
        vec![public_http_filter(snap.protocol, rules)]
    } else {
        vec![
            NetworkFilter::Rbac(NetworkRbac { stat_prefix: CONNECT_AUTHZ.to_owned(), rules }),
            NetworkFilter::TcpProxy(TcpProxy {
                stat_prefix: PUBLIC_LISTENER.to_owned(),
                cluster: LOCAL_APP.to_owned(),
            }),
        ]
    };
    let at = &snap.public_listener;
    Listener {
        name: listener_name(PUBLIC_LISTENER, at),
        address: SocketAddress::new(at.host.clone(), at.port),
        listener_filters: Vec::new(),
        filter_chains: vec![FilterChain {
            filter_chain_match: None,
            filters,
            transport_socket: Some(DownstreamTlsContext {
                common_tls_context: ctx.tls_context(Vec::new()),
                require_client_certificate: true,
            }),
        }],
        traffic_direction: TrafficDirection::Inbound,
    }
}

fn public_http_filter(protocol: Protocol, rules: Rbac) -> NetworkFilter {
    let routes = inline_routes(PUBLIC_LISTENER, PUBLIC_LISTENER, LOCAL_APP);
    let mut hcm = http_connection_manager(
        PUBLIC_LISTENER.to_owned(),
        RouteSpecifier::RouteConfig(routes),
        protocol,
        Some(rules),
    );
    hcm.forward_client_cert = ForwardClientCert::AppendForward;
    NetworkFilter::HttpConnectionManager(Box::new(hcm))
}

/// `<EnvoyID>:<addr>:<port>`, outbound. tcp chains (and default chains of any protocol) go
/// straight to the single target's cluster; other http-like chains fetch their routes over
/// RDS under the EnvoyID. `None` when a tcp chain does not start at a resolver (compile
/// refuses such chains, so only a corrupt snapshot gets here).
fn upstream_listener(u: &UpstreamSnapshot) -> Option<Listener> {
    let chain = &u.chain;
    let protocol = Protocol::parse(&chain.protocol);
    let envoy_id = u.envoy_id();
    let stat_prefix = upstream_stat_prefix(chain);
    let filter = if protocol.is_http_like() && !chain.default {
        let rds = RouteSpecifier::Rds { route_config_name: envoy_id.clone() };
        let hcm = http_connection_manager(stat_prefix, rds, protocol, None);
        NetworkFilter::HttpConnectionManager(Box::new(hcm))
    } else {
        let cluster = simple_chain_cluster(chain)?;
        if protocol.is_http_like() {
            let routes = inline_routes(&envoy_id, &chain_filter_name(chain), &cluster);
            let inline = RouteSpecifier::RouteConfig(routes);
            let hcm = http_connection_manager(stat_prefix, inline, protocol, None);
            NetworkFilter::HttpConnectionManager(Box::new(hcm))
        } else {
            NetworkFilter::TcpProxy(TcpProxy { stat_prefix, cluster })
        }
    };
    Some(Listener {
        name: listener_name(&envoy_id, &u.local_bind),
        address: SocketAddress::new(u.local_bind.host.clone(), u.local_bind.port),
        listener_filters: Vec::new(),
        filter_chains: vec![FilterChain {
            filter_chain_match: None,
            filters: vec![filter],
            transport_socket: None,
        }],
        traffic_direction: TrafficDirection::Outbound,
    })
}

/// Consul's `simpleChainTarget`: the cluster of a chain that starts at a resolver.
fn simple_chain_cluster(chain: &CompiledChain) -> Option<String> {
    let start = chain.nodes.get(&chain.start_node)?;
    if start.r#type != NodeType::Resolver {
        return None;
    }
    resolver_node_cluster(chain, &chain.start_node)
}

/// One virtual host, domains `*`, everything to `cluster`.
fn inline_routes(name: &str, vhost: &str, cluster: &str) -> RouteConfiguration {
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: vhost.to_owned(),
            domains: vec!["*".to_owned()],
            routes: vec![Route {
                route_match: RouteMatch::any(),
                action: RouteAction::to_cluster(cluster),
                headers: Default::default(),
            }],
        }],
        validate_clusters: false,
    }
}

/// Consul's `makeHTTPFilter`: gRPC stats and bridge first for grpc, then authorization
/// (inbound only), then the router; tracing sampled at 0% unless the client propagates a
/// sampled trace; websocket upgrades allowed.
fn http_connection_manager(
    stat_prefix: String,
    route_specifier: RouteSpecifier,
    protocol: Protocol,
    rbac: Option<Rbac>,
) -> HttpConnectionManager {
    let mut http_filters = Vec::new();
    if protocol == Protocol::Grpc {
        http_filters.push(HttpFilter::GrpcStats);
        http_filters.push(HttpFilter::GrpcHttp1Bridge);
    }
    http_filters.extend(rbac.map(HttpFilter::Rbac));
    http_filters.push(HttpFilter::Router);
    HttpConnectionManager {
        stat_prefix,
        route_specifier,
        http_filters,
        tracing: Some(Tracing { random_sampling_percent: 0 }),
        upgrade_types: vec!["websocket".to_owned()],
        http2: protocol.is_http2(),
        forward_client_cert: ForwardClientCert::Sanitize,
    }
}
