//! `PUT /v1/event/fire/{name}` and `GET /v1/event/list` (Consul's `event_endpoint.go`).
//!
//! Fire takes the raw body as the payload and `?node=`, `?service=`, `?tag=` as regexp
//! filters naming which agents keep the event; this agent keeps it when they match its node
//! name and the services the catalog has on its node. List returns the kept events oldest
//! first, optionally `?name=`-filtered (`?node`/`?service`/`?tag` are accepted and ignored,
//! as in Consul). Its index is derived from the last event's id, so it is not monotonic:
//! `?index=N` blocks while the index is still exactly `N`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, put};
use base64::Engine as _;

use super::user_events::{LocalIdentity, UserEvent, uuid_to_index};
use super::{ApiError, ApiState, Params, json, with_meta};

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/event/fire/{name}", put(fire)).route("/v1/event/list", get(list))
}

/// One event as Consul's API returns it.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    payload: Option<String>,
    node_filter: &'a str,
    service_filter: &'a str,
    tag_filter: &'a str,
    version: u8,
    #[serde(rename = "LTime")]
    ltime: u64,
}

impl<'a> From<&'a UserEvent> for EventJson<'a> {
    fn from(e: &'a UserEvent) -> Self {
        let payload = (!e.payload.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&e.payload));
        EventJson {
            id: &e.id,
            name: &e.name,
            payload,
            node_filter: &e.node_filter,
            service_filter: &e.service_filter,
            tag_filter: &e.tag_filter,
            version: e.version,
            ltime: e.ltime,
        }
    }
}

/// This agent's node name and the services the catalog has on its node.
async fn local_identity(state: &ApiState) -> Result<LocalIdentity, ApiError> {
    let node_name = state.node_name().to_owned();
    let services = state
        .read_local(|sm| {
            sm.node_services(&node_name).map(|s| (s.id.clone(), s.tags.clone())).collect()
        })
        .await?;
    Ok(LocalIdentity { node_name, services })
}

/// `PUT /v1/event/fire/{name}?node=&service=&tag=&dc=`: the stored event as JSON.
async fn fire(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let filter = |k: &str| params.get(k).unwrap_or_default().to_owned();
    let event = UserEvent {
        id: state.new_id(),
        name,
        payload: body.to_vec(),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
        version: 1,
        ltime: 0,
    };
    event.validate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let local = local_identity(&state).await?;
    let fired = state.events.fire(event, &local);
    Ok(json(&EventJson::from(&fired)))
}

/// `GET /v1/event/list?name=&index=&wait=`.
async fn list(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let name = params.get("name").filter(|n| !n.is_empty());
    let mut changed = state.events.changed();
    let deadline = tokio::time::Instant::now() + opts.wait + state.jitter(opts.wait);
    loop {
        changed.borrow_and_update();
        let events = state.events.list(name);
        // Consul never reports 0, so a client with no events does not spin.
        let index = events.last().map_or(1, |e| uuid_to_index(&e.id).max(1));
        let waiting = opts.min_index > 0 && index == opts.min_index;
        let timed_out = waiting
            && !matches!(tokio::time::timeout_at(deadline, changed.changed()).await, Ok(Ok(())));
        if !waiting || timed_out {
            let body: Vec<EventJson<'_>> = events.iter().map(EventJson::from).collect();
            return Ok(with_meta(&state, index, json(&body)));
        }
    }
}
