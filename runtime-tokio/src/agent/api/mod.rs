//! The agent's own endpoints, `/v1/agent/*`, in Consul's shapes. They act on this agent's
//! local state (services, checks, leaves) and read the catalog through the agent's server.

mod checks;
mod connect;
mod info;
pub(crate) mod internal;
mod services;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use super::Agent;
use super::registry::RegistryError;
use crate::http::ApiError;

/// The `/v1/agent/*` routes over `agent`.
pub(crate) fn routes(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/", get(info::index))
        .route("/v1/agent/self", get(info::agent_self))
        .route("/v1/agent/reload", put(info::reload))
        .route("/v1/agent/monitor", get(info::monitor))
        .route("/v1/agent/token/{kind}", put(info::token))
        .route("/v1/agent/force-leave/{node}", put(info::force_leave))
        .route("/v1/agent/members", get(info::members))
        .route("/v1/agent/metrics", get(info::metrics))
        .route("/v1/agent/join/{address}", put(info::join))
        .route("/v1/agent/leave", put(info::leave))
        .route("/v1/agent/maintenance", put(services::node_maintenance))
        .route("/v1/agent/services", get(services::list))
        .route("/v1/agent/service/{id}", get(services::one))
        .route("/v1/agent/service/register", put(services::register))
        .route("/v1/agent/service/deregister/{id}", put(services::deregister))
        .route("/v1/agent/service/maintenance/{id}", put(services::maintenance))
        .route("/v1/agent/health/service/id/{id}", get(services::health_by_id))
        .route("/v1/agent/health/service/name/{name}", get(services::health_by_name))
        .route("/v1/agent/checks", get(checks::list))
        .route("/v1/agent/check/register", put(checks::register))
        .route("/v1/agent/check/deregister/{id}", put(checks::deregister))
        .route("/v1/agent/check/pass/{id}", put(checks::pass))
        .route("/v1/agent/check/warn/{id}", put(checks::warn))
        .route("/v1/agent/check/fail/{id}", put(checks::fail))
        .route("/v1/agent/check/update/{id}", put(checks::update))
        .route("/v1/agent/connect/ca/roots", get(connect::roots))
        .route("/v1/agent/connect/ca/leaf/{service}", get(connect::leaf))
        .route("/v1/agent/connect/authorize", post(connect::authorize))
        .with_state(agent)
}

/// The internal endpoints a server answers for client agents.
pub(crate) fn server_routes(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/v1/internal/agent/cache", get(internal::cache))
        .route("/v1/internal/agent/node/{node}", get(internal::node))
        .route("/v1/internal/agent/apply", put(internal::apply))
        .with_state(agent)
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid(m) => ApiError::BadRequest(m),
            RegistryError::NotFound(m) => ApiError::NotFound(m),
            RegistryError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// A JSON body or a 400 naming the decode error.
fn body_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))
}
