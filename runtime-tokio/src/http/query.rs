//! Prepared queries (Consul's `prepared_query_endpoint.go`): `POST|GET /v1/query`,
//! `GET|PUT|DELETE /v1/query/{id}`, `GET /v1/query/{id-or-name}/execute` and `/explain`.
//!
//! Bodies match field names without case (py-consul sends `"onlypassing"`), except the keys
//! of `NodeMeta`/`ServiceMeta`, which are data. `?dc=` is checked by the router's `dc` layer. Validation errors are 500 with
//! Consul's message (it surfaces `PreparedQuery.Apply` errors that way); an unknown query
//! is 404 `Query not found`. Execute shuffles the healthy instances with the seeded id
//! stream, as Consul shuffles them, then applies `?limit`; `?near` sorting needs network
//! coordinates and is not applied.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use proconsul_core::state::{Command, PreparedQuery, QueryDelete, QuerySet, WatchKey};

use super::catalog_body::Shape::{self, Keep, Object};
use super::local::{decode_shaped, empty_ok};
use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};

type RawQuery = Query<Vec<(String, String)>>;

/// A query body's fields; `NodeMeta`/`ServiceMeta` keys are user data.
const QUERY: Shape = Object(&[
    ("ID", Keep),
    ("Name", Keep),
    ("Session", Keep),
    ("Token", Keep),
    (
        "Service",
        Object(&[
            ("Service", Keep),
            ("Failover", Object(&[("NearestN", Keep), ("Datacenters", Keep)])),
            ("IgnoreCheckIDs", Keep),
            ("OnlyPassing", Keep),
            ("Near", Keep),
            ("Tags", Keep),
            ("NodeMeta", Keep),
            ("ServiceMeta", Keep),
            ("Connect", Object(&[("Enabled", Keep)])),
        ]),
    ),
    ("DNS", Object(&[("TTL", Keep)])),
    ("Template", Object(&[("Type", Keep), ("Regexp", Keep), ("RemoveEmptyTags", Keep)])),
]);

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/query", get(list).post(create))
        .route("/v1/query/{id}", get(read).put(update).delete(delete))
        .route("/v1/query/{id}/execute", get(execute))
        .route("/v1/query/{id}/explain", get(explain))
}

fn query_not_found() -> ApiError {
    ApiError::NotFound("Query not found".into())
}

/// The body as a query with `id` (any id or indexes in the body are ignored), validated.
fn decoded(body: &[u8], id: String) -> Result<PreparedQuery, ApiError> {
    let body: PreparedQuery = decode_shaped(body, QUERY)?;
    let query = PreparedQuery { id, create_index: 0, modify_index: 0, ..body };
    query.validate().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(query)
}

/// `POST /v1/query`: `{"ID": "<uuid>"}`.
async fn create(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let id = loop {
        let id = state.new_id();
        if !state.read_local(|sm| sm.prepared_query(&id).is_some()).await? {
            break id;
        }
    };
    let q = decoded(&body, id.clone())?;
    write(&state, Command::PreparedQuerySet(QuerySet { query: q, create: true })).await?;
    Ok(json(&serde_json::json!({ "ID": id })))
}

/// `PUT /v1/query/{id}`: replaces the query; 200 with no body.
async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = decoded(&body, id)?;
    write(&state, Command::PreparedQuerySet(QuerySet { query: q, create: false })).await?;
    Ok(empty_ok())
}

/// `DELETE /v1/query/{id}`: 200 with no body.
async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&state, Command::PreparedQueryDelete(QueryDelete { id })).await?;
    Ok(empty_ok())
}

/// `GET /v1/query`: every query, `[]` when none.
async fn list(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (queries, index) = blocking::query(&state, &opts, &WatchKey::PreparedQueries, |sm| {
        sm.prepared_queries().cloned().collect::<Vec<_>>()
    })
    .await?;
    Ok(with_meta(&state, index, json(&queries)))
}

/// `GET /v1/query/{id}`: `[query]`, 404 when unknown.
async fn read(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (found, index) = blocking::query(&state, &opts, &WatchKey::PreparedQueries, |sm| {
        sm.prepared_query(&id).cloned()
    })
    .await?;
    let q = found.ok_or_else(query_not_found)?;
    Ok(with_meta(&state, index, json(&[q])))
}

/// The query `id_or_name` resolves to (rendered), and the read's index.
async fn resolve(
    state: &ApiState,
    params: &Params,
    id_or_name: &str,
) -> Result<(PreparedQuery, u64), ApiError> {
    let opts = params.query_options()?;
    let (found, index) = state
        .node
        .read(opts.consistency, |sm| {
            (sm.resolve_query(id_or_name), sm.index_of(&WatchKey::PreparedQueries))
        })
        .await?;
    let q = found.map_err(|e| ApiError::Internal(e.to_string()))?.ok_or_else(query_not_found)?;
    Ok((q, index))
}

/// `GET /v1/query/{id-or-name}/explain`: `{"Query": <rendered query>}`.
async fn explain(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (q, index) = resolve(&state, &Params::from_query(query), &id).await?;
    Ok(with_meta(&state, index, json(&serde_json::json!({ "Query": q }))))
}

/// `GET /v1/query/{id-or-name}/execute?limit=`.
async fn execute(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let limit = params.u64("limit", "Invalid limit")?;
    let (q, query_index) = resolve(&state, &params, &id).await?;
    let opts = params.query_options()?;
    let key = match q.service.connect.enabled {
        true => WatchKey::ConnectService(q.service.service.clone()),
        false => WatchKey::ServiceName(q.service.service.clone()),
    };
    let (mut out, index) =
        state.node.read(opts.consistency, |sm| (sm.execute_query(&q), sm.index_of(&key))).await?;
    state.shuffle(&mut out.nodes);
    if let Some(limit) = limit.filter(|l| *l > 0) {
        out.nodes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(with_meta(&state, index.max(query_index), json(&out)))
}
