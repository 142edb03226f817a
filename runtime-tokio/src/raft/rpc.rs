//! The server RPC: raft traffic and forwarded writes between servers over tonic on one port
//! (Consul's server port, 8300).
//!
//! Wire format, chosen to avoid `protoc` (STACK.md §7): one hand-written prost message,
//! [`RpcFrame`], carries a JSON `header` (openraft's own serde types: vote, append-entries,
//! snapshot meta, or a [`Proposal`]) and raw `data` bytes (the snapshot body, so snapshots are
//! not inflated by JSON). The service is written by hand with `tonic::server::Grpc` and
//! `tonic_prost::ProstCodec`, the same calls tonic-prost-build would generate:
//!
//! ```text
//! /proconsul.raft.v1.ServerRpc/AppendEntries   AppendEntriesRequest  -> Result<AppendEntriesResponse, String>
//! /proconsul.raft.v1.ServerRpc/Vote            VoteRequest           -> Result<VoteResponse, String>
//! /proconsul.raft.v1.ServerRpc/FullSnapshot    (Vote, SnapshotMeta) + data -> Result<SnapshotResponse, String>
//! /proconsul.raft.v1.ServerRpc/ForwardWrite    Proposal              -> ForwardReply
//! ```
//!
//! Every client call carries a deadline (the `grpc-timeout` header and a local
//! `tokio::time::timeout`). Transport failures map to openraft's `Unreachable` (back off),
//! deadlines to `Timeout`, undecodable answers to `NetworkError`, so elections and
//! replication retries behave as with any openraft network.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use openraft::BasicNode;
use openraft::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::error::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::storage::Snapshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::transport::{Channel, Endpoint};

use crate::env::{Listener, Net, NetConnector, TokioNet};

use super::ProconsulRaft;
use super::node::{NodeError, local_write};
use super::types::{NodeId, Proposal, TypeConfig, WriteResponse};

/// The gRPC service name.
pub const SERVICE_NAME: &str = "proconsul.raft.v1.ServerRpc";
const PATH_APPEND: &str = "/proconsul.raft.v1.ServerRpc/AppendEntries";
const PATH_VOTE: &str = "/proconsul.raft.v1.ServerRpc/Vote";
const PATH_SNAPSHOT: &str = "/proconsul.raft.v1.ServerRpc/FullSnapshot";
const PATH_FORWARD: &str = "/proconsul.raft.v1.ServerRpc/ForwardWrite";

/// Largest message either side accepts (snapshots travel in one message).
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// The one message of the server RPC: a JSON header and optional raw bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcFrame {
    /// JSON of the call's arguments or answer.
    #[prost(bytes = "vec", tag = "1")]
    pub header: Vec<u8>,
    /// Raw payload (the snapshot body); empty otherwise.
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// The leader's answer to a forwarded write.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum ForwardReply {
    Applied(WriteResponse),
    NotLeader { leader: Option<NodeId> },
    Timeout { millis: u64 },
    Failed(String),
}

impl From<Result<WriteResponse, NodeError>> for ForwardReply {
    fn from(r: Result<WriteResponse, NodeError>) -> Self {
        match r {
            Ok(w) => ForwardReply::Applied(w),
            Err(NodeError::NotLeader { leader }) => ForwardReply::NotLeader { leader },
            Err(NodeError::NoLeader) => ForwardReply::NotLeader { leader: None },
            Err(NodeError::Timeout(d)) => {
                ForwardReply::Timeout { millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX) }
            }
            Err(e) => ForwardReply::Failed(e.to_string()),
        }
    }
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No connection, or the connection broke.
    #[error("{addr} unreachable: {reason}")]
    Unreachable {
        /// The target address.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// No answer within the deadline.
    #[error("{addr} did not answer within {deadline:?}")]
    Timeout {
        /// The target address.
        addr: String,
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The target answered something this server cannot decode, or an error.
    #[error("{addr}: {reason}")]
    Remote {
        /// The target address.
        addr: String,
        /// What was wrong.
        reason: String,
    },
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, tonic::Status> {
    serde_json::to_vec(value).map_err(|e| tonic::Status::internal(format!("encode: {e}")))
}

fn decode_req<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, tonic::Status> {
    serde_json::from_slice(bytes)
        .map_err(|e| tonic::Status::invalid_argument(format!("decode: {e}")))
}

/// How often an idle or busy server connection is pinged.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a ping may go unanswered before the connection is dropped.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// A lazily connecting channel to `addr` (`host:port`) through `net`; reconnects on demand.
fn channel(addr: &str, connect_timeout: Duration, net: &Arc<dyn Net>) -> Result<Channel, RpcError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|e| {
        RpcError::Unreachable { addr: addr.to_string(), reason: format!("bad address: {e}") }
    })?;
    // A connection that lost bytes (a partition, a peer that crashed without closing) can
    // leave HTTP/2 waiting forever for the rest of a frame; keepalive pings notice within a
    // few seconds, drop it, and the channel dials a fresh one.
    let endpoint = endpoint
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_with_connector_lazy(NetConnector::new(net.clone(), connect_timeout)))
}

