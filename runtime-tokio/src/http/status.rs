//! `GET /v1/status/leader` and `GET /v1/status/peers`: the raft leader's and the voters' server
//! RPC addresses, as JSON (`"127.0.0.1:8300"`, `["127.0.0.1:8300"]`). Answered from this
//! server's own raft view without a consistent read, as Consul does, so they work during an
//! election (the leader is then `""`) and tell a client whether the cluster is up.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::servers::{leader_address, servers};
use super::{ApiError, ApiState, json};
use crate::raft::ReadConsistency;

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/status/leader", get(leader)).route("/v1/status/peers", get(peers))
}

async fn leader(State(state): State<ApiState>) -> Response {
    json(&leader_address(&state))
}

async fn peers(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let all = state.node.read(ReadConsistency::Stale, |sm| servers(&state, sm)).await?;
    let addrs: Vec<String> = all.into_iter().filter(|s| s.voter).map(|s| s.address).collect();
    Ok(json(&addrs))
}
