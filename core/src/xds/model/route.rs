//! `config.route.v3.RouteConfiguration`: where an upstream listener's HTTP requests go, as
//! the discovery chain's routers and splitters say (CONSUL-FACTS.md §3.3, §3.4).

use super::common::{HeaderMutations, StringMatcher};
use crate::config::GoDuration;

/// Weight every `weighted_clusters` adds up to: splits are in hundredths of a percent.
pub const TOTAL_WEIGHT: u32 = 10_000;

/// A route configuration (RDS resource, or inline in an HTTP connection manager).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RouteConfiguration {
    /// Resource name: the upstream's EnvoyID (`db`, `db?dc=dc2`), or `public_listener`.
    pub name: String,
    /// Virtual hosts (one, domains `*`).
    pub virtual_hosts: Vec<VirtualHost>,
    /// Envoy refuses the configuration if a route names an unknown cluster, rather than
    /// failing requests later (Consul sets it on RDS resources).
    pub validate_clusters: bool,
}

/// `VirtualHost`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct VirtualHost {
    /// Name (same as the route configuration's for upstreams).
    pub name: String,
    /// Host header values (`*`).
    pub domains: Vec<String>,
    /// Routes in match order; the first match wins.
    pub routes: Vec<Route>,
}

/// `Route`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Route {
    /// Which requests.
    #[serde(rename = "match")]
    pub route_match: RouteMatch,
    /// Where they go.
    pub action: RouteAction,
    /// Header changes of the route.
    #[serde(skip_serializing_if = "HeaderMutations::is_empty")]
    pub headers: HeaderMutations,
}

/// `RouteMatch`: a path condition plus header and query conditions, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RouteMatch {
    /// Path condition.
    pub path: PathMatch,
    /// Header conditions (`:method` for Consul's `Methods`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatcher>,
    /// Query parameter conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_parameters: Vec<QueryParameterMatcher>,
}

impl RouteMatch {
    /// `prefix: "/"`: every request.
    pub fn any() -> Self {
        RouteMatch {
            path: PathMatch::Prefix("/".into()),
            headers: Vec::new(),
            query_parameters: Vec::new(),
        }
    }
}

/// The `path_specifier` of a route match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    /// Path prefix.
    Prefix(String),
    /// Exact path (`path`).
    Path(String),
    /// RE2 over the path.
    SafeRegex(String),
}

/// `HeaderMatcher`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HeaderMatcher {
    /// Header name.
    pub name: String,
    /// The test.
    pub matcher: HeaderMatch,
    /// Negate the test.
    pub invert_match: bool,
}

/// The `header_match_specifier` of a header matcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMatch {
    /// Value equals.
    Exact(String),
    /// RE2 over the value.
    SafeRegex(String),
    /// Value prefix.
    Prefix(String),
    /// Value suffix.
    Suffix(String),
    /// The header is present.
    Present,
}

/// `QueryParameterMatcher`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct QueryParameterMatcher {
    /// Parameter name.
    pub name: String,
    /// The test.
    pub matcher: QueryMatch,
}

/// The `query_parameter_match_specifier`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMatch {
    /// `string_match` (exact or safe_regex).
    StringMatch(StringMatcher),
    /// The parameter is present.
    Present,
}

/// `RouteAction` (Consul only forwards; no redirects or direct responses).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RouteAction {
    /// Cluster or weighted clusters.
    pub cluster: ClusterSpecifier,
    /// Replaces the matched path prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
    /// Whole-request timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Stream idle timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<GoDuration>,
    /// Retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

impl RouteAction {
    /// To one cluster, nothing else.
    pub fn to_cluster(cluster: impl Into<String>) -> Self {
        RouteAction {
            cluster: ClusterSpecifier::Cluster(cluster.into()),
            prefix_rewrite: None,
            timeout: None,
            idle_timeout: None,
            retry_policy: None,
        }
    }
}

/// The `cluster_specifier` of a route action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSpecifier {
    /// One cluster.
    Cluster(String),
    /// A split.
    WeightedClusters {
        /// Legs, in the splitter's order.
        clusters: Vec<ClusterWeight>,
        /// Sum of the weights ([`TOTAL_WEIGHT`]).
        total_weight: u32,
    },
}

/// `WeightedCluster.ClusterWeight`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ClusterWeight {
    /// Cluster name.
    pub name: String,
    /// Hundredths of a percent.
    pub weight: u32,
    /// Header changes of this leg.
    #[serde(skip_serializing_if = "HeaderMutations::is_empty")]
    pub headers: HeaderMutations,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RetryPolicy {
    /// Comma-separated Envoy retry conditions.
    pub retry_on: String,
    /// Retry count, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    /// Status codes for `retriable-status-codes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retriable_status_codes: Vec<u32>,
}
