//! An in-process raft network: servers in one process call each other's [`ProconsulRaft`]
//! handles directly, each call bounded by openraft's per-RPC deadline. For tests and
//! single-process clusters; the server RPC over tonic replaces it between processes.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openraft::BasicNode;
use openraft::alias::{SnapshotOf, VoteOf};
use openraft::error::{RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};

use super::ProconsulRaft;
use super::types::{NodeId, TypeConfig};

/// Why an in-process RPC did not reach its target.
#[derive(Debug, thiserror::Error)]
enum MemNetError {
    #[error("node {0} is not registered or is cut off")]
    Unreachable(NodeId),
    #[error("node {0} did not answer within {1:?}")]
    Timeout(NodeId, Duration),
    #[error("node {0}: {1}")]
    Remote(NodeId, String),
}

#[derive(Default)]
struct Routes {
    nodes: BTreeMap<NodeId, ProconsulRaft>,
    /// Nodes whose traffic (in and out) is dropped, to test partitions.
    isolated: std::collections::BTreeSet<NodeId>,
}

/// The shared routing table. Clone it into every server's network factory.
#[derive(Clone, Default)]
pub struct MemRouter {
    routes: Arc<Mutex<Routes>>,
}

impl MemRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `raft` reachable as `id`.
    pub fn register(&self, id: NodeId, raft: ProconsulRaft) {
        self.lock().nodes.insert(id, raft);
    }

    /// Drops all traffic to and from `id` (`false` heals it).
    pub fn set_isolated(&self, id: NodeId, isolated: bool) {
        let mut routes = self.lock();
        if isolated {
            routes.isolated.insert(id);
        } else {
            routes.isolated.remove(&id);
        }
    }

    /// A network factory for server `from`.
    pub fn network(&self, from: NodeId) -> MemNetwork {
        MemNetwork { router: self.clone(), from }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn target(&self, from: NodeId, to: NodeId) -> Result<ProconsulRaft, MemNetError> {
        let routes = self.lock();
        if routes.isolated.contains(&from) || routes.isolated.contains(&to) {
            return Err(MemNetError::Unreachable(to));
        }
        routes.nodes.get(&to).cloned().ok_or(MemNetError::Unreachable(to))
    }
}

/// The network factory of one server.
#[derive(Clone)]
pub struct MemNetwork {
    router: MemRouter,
    from: NodeId,
}

/// A client from one server to another.
pub struct MemClient {
    router: MemRouter,
    from: NodeId,
    to: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for MemNetwork {
    type Network = MemClient;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> MemClient {
        MemClient { router: self.router.clone(), from: self.from, to: target }
    }
}

impl MemClient {
    /// Calls `f` on the target with a deadline of the RPC's soft TTL.
    async fn call<T, E, F, Fut>(&self, option: &RPCOption, f: F) -> Result<T, MemNetError>
    where
        F: FnOnce(ProconsulRaft) -> Fut,
        Fut: Future<Output = Result<T, RaftError<TypeConfig, E>>>,
        E: std::error::Error,
    {
        let raft = self.router.target(self.from, self.to)?;
        let ttl = option.soft_ttl();
        match tokio::time::timeout(ttl, f(raft)).await {
            Err(_) => Err(MemNetError::Timeout(self.to, ttl)),
            Ok(Err(e)) => Err(MemNetError::Remote(self.to, e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

impl RaftNetworkV2<TypeConfig> for MemClient {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let r = self.call(&option, |raft| async move { raft.append_entries(rpc).await }).await;
        r.map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let r = self.call(&option, |raft| async move { raft.vote(rpc).await }).await;
        r.map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Vec<u8>>,
        _cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let r = self
            .call(&option, |raft| async move {
                raft.install_full_snapshot(vote, snapshot)
                    .await
                    .map_err(RaftError::<TypeConfig, std::convert::Infallible>::Fatal)
            })
            .await;
        r.map_err(|e| StreamingError::Unreachable(Unreachable::new(&e)))
    }
}
