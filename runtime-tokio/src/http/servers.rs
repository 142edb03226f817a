//! The datacenter's raft servers as the operator, status and coordinate endpoints report them:
//! raft membership (who votes, who leads, at which RPC address) joined with the catalog (which
//! node each server is).
//!
//! Raft knows a server by its numeric id and RPC address only. Consul names servers after
//! their catalog node, and the leader registers every server with the `consul` service at its
//! RPC port, so a member's node is the catalog node whose `consul` instance listens at the
//! member's address. A member with no such registration yet (it just joined) is reported under
//! the agent's node name when it is this server, else under its raft id.

use std::collections::BTreeMap;

use openraft::RaftMetrics;
use openraft::async_runtime::WatchReceiver;
use proconsul_core::state::StateMachine;

use super::ApiState;
use crate::raft::{NodeId, TypeConfig};

/// A copy of this server's raft metrics (the watch's lock is released at once).
pub(crate) fn raft_metrics(state: &ApiState) -> RaftMetrics<TypeConfig> {
    state.node.raft().metrics().borrow_watched().clone()
}

/// One raft member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    /// The raft id.
    pub(crate) raft_id: NodeId,
    /// Consul's server `ID`: the node's UUID when the catalog knows it, else the raft id.
    pub(crate) id: String,
    /// The node name, or the raft id while the catalog has no `consul` instance for it.
    pub(crate) node: String,
    /// The server RPC address (`host:port`).
    pub(crate) address: String,
    /// A voter (not a learner).
    pub(crate) voter: bool,
    /// The current leader.
    pub(crate) leader: bool,
}

impl Server {
    /// True when `text` names this server by either of its ids.
    pub(crate) fn has_id(&self, text: &str) -> bool {
        self.id == text || self.raft_id.to_string() == text
    }
}

/// The catalog name of the service every Consul server is registered as.
const SERVER_SERVICE: &str = "consul";

/// `host:port` of each `consul` instance → (node name, node id).
fn server_nodes(sm: &StateMachine) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for row in sm.health_service(SERVER_SERVICE, false) {
        let host =
            if row.service.address.is_empty() { &row.node.address } else { &row.service.address };
        let addr = format!("{host}:{}", row.service.port);
        out.insert(addr, (row.node.node.clone(), row.node.id.clone()));
    }
    out
}

/// Every raft member (voters and learners), by raft id.
pub(crate) fn servers(state: &ApiState, sm: &StateMachine) -> Vec<Server> {
    let metrics = raft_metrics(state);
    let membership = metrics.membership_config.membership().clone();
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    let names = server_nodes(sm);
    membership
        .nodes()
        .map(|(raft_id, basic)| {
            let local = (*raft_id == state.node.id()).then(|| {
                let name = state.node_name().to_owned();
                let id = sm.node(&name).map(|n| n.id.clone()).unwrap_or_default();
                (name, id)
            });
            let found = names.get(&basic.addr).or(local.as_ref());
            let node = found.map_or_else(|| raft_id.to_string(), |(name, _)| name.clone());
            let id = found
                .map(|(_, id)| id.clone())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| raft_id.to_string());
            Server {
                raft_id: *raft_id,
                id,
                node,
                address: basic.addr.clone(),
                voter: voters.contains(raft_id),
                leader: metrics.current_leader == Some(*raft_id),
            }
        })
        .collect()
}

/// The leader's server RPC address, or `""` when no leader is known (Consul's
/// `/v1/status/leader` answer).
pub(crate) fn leader_address(state: &ApiState) -> String {
    let metrics = raft_metrics(state);
    metrics
        .current_leader
        .and_then(|id| metrics.membership_config.membership().get_node(&id).cloned())
        .map(|n| n.addr)
        .unwrap_or_default()
}
