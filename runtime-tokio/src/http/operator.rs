//! `/v1/operator/*`: the raft configuration and peer removal, leadership transfer, autopilot
//! (in [`super::autopilot`]), usage counts, and the gossip keyring.
//!
//! Raft operations act on this server's openraft handle and need it to lead (membership
//! changes and transfers are leader operations; a follower answers 500 naming the leader, as
//! with every write that cannot be forwarded). Failures are 500 with the reason, as Consul
//! surfaces RPC errors, so a typo in `?address=` is an error and never a silent no-op.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use openraft::ChangeMembers;
use proconsul_core::state::WatchKey;
use serde_json::json;

use super::autopilot;
use super::servers::{Server, raft_metrics, servers};
use super::{ApiError, ApiState, Params, blocking, json, with_meta};
use crate::raft::{NodeError, NodeId, ReadConsistency};

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(raft_configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route("/v1/operator/raft/transfer-leader", post(transfer_leader))
        .route(
            "/v1/operator/autopilot/configuration",
            get(autopilot::get_config).put(autopilot::put_config),
        )
        .route("/v1/operator/autopilot/health", get(autopilot::health))
        .route("/v1/operator/usage", get(usage))
        .route("/v1/operator/keyring", get(keyring).post(keyring).put(keyring).delete(keyring))
}

/// `GET /v1/operator/raft/configuration`: `{"Servers": [...], "Index": 0}`. Consul's `Index`
/// comes from raft's `GetConfiguration`, which never sets one, so clients see 0; we keep that.
async fn raft_configuration(
    State(state): State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let consistency = Params::from_query(query).query_options()?.consistency;
    let members = state.node.read(consistency, |sm| servers(&state, sm)).await?;
    let rows: Vec<_> = members
        .iter()
        .map(|s| {
            json!({
                "ID": s.id,
                "Node": s.node,
                "Address": s.address,
                "Leader": s.leader,
                "ProtocolVersion": "3",
                "Voter": s.voter,
            })
        })
        .collect();
    Ok(json(&json!({"Servers": rows, "Index": 0})))
}

/// The members after a consistent read, so a removal or transfer acts on the committed
/// configuration.
async fn members(state: &ApiState) -> Result<Vec<Server>, ApiError> {
    Ok(state.node.read(ReadConsistency::Consistent, |sm| servers(state, sm)).await?)
}

/// `DELETE /v1/operator/raft/peer?address=host:port` or `?id=ID`.
async fn remove_peer(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let (id, address) = (params.get("id").unwrap_or(""), params.get("address").unwrap_or(""));
    let found = |members: &[Server]| -> Result<NodeId, ApiError> {
        let hit = if !id.is_empty() {
            members.iter().find(|s| s.has_id(id))
        } else {
            members.iter().find(|s| s.address == address)
        };
        hit.map(|s| s.raft_id).ok_or_else(|| {
            ApiError::Internal(if id.is_empty() {
                format!("address {address:?} was not found in the Raft configuration")
            } else {
                format!("id {id:?} was not found in the Raft configuration")
            })
        })
    };
    if id.is_empty() && address.is_empty() {
        return Err(ApiError::BadRequest(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
                .into(),
        ));
    }
    let target = found(&members(&state).await?)?;
    let change = ChangeMembers::RemoveVoters(BTreeSet::from([target]));
    let raft = state.node.raft();
    let removed =
        tokio::time::timeout(state.node.deadline(), raft.change_membership(change, false))
            .await
            .map_err(|_| ApiError::from(NodeError::Timeout(state.node.deadline())))?;
    match removed {
        Ok(_) => Ok(json(&true)),
        Err(e) => match e.forward_to_leader() {
            Some(f) => Err(NodeError::NotLeader { leader: f.leader_id }.into()),
            None => Err(ApiError::Internal(e.to_string())),
        },
    }
}

/// `POST /v1/operator/raft/transfer-leader[?id=ID]`: to the named voter, or to the most
/// caught-up other voter. `{"Success": true}` once the transfer is under way.
async fn transfer_leader(
    State(state): State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let wanted = params.get("id").filter(|id| !id.is_empty()).map(str::to_owned);
    let all = members(&state).await?;
    let me = state.node.id();
    if !all.iter().any(|s| s.leader && s.raft_id == me) {
        let leader = all.iter().find(|s| s.leader).map(|s| s.raft_id);
        return Err(NodeError::NotLeader { leader }.into());
    }
    let others: Vec<&Server> = all.iter().filter(|s| s.voter && s.raft_id != me).collect();
    let target = match &wanted {
        Some(id) => others.iter().find(|s| s.has_id(id)).ok_or_else(|| {
            ApiError::Internal(format!(
                "cannot find peer: {id:?} is not another voter in the Raft configuration"
            ))
        })?,
        None => {
            let metrics = raft_metrics(&state);
            let matched = |s: &Server| {
                metrics
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&s.raft_id).cloned().flatten())
                    .map_or(0, |l| l.index)
            };
            others.iter().max_by_key(|s| (matched(s), std::cmp::Reverse(s.raft_id))).ok_or_else(
                || ApiError::Internal("cannot find peer: no other voter to transfer to".into()),
            )?
        }
    };
    state
        .node
        .raft()
        .trigger()
        .transfer_leader(target.raft_id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json(&json!({"Success": true})))
}

/// `GET /v1/operator/usage`: this datacenter's counts (`?global` has no other datacenters to
/// add yet), with the query metadata in the body as Consul sends it.
async fn usage(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (usage, index) = blocking::query(&state, &opts, &WatchKey::Services, |sm| {
        (sm.datacenter().to_string(), sm.usage(), sm.index_of(&WatchKey::Nodes))
    })
    .await?;
    let (dc, counts, nodes_index) = usage;
    let index = index.max(nodes_index);
    let known_leader = raft_metrics(&state).current_leader.is_some();
    let consistency = if opts.consistency == ReadConsistency::Stale { "stale" } else { "leader" };
    let body = json!({
        "Usage": {dc: counts},
        "Index": index,
        "LastContact": 0,
        "KnownLeader": known_leader,
        "ConsistencyLevel": consistency,
        "NotModified": false,
        "Backend": 0,
        "ResultsFilteredByACLs": false,
    });
    Ok(with_meta(&state, index, json(&body)))
}

/// `/v1/operator/keyring` (every method). Agents run without gossip encryption, so the
/// keyring is empty and every operation fails in each pool the way Consul's do (serf answers
/// `Keyring is empty (encryption not enabled)`), with a 500.
async fn keyring(State(state): State<ApiState>) -> ApiError {
    let dc = state.node.read(ReadConsistency::Stale, |sm| sm.datacenter().to_string()).await;
    let dc = dc.unwrap_or_default();
    let reason = "Keyring is empty (encryption not enabled)";
    ApiError::Internal(format!(
        "2 errors occurred:\n\t* WAN error: {reason}\n\t* {dc} (LAN) error: {reason}\n\n"
    ))
}
