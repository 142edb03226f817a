//! `GET /v1/health/service/{name}` and `GET /v1/health/connect/{name}` with `?passing`
//! (CONSUL-FACTS.md §8): `[{"Node", "Service", "Checks"}]`, `[]` when none. `?tag`,
//! `?node-meta`, `?peer` and `?filter` narrow the rows and `?near` orders them as in [`super::selection`]; the filter
//! sees each row as Consul's `CheckServiceNode`.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use proconsul_core::state::WatchKey;

use proconsul_core::agent::proxycfg::filter_instance;

use super::selection::{Rows, Selection};
use super::{ApiError, ApiState, blocking, json, with_meta};

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
    let (params, sel) = Selection::parse(query, Rows::Instances)?;
    let opts = params.query_options()?;
    let passing = params.bool_flag("passing")?;
    // Central config only rewrites proxies' settings; the rows' identity does not change.
    params.bool_flag("merge-central-config")?;
    let key = if connect {
        WatchKey::ConnectService(name.clone())
    } else {
        WatchKey::ServiceName(name.clone())
    };
    let (rows, index) = blocking::query(&state, &opts, &key, |sm| {
        let rows = if connect {
            sm.health_connect(&name, passing)
        } else {
            sm.health_service(&name, passing)
        };
        let mut rows: Vec<_> = rows
            .into_iter()
            .filter(|r| sel.local() && sel.node_matches(&r.node) && sel.tags_match(&r.service))
            .filter(|r| sel.instance_filter().is_none_or(|f| f.matches(&filter_instance(r))))
            .collect();
        sel.sort_near(&state, sm, &mut rows, |r| r.node.node.as_str());
        rows
    })
    .await?;
    Ok(with_meta(&state, index, json(&rows)))
}
