//! Rendering prepared-query templates and executing queries against the health table
//! (Consul's `prepared_query/template.go` and `PreparedQuery.Execute`).
//!
//! A `name_prefix_match` template interpolates, in `Service.Service`, `Service.Tags`,
//! `Service.Near` and `Service.Failover.Datacenters`:
//!
//! | expression        | value                                                     |
//! |-------------------|-----------------------------------------------------------|
//! | `${name.full}`    | the name the query was looked up by                       |
//! | `${name.prefix}`  | the template's own name                                   |
//! | `${name.suffix}`  | the looked-up name minus the prefix                       |
//! | `${match(N)}`     | group N of `Template.Regexp` on the full name ("" if none) |
//! | `${agent.segment}`| the agent's network segment: always "" here (CE)          |
//!
//! Execution keeps an instance unless one of its checks (other than `IgnoreCheckIDs`) is
//! critical, or warning with `OnlyPassing`; then applies node/service metadata and tag
//! filters. Results are ordered by node then service id; the runtime shuffles them (seeded)
//! as Consul does, and applies `?limit`. Failover to other datacenters needs the WAN pool and
//! is not attempted yet: `Failovers` is always 0.

use super::StateMachine;
use super::model::{HealthStatus, ServiceHealth};
use super::query::{PreparedQuery, QueryDns, QueryError, ServiceQuery, TEMPLATE_NAME_PREFIX_MATCH};

/// The answer of `/v1/query/<id>/execute` (Consul's `PreparedQueryExecuteResponse`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryExecution {
    /// The service that was looked up (after rendering).
    pub service: String,
    /// Healthy instances.
    pub nodes: Vec<ServiceHealth>,
    /// DNS options of the query.
    #[serde(rename = "DNS")]
    pub dns: QueryDns,
    /// Datacenter the instances come from.
    pub datacenter: String,
    /// Datacenters tried before this one.
    pub failovers: u32,
}

/// What `${match(N)}` and friends see for one lookup.
struct Vars<'a> {
    full: &'a str,
    prefix: &'a str,
    groups: Vec<String>,
}

/// The value of one `${...}` expression, `None` when it is not one we know.
fn value_of(expr: &str, vars: &Vars<'_>) -> Option<String> {
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.as_str() {
        "name.full" => Some(vars.full.to_owned()),
        "name.prefix" => Some(vars.prefix.to_owned()),
        "name.suffix" => Some(vars.full.get(vars.prefix.len()..).unwrap_or("").to_owned()),
        "agent.segment" => Some(String::new()),
        other => {
            let n: usize = other.strip_prefix("match(")?.strip_suffix(')')?.parse().ok()?;
            Some(vars.groups.get(n).cloned().unwrap_or_default())
        }
    }
}

/// Replaces every `${...}` in `text`; `Err(expr)` names the first unknown one.
fn interpolate(text: &str, vars: &Vars<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { return Err(after.to_owned()) };
        let expr = &after[..end];
        out.push_str(&value_of(expr, vars).ok_or_else(|| expr.to_owned())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn compile_regexp(q: &PreparedQuery) -> Result<Option<regex::Regex>, QueryError> {
    if q.template.regexp.is_empty() {
        return Ok(None);
    }
    regex::Regex::new(&q.template.regexp).map(Some).map_err(|e| QueryError::BadRegexp {
        regexp: q.template.regexp.clone(),
        reason: e.to_string(),
    })
}

/// Checks a template's type, regexp and interpolations without rendering it.
pub(super) fn validate_template(q: &PreparedQuery) -> Result<(), QueryError> {
    if q.template.kind != TEMPLATE_NAME_PREFIX_MATCH {
        return Err(QueryError::BadTemplateType(q.template.kind.clone()));
    }
    compile_regexp(q)?;
    let vars = Vars { full: &q.name, prefix: &q.name, groups: Vec::new() };
    render_service(&q.service, &vars, false).map(|_| ())
}

/// `q` rendered for the looked-up `full_name`.
pub(super) fn render(q: &PreparedQuery, full_name: &str) -> Result<PreparedQuery, QueryError> {
    let groups = match compile_regexp(q)? {
        Some(re) => re
            .captures(full_name)
            .map(|c| c.iter().map(|m| m.map_or(String::new(), |m| m.as_str().to_owned())).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let vars = Vars { full: full_name, prefix: &q.name, groups };
    let service = render_service(&q.service, &vars, q.template.remove_empty_tags)?;
    Ok(PreparedQuery { service, ..q.clone() })
}

fn render_service(
    s: &ServiceQuery,
    vars: &Vars<'_>,
    remove_empty_tags: bool,
) -> Result<ServiceQuery, QueryError> {
    let field = |field: &'static str| move |expr| QueryError::BadInterpolation { field, expr };
    let mut out = s.clone();
    out.service = interpolate(&s.service, vars).map_err(field("Service.Service"))?;
    out.near = interpolate(&s.near, vars).map_err(field("Service.Near"))?;
    out.tags = s
        .tags
        .iter()
        .map(|t| interpolate(t, vars).map_err(field("Service.Tags")))
        .collect::<Result<_, _>>()?;
    if remove_empty_tags {
        out.tags.retain(|t| !t.is_empty());
    }
    out.failover.datacenters = s
        .failover
        .datacenters
        .iter()
        .map(|d| interpolate(d, vars).map_err(field("Service.Failover.Datacenters")))
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Consul's `tagFilter`: every plain tag present, every `!tag` absent, case-insensitively.
fn tags_match(wanted: &[String], have: &[String]) -> bool {
    let have: Vec<String> = have.iter().map(|t| t.to_lowercase()).collect();
    wanted.iter().all(|t| {
        let t = t.to_lowercase();
        match t.strip_prefix('!') {
            Some(absent) => !have.iter().any(|h| h == absent),
            None => have.contains(&t),
        }
    })
}

fn healthy(row: &ServiceHealth, q: &ServiceQuery) -> bool {
    row.checks.iter().filter(|c| !q.ignore_check_ids.contains(&c.check_id)).all(|c| {
        c.status == HealthStatus::Passing || (c.status == HealthStatus::Warning && !q.only_passing)
    })
}

impl StateMachine {
    /// Runs a resolved (rendered) query against the local health table
    /// ([`super::WatchKey::ServiceName`] or, with Connect, [`super::WatchKey::ConnectService`]
    /// of `query.service.service`).
    pub fn execute_query(&self, query: &PreparedQuery) -> QueryExecution {
        let s = &query.service;
        let rows = if s.connect.enabled {
            self.health_connect(&s.service, false)
        } else {
            self.health_service(&s.service, false)
        };
        let nodes = rows
            .into_iter()
            .filter(|r| healthy(r, s))
            .filter(|r| s.node_meta.iter().all(|(k, v)| r.node.meta.get(k) == Some(v)))
            .filter(|r| s.service_meta.iter().all(|(k, v)| r.service.meta.get(k) == Some(v)))
            .filter(|r| tags_match(&s.tags, &r.service.tags))
            .collect();
        QueryExecution {
            service: s.service.clone(),
            nodes,
            dns: query.dns.clone(),
            datacenter: self.datacenter().to_string(),
            failovers: 0,
        }
    }
}
