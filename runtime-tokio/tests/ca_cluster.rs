//! The servers' Connect CA in a 3-node in-process raft cluster, each server with its CA
//! manager, leader loop and HTTP API on loopback (followers forward to the leader's HTTP API):
//! the leader creates the CA once; after the leader is killed the new leader signs leaves that
//! verify against the same root; a configuration change on a follower rotates the root, both
//! roots are published and leaves from before keep verifying; a full restart from disk keeps
//! the CA.

mod ca_support;
mod raft_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ca_support::{NOW, csr, manager, root_der, service_id, verify};
use openraft::BasicNode;
use proconsul_core::ca::{CaConfig, Requester, RootsResponse, pem_decode_all};
use proconsul_core::ids::SpiffeId;
use proconsul_runtime_tokio::ca_manager::{CaManager, CaManagerTask, LeaderForwarder};
use proconsul_runtime_tokio::http::{router, with_connect_ca};
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use proconsul_runtime_tokio::raft::{NodeId, RaftNode, ReadConsistency};
use raft_support::{WAIT, start};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One server: raft node, CA manager with its leader loop, HTTP API.
struct Server {
    id: NodeId,
    node: Arc<RaftNode>,
    ca: Arc<CaManager>,
    task: CaManagerTask,
    http_stop: oneshot::Sender<()>,
}

impl Server {
    async fn stop(self) {
        self.task.shutdown().await;
        let _ = self.http_stop.send(());
        self.node.shutdown().await.expect("raft shutdown");
    }

    async fn roots(&self) -> Option<RootsResponse> {
        self.node.read(ReadConsistency::Stale, |sm| sm.ca_roots().cloned()).await.unwrap()
    }

    async fn sign(
        &self,
        id: &SpiffeId,
        seed: u64,
    ) -> proconsul_runtime_tokio::ca_manager::IssuedLeaf {
        self.ca
            .sign(&csr(id, seed), &Requester::Any, NOW)
            .await
            .unwrap_or_else(|e| panic!("server {} signing {id}: {e}", self.id))
    }
}

#[allow(clippy::disallowed_methods, reason = "the test's HTTP servers are driver tasks")]
fn serve_http(listener: TcpListener, app: axum::Router) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    });
    stop
}

/// Starts servers 1..=3 over `dir` (a fresh cluster when `initialize`, else recovered from
/// disk), each forwarding CA requests to the leader's HTTP API.
async fn cluster(dir: &Path, mem: &MemRouter, initialize: bool) -> Vec<Server> {
    let mut listeners = Vec::new();
    let mut addrs = BTreeMap::new();
    for id in 1..=3u64 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.insert(id, listener.local_addr().unwrap().to_string());
        listeners.push((id, listener));
    }
    let addrs = Arc::new(addrs);
    let mut servers = Vec::new();
    for (id, listener) in listeners {
        let node = Arc::new(start(id, &dir.join(format!("n{id}.redb")), mem).await);
        let addrs = Arc::clone(&addrs);
        let resolve = Arc::new(move |id: NodeId, _: &BasicNode| addrs.get(&id).cloned());
        let forwarder = LeaderForwarder::new(resolve, Duration::from_secs(5));
        let ca = Arc::new(manager(node.clone(), 100 + id).with_forwarding(forwarder));
        let http_stop = serve_http(listener, with_connect_ca(router(node.clone(), id), ca.clone()));
        let task = ca.spawn();
        servers.push(Server { id, node, ca, task, http_stop });
    }
    if initialize {
        let members: BTreeMap<_, _> = (1..=3).map(|id| (id, BasicNode::default())).collect();
        servers[0].node.raft().initialize(members).await.expect("initialize");
    }
    servers
}

/// The leader every live server agrees on, once there is one other than `not`.
async fn agreed_leader(servers: &[Server], not: Option<NodeId>) -> NodeId {
    let elected = |m: &openraft::RaftMetrics<_>| m.current_leader.is_some_and(|l| Some(l) != not);
    let first = servers[0].node.raft().wait(Some(WAIT));
    let m = first.metrics(elected, "leader elected").await.unwrap();
    let leader = m.current_leader.unwrap();
    for s in servers {
        let w = s.node.raft().wait(Some(WAIT));
        w.metrics(|m| m.current_leader == Some(leader), "knows the leader").await.unwrap();
    }
    leader
}

