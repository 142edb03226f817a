//! `/v1/agent/connect/*`: the agent's CA roots, its services' leaves, and authorization of
//! a connection by intentions (what a native app or a proxy without RBAC asks).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use proconsul_core::intentions::{Intention, authorize_uri};
use serde_json::json;

use super::body_json;
use crate::agent::Agent;
use crate::http::{ApiError, json};

fn with_index(index: u64, mut r: Response) -> Response {
    r.headers_mut().insert("X-Consul-Index", HeaderValue::from(index.max(1)));
    r
}

pub(super) async fn roots(State(agent): State<Arc<Agent>>) -> Result<Response, ApiError> {
    let roots = agent
        .with_view(|_, roots| roots.cloned())
        .await
        .flatten()
        .ok_or_else(|| ApiError::Internal("CA is not initialized yet".into()))?;
    Ok(with_index(1, json(&roots)))
}

pub(super) async fn leaf(
    State(agent): State<Arc<Agent>>,
    Path(service): Path<String>,
) -> Result<Response, ApiError> {
    let leaf =
        agent.leaves.get(&agent.opts.datacenter, &service).await.map_err(ApiError::BadRequest)?;
    let mut v = serde_json::to_value(&leaf.cert).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert("PrivateKeyPEM".into(), leaf.private_key_pem.clone().into());
        map.insert("Kind".into(), "".into());
        map.insert("CreateIndex".into(), 1.into());
        map.insert("ModifyIndex".into(), 1.into());
    }
    Ok(with_index(1, json(&v)))
}

/// `{"Target": "db", "ClientCertURI": "spiffe://...", "ClientCertSerial": "..."}` →
/// `{"Authorized": bool, "Reason": "..."}`. Answers from the agent's view of the intentions,
/// so it keeps answering while the servers are unreachable.
pub(super) async fn authorize(
    State(agent): State<Arc<Agent>>,
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
    let (target, uri) = (field("Target"), field("ClientCertURI"));
    let intentions = agent
        .with_view(|view, _| Intention::all(view.config_entries()))
        .await
        .ok_or_else(|| ApiError::Internal("no intentions known yet: no server reached".into()))?;
    let decision = authorize_uri(&intentions, &uri, &target, agent.opts.default_policy)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(json(&json!({"Authorized": decision.authorized, "Reason": decision.reason})).into_response())
}
