//! The first slice of Consul's HTTP API (CONSUL-FACTS.md §3, §8) on axum, over one
//! [`RaftNode`]: catalog register/deregister/services, health service/connect, KV, config
//! entries. No protocol decisions live here: every read is a core `StateMachine` read paired
//! with the [`WatchKey`](proconsul_core::state::WatchKey) it names, every write one `Command`.
//!
//! ```text
//!  request ─► Params (query string) ─► QueryOptions {consistency, index, wait}
//!     GET ─► blocking::query(key, read) ─► RaftNode::read ─► (value, index_of(key)) ─► headers
//!     PUT/DELETE ─► RaftNode::write(Command) ─► true/false | 500 with the core's message
//! ```
//!
//! Consistency: reads are leader-consistent unless `?stale`. A follower does not forward
//! reads (there is no read RPC yet): without `?stale` it answers 500 naming the leader it
//! knows (`No cluster leader` when it knows none), and the client retries on the leader or
//! with `?stale`. Writes forward when the node was built
//! [`with_write_forwarding`](RaftNode::with_write_forwarding).
//!
//! Every read carries `X-Consul-Index` (never 0), `X-Consul-KnownLeader` and
//! `X-Consul-LastContact` (0 on the leader; openraft exposes no follower-side contact age, so
//! a follower also reports 0).

mod autopilot;
mod blocking;
mod catalog;
mod catalog_body;
mod catalog_read;
mod chain;
mod config;
mod connect_ca;
mod coordinate;
mod dc;
mod event;
mod health;
mod health_read;
mod intentions;
mod kv;
mod local;
mod operator;
mod query;
mod selection;
mod servers;
mod session;
mod session_reaper;
mod snapshot;
mod status;
mod txn;
mod user_events;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use crate::raft::{NodeError, RaftNode, ReadConsistency, WriteOutcome};
use openraft::async_runtime::WatchReceiver;
use proconsul_core::config::GoDuration;
use proconsul_core::rng::{Stream, below};
use proconsul_core::state::Command;

pub use connect_ca::with_connect_ca;
pub use local::DEFAULT_NODE_NAME;
pub use user_events::{EventError, LocalIdentity, UserEvent, UserEvents};

/// `wait` when a blocking query gives none (Consul's `default_query_time`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
/// Longest `wait` honoured (Consul's `max_query_time`); longer values are capped.
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// What every handler shares. Build it with [`ApiState::new`] (see `local.rs`).
#[derive(Clone)]
pub struct ApiState {
    node: Arc<RaftNode>,
    /// The blocking-query jitter's seeded stream (not security relevant).
    jitter: Arc<Mutex<Stream>>,
    /// Session, query and event ids (seeded, like every id the runtime draws).
    ids: Arc<Mutex<Stream>>,
    /// The agent's node name (sessions' default node, event filters).
    node_name: Arc<str>,
    /// Stamps `now_ms` into timed commands.
    clock: local::WallClock,
    /// This agent's user events (agent-local, not replicated).
    events: Arc<UserEvents>,
}

impl ApiState {
    /// Up to `wait / 16` of extra wait, so blocked clients do not all return at once.
    fn jitter(&self, wait: Duration) -> Duration {
        let max = (wait / 16).as_nanos();
        if max == 0 {
            return Duration::ZERO;
        }
        let bound = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let mut stream = self.jitter.lock().unwrap_or_else(|p| p.into_inner());
        Duration::from_nanos(below(&mut stream, bound))
    }
}

/// The HTTP API router over `node`. `jitter_seed` seeds the blocking-query jitter.
/// Serve it with `axum::serve`.
pub fn router(node: Arc<RaftNode>, jitter_seed: u64) -> Router {
    router_with(ApiState::new(node, jitter_seed))
}

/// The HTTP API router over a prepared [`ApiState`] (the agent sets its node name with
/// [`ApiState::with_node_name`]). Starts the session TTL timer on the current runtime.
pub fn router_with(state: ApiState) -> Router {
    session_reaper::spawn(&state);
    Router::new()
        .route("/v1/catalog/register", put(catalog::register))
        .route("/v1/catalog/deregister", put(catalog::deregister))
        .route("/v1/catalog/services", get(catalog::services))
        .route("/v1/health/service/{name}", get(health::service))
        .route("/v1/health/connect/{name}", get(health::connect))
        .route("/v1/kv/", get(kv::get_root).put(kv::put_root).delete(kv::delete_root))
        .route("/v1/kv/{*key}", get(kv::get).put(kv::put).delete(kv::delete))
        .route("/v1/config", put(config::apply))
        .route("/v1/config/{kind}", get(config::list))
        .route("/v1/config/{kind}/{name}", get(config::get).delete(config::delete))
        .merge(status::routes())
        .merge(operator::routes())
        .merge(catalog_read::routes())
        .merge(health_read::routes())
        .merge(coordinate::routes())
        .merge(chain::routes())
        .merge(intentions::routes())
        .merge(connect_ca::routes())
        .merge(session::routes())
        .merge(event::routes())
        .merge(txn::routes())
        .merge(query::routes())
        .merge(snapshot::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), dc::only_local))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("404 page not found".into())
}