/// Waits until every server's applied roots satisfy `ok`, and returns them (all equal).
async fn roots_everywhere(
    servers: &[Server],
    ok: impl Fn(&RootsResponse) -> bool,
) -> RootsResponse {
    let poll = async {
        loop {
            let mut all = Vec::new();
            for s in servers {
                all.push(s.roots().await);
            }
            if all.iter().all(|r| r.as_ref().is_some_and(&ok))
                && all.windows(2).all(|w| w[0] == w[1])
            {
                return all.remove(0).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, poll).await.expect("roots replicated to every server")
}

fn by_id(servers: &[Server], id: NodeId) -> &Server {
    servers.iter().find(|s| s.id == id).unwrap()
}

async fn stop_all(servers: Vec<Server>) {
    for s in servers {
        s.stop().await;
    }
}

#[tokio::test]
async fn the_leader_creates_the_ca_once_and_a_new_leader_signs_under_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemRouter::new();
    let mut servers = cluster(dir.path(), &mem, true).await;
    let leader_id = agreed_leader(&servers, None).await;
    let roots = roots_everywhere(&servers, |r| r.roots.len() == 1).await;
    let root = root_der(&roots, &roots.active_root_id);
    let web = service_id(&roots.trust_domain, "dc1", "web");
    let at = NOW.plus_secs(60);

    let on_leader = by_id(&servers, leader_id).sign(&web, 1).await;
    assert_eq!(verify(&on_leader.cert.cert_pem, std::slice::from_ref(&root), at), Ok(web.clone()));
    let follower = servers.iter().find(|s| s.id != leader_id).unwrap();
    let forwarded = follower.sign(&web, 2).await;
    assert_eq!(forwarded.cert.root_id, roots.active_root_id, "signed by the leader's CA");
    assert_eq!(forwarded.index, on_leader.index);
    assert!(verify(&forwarded.cert.cert_pem, std::slice::from_ref(&root), at).is_ok());

    // Kill the leader.
    let position = servers.iter().position(|s| s.id == leader_id).unwrap();
    servers.remove(position).stop().await;
    mem.set_isolated(leader_id, true);
    // Asked before the election settles, a survivor holds the request and retries until a
    // new leader (possibly itself) answers, within the forwarding deadline.
    let api = service_id(&roots.trust_domain, "dc1", "api");
    let during = servers[0].sign(&api, 5).await;
    assert_eq!(during.cert.root_id, roots.active_root_id);
    let new_leader_id = agreed_leader(&servers, Some(leader_id)).await;
    assert_ne!(new_leader_id, leader_id);

    let after = by_id(&servers, new_leader_id).sign(&api, 3).await;
    assert_eq!(after.cert.root_id, roots.active_root_id, "the same root, not a new CA");
    assert_eq!(verify(&after.cert.cert_pem, std::slice::from_ref(&root), at), Ok(api.clone()));
    let other = servers.iter().find(|s| s.id != new_leader_id).unwrap();
    let forwarded = other.sign(&api, 4).await;
    assert!(verify(&forwarded.cert.cert_pem, std::slice::from_ref(&root), at).is_ok());
    let serials = [&on_leader, &after, &forwarded].map(|l| l.cert.serial_number.clone());
    assert!(serials[0] != serials[1] && serials[1] != serials[2], "{serials:?}");
    assert_eq!(roots_everywhere(&servers, |_| true).await, roots, "roots unchanged");
    stop_all(servers).await;
}

#[tokio::test]
async fn rotation_through_a_follower_publishes_both_roots_and_old_leaves_keep_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemRouter::new();
    let servers = cluster(dir.path(), &mem, true).await;
    let leader_id = agreed_leader(&servers, None).await;
    let before = roots_everywhere(&servers, |r| r.roots.len() == 1).await;
    let followers: Vec<&Server> = servers.iter().filter(|s| s.id != leader_id).collect();
    let web = service_id(&before.trust_domain, "dc1", "web");
    let old_leaf = followers[0].sign(&web, 1).await;

    let mut p384 = CaConfig::default();
    p384.config.private_key_bits = 384;
    followers[1].ca.set_config(p384, None, NOW).await.expect("forwarded rotation");

    let after = roots_everywhere(&servers, |r| r.roots.len() == 2).await;
    let old_id = before.active_root_id.clone();
    assert_ne!(after.active_root_id, old_id);
    assert_eq!(after.trust_domain, before.trust_domain);
    let active = &after.roots[0];
    assert!(active.active && active.id == after.active_root_id);
    assert_eq!((active.private_key_type.as_str(), active.private_key_bits), ("ec", 384));
    let old = after.roots.iter().find(|r| r.id == old_id).expect("old root still published");
    assert!(!old.active && old.rotated_out_at == Some(NOW));

    let (new_der, old_der) = (root_der(&after, &after.active_root_id), root_der(&after, &old_id));
    let new_leaf = followers[0].sign(&web, 2).await;
    assert_eq!(new_leaf.cert.root_id, after.active_root_id);
    assert_eq!(pem_decode_all(&new_leaf.cert.cert_pem).unwrap().len(), 2, "leaf + cross-signed");
    let at = NOW.plus_secs(60);
    let both = [new_der.clone(), old_der.clone()];
    for leaf in [&old_leaf, &new_leaf] {
        assert_eq!(verify(&leaf.cert.cert_pem, &both, at), Ok(web.clone()));
    }
    // An agent that still trusts only the old root accepts new leaves (cross-signed copy),
    assert!(verify(&new_leaf.cert.cert_pem, std::slice::from_ref(&old_der), at).is_ok());
    // and leaves from before need the old root: why it stays published.
    assert!(verify(&old_leaf.cert.cert_pem, std::slice::from_ref(&new_der), at).is_err());
    stop_all(servers).await;
}

#[tokio::test]
async fn a_full_cluster_restart_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let servers = cluster(dir.path(), &MemRouter::new(), true).await;
    agreed_leader(&servers, None).await;
    let roots = roots_everywhere(&servers, |r| r.roots.len() == 1).await;
    stop_all(servers).await;

    let mem = MemRouter::new();
    let servers = cluster(dir.path(), &mem, false).await;
    let leader_id = agreed_leader(&servers, None).await;
    assert_eq!(roots_everywhere(&servers, |_| true).await, roots);
    let web = service_id(&roots.trust_domain, "dc1", "web");
    let leaf = by_id(&servers, leader_id).sign(&web, 1).await;
    assert_eq!(leaf.cert.root_id, roots.active_root_id);
    let root = root_der(&roots, &roots.active_root_id);
    assert!(verify(&leaf.cert.cert_pem, &[root], NOW.plus_secs(60)).is_ok());
    stop_all(servers).await;
}
