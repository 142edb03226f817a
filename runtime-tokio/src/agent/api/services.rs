//! `/v1/agent/services`, `/v1/agent/service/*`, maintenance and local service health.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use proconsul_core::agent::LocalService;
use proconsul_core::filter::{RecordFilter, Schema};
use proconsul_core::state::HealthStatus;
use serde_json::{Value, json};

use super::body_json;
use crate::agent::Agent;
use crate::http::{ApiError, Params, json};

/// Consul's `AgentService` JSON of a local instance: empty optional blocks are left out, as
/// Consul's `omitempty` leaves them out.
pub(super) fn agent_service(agent: &Agent, local: &LocalService) -> Value {
    let s = &local.service;
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.remove("CreateIndex");
        map.remove("ModifyIndex");
        if s.tagged_addresses.is_empty() {
            map.remove("TaggedAddresses");
        }
        if !s.connect.native {
            map.remove("Connect");
        }
        map.insert("EnableTagOverride".into(), Value::Bool(local.extra.enable_tag_override));
        map.insert("Datacenter".into(), Value::String(agent.opts.datacenter.to_string()));
        if let Some(locality) = &local.extra.locality {
            map.insert("Locality".into(), locality.clone());
        }
    }
    v
}

/// `?filter=` over agent rows, or a 400 naming the problem.
pub(super) fn row_filter(
    params: &Params,
    schema: Schema,
) -> Result<Option<RecordFilter>, ApiError> {
    params
        .get("filter")
        .filter(|f| !f.is_empty())
        .map(|f| {
            RecordFilter::parse(f, schema).map_err(|e| {
                ApiError::BadRequest(format!("Failed to create boolean expression evaluator: {e}"))
            })
        })
        .transpose()
}

pub(super) async fn list(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = row_filter(&Params::from_query(q), Schema::NodeService)?;
    let out: BTreeMap<String, Value> = agent
        .local()
        .services()
        .iter()
        .map(|(id, s)| (id.clone(), agent_service(&agent, s)))
        .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.matches(v)))
        .collect();
    Ok(json(&out))
}

pub(super) async fn one(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let local = agent.local();
    let s = local
        .services()
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown service ID: {id}")))?;
    Ok(json(&agent_service(&agent, s)))
}

pub(super) async fn register(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(q);
    let replace = params.bool_flag("replace-existing-checks")?;
    agent.register_service(body_json(&body)?, replace).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

pub(super) async fn deregister(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    agent.deregister_service(&id).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

/// `?enable=true|false&reason=...`; `enable` is required.
fn enable_param(params: &Params) -> Result<bool, ApiError> {
    match params.get("enable") {
        None => Err(ApiError::BadRequest("Missing value for enable".into())),
        Some(_) => params.bool_flag("enable"),
    }
}

pub(super) async fn maintenance(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::from_query(q);
    let enable = enable_param(&params)?;
    let reason = params.get("reason").unwrap_or("").to_owned();
    agent
        .local()
        .set_service_maintenance(&id, enable, &reason)
        .map_err(|_| ApiError::NotFound(format!("Unknown service ID {id:?}")))?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

pub(super) async fn node_maintenance(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::from_query(q);
    let enable = enable_param(&params)?;
    let reason = params.get("reason").unwrap_or("").to_owned();
    agent.local().set_node_maintenance(enable, &reason);
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

/// The aggregated status of local instances: Consul's `passing`/`warning`/`critical` with
/// 200/429/503.
fn local_health(agent: &Agent, ids: &[String]) -> (StatusCode, Vec<Value>) {
    let local = agent.local();
    let mut worst = HealthStatus::Passing;
    let mut rows = Vec::new();
    for id in ids {
        let Some(s) = local.services().get(id) else { continue };
        let mut status = HealthStatus::Passing;
        let mut checks = Vec::new();
        for c in local.checks().values().filter(|c| c.service_id == *id || c.service_id.is_empty())
        {
            status = status.max(c.status);
            checks.push(serde_json::to_value(c).unwrap_or(Value::Null));
        }
        worst = worst.max(status);
        rows.push(json!({
            "AggregatedStatus": status.as_str(),
            "Service": agent_service(agent, s),
            "Checks": checks,
        }));
    }
    let code = match worst {
        HealthStatus::Passing => StatusCode::OK,
        HealthStatus::Warning => StatusCode::TOO_MANY_REQUESTS,
        HealthStatus::Critical => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, rows)
}

pub(super) async fn health_by_id(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (code, mut rows) = local_health(&agent, std::slice::from_ref(&id));
    let row = rows.pop().ok_or_else(|| ApiError::NotFound(format!("ServiceId {id} not found")))?;
    Ok((code, json(&row)).into_response())
}

pub(super) async fn health_by_name(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ids: Vec<String> = agent
        .local()
        .services()
        .values()
        .filter(|s| s.service.service == name)
        .map(|s| s.service.id.clone())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::NotFound(format!("ServiceName {name} Not Found")));
    }
    let (code, rows) = local_health(&agent, &ids);
    Ok((code, json(&rows)).into_response())
}
