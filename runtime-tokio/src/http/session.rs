//! `/v1/session/*` (Consul's `session_endpoint.go`): create, destroy, renew, info, node,
//! list. Decisions (validation, invalidation, TTL deadlines) are the core's; this module
//! decodes Consul's request shapes, applies the HTTP layer's defaults, draws the id and
//! stamps the wall clock into the command.
//!
//! Create defaults, as Consul's HTTP handler sets them before decoding the body: the
//! agent's node, `NodeChecks: ["serfHealth"]`, `LockDelay: 15s`, `Behavior: release`, no
//! TTL. Field names match without case; `LockDelay` is a duration string or a number
//! of nanoseconds, and a number below 1000 means seconds (Consul's `lockDelayMinThreshold`).
//! Errors the state machine raises (unknown node or check, bad TTL) are 500 with Consul's
//! message, as Consul surfaces `Session.Apply` errors.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, put};
use proconsul_core::config::GoDuration;
use proconsul_core::state::{
    Command, LOCK_DELAY_DEFAULT, SERF_HEALTH, ServiceCheck, Session, SessionBehavior,
    SessionCreate, SessionDestroy, SessionRenew, StateMachine, WatchKey,
};
use serde_json::Value;

use super::catalog_body::Shape::{self, Keep, List, Object};
use super::local::decode_shaped;
use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};
use crate::raft::WriteOutcome;

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/session/create", put(create))
        .route("/v1/session/destroy/{id}", put(destroy))
        .route("/v1/session/renew/{id}", put(renew))
        .route("/v1/session/info/{id}", get(info))
        .route("/v1/session/node/{node}", get(node))
        .route("/v1/session/list", get(list))
        .route("/v1/session/destroy/", put(missing_session))
        .route("/v1/session/renew/", put(missing_session))
        .route("/v1/session/info/", get(missing_session))
        .route("/v1/session/node/", get(missing_node))
}

async fn missing_session() -> ApiError {
    ApiError::BadRequest("Missing session".into())
}

async fn missing_node() -> ApiError {
    ApiError::BadRequest("Missing node name".into())
}

/// A create body's fields.
const CREATE: Shape = Object(&[
    ("Name", Keep),
    ("Node", Keep),
    ("LockDelay", Keep),
    ("Behavior", Keep),
    ("TTL", Keep),
    ("Checks", Keep),
    ("NodeChecks", Keep),
    ("ServiceChecks", List(&Object(&[("ID", Keep), ("Namespace", Keep)]))),
]);

/// Consul's `structs.Session` as a create body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    node: Option<String>,
    lock_delay: Option<Value>,
    behavior: Option<String>,
    #[serde(rename = "TTL")]
    ttl: String,
    checks: Option<Vec<String>>,
    node_checks: Option<Vec<String>>,
    service_checks: Option<Vec<ServiceCheck>>,
}

/// Consul's `Session.UnmarshalJSON` for `LockDelay`.
fn lock_delay_ns(value: Option<&Value>) -> Result<u64, ApiError> {
    let bad = |why: String| ApiError::BadRequest(format!("Request decode failed: LockDelay {why}"));
    let ns: i64 = match value {
        None | Some(Value::Null) => return Ok(duration_ns(LOCK_DELAY_DEFAULT)),
        Some(Value::String(s)) => {
            s.parse::<GoDuration>().map_err(|e| bad(e.to_string()))?.as_nanos()
        }
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| bad(format!("{n} is not a number of nanoseconds")))?,
        Some(other) => return Err(bad(format!("must be a duration, not {other}"))),
    };
    let ns = if ns < 1000 { ns.saturating_mul(1_000_000_000) } else { ns };
    u64::try_from(ns).map_err(|_| bad("must not be negative".into()))
}

fn duration_ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Consul's defaults plus `fixupEmptySessionChecks`: an explicit empty `Checks` clears the
/// default node check; a `Checks` of just `serfHealth`, or an explicit empty `NodeChecks`,
/// clears `Checks`. The session depends on what is left of both lists, merged.
fn node_checks(checks: Option<Vec<String>>, node_checks: Option<Vec<String>>) -> Vec<String> {
    let default = || vec![SERF_HEALTH.to_owned()];
    let mut checks = checks.unwrap_or_else(default);
    let mut node_checks = node_checks.unwrap_or_else(default);
    if checks.is_empty() {
        node_checks.clear();
    } else if checks == [SERF_HEALTH] || node_checks.is_empty() {
        checks.clear();
    }
    let mut merged: Vec<String> = Vec::new();
    for c in checks.into_iter().chain(node_checks) {
        if !merged.contains(&c) {
            merged.push(c);
        }
    }
    merged
}

fn behavior(value: Option<&str>) -> Result<SessionBehavior, ApiError> {
    match value.unwrap_or("") {
        "" | "release" => Ok(SessionBehavior::Release),
        "delete" => Ok(SessionBehavior::Delete),
        other => Err(ApiError::Internal(format!("Invalid Behavior setting '{other}'"))),
    }
}

