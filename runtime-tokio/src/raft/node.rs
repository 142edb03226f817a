//! [`RaftNode`]: one raft server hosting the core state machine, with deadline-bounded
//! writes and reads.
//!
//! Writes return only after the entry is committed and applied (openraft's `client_write`).
//! On a follower a write fails with [`NodeError::NotLeader`] naming the leader it knows,
//! unless forwarding is enabled ([`RaftNode::with_write_forwarding`]): then the follower
//! sends it to the leader over the server RPC ([`super::rpc`]) within the same deadline and
//! returns the leader's answer. Reads are
//! leader-consistent by default ([`ReadConsistency::Consistent`]: ReadIndex, then wait for the
//! local state machine to catch up) and local with [`ReadConsistency::Stale`] (Consul's
//! `?stale`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::errors::ForwardReason;
use openraft::network::NetSnapshot;
use openraft::{RaftNetworkFactory, ReadPolicy};
use proconsul_core::ids::Datacenter;
use proconsul_core::state::{Command, StateMachine};
use redb::Database;

use super::ProconsulRaft;
use super::log_store::LogStore;
use super::rpc::Forwarder;
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
    /// Forwarding is enabled but no leader is known (an election is in progress). Nothing
    /// was proposed; retry after an election timeout.
    #[error("no raft leader known")]
    NoLeader,
    /// Forwarding the write to `leader` failed before it answered (unreachable, or it
    /// answered with an error). The write may or may not have been applied.
    #[error("forwarding to leader {leader} failed: {reason}")]
    Forward {
        /// The leader the write was sent to.
        leader: NodeId,
        /// What failed.
        reason: String,
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

/// How long a write refused for an unconfirmed leader lease waits before it is retried.
const LEASE_RETRY: Duration = Duration::from_millis(5);

/// One raft server.
pub struct RaftNode {
    id: NodeId,
    raft: ProconsulRaft,
    state: SharedState,
    deadline: Duration,
    forwarder: Option<Arc<Forwarder>>,
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
        let log = LogStore::new(db.clone());
        Self::start_with_log(id, config, db, datacenter, network, deadline, log).await
    }

    /// [`RaftNode::start`] with an explicit log store: [`LogStore::inline`] keeps every log
    /// write on the calling task, for hosts whose clock is simulated or paused (a writer
    /// thread's fsync is invisible to a paused tokio clock, which then jumps ahead).
    pub async fn start_with_log<N>(
        id: NodeId,
        config: Arc<openraft::Config>,
        db: Arc<Database>,
        datacenter: Datacenter,
        network: N,
        deadline: Duration,
        log: LogStore,
    ) -> Result<Self, NodeError>
    where
        N: RaftNetworkFactory<TypeConfig>,
        N::Network: NetSnapshot<TypeConfig, SnapshotData = Vec<u8>>,
    {
        // Distinct servers draw distinct election timers; a simulation seeds through its ids.
        let seed = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x7261_6674;
        let sm = StateMachineStore::open(db, datacenter)?;
        Self::start_seeded(id, config, sm, network, deadline, log, seed).await
    }

    /// Starts a raft server over a log store and a state machine store (which may keep its
    /// snapshots apart from the log: [`StateMachineStore::open_split`]), with openraft's
    /// randomness (election timeouts) drawn from `seed`: the same seed and inputs elect the
    /// same way.
    pub async fn start_seeded<N>(
        id: NodeId,
        config: Arc<openraft::Config>,
        sm: StateMachineStore,
        network: N,
        deadline: Duration,
        log: LogStore,
        seed: u64,
    ) -> Result<Self, NodeError>
    where
        N: RaftNetworkFactory<TypeConfig>,
        N::Network: NetSnapshot<TypeConfig, SnapshotData = Vec<u8>>,
    {
        let state = sm.shared();
        // openraft's tasks inherit the seed from the scope they are spawned in.
        let raft =
            super::RaftRuntime::scope(seed, ProconsulRaft::new(id, config, network, log, sm))
                .await
                .map_err(|e| NodeError::Raft(e.to_string()))?;
        Ok(RaftNode { id, raft, state, deadline, forwarder: None })
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

    /// Forwards writes made on a follower to the leader's server RPC, at the address in the
    /// leader's `BasicNode::addr`.
    pub fn with_write_forwarding(mut self, forwarder: Arc<Forwarder>) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// The per-call deadline of writes and consistent reads.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Proposes `command` and returns once it is committed and applied (on this server when
    /// it leads; on the leader when forwarded). The whole call, forwarding included, is
    /// bounded by the node's deadline.
    pub async fn write(&self, command: Command) -> Result<WriteResponse, NodeError> {
        let Some(forwarder) = &self.forwarder else {
            return local_write(&self.raft, self.deadline, Proposal::new(command)).await;
        };
        let proposal = Proposal::new(command);
        let deadline = tokio::time::Instant::now() + self.deadline;
        let mut retries = 0u32;
        loop {
            let attempt = self.write_or_forward(forwarder, proposal.clone());
            let r = match tokio::time::timeout_at(deadline, attempt).await {
                Err(_) => return Err(NodeError::Timeout(self.deadline)),
                Ok(r) => r,
            };
            // During an election (or a lease handover) no leader is known: hold the write
            // until one is, within the deadline, as Consul's servers do; then NoLeader.
            if !matches!(r, Err(NodeError::NoLeader)) {
                return r;
            }
            retries += 1;
            let backoff = Duration::from_millis(10 * u64::from(retries.min(10)));
            if tokio::time::Instant::now() + backoff >= deadline {
                return r;
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// One attempt: propose locally; if this server is a follower, forward to the leader.
    async fn write_or_forward(
        &self,
        forwarder: &Forwarder,
        proposal: Proposal,
    ) -> Result<WriteResponse, NodeError> {
        match self.raft.client_write(proposal.clone()).await {
            Ok(resp) => Ok(resp.data),
            Err(e) => match e.forward_to_leader() {
                None => Err(NodeError::Raft(e.to_string())),
                Some(f) => match (f.leader_id, &f.leader_node) {
                    (None, _) => Err(NodeError::NoLeader),
                    (Some(leader), None) => Err(NodeError::NotLeader { leader: Some(leader) }),
                    (Some(leader), Some(node)) => {
                        forwarder.forward(leader, &node.addr, &proposal, self.deadline).await
                    }
                },
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

/// Proposes `command` on `raft` itself (no forwarding), bounded by `deadline`.
///
/// A leader takes writes only while a quorum has acknowledged it recently (openraft's
/// lease): right after an election, before the first acknowledgements, it refuses them
/// without proposing anything. Such a write is held and retried within the deadline, as the
/// forwarding path holds writes while no leader is known.
pub(super) async fn local_write(
    raft: &ProconsulRaft,
    deadline: Duration,
    proposal: Proposal,
) -> Result<WriteResponse, NodeError> {
    let attempts = async {
        loop {
            let e = match raft.client_write(proposal.clone()).await {
                Ok(resp) => return Ok(resp.data),
                Err(e) => e,
            };
            match e.forward_to_leader() {
                Some(f) if f.reason == ForwardReason::LeaseExpired => {
                    tokio::time::sleep(LEASE_RETRY).await;
                }
                Some(f) => return Err(NodeError::NotLeader { leader: f.leader_id }),
                None => return Err(NodeError::Raft(e.to_string())),
            }
        }
    };
    tokio::time::timeout(deadline, attempts).await.unwrap_or(Err(NodeError::Timeout(deadline)))
}
