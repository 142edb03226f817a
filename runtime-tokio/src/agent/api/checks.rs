//! `/v1/agent/checks` and `/v1/agent/check/*`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use proconsul_core::filter::Schema;
use proconsul_core::state::HealthStatus;
use serde_json::Value;

use super::body_json;
use crate::agent::Agent;
use crate::http::{ApiError, Params, json};

pub(super) async fn list(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = super::services::row_filter(&Params::from_query(q), Schema::HealthCheck)?;
    let local = agent.local();
    let out: BTreeMap<String, Value> = local
        .checks()
        .iter()
        .map(|(id, c)| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                let def = crate::agent::lock(&agent.check_defs).get(id).cloned();
                let kind = def.as_ref().map_or("", |d| d.kind.type_name());
                map.insert("Type".into(), Value::String(kind.to_owned()));
                let tags = local.service(&c.service_id).map(|s| s.tags.clone()).unwrap_or_default();
                map.insert("ServiceTags".into(), serde_json::to_value(tags).unwrap_or(Value::Null));
                let dur = |d: Option<std::time::Duration>| {
                    Value::String(d.map(|d| format!("{}s", d.as_secs())).unwrap_or_default())
                };
                map.insert("Interval".into(), dur(def.as_ref().and_then(|d| d.kind.interval())));
                map.insert("Timeout".into(), dur(def.as_ref().and_then(|d| d.kind.timeout())));
                map.insert("ExposedPort".into(), Value::from(0));
                map.insert("Definition".into(), Value::Object(Default::default()));
            }
            (id.clone(), v)
        })
        .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.matches(v)))
        .collect();
    Ok(json(&out))
}

pub(super) async fn register(
    State(agent): State<Arc<Agent>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    agent.register_check(&body_json(&body)?).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

pub(super) async fn deregister(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    agent.deregister_check(&id).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

async fn ttl(
    agent: Arc<Agent>,
    id: String,
    status: HealthStatus,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::from_query(q);
    let note = params.get("note").unwrap_or("").to_owned();
    agent.update_ttl(&id, status, &note).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

pub(super) async fn pass(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    ttl(agent, id, HealthStatus::Passing, q).await
}

pub(super) async fn warn(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    ttl(agent, id, HealthStatus::Warning, q).await
}

pub(super) async fn fail(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    ttl(agent, id, HealthStatus::Critical, q).await
}

/// `{"Status": "passing", "Output": "..."}`.
pub(super) async fn update(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = body_json(&body)?;
    let field = |k: &str| {
        v.as_object()
            .and_then(|m| m.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let status = match field("Status").as_str() {
        "passing" => HealthStatus::Passing,
        "warning" => HealthStatus::Warning,
        "critical" => HealthStatus::Critical,
        other => return Err(ApiError::BadRequest(format!("Invalid check status: {other:?}"))),
    };
    agent.update_ttl(&id, status, &field("Output")).await?;
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}