/// `PUT /v1/session/create`: `{"ID": "<uuid>"}`.
async fn create(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let b: CreateBody = decode_shaped(&body, CREATE)?;
    let mut session = Session {
        id: String::new(),
        name: b.name,
        node: b.node.unwrap_or_else(|| state.node_name().to_owned()),
        lock_delay_ns: lock_delay_ns(b.lock_delay.as_ref())?,
        behavior: behavior(b.behavior.as_deref())?,
        ttl: b.ttl,
        node_checks: node_checks(b.checks, b.node_checks),
        service_checks: b.service_checks.unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    };
    session.ttl_duration().map_err(|e| ApiError::Internal(e.to_string()))?;
    session.id = fresh_id(&state).await?;
    let id = session.id.clone();
    write(&state, Command::SessionCreate(SessionCreate { session, now_ms: state.now_ms() }))
        .await?;
    Ok(json(&serde_json::json!({ "ID": id })))
}

/// An id no session has (the leader's apply refuses a duplicate anyway).
async fn fresh_id(state: &ApiState) -> Result<String, ApiError> {
    loop {
        let id = state.new_id();
        if !state.read_local(|sm| sm.session(&id).is_some()).await? {
            return Ok(id);
        }
    }
}

/// `PUT /v1/session/destroy/{id}`: `true`.
async fn destroy(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::SessionDestroy(SessionDestroy { id, now_ms: state.now_ms() });
    write(&state, cmd).await?;
    Ok(json(&true))
}

/// `PUT /v1/session/renew/{id}`: `[session]`, or 404 when it does not exist.
async fn renew(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::SessionRenew(SessionRenew { id: id.clone(), now_ms: state.now_ms() });
    let resp = state.node.write(cmd).await?;
    let not_found = || ApiError::NotFound(format!("Session id '{id}' not found"));
    match resp.outcome {
        WriteOutcome::Applied { succeeded: true } => {}
        WriteOutcome::Applied { succeeded: false } => return Err(not_found()),
        WriteOutcome::Refused { reason } => return Err(ApiError::Internal(reason)),
        WriteOutcome::NoCommand => return Err(ApiError::Internal("renew applied nothing".into())),
    }
    state.applied(resp.index).await?;
    let session = state.read_local(|sm| sm.session(&id).cloned()).await?.ok_or_else(not_found)?;
    Ok(json(&[session]))
}

/// A blocking read of the session table, always a JSON array.
async fn read_sessions(
    state: &ApiState,
    query: RawQuery,
    read: impl Fn(&StateMachine) -> Vec<Session>,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (sessions, index) = blocking::query(state, &opts, &WatchKey::Sessions, read).await?;
    Ok(with_meta(state, index, json(&sessions)))
}

/// `GET /v1/session/info/{id}`: `[session]` or `[]`.
async fn info(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read_sessions(&state, query, |sm| sm.session(&id).cloned().into_iter().collect()).await
}

/// `GET /v1/session/node/{node}`.
async fn node(
    State(state): State<ApiState>,
    Path(node): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read_sessions(&state, query, |sm| sm.node_sessions(&node).cloned().collect()).await
}

/// `GET /v1/session/list`.
async fn list(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    read_sessions(&state, query, |sm| sm.sessions().cloned().collect()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn check_lists_follow_consuls_fixup() {
        assert_eq!(node_checks(None, None), ["serfHealth"]);
        assert_eq!(node_checks(strings(&[]), None), Vec::<String>::new());
        assert_eq!(node_checks(strings(&["a"]), None), ["a", "serfHealth"]);
        assert_eq!(node_checks(None, strings(&["a"])), ["a"]);
        assert_eq!(node_checks(strings(&["a"]), strings(&[])), Vec::<String>::new());
        assert_eq!(node_checks(strings(&["serfHealth"]), strings(&["b"])), ["b"]);
        assert_eq!(node_checks(strings(&[]), strings(&["b"])), Vec::<String>::new());
    }

    #[test]
    fn lock_delay_accepts_strings_nanoseconds_and_small_numbers_as_seconds() {
        let ns = |v: Value| lock_delay_ns(Some(&v)).map_err(|e| format!("{e:?}"));
        assert_eq!(lock_delay_ns(None).unwrap(), 15_000_000_000);
        assert_eq!(ns("30s".into()).unwrap(), 30_000_000_000);
        assert_eq!(ns(5.into()).unwrap(), 5_000_000_000);
        assert_eq!(ns(2_000_000_000u64.into()).unwrap(), 2_000_000_000);
        assert!(ns("soon".into()).unwrap_err().contains("LockDelay"));
        assert!(ns(Value::Bool(true)).unwrap_err().contains("LockDelay"));
    }
}