/// One unary call with a deadline.
async fn unary(
    channel: &Channel,
    addr: &str,
    path: &'static str,
    frame: RpcFrame,
    deadline: Duration,
) -> Result<RpcFrame, RpcError> {
    let call = async {
        let mut grpc = tonic::client::Grpc::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        grpc.ready()
            .await
            .map_err(|e| RpcError::Unreachable { addr: addr.to_string(), reason: e.to_string() })?;
        let mut req = tonic::Request::new(frame);
        req.set_timeout(deadline);
        let codec = tonic_prost::ProstCodec::<RpcFrame, RpcFrame>::default();
        let path = http::uri::PathAndQuery::from_static(path);
        match grpc.unary(req, path, codec).await {
            Ok(resp) => Ok(resp.into_inner()),
            Err(s) => Err(status_error(addr, deadline, &s)),
        }
    };
    match tokio::time::timeout(deadline, call).await {
        Err(_) => Err(RpcError::Timeout { addr: addr.to_string(), deadline }),
        Ok(r) => r,
    }
}

fn status_error(addr: &str, deadline: Duration, s: &tonic::Status) -> RpcError {
    let addr = addr.to_string();
    match s.code() {
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RpcError::Timeout { addr, deadline }
        }
        tonic::Code::Unavailable | tonic::Code::Unknown => {
            RpcError::Unreachable { addr, reason: s.to_string() }
        }
        _ => RpcError::Remote { addr, reason: s.to_string() },
    }
}

/// Calls `path` with a JSON `header` and decodes the JSON answer.
async fn call_json<Req: Serialize, Resp: DeserializeOwned>(
    channel: &Channel,
    addr: &str,
    path: &'static str,
    header: &Req,
    data: Vec<u8>,
    deadline: Duration,
) -> Result<Resp, RpcError> {
    let remote = |reason: String| RpcError::Remote { addr: addr.to_string(), reason };
    let header = serde_json::to_vec(header).map_err(|e| remote(format!("encode: {e}")))?;
    let resp = unary(channel, addr, path, RpcFrame { header, data }, deadline).await?;
    serde_json::from_slice(&resp.header).map_err(|e| remote(format!("decode: {e}")))
}

// ---------------------------------------------------------------------------------------
// Server

/// The server side: answers raft RPCs with the local raft and runs forwarded writes on it.
#[derive(Clone)]
pub struct RaftRpcService {
    raft: ProconsulRaft,
    write_deadline: Duration,
}

impl RaftRpcService {
    /// A service over `raft`; forwarded writes are bounded by `write_deadline`.
    pub fn new(raft: ProconsulRaft, write_deadline: Duration) -> Self {
        RaftRpcService { raft, write_deadline }
    }

    async fn handle(self, path: &str, frame: RpcFrame) -> Result<RpcFrame, tonic::Status> {
        let raft = self.raft;
        let header = match path {
            PATH_APPEND => {
                let rpc: AppendEntriesRequest<TypeConfig> = decode_req(&frame.header)?;
                encode(&raft.append_entries(rpc).await.map_err(|e| e.to_string()))?
            }
            PATH_VOTE => {
                let rpc: VoteRequest<TypeConfig> = decode_req(&frame.header)?;
                encode(&raft.vote(rpc).await.map_err(|e| e.to_string()))?
            }
            PATH_SNAPSHOT => {
                let (vote, meta): (VoteOf<TypeConfig>, SnapshotMetaOf<TypeConfig>) =
                    decode_req(&frame.header)?;
                let snapshot = Snapshot { meta, snapshot: frame.data };
                let r = raft.install_full_snapshot(vote, snapshot).await;
                encode(&r.map_err(|e| e.to_string()))?
            }
            PATH_FORWARD => {
                let proposal: Proposal = decode_req(&frame.header)?;
                let r = local_write(&raft, self.write_deadline, proposal).await;
                encode(&ForwardReply::from(r))?
            }
            other => return Err(tonic::Status::unimplemented(format!("no method {other}"))),
        };
        Ok(RpcFrame { header, data: Vec::new() })
    }
}

