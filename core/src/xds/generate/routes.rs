//! Sidecar routes (RDS): one RouteConfiguration per http-like upstream whose chain is not
//! the default, named by the upstream's EnvoyID (Consul's `routes.go`, CONSUL-FACTS.md
//! §3.3-3.4). Routers give their routes in order (the compiler appended the catch-all);
//! a splitter or resolver start node gives a single `/` route.

use super::chain::resolver_node_cluster;
use crate::config::{
    HttpHeaderModifiers, ServiceRouteDestination, ServiceRouteHttpMatch, weight_hundredths,
};
use crate::discovery_chain::{ChainRoute, ChainSplit, CompiledChain, NodeType};
use crate::xds::model::{
    ClusterSpecifier, ClusterWeight, HeaderMatch, HeaderMatcher, HeaderMutations,
    HeaderValueOption, PathMatch, QueryMatch, QueryParameterMatcher, RetryPolicy, Route,
    RouteAction, RouteConfiguration, RouteMatch, StringMatcher, TOTAL_WEIGHT, VirtualHost,
};
use crate::xds::snapshot::{Protocol, ProxySnapshot, UpstreamSnapshot};

/// Every route configuration of the sidecar.
pub(super) fn sidecar(snap: &ProxySnapshot) -> Vec<RouteConfiguration> {
    snap.upstreams.iter().filter_map(upstream_routes).collect()
}

fn upstream_routes(u: &UpstreamSnapshot) -> Option<RouteConfiguration> {
    let chain = &u.chain;
    if !Protocol::parse(&chain.protocol).is_http_like() || chain.default {
        return None;
    }
    let name = u.envoy_id();
    Some(RouteConfiguration {
        name: name.clone(),
        virtual_hosts: vec![VirtualHost {
            name,
            domains: vec!["*".to_owned()],
            routes: chain_routes(chain),
        }],
        validate_clusters: true,
    })
}

/// The routes of a chain, from its start node. Routes whose next node cannot be turned into
/// clusters (a corrupt chain) are left out rather than sent to a missing cluster.
pub(super) fn chain_routes(chain: &CompiledChain) -> Vec<Route> {
    let Some(start) = chain.nodes.get(&chain.start_node) else { return Vec::new() };
    match start.r#type {
        NodeType::Router => start.routes.iter().filter_map(|r| router_route(chain, r)).collect(),
        NodeType::Splitter | NodeType::Resolver => node_action(chain, &chain.start_node)
            .map(|action| Route {
                route_match: RouteMatch::any(),
                action,
                headers: HeaderMutations::default(),
            })
            .into_iter()
            .collect(),
    }
}

/// The action for requests that reach `node_key`: a split, or a resolver's cluster with the
/// resolver's request timeout.
fn node_action(chain: &CompiledChain, node_key: &str) -> Option<RouteAction> {
    let node = chain.nodes.get(node_key)?;
    match node.r#type {
        NodeType::Splitter => split_action(chain, &node.splits),
        NodeType::Resolver => {
            let mut action = RouteAction::to_cluster(resolver_node_cluster(chain, node_key)?);
            let timeout = node.resolver.as_ref()?.request_timeout;
            action.timeout = (timeout.as_nanos() > 0).then_some(timeout);
            Some(action)
        }
        NodeType::Router => None,
    }
}

fn router_route(chain: &CompiledChain, route: &ChainRoute) -> Option<Route> {
    let http = route.definition.r#match.as_ref().and_then(|m| m.http.as_ref());
    let mut action = node_action(chain, &route.next_node)?;
    let mut headers = HeaderMutations::default();
    if let Some(dest) = &route.definition.destination {
        apply_destination(&mut action, dest);
        headers = header_mutations(dest.request_headers.as_ref(), dest.response_headers.as_ref());
    }
    Some(Route { route_match: http.map_or_else(RouteMatch::any, route_match), action, headers })
}

/// Prefix rewrite, timeouts and retries of a route's destination.
fn apply_destination(action: &mut RouteAction, dest: &ServiceRouteDestination) {
    if !dest.prefix_rewrite.is_empty() {
        action.prefix_rewrite = Some(dest.prefix_rewrite.clone());
    }
    if dest.request_timeout.as_nanos() > 0 {
        action.timeout = Some(dest.request_timeout);
    }
    if dest.idle_timeout.as_nanos() > 0 {
        action.idle_timeout = Some(dest.idle_timeout);
    }
    action.retry_policy = retry_policy(dest);
}

/// Consul's `getRetryPolicyForDestination`: `RetryOn`, plus `connect-failure` (once) for
/// `RetryOnConnectFailure`, plus `retriable-status-codes` with the codes.
fn retry_policy(dest: &ServiceRouteDestination) -> Option<RetryPolicy> {
    let has_retry = dest.num_retries > 0
        || dest.retry_on_connect_failure
        || !dest.retry_on.is_empty()
        || !dest.retry_on_status_codes.is_empty();
    if !has_retry {
        return None;
    }
    let mut conditions = dest.retry_on.clone();
    if dest.retry_on_connect_failure && !conditions.iter().any(|c| c == "connect-failure") {
        conditions.push("connect-failure".to_owned());
    }
    if !dest.retry_on_status_codes.is_empty() {
        conditions.push("retriable-status-codes".to_owned());
    }
    Some(RetryPolicy {
        retry_on: conditions.join(","),
        num_retries: (dest.num_retries > 0).then_some(dest.num_retries),
        retriable_status_codes: dest.retry_on_status_codes.clone(),
    })
}

