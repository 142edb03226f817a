//! An in-process HTTP API over raft servers (in-memory raft network, tempfile redb), driven
//! with `tower::ServiceExt::oneshot`, for the `http_api_*` test files.

#![allow(dead_code, reason = "each http_api_* file uses a different subset")]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use proconsul_runtime_tokio::http::router;
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use serde_json::{Value, json};
use tower::ServiceExt as _;

#[path = "../raft_support/mod.rs"]
mod raft_support;

pub use raft_support::WAIT;

/// The RPC address server `id` is given in the raft membership.
pub fn rpc_addr(id: u64) -> String {
    format!("127.0.0.{id}:8300")
}

/// One reply, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub index: Option<u64>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A cluster of `n` voters with one router per server.
pub struct Cluster {
    pub nodes: Vec<Arc<RaftNode>>,
    pub apps: Vec<Router>,
    pub mem: MemRouter,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` servers with ids 1..=n, addresses [`rpc_addr`], and waits for a leader.
    pub async fn start(n: u64) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mem = MemRouter::new();
        let mut nodes = Vec::new();
        for id in 1..=n {
            let path = dir.path().join(format!("n{id}.redb"));
            nodes.push(Arc::new(raft_support::start(id, &path, &mem).await));
        }
        let members: BTreeMap<_, _> =
            (1..=n).map(|id| (id, BasicNode { addr: rpc_addr(id) })).collect();
        nodes[0].raft().initialize(members).await.expect("initialize");
        let w = nodes[0].raft().wait(Some(WAIT));
        w.metrics(|m| m.current_leader.is_some(), "leader").await.expect("a leader");
        let apps = nodes.iter().enumerate().map(|(i, n)| router(n.clone(), i as u64)).collect();
        Cluster { nodes, apps, mem, _dir: dir }
    }

    /// The index of the leading server.
    pub fn leader(&self) -> usize {
        let id = self.nodes[0].raft().metrics().borrow_watched().current_leader.expect("a leader");
        self.nodes.iter().position(|n| n.id() == id).expect("leader is a member")
    }

    /// Calls server `i`.
    pub async fn call_on(
        &self,
        i: usize,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
    ) -> Reply {
        let req = Request::builder().method(method).uri(uri).body(body.into()).unwrap();
        let resp = self.apps[i].clone().oneshot(req).await.unwrap();
        let index =
            resp.headers().get("X-Consul-Index").map(|v| v.to_str().unwrap().parse().unwrap());
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, index, body }
    }

    /// Calls the leader.
    pub async fn call(&self, method: Method, uri: &str, body: impl Into<Body>) -> Reply {
        self.call_on(self.leader(), method, uri, body).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, Body::empty()).await
    }

    /// [`Self::get`] with an owned URI, for joining with a concurrent write.
    pub async fn get_owned(&self, uri: String) -> Reply {
        self.get(&uri).await
    }

    pub async fn put_json(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, body.to_string()).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.call(Method::DELETE, uri, Body::empty()).await
    }

    /// Registers `node` at `addr` with an optional service, asserting success.
    pub async fn register(&self, body: Value) {
        let r = self.put_json("/v1/catalog/register", body).await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());
    }

    /// Registers every server the way the leader does in Consul: its node with a `consul`
    /// instance at its RPC port.
    pub async fn register_servers(&self) {
        for n in &self.nodes {
            let id = n.id();
            self.register(json!({
                "ID": format!("00000000-0000-0000-0000-00000000000{id}"),
                "Node": format!("server{id}"),
                "Address": format!("127.0.0.{id}"),
                "Service": {"Service": "consul", "ID": "consul", "Port": 8300},
            }))
            .await;
        }
    }

    pub async fn shutdown(self) {
        for n in &self.nodes {
            n.shutdown().await.unwrap();
        }
    }
}
