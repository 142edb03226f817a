//! [`RaftNode`]: one raft server hosting the core state machine, with deadline-bounded
//! writes and reads.
//!
//! Writes return only after the entry is committed and applied (openraft's `client_write`).
//! On a follower a write fails with [`NodeError::NotLeader`] naming the leader it knows;
//! forwarding it there is the server RPC's job (not implemented yet). Reads are
//! leader-consistent by default ([`ReadConsistency::Consistent`]: ReadIndex, then wait for the
//! local state machine to catch up) and local with [`ReadConsistency::Stale`] (Consul's
//! `?stale`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::network::NetSnapshot;
use openraft::{RaftNetworkFactory, ReadPolicy};
use proconsul_core::ids::Datacenter;
use proconsul_core::state::{Command, StateMachine};
use redb::Database;

use super::ProconsulRaft;
use super::log_store::LogStore;
use super::state_machine::{SharedState, StateMachineStore};
use super::types::{NodeId, Proposal, TypeConfig, WriteResponse};

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Confirm leadership with a quorum, then read once the local state has applied up to the
    /// leader's commit index. Fails on a follower with [`NodeError::NotLeader`].
    Consistent,
    /// Read the local applied state as is (Consul's `?stale`); may lag the leader.
    Stale,
}

/// Why a raft operation did not complete. Nothing was applied unless stated otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// This server is not the leader. Retry on `leader` (unknown during an election).
    /// A write may not have been proposed at all.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this server knows of.
        leader: Option<NodeId>,
    },
    /// The deadline passed first. A write may still commit later: retry only idempotent
    /// commands or use CAS.
    #[error("raft call timed out after {0:?}")]
    Timeout(Duration),
    /// Raft refused or failed (shutting down, fatal storage error, ...).
    #[error("raft: {0}")]
    Raft(String),
    /// Opening the storage failed.
    #[error("raft storage: {0}")]
    Storage(#[from] io::Error),
}

/// One raft server.
pub struct RaftNode {
    id: NodeId,
    raft: ProconsulRaft,
    state: SharedState,
    deadline: Duration,
}

impl RaftNode {
    /// Starts a raft server over `db` (from [`super::open_database`]); the stored log, vote
    /// and snapshot, if any, are recovered. `deadline` bounds every [`write`](Self::write)
    /// and consistent [`read`](Self::read).
    pub async fn start<N>(
        id: NodeId,
        config: Arc<openraft::Config>,
        db: Arc<Database>,
        datacenter: Datacenter,
        network: N,
        deadline: Duration,
    ) -> Result<Self, NodeError>
    where
        N: RaftNetworkFactory<TypeConfig>,
        N::Network: NetSnapshot<TypeConfig, SnapshotData = Vec<u8>>,
    {
        let sm = StateMachineStore::open(db.clone(), datacenter)?;
        let state = sm.shared();
        let raft = ProconsulRaft::new(id, config, network, LogStore::new(db), sm)
            .await
            .map_err(|e| NodeError::Raft(e.to_string()))?;
        Ok(RaftNode { id, raft, state, deadline })
    }

    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The openraft handle (membership changes, metrics, incoming RPCs).
    pub fn raft(&self) -> &ProconsulRaft {
        &self.raft
    }

    /// The applied state (for blocking queries: watch [`SharedState::applied_index`]).
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// Proposes `command` and returns once it is committed and applied on this server.
    pub async fn write(&self, command: Command) -> Result<WriteResponse, NodeError> {
        let fut = self.raft.client_write(Proposal(command));
        match tokio::time::timeout(self.deadline, fut).await {
            Err(_) => Err(NodeError::Timeout(self.deadline)),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(e)) => match e.forward_to_leader() {
                Some(f) => Err(NodeError::NotLeader { leader: f.leader_id }),
                None => Err(NodeError::Raft(e.to_string())),
            },
        }
    }

    /// Runs `read` on the applied state with the given consistency.
    pub async fn read<T>(
        &self,
        consistency: ReadConsistency,
        read: impl FnOnce(&StateMachine) -> T,
    ) -> Result<T, NodeError> {
        if consistency == ReadConsistency::Consistent {
            let fut = self.raft.ensure_linearizable(ReadPolicy::ReadIndex);
            match tokio::time::timeout(self.deadline, fut).await {
                Err(_) => return Err(NodeError::Timeout(self.deadline)),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(match e.forward_to_leader() {
                        Some(f) => NodeError::NotLeader { leader: f.leader_id },
                        None => NodeError::Raft(e.to_string()),
                    });
                }
            }
        }
        Ok(read(&self.state.read().machine))
    }

    /// Stops the raft core.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.raft.shutdown().await.map_err(|e| NodeError::Raft(e.to_string()))
    }
}