/// Consul's `makeRouteMatchForDiscoveryRoute`: one path condition (prefix `/` if none),
/// headers, `Methods` as a `:method` regex, query parameters.
fn route_match(http: &ServiceRouteHttpMatch) -> RouteMatch {
    let path = if !http.path_exact.is_empty() {
        PathMatch::Path(http.path_exact.clone())
    } else if !http.path_prefix.is_empty() {
        PathMatch::Prefix(http.path_prefix.clone())
    } else if !http.path_regex.is_empty() {
        PathMatch::SafeRegex(http.path_regex.clone())
    } else {
        PathMatch::Prefix("/".to_owned())
    };
    let mut headers: Vec<HeaderMatcher> = http
        .header
        .iter()
        .filter_map(|h| {
            let matcher = if !h.exact.is_empty() {
                HeaderMatch::Exact(h.exact.clone())
            } else if !h.regex.is_empty() {
                HeaderMatch::SafeRegex(h.regex.clone())
            } else if !h.prefix.is_empty() {
                HeaderMatch::Prefix(h.prefix.clone())
            } else if !h.suffix.is_empty() {
                HeaderMatch::Suffix(h.suffix.clone())
            } else if h.present {
                HeaderMatch::Present
            } else {
                return None;
            };
            Some(HeaderMatcher { name: h.name.clone(), matcher, invert_match: h.invert })
        })
        .collect();
    if !http.methods.is_empty() {
        headers.push(HeaderMatcher {
            name: ":method".to_owned(),
            matcher: HeaderMatch::SafeRegex(http.methods.join("|")),
            invert_match: false,
        });
    }
    let query_parameters = http
        .query_param
        .iter()
        .filter_map(|q| {
            let matcher = if !q.exact.is_empty() {
                QueryMatch::StringMatch(StringMatcher::Exact(q.exact.clone()))
            } else if !q.regex.is_empty() {
                QueryMatch::StringMatch(StringMatcher::SafeRegex(q.regex.clone()))
            } else if q.present {
                QueryMatch::Present
            } else {
                return None;
            };
            Some(QueryParameterMatcher { name: q.name.clone(), matcher })
        })
        .collect();
    RouteMatch { path, headers, query_parameters }
}

/// Weighted clusters of a (flattened) splitter. Weights are hundredths of a percent; any
/// rounding remainder goes to the first leg so the total is exactly 10000 (Consul 1.16).
fn split_action(chain: &CompiledChain, splits: &[ChainSplit]) -> Option<RouteAction> {
    let mut clusters = Vec::with_capacity(splits.len());
    for split in splits {
        let node = chain.nodes.get(&split.next_node)?;
        if node.r#type != NodeType::Resolver {
            return None;
        }
        clusters.push(ClusterWeight {
            name: resolver_node_cluster(chain, &split.next_node)?,
            weight: u32::try_from(weight_hundredths(split.weight)).unwrap_or(0),
            headers: header_mutations(
                split.definition.request_headers.as_ref(),
                split.definition.response_headers.as_ref(),
            ),
        });
    }
    let sum: i64 = clusters.iter().map(|c| i64::from(c.weight)).sum();
    if let Some(first) = clusters.first_mut() {
        let adjusted = i64::from(first.weight) + i64::from(TOTAL_WEIGHT) - sum;
        first.weight = u32::try_from(adjusted.max(0)).unwrap_or(0);
    }
    Some(weighted(clusters))
}

/// Header manipulation: `Add` appends, `Set` replaces, `Remove` removes.
fn header_mutations(
    request: Option<&HttpHeaderModifiers>,
    response: Option<&HttpHeaderModifiers>,
) -> HeaderMutations {
    let adds = |m: Option<&HttpHeaderModifiers>| -> Vec<HeaderValueOption> {
        let Some(m) = m else { return Vec::new() };
        let opt = |append: bool| {
            move |(k, v): (&String, &String)| HeaderValueOption {
                key: k.clone(),
                value: v.clone(),
                append,
            }
        };
        m.add.iter().map(opt(true)).chain(m.set.iter().map(opt(false))).collect()
    };
    let removes = |m: Option<&HttpHeaderModifiers>| m.map(|m| m.remove.clone()).unwrap_or_default();
    HeaderMutations {
        request_headers_to_add: adds(request),
        request_headers_to_remove: removes(request),
        response_headers_to_add: adds(response),
        response_headers_to_remove: removes(response),
    }
}

fn weighted(clusters: Vec<ClusterWeight>) -> RouteAction {
    RouteAction {
        cluster: ClusterSpecifier::WeightedClusters { clusters, total_weight: TOTAL_WEIGHT },
        prefix_rewrite: None,
        timeout: None,
        idle_timeout: None,
        retry_policy: None,
    }
}
