//! `config.route.v3.RouteConfiguration`: virtual hosts, route matches and actions.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use proconsul_core::xds::model::{
    ClusterSpecifier, ClusterWeight, HeaderMatch, HeaderMatcher, HeaderMutations,
    HeaderValueOption, PathMatch, QueryMatch, QueryParameterMatcher, RetryPolicy, Route,
    RouteAction, RouteConfiguration, RouteMatch, StringMatcher, VirtualHost,
};

use super::{bool_value, duration, regex, string_matcher, u32_value};

/// A route configuration (RDS resource, or inline in an HTTP connection manager).
/// `validate_clusters` is always stated: Envoy's default differs between inline (true)
/// and RDS (false) route tables, and the model's value is the one meant.
pub(crate) fn route_configuration(r: &RouteConfiguration) -> route_v3::RouteConfiguration {
    route_v3::RouteConfiguration {
        name: r.name.clone(),
        virtual_hosts: r.virtual_hosts.iter().map(virtual_host).collect(),
        validate_clusters: Some(bool_value(r.validate_clusters)),
        ..Default::default()
    }
}

fn virtual_host(v: &VirtualHost) -> route_v3::VirtualHost {
    route_v3::VirtualHost {
        name: v.name.clone(),
        domains: v.domains.clone(),
        routes: v.routes.iter().map(route).collect(),
        ..Default::default()
    }
}

fn route(r: &Route) -> route_v3::Route {
    let h = &r.headers;
    route_v3::Route {
        r#match: Some(route_match(&r.route_match)),
        action: Some(route_v3::route::Action::Route(route_action(&r.action))),
        request_headers_to_add: header_options(&h.request_headers_to_add),
        request_headers_to_remove: h.request_headers_to_remove.clone(),
        response_headers_to_add: header_options(&h.response_headers_to_add),
        response_headers_to_remove: h.response_headers_to_remove.clone(),
        ..Default::default()
    }
}

fn route_match(m: &RouteMatch) -> route_v3::RouteMatch {
    use route_v3::route_match::PathSpecifier;
    let path = match &m.path {
        PathMatch::Prefix(p) => PathSpecifier::Prefix(p.clone()),
        PathMatch::Path(p) => PathSpecifier::Path(p.clone()),
        PathMatch::SafeRegex(r) => PathSpecifier::SafeRegex(regex(r)),
    };
    route_v3::RouteMatch {
        path_specifier: Some(path),
        headers: m.headers.iter().map(header_matcher).collect(),
        query_parameters: m.query_parameters.iter().map(query_matcher).collect(),
        ..Default::default()
    }
}

/// Header tests use `string_match` (the per-kind `exact_match`... fields are deprecated).
fn header_matcher(h: &HeaderMatcher) -> route_v3::HeaderMatcher {
    use route_v3::header_matcher::HeaderMatchSpecifier;
    let by = |m: StringMatcher| HeaderMatchSpecifier::StringMatch(string_matcher(&m));
    let specifier = match &h.matcher {
        HeaderMatch::Exact(s) => by(StringMatcher::Exact(s.clone())),
        HeaderMatch::SafeRegex(s) => by(StringMatcher::SafeRegex(s.clone())),
        HeaderMatch::Prefix(s) => by(StringMatcher::Prefix(s.clone())),
        HeaderMatch::Suffix(s) => by(StringMatcher::Suffix(s.clone())),
        HeaderMatch::Present => HeaderMatchSpecifier::PresentMatch(true),
    };
    route_v3::HeaderMatcher {
        name: h.name.clone(),
        invert_match: h.invert_match,
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

fn query_matcher(q: &QueryParameterMatcher) -> route_v3::QueryParameterMatcher {
    use route_v3::query_parameter_matcher::QueryParameterMatchSpecifier;
    let specifier = match &q.matcher {
        QueryMatch::StringMatch(m) => QueryParameterMatchSpecifier::StringMatch(string_matcher(m)),
        QueryMatch::Present => QueryParameterMatchSpecifier::PresentMatch(true),
    };
    route_v3::QueryParameterMatcher {
        name: q.name.clone(),
        query_parameter_match_specifier: Some(specifier),
    }
}

fn route_action(a: &RouteAction) -> route_v3::RouteAction {
    use route_v3::route_action::ClusterSpecifier as Specifier;
    let cluster = match &a.cluster {
        ClusterSpecifier::Cluster(name) => Specifier::Cluster(name.clone()),
        ClusterSpecifier::WeightedClusters { clusters, total_weight } => {
            Specifier::WeightedClusters(weighted(clusters, *total_weight))
        }
    };
    route_v3::RouteAction {
        cluster_specifier: Some(cluster),
        prefix_rewrite: a.prefix_rewrite.clone().unwrap_or_default(),
        timeout: a.timeout.map(duration),
        idle_timeout: a.idle_timeout.map(duration),
        retry_policy: a.retry_policy.as_ref().map(retry_policy),
        ..Default::default()
    }
}

/// `total_weight` is deprecated in Envoy (which sums the weights itself) but still
/// checked against that sum when set; Consul sets it and so does the model.
#[allow(deprecated, reason = "total_weight is part of the model, and Envoy 1.40 accepts it")]
fn weighted(clusters: &[ClusterWeight], total_weight: u32) -> route_v3::WeightedCluster {
    route_v3::WeightedCluster {
        clusters: clusters.iter().map(cluster_weight).collect(),
        total_weight: Some(u32_value(total_weight)),
        ..Default::default()
    }
}

fn cluster_weight(c: &ClusterWeight) -> route_v3::weighted_cluster::ClusterWeight {
    let h: &HeaderMutations = &c.headers;
    route_v3::weighted_cluster::ClusterWeight {
        name: c.name.clone(),
        weight: Some(u32_value(c.weight)),
        request_headers_to_add: header_options(&h.request_headers_to_add),
        request_headers_to_remove: h.request_headers_to_remove.clone(),
        response_headers_to_add: header_options(&h.response_headers_to_add),
        response_headers_to_remove: h.response_headers_to_remove.clone(),
        ..Default::default()
    }
}

fn retry_policy(r: &RetryPolicy) -> route_v3::RetryPolicy {
    route_v3::RetryPolicy {
        retry_on: r.retry_on.clone(),
        num_retries: r.num_retries.map(u32_value),
        retriable_status_codes: r.retriable_status_codes.clone(),
        ..Default::default()
    }
}

/// Consul's `Add` appends to an existing value, `Set` overwrites it.
fn header_options(options: &[HeaderValueOption]) -> Vec<core_v3::HeaderValueOption> {
    use core_v3::header_value_option::HeaderAppendAction;
    options
        .iter()
        .map(|o| core_v3::HeaderValueOption {
            header: Some(core_v3::HeaderValue {
                key: o.key.clone(),
                value: o.value.clone(),
                ..Default::default()
            }),
            append_action: if o.append {
                HeaderAppendAction::AppendIfExistsOrAdd
            } else {
                HeaderAppendAction::OverwriteIfExistsOrAdd
            } as i32,
            ..Default::default()
        })
        .collect()
}
