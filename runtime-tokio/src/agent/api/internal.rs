//! Server endpoints that client agents use instead of an RPC protocol of their own
//! (`/v1/internal/agent/*`): one blocking read of everything a client's cache holds, the
//! catalog rows of its node, and the anti-entropy writes. They are internal: the shapes are
//! the core's types as JSON, not Consul API shapes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use proconsul_core::ca::RootsResponse;
use proconsul_core::config::ConfigEntry;
use proconsul_core::state::{Check, Command, Node, Service, ServiceHealth, ServiceKind};
use serde_json::json;

use crate::agent::Agent;
use crate::http::{ApiError, Params, json};
use crate::raft::{ReadConsistency, WriteOutcome};

/// Longest wait of a client's blocking read.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What a client agent caches, as of `index`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct CacheSnapshot {
    /// The raft index this was read at.
    pub(crate) index: u64,
    /// Every config entry.
    pub(crate) entries: Vec<ConfigEntry>,
    /// CA roots, once the CA exists.
    pub(crate) roots: Option<RootsResponse>,
    /// Connect-capable instances of the services asked for.
    pub(crate) connect: BTreeMap<String, Vec<ServiceHealth>>,
    /// The datacenter's mesh gateways.
    pub(crate) gateways: Vec<ServiceHealth>,
}

fn server(agent: &Agent) -> Result<&Arc<crate::raft::RaftNode>, ApiError> {
    agent.raft.as_ref().ok_or_else(|| ApiError::NotFound("not a server".into()))
}

/// `GET /v1/internal/agent/cache?services=a,b&index=N&wait=30s`: blocks until the state
/// moves past `index` (or `wait` passes), then returns the snapshot.
pub(super) async fn cache(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let raft = server(&agent)?;
    let params = Params::from_query(q);
    let min_index = params.u64("index", "Invalid index")?.unwrap_or(0);
    let wait = params
        .get("wait")
        .and_then(|w| w.parse::<proconsul_core::config::GoDuration>().ok())
        .and_then(|d| d.to_std())
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT);
    let services: Vec<String> = params
        .get("services")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let mut applied = raft.state().applied_index();
    let deadline = tokio::time::Instant::now() + wait;
    while min_index > 0 && *applied.borrow_and_update() <= min_index {
        if tokio::time::timeout_at(deadline, applied.changed()).await.is_err() {
            break;
        }
    }
    let snapshot = raft
        .read(ReadConsistency::Stale, |sm| CacheSnapshot {
            index: sm.last_index().max(1),
            entries: sm.config_entry_set().iter().cloned().collect(),
            roots: sm.ca_roots().cloned(),
            connect: services.iter().map(|s| (s.clone(), sm.health_connect(s, false))).collect(),
            gateways: proconsul_core::agent::CatalogView::mesh_gateways(sm)
                .into_iter()
                .filter(|h| h.service.kind == ServiceKind::MeshGateway)
                .collect(),
        })
        .await?;
    let mut r = json(&snapshot);
    r.headers_mut().insert("X-Consul-Index", HeaderValue::from(snapshot.index));
    Ok(r)
}

/// The catalog's rows of one node.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct NodeRows {
    pub(crate) node: Option<Node>,
    pub(crate) services: Vec<Service>,
    pub(crate) checks: Vec<Check>,
}

/// `GET /v1/internal/agent/node/:node`.
pub(super) async fn node(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rows = server(&agent)?
        .read(ReadConsistency::Stale, |sm| NodeRows {
            node: sm.node(&name).cloned(),
            services: sm.node_services(&name).cloned().collect(),
            checks: sm.node_checks(&name).cloned().collect(),
        })
        .await?;
    Ok(json(&rows))
}

/// `PUT /v1/internal/agent/apply`: one anti-entropy command of a client agent.
pub(super) async fn apply(
    State(agent): State<Arc<Agent>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let command: Command = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    let allowed = matches!(
        command,
        Command::Register { .. }
            | Command::DeregisterService { .. }
            | Command::DeregisterCheck { .. }
            | Command::UpdateCheckStatus { .. }
    );
    if !allowed {
        return Err(ApiError::BadRequest(
            "only catalog registrations of the agent's own node may be applied here".into(),
        ));
    }
    let resp = server(&agent)?.write(command).await?;
    match resp.outcome {
        WriteOutcome::Applied { succeeded } => Ok(json(&json!({"Succeeded": succeeded}))),
        WriteOutcome::Refused { reason } => Err(ApiError::BadRequest(reason)),
        WriteOutcome::NoCommand => Err(ApiError::Internal("write applied no command".into())),
    }
}
