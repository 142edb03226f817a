//! Followers hand CA work to the leader over the leader's own HTTP API: the same endpoints a
//! client agent calls, marked with [`FORWARDED_HEADER`] so the leader answers itself and a
//! request never bounces between servers during a leadership change.
//!
//! Raft membership only knows each server's RPC address, so the server process supplies an
//! [`HttpAddrResolver`] from raft node to HTTP address (from its configuration, or gossip
//! tags once servers advertise them).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openraft::BasicNode;

use super::CaManagerError;
use crate::env::{Net, NetConnector, TokioNet};
use crate::raft::NodeId;

fn client(net: Arc<dyn Net>, connect_timeout: Duration) -> Client<NetConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(NetConnector::new(net, connect_timeout))
}

/// Marks a request a follower forwarded: the receiver must answer itself, not forward again.
pub const FORWARDED_HEADER: &str = "X-Proconsul-Forwarded";

/// Marks an answer from a server that is not (or no longer) the leader: the forwarder
/// retries on the leader it learns of next.
pub const NOT_LEADER_HEADER: &str = "X-Proconsul-Not-Leader";

/// Largest answer read from the leader (an issued leaf is a few kilobytes).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The HTTP address (`host:port`) of a server's API, from its raft id and node record.
pub type HttpAddrResolver = Arc<dyn Fn(NodeId, &BasicNode) -> Option<String> + Send + Sync>;

/// The leader's answer: HTTP status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The server was not the leader ([`NOT_LEADER_HEADER`]).
    pub(crate) leader_moved: bool,
}

/// Sends requests to the leader's HTTP API, each bounded by one deadline.
pub struct LeaderForwarder {
    resolve: HttpAddrResolver,
    client: Client<NetConnector, Full<Bytes>>,
    deadline: Duration,
}

impl LeaderForwarder {
    /// A forwarder that finds servers with `resolve` and gives every call (connect, send,
    /// whole answer) at most `deadline`.
    pub fn new(resolve: HttpAddrResolver, deadline: Duration) -> Self {
        let client = client(Arc::new(TokioNet), deadline);
        LeaderForwarder { resolve, client, deadline }
    }

    /// The same forwarder dialling through `net`.
    pub fn with_net(mut self, net: Arc<dyn Net>) -> Self {
        self.client = client(net, self.deadline);
        self
    }

    /// The per-call deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// `method path_and_query` with a JSON `body` on `leader`, answered before `until`.
    pub(crate) async fn call(
        &self,
        leader: NodeId,
        node: &BasicNode,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
        until: tokio::time::Instant,
    ) -> Result<Answer, CaManagerError> {
        let failed = |reason: String| CaManagerError::Forward { leader, reason };
        let addr = (self.resolve)(leader, node)
            .ok_or_else(|| failed("no HTTP address known for the leader".into()))?;
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path_and_query}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(FORWARDED_HEADER, "true")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(format!("building the request: {e}")))?;
        let call = async {
            let response = self.client.request(request).await.map_err(|e| failed(e.to_string()))?;
            let status = response.status().as_u16();
            let leader_moved = response.headers().contains_key(NOT_LEADER_HEADER);
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| failed(format!("reading the answer: {e}")))?
                .to_bytes()
                .to_vec();
            Ok(Answer { status, body, leader_moved })
        };
        match tokio::time::timeout_at(until, call).await {
            Ok(answer) => answer,
            Err(_) => Err(CaManagerError::Timeout(self.deadline)),
        }
    }
}