/// One unary method of [`RaftRpcService`], as tonic's `Grpc::unary` wants it.
struct Method {
    service: RaftRpcService,
    path: &'static str,
}

impl tonic::server::UnaryService<RpcFrame> for Method {
    type Response = RpcFrame;
    type Future = BoxFuture<tonic::Response<RpcFrame>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<RpcFrame>) -> Self::Future {
        let service = self.service.clone();
        let path = self.path;
        Box::pin(async move {
            service.handle(path, request.into_inner()).await.map(tonic::Response::new)
        })
    }
}

impl<B> Service<http::Request<B>> for RaftRpcService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = match req.uri().path() {
            PATH_APPEND => PATH_APPEND,
            PATH_VOTE => PATH_VOTE,
            PATH_SNAPSHOT => PATH_SNAPSHOT,
            PATH_FORWARD => PATH_FORWARD,
            _ => {
                return Box::pin(async move {
                    Ok(tonic::Status::unimplemented("unknown method").into_http())
                });
            }
        };
        let method = Method { service: self.clone(), path };
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<RpcFrame, RpcFrame>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .apply_max_message_size_config(Some(MAX_MESSAGE), Some(MAX_MESSAGE));
            Ok(grpc.unary(method, req).await)
        })
    }
}

impl tonic::server::NamedService for RaftRpcService {
    const NAME: &'static str = SERVICE_NAME;
}

/// A running server RPC listener.
pub struct RpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RpcServer {
    /// Serves `service` on `listener` until [`shutdown`](Self::shutdown).
    pub fn serve(listener: TcpListener, service: RaftRpcService) -> std::io::Result<Self> {
        Self::serve_on(crate::env::tokio_listener(listener), service)
    }

    /// [`RpcServer::serve`] on a listener of any [`Net`].
    pub fn serve_on(listener: Box<dyn Listener>, service: RaftRpcService) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = crate::env::incoming(listener);
        let serve = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                // A dropped sender also stops the server.
                let _ = stopped.await;
            });
        #[allow(clippy::disallowed_methods, reason = "the RPC listener is a runtime driver task")]
        let task = tokio::spawn(serve);
        Ok(RpcServer { addr, stop: Some(stop), task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drops the connections and waits for the listener task to end
    /// (at most `grace`; after that the task is aborted).
    pub async fn shutdown(mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client

/// The raft network factory of one server over the server RPC. Targets are reached at their
/// `BasicNode::addr` (`host:port`).
#[derive(Clone)]
pub struct RpcNetwork {
    from: NodeId,
    connect_timeout: Duration,
    net: Arc<dyn Net>,
}

impl RpcNetwork {
    /// The network of server `from`; connection attempts give up after `connect_timeout`.
    pub fn new(from: NodeId, connect_timeout: Duration) -> Self {
        Self::with_net(from, connect_timeout, Arc::new(TokioNet))
    }

    /// [`RpcNetwork::new`] dialling through `net`.
    pub fn with_net(from: NodeId, connect_timeout: Duration, net: Arc<dyn Net>) -> Self {
        RpcNetwork { from, connect_timeout, net }
    }
}

/// A client from one server to another.
pub struct RpcClient {
    from: NodeId,
    to: NodeId,
    addr: String,
    channel: Result<Channel, String>,
}

impl RaftNetworkFactory<TypeConfig> for RpcNetwork {
    type Network = RpcClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> RpcClient {
        let channel =
            channel(&node.addr, self.connect_timeout, &self.net).map_err(|e| e.to_string());
        RpcClient { from: self.from, to: target, addr: node.addr.clone(), channel }
    }
}

impl RpcClient {
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &'static str,
        header: &Req,
        data: Vec<u8>,
        deadline: Duration,
    ) -> Result<Result<Resp, String>, RpcError> {
        let channel = self.channel.as_ref().map_err(|reason| RpcError::Unreachable {
            addr: self.addr.clone(),
            reason: reason.clone(),
        })?;
        call_json(channel, &self.addr, path, header, data, deadline).await
    }

    fn timeout(&self, action: RPCTypes, timeout: Duration) -> Timeout<TypeConfig> {
        Timeout { action, id: self.from, target: self.to, timeout }
    }

    fn rpc_error(&self, action: RPCTypes, e: RpcError) -> RPCError<TypeConfig> {
        match e {
            RpcError::Timeout { deadline, .. } => RPCError::Timeout(self.timeout(action, deadline)),
            RpcError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&e)),
            RpcError::Remote { .. } => RPCError::Network(NetworkError::new(&e)),
        }
    }

    /// A remote raft error (the target is shutting down or failed): back off like Unreachable.
    fn remote_raft_error(&self, reason: String) -> Unreachable<TypeConfig> {
        Unreachable::new(&RpcError::Remote { addr: self.addr.clone(), reason })
    }
}