/// An error answer: status plus Consul's plain-text message.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400 with the reason.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 413.
    TooLarge(String),
    /// 500 with the plain message (RPC errors in Consul).
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], msg).into_response()
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::NoLeader | NodeError::NotLeader { leader: None } => {
                ApiError::Internal("No cluster leader".into())
            }
            NodeError::NotLeader { leader: Some(l) } => ApiError::Internal(format!(
                "not the leader (leader is node {l}): retry on the leader or with ?stale"
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The query string as Consul reads it: flags by presence (`?recurse`), values by name.
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn from_query(Query(pairs): Query<Vec<(String, String)>>) -> Self {
        Params(pairs.into_iter().collect())
    }

    /// Present at all (Consul's `_, ok := params[k]`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean flag: absent is false, empty is true, else Go's `strconv.ParseBool`.
    pub(crate) fn bool_flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
            Some(_) => Err(ApiError::BadRequest(format!("Invalid value for ?{key}"))),
        }
    }

    /// An unsigned number, or `what` in a 400.
    pub(crate) fn u64(&self, key: &str, what: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<u64>().map_err(|_| ApiError::BadRequest(what.to_owned())))
            .transpose()
    }

    /// `?stale`/`?consistent`, `?index`, `?wait` (Consul's `parseConsistency`, `parseWait`).
    pub(crate) fn query_options(&self) -> Result<QueryOptions, ApiError> {
        let stale = self.has("stale");
        if stale && self.has("consistent") {
            return Err(ApiError::BadRequest(
                "Cannot specify ?stale with ?consistent, conflicting semantics.".into(),
            ));
        }
        let consistency = if stale { ReadConsistency::Stale } else { ReadConsistency::Consistent };
        let min_index = self.u64("index", "Invalid index")?.unwrap_or(0);
        let wait = match self.get("wait") {
            None => DEFAULT_WAIT,
            Some(w) => w
                .parse::<GoDuration>()
                .ok()
                .and_then(GoDuration::to_std)
                .ok_or_else(|| ApiError::BadRequest("Invalid wait time".into()))?,
        };
        let wait = if wait.is_zero() { DEFAULT_WAIT } else { wait.min(MAX_WAIT) };
        Ok(QueryOptions { consistency, min_index, wait })
    }
}

/// How a read is served and how long it may block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryOptions {
    pub(crate) consistency: ReadConsistency,
    /// `?index`: block while the read's index is at most this (0: do not block).
    pub(crate) min_index: u64,
    /// `?wait`, defaulted and capped (jitter is added when blocking).
    pub(crate) wait: Duration,
}

/// Adds Consul's query metadata headers to a read's response.
pub(crate) fn with_meta(state: &ApiState, index: u64, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let metrics = state.node.raft().metrics().borrow_watched().clone();
    let known_leader = metrics.current_leader.is_some();
    let headers = response.headers_mut();
    headers.insert("X-Consul-Index", HeaderValue::from(index.max(1)));
    headers.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if known_leader { "true" } else { "false" }),
    );
    headers.insert("X-Consul-LastContact", HeaderValue::from(0u64));
    response
}

/// A JSON body.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::Internal(format!("encoding response: {e}")).into_response(),
    }
}

/// Proposes `command` and returns Consul's boolean; a refusal is a 500 with its message, as
/// Consul surfaces RPC errors.
pub(crate) async fn write(state: &ApiState, command: Command) -> Result<bool, ApiError> {
    let resp = state.node.write(command).await?;
    match resp.outcome {
        WriteOutcome::Applied { succeeded } => Ok(succeeded),
        WriteOutcome::Refused { reason } => Err(ApiError::Internal(reason)),
        WriteOutcome::NoCommand => Err(ApiError::Internal("write applied no command".into())),
    }
}
