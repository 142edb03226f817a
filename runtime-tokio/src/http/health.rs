//! `GET /v1/health/service/{name}` and `GET /v1/health/connect/{name}` with `?passing`
//! (CONSUL-FACTS.md §8): `[{"Node", "Service", "Checks"}]`, `[]` when none.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use proconsul_core::state::WatchKey;

use super::{ApiError, ApiState, Params, blocking, json, with_meta};

/// `GET /v1/health/service/{name}`: every instance of the service.
pub(crate) async fn service(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    read(state, name, query, false).await
}

/// `GET /v1/health/connect/{name}`: the service's sidecars and Connect-native instances.
pub(crate) async fn connect(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    read(state, name, query, true).await
}

async fn read(
    state: ApiState,
    name: String,
    query: Query<Vec<(String, String)>>,
    connect: bool,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let passing = params.bool_flag("passing")?;
    let key = if connect {
        WatchKey::ConnectService(name.clone())
    } else {
        WatchKey::ServiceName(name.clone())
    };
    let (rows, index) = blocking::query(&state, &opts, &key, |sm| {
        if connect { sm.health_connect(&name, passing) } else { sm.health_service(&name, passing) }
    })
    .await?;
    Ok(with_meta(&state, index, json(&rows)))
}
