//! Health reads beyond a service's instances (Consul's `health_endpoint.go`): a node's checks,
//! a service's checks, every check in a state, and the ingress gateways in front of a service.
//! Check rows are Consul's `HealthCheck` with the instance's `ServiceTags`; `?filter` is
//! evaluated against each row in that shape.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use proconsul_core::agent::proxycfg::filter_instance;
use proconsul_core::filter::Schema;
use proconsul_core::state::{Check, HealthStatus, StateMachine, WatchKey};
use serde_json::Value;

use super::selection::{Rows, Selection, respond_rows};
use super::{ApiError, ApiState, blocking, json, with_meta};

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/health/node/{node}", get(node))
        .route("/v1/health/checks/{service}", get(checks))
        .route("/v1/health/state/{state}", get(in_state))
        .route("/v1/health/ingress/{service}", get(ingress))
}

/// A check as `/v1/health/*` returns it: the stored row plus its instance's tags.
fn check_row(sm: &StateMachine, c: &Check) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    let tags = (!c.service_id.is_empty())
        .then(|| sm.service(&c.node, &c.service_id))
        .flatten()
        .map(|s| s.tags.clone())
        .unwrap_or_default();
    if let Value::Object(map) = &mut v {
        map.insert("ServiceTags".into(), tags.into());
        map.entry("Type").or_insert_with(|| "".into());
    }
    v
}

/// Rows of `checks` that pass `?node-meta` (their node's meta) and `?filter`.
fn check_rows<'a>(
    sm: &StateMachine,
    checks: impl Iterator<Item = &'a Check>,
    sel: &Selection,
) -> Vec<Value> {
    checks
        .filter(|c| {
            sel.node_meta.is_empty() || sm.node(&c.node).is_some_and(|n| sel.node_matches(n))
        })
        .map(|c| check_row(sm, c))
        .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
        .collect()
}

/// `GET /v1/health/node/{node}`: node and service checks of the node, `[]` when none.
async fn node(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::HealthCheck))?;
    let opts = params.query_options()?;
    respond_rows(&state, &opts, &sel, &WatchKey::Checks, |sm| {
        check_rows(sm, sm.node_checks(&name), &sel)
    })
    .await
}

/// `GET /v1/health/checks/{service}`: the checks of every instance of the service.
async fn checks(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::HealthCheck))?;
    let opts = params.query_options()?;
    let key = WatchKey::ServiceName(name.clone());
    respond_rows(&state, &opts, &sel, &key, |sm| {
        let instances = sm.health_service(&name, false);
        let mut all = Vec::new();
        for row in &instances {
            let own = sm.node_checks(&row.node.node).filter(|c| c.service_id == row.service.id);
            all.extend(check_rows(sm, own, &sel));
        }
        all
    })
    .await
}

/// `GET /v1/health/state/{state}`: `any`, `passing`, `warning` or `critical`; 400 otherwise.
async fn in_state(
    State(state): State<ApiState>,
    Path(wanted): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let status = match wanted.as_str() {
        "any" => None,
        "passing" => Some(HealthStatus::Passing),
        "warning" => Some(HealthStatus::Warning),
        "critical" => Some(HealthStatus::Critical),
        _ => {
            return Err(ApiError::BadRequest(format!(
                "Bad check state {wanted:?}: must be any, passing, warning or critical"
            )));
        }
    };
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::HealthCheck))?;
    let opts = params.query_options()?;
    respond_rows(&state, &opts, &sel, &WatchKey::Checks, |sm| {
        let nodes: Vec<String> = sm.nodes().map(|n| n.node.clone()).collect();
        let mut all = Vec::new();
        for n in &nodes {
            let checks = sm.node_checks(n).filter(|c| status.is_none_or(|s| c.status == s));
            all.extend(check_rows(sm, checks, &sel));
        }
        all
    })
    .await
}

/// `GET /v1/health/ingress/{service}`: the instances of every ingress gateway whose config
/// entry exposes the service, in the `/v1/health/service` shape (`[]` when none does), with
/// `?passing`, `?tag`, `?node-meta` and `?filter` as there.
async fn ingress(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Instances)?;
    let passing = params.bool_flag("passing")?;
    let opts = params.query_options()?;
    // Gateways come from config entries; their instances and health from the catalog.
    let keys = [WatchKey::ConfigEntries, WatchKey::Services, WatchKey::Nodes, WatchKey::Checks];
    let (rows, index) = blocking::query_keys(&state, &opts, &keys, |sm| {
        sm.ingress_gateways_for(&name)
            .iter()
            .flat_map(|gw| sm.health_service(gw, passing))
            .filter(|r| sel.local() && sel.node_matches(&r.node) && sel.tags_match(&r.service))
            .filter(|r| sel.instance_filter().is_none_or(|f| f.matches(&filter_instance(r))))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(with_meta(&state, index, json(&rows)))
}
