//! `?dc=`: a request for another datacenter is forwarded there in Consul. Until WAN
//! federation reaches the HTTP API, this server knows no other datacenter, so such a request
//! fails the way Consul's does for an unknown one: 500 `No path to datacenter`. The agent's
//! own endpoints (`/v1/agent/...`) answer locally whatever `?dc` says, as in Consul.

use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

/// Consul's error for a datacenter with no known route.
pub(crate) const NO_PATH: &str = "No path to datacenter";

/// Whether `dc` (from a query or a body) names a datacenter other than this one.
pub(crate) fn is_remote(state: &ApiState, dc: &str) -> bool {
    !dc.is_empty() && state.node.state().read().machine.datacenter().as_str() != dc
}

/// Middleware: refuses `?dc=<other>` on every endpoint but the agent's.
pub(crate) async fn only_local(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/v1/agent/") {
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(req.uri());
        let remote = pairs
            .map(|Query(p)| p.iter().any(|(k, v)| k == "dc" && is_remote(&state, v)))
            .unwrap_or(false);
        if remote {
            return ApiError::Internal(NO_PATH.into()).into_response();
        }
    }
    next.run(req).await
}