impl RaftNetworkV2<TypeConfig> for RpcClient {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let r = self.call(PATH_APPEND, &rpc, Vec::new(), option.soft_ttl()).await;
        match r {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(reason)) => Err(RPCError::Unreachable(self.remote_raft_error(reason))),
            Err(e) => Err(self.rpc_error(RPCTypes::AppendEntries, e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let r = self.call(PATH_VOTE, &rpc, Vec::new(), option.soft_ttl()).await;
        match r {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(reason)) => Err(RPCError::Unreachable(self.remote_raft_error(reason))),
            Err(e) => Err(self.rpc_error(RPCTypes::Vote, e)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Vec<u8>>,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let header = (vote, snapshot.meta);
        let deadline = option.soft_ttl();
        let call = self.call(PATH_SNAPSHOT, &header, snapshot.snapshot, deadline);
        let r = tokio::select! {
            biased;
            closed = cancel => return Err(StreamingError::Closed(closed)),
            r = call => r,
        };
        match r {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(reason)) => Err(StreamingError::Unreachable(self.remote_raft_error(reason))),
            Err(RpcError::Timeout { deadline, .. }) => {
                Err(StreamingError::Timeout(self.timeout(RPCTypes::InstallSnapshot, deadline)))
            }
            Err(e @ RpcError::Unreachable { .. }) => {
                Err(StreamingError::Unreachable(Unreachable::new(&e)))
            }
            Err(e @ RpcError::Remote { .. }) => Err(StreamingError::Network(NetworkError::new(&e))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Write forwarding

/// Forwards writes from a follower to the leader's server RPC, reusing one channel per
/// leader address.
pub struct Forwarder {
    connect_timeout: Duration,
    net: Arc<dyn Net>,
    channels: std::sync::Mutex<std::collections::BTreeMap<String, Channel>>,
}

impl Forwarder {
    /// A forwarder whose connection attempts give up after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Arc<Self> {
        Self::with_net(connect_timeout, Arc::new(TokioNet))
    }

    /// [`Forwarder::new`] dialling through `net`.
    pub fn with_net(connect_timeout: Duration, net: Arc<dyn Net>) -> Arc<Self> {
        Arc::new(Forwarder { connect_timeout, net, channels: Default::default() })
    }

    fn channel(&self, addr: &str) -> Result<Channel, RpcError> {
        let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let c = channel(addr, self.connect_timeout, &self.net)?;
        channels.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Sends `proposal` to the leader at `addr` and returns its answer.
    pub(super) async fn forward(
        &self,
        leader: NodeId,
        addr: &str,
        proposal: &Proposal,
        deadline: Duration,
    ) -> Result<WriteResponse, NodeError> {
        let channel =
            self.channel(addr).map_err(|e| NodeError::Forward { leader, reason: e.to_string() })?;
        let reply: ForwardReply =
            match call_json(&channel, addr, PATH_FORWARD, proposal, Vec::new(), deadline).await {
                Ok(reply) => reply,
                Err(RpcError::Timeout { .. }) => return Err(NodeError::Timeout(deadline)),
                Err(e) => return Err(NodeError::Forward { leader, reason: e.to_string() }),
            };
        match reply {
            ForwardReply::Applied(w) => Ok(w),
            ForwardReply::NotLeader { leader } => Err(NodeError::NotLeader { leader }),
            ForwardReply::Timeout { millis } => {
                Err(NodeError::Timeout(Duration::from_millis(millis)))
            }
            ForwardReply::Failed(reason) => Err(NodeError::Forward { leader, reason }),
        }
    }
}
