//! `/v1/coordinate/*`: network coordinates as agents write them.
//!
//! * `GET /v1/coordinate/datacenters`: per datacenter, its servers' WAN coordinates. Without
//!   a Vivaldi engine on the WAN pool, each server is reported at serf's starting coordinate,
//!   which is what a freshly started Consul server reports too.
//! * `GET /v1/coordinate/nodes`: every stored LAN coordinate (`[]` when none), blocking.
//! * `GET /v1/coordinate/node/{node}`: one node's coordinates; 404 when it has none.
//! * `PUT /v1/coordinate/update`: `{"Node", "Segment", "Coord"}`; 200 with an empty body, as
//!   Consul answers. Updates for nodes the catalog does not know are dropped by the state
//!   machine, as Consul's batch update drops them.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use proconsul_core::state::{Command, Coord, Coordinate, CoordinateBatch, WatchKey};
use serde_json::json;

use super::servers::servers;
use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};
use crate::raft::ReadConsistency;

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/coordinate/datacenters", get(datacenters))
        .route("/v1/coordinate/nodes", get(nodes))
        .route("/v1/coordinate/node/{node}", get(node))
        .route("/v1/coordinate/update", put(update))
}

async fn datacenters(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let (dc, members) = state
        .node
        .read(ReadConsistency::Stale, |sm| (sm.datacenter().to_string(), servers(&state, sm)))
        .await?;
    let coordinates: Vec<_> =
        members.iter().map(|s| json!({"Node": s.node, "Coord": Coord::origin()})).collect();
    Ok(json(&json!([{"Datacenter": dc, "AreaID": "wan", "Coordinates": coordinates}])))
}

async fn nodes(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let opts = Params::from_query(query).query_options()?;
    let (rows, index) =
        blocking::query(&state, &opts, &WatchKey::Coordinates, |sm| sm.coordinates()).await?;
    Ok(with_meta(&state, index, json(&rows)))
}

async fn node(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let opts = Params::from_query(query).query_options()?;
    let (rows, index) =
        blocking::query(&state, &opts, &WatchKey::Coordinates, |sm| sm.node_coordinates(&name))
            .await?;
    if rows.is_empty() {
        return Ok(with_meta(&state, index, StatusCode::NOT_FOUND.into_response()));
    }
    Ok(with_meta(&state, index, json(&rows)))
}

async fn update(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let row: Coordinate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    if row.node.is_empty() {
        return Err(ApiError::BadRequest("Missing node name".into()));
    }
    write(&state, Command::CoordinateBatchUpdate(CoordinateBatch { updates: vec![row] })).await?;
    Ok(StatusCode::OK.into_response())
}
