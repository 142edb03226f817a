//! `service-router`: L7 routes from request properties to services and subsets
//! (CONSUL-FACTS.md §3.3).

use super::common::{HttpHeaderModifiers, entry_struct, is_false, is_zero_u32};
use super::duration::GoDuration;
use super::http_match::{check_headers, check_methods, check_paths, check_regex};

entry_struct! {
    /// A `service-router` entry.
    pub struct ServiceRouter {
        /// Routes in order; the first match wins.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub routes: Vec<ServiceRoute>,
    }
}

/// One route: a match and where matching requests go.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRoute {
    /// What to match; absent matches every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#match: Option<ServiceRouteMatch>,
    /// Where to send; absent sends to the router's own service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<ServiceRouteDestination>,
}

/// `Match { HTTP { ... } }`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRouteMatch {
    /// HTTP request properties.
    #[serde(rename = "HTTP", skip_serializing_if = "Option::is_none")]
    pub http: Option<ServiceRouteHttpMatch>,
}

/// HTTP request properties a route matches on.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRouteHttpMatch {
    /// Exact path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_exact: String,
    /// Path prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// Path regular expression (RE2).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_regex: String,
    /// Header conditions, all of which must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<HttpHeaderMatch>,
    /// Query parameter conditions, all of which must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_param: Vec<HttpQueryMatch>,
    /// Allowed methods (upper-cased on normalize).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// One header condition.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HttpHeaderMatch {
    /// Header name.
    pub name: String,
    /// The header is present.
    #[serde(skip_serializing_if = "is_false")]
    pub present: bool,
    /// Exact value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub exact: String,
    /// Value prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Value suffix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub suffix: String,
    /// Value regular expression.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub regex: String,
    /// Negate the condition.
    #[serde(skip_serializing_if = "is_false")]
    pub invert: bool,
}

/// One query parameter condition.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HttpQueryMatch {
    /// Parameter name.
    pub name: String,
    /// The parameter is present.
    #[serde(skip_serializing_if = "is_false")]
    pub present: bool,
    /// Exact value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub exact: String,
    /// Value regular expression.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub regex: String,
}

/// Where a route sends matching requests, and how.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRouteDestination {
    /// Target service; empty means the router's own service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Target subset; bypasses the target's splitter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Target namespace; empty means the router's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Target partition; empty means the router's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Replaces the matched path prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix_rewrite: String,
    /// Request timeout.
    #[serde(skip_serializing_if = "GoDuration::is_zero_ref")]
    pub request_timeout: GoDuration,
    /// Idle timeout.
    #[serde(skip_serializing_if = "GoDuration::is_zero_ref")]
    pub idle_timeout: GoDuration,
    /// Retry count.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub num_retries: u32,
    /// Retry on connect failure.
    #[serde(skip_serializing_if = "is_false")]
    pub retry_on_connect_failure: bool,
    /// Envoy retry conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry_on: Vec<String>,
    /// Status codes that trigger a retry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry_on_status_codes: Vec<u32>,
    /// Request header changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HttpHeaderModifiers>,
    /// Response header changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HttpHeaderModifiers>,
}

const RETRY_CONDITIONS: [&str; 12] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

impl ServiceRouter {
    pub(crate) fn normalize(&mut self) {
        for route in &mut self.routes {
            if let Some(http) = route.r#match.as_mut().and_then(|m| m.http.as_mut()) {
                for m in &mut http.methods {
                    *m = m.to_ascii_uppercase();
                }
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Name is required".into());
        }
        if self.name == "*" {
            return Err(
                "service-router name must be the name of a service, and not a wildcard".into()
            );
        }
        for (i, route) in self.routes.iter().enumerate() {
            let http = route.r#match.as_ref().and_then(|m| m.http.as_ref());
            if let Some(http) = http {
                validate_http_match(i, http)?;
            }
            if let Some(dest) = &route.destination {
                let has_path =
                    http.is_some_and(|h| !h.path_exact.is_empty() || !h.path_prefix.is_empty());
                if !dest.prefix_rewrite.is_empty() && !has_path {
                    return Err(format!(
                        "Route[{i}] cannot make use of PrefixRewrite without configuring either PathExact or PathPrefix"
                    ));
                }
                for cond in &dest.retry_on {
                    if !RETRY_CONDITIONS.contains(&cond.as_str()) {
                        return Err(format!(
                            "Route[{i}] contains an invalid retry condition: {cond:?}"
                        ));
                    }
                }
                if dest.request_timeout.is_negative() || dest.idle_timeout.is_negative() {
                    return Err(format!("Route[{i}] timeouts must be >= 0"));
                }
                if !dest.service_subset.is_empty() && dest.service_subset.contains('.') {
                    return Err(format!(
                        "Route[{i}] ServiceSubset {:?} is not a valid subset name",
                        dest.service_subset
                    ));
                }
            }
        }
        Ok(())
    }
}

fn validate_http_match(i: usize, http: &ServiceRouteHttpMatch) -> Result<(), String> {
    let at = format!("Route[{i}]");
    check_paths(&at, " ", &http.path_exact, &http.path_prefix, &http.path_regex)?;
    check_headers(&at, " ", &http.header)?;
    for (j, q) in http.query_param.iter().enumerate() {
        if q.name.is_empty() {
            return Err(format!("{at} QueryParam[{j}] missing required Name field"));
        }
        let set = [q.present, !q.exact.is_empty(), !q.regex.is_empty()];
        if set.iter().filter(|b| **b).count() > 1 {
            return Err(format!(
                "{at} QueryParam[{j}] should only contain one of Present, Exact, or Regex"
            ));
        }
        if !q.regex.is_empty() {
            check_regex(&format!("{at} QueryParam[{j}] Regex"), &q.regex)?;
        }
    }
    check_methods(&at, " ", &http.methods)
}
