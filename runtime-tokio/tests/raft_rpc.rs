//! Three raft servers over real loopback TCP with the tonic server RPC: elections and
//! replication over the wire, writes made on a follower forwarded to the leader, a stopped
//! server does not block a majority of two, and client calls are bounded by their deadline.

mod raft_support;

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::RPCError;
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::VoteRequest;
use proconsul_runtime_tokio::raft::rpc::{Forwarder, RaftRpcService, RpcNetwork, RpcServer};
use proconsul_runtime_tokio::raft::{
    NodeError, NodeId, RaftNode, ReadConsistency, TypeConfig, WriteOutcome, open_database,
};
use raft_support::{WAIT, config, dc, kv_set, kv_value};
use tokio::net::TcpListener;

const CONNECT: Duration = Duration::from_millis(500);

struct Server {
    node: RaftNode,
    rpc: Option<RpcServer>,
}

impl Server {
    async fn stop(&mut self) {
        if let Some(rpc) = self.rpc.take() {
            rpc.shutdown(Duration::from_secs(1)).await;
        }
        self.node.shutdown().await.unwrap();
    }
}

async fn start_server(
    id: NodeId,
    dir: &std::path::Path,
    listener: TcpListener,
    deadline: Duration,
) -> Server {
    let db = open_database(&dir.join(format!("n{id}.redb"))).expect("open redb");
    let network = RpcNetwork::new(id, CONNECT);
    let node = RaftNode::start(id, config(), db, dc(), network, deadline)
        .await
        .expect("start raft node")
        .with_write_forwarding(Forwarder::new(CONNECT));
    let service = RaftRpcService::new(node.raft().clone(), node.deadline());
    let rpc = RpcServer::serve(listener, service).expect("serve rpc");
    Server { node, rpc: Some(rpc) }
}

async fn cluster(dir: &std::path::Path) -> Vec<Server> {
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let addrs: Vec<String> =
        listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
    let mut servers = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        servers.push(start_server(i as NodeId + 1, dir, listener, WAIT).await);
    }
    let members: BTreeMap<NodeId, BasicNode> =
        addrs.iter().enumerate().map(|(i, a)| (i as NodeId + 1, BasicNode::new(a))).collect();
    servers[0].node.raft().initialize(members).await.expect("initialize");
    servers
}

async fn leader_seen_by(node: &RaftNode, not: Option<NodeId>) -> NodeId {
    let w = node.raft().wait(Some(WAIT));
    let m = w
        .metrics(|m| m.current_leader.is_some_and(|l| Some(l) != not), "leader elected")
        .await
        .unwrap();
    m.current_leader.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_write_is_forwarded_to_the_leader_and_applied_on_all_three() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = cluster(dir.path()).await;
    let leader_id = leader_seen_by(&servers[0].node, None).await;
    // Every server agrees on the leader before we pick a follower.
    for s in &servers {
        assert_eq!(leader_seen_by(&s.node, None).await, leader_id);
    }
    let follower = servers.iter().find(|s| s.node.id() != leader_id).unwrap();

    let resp = follower.node.write(kv_set("via-follower", "v1")).await.unwrap();
    assert_eq!(resp.outcome, WriteOutcome::Applied { succeeded: true });
    assert!(resp.index > 0);

    for s in &servers {
        let w = s.node.raft().wait(Some(WAIT));
        w.applied_index_at_least(Some(resp.index), "applied").await.unwrap();
        let (value, index) = s
            .node
            .read(ReadConsistency::Stale, |sm| {
                let e = sm.kv_get("via-follower").expect("key present");
                (e.value.clone(), e.modify_index)
            })
            .await
            .unwrap();
        assert_eq!(value, b"v1".to_vec(), "node {}", s.node.id());
        assert_eq!(index, resp.index, "same modify index on node {}", s.node.id());
    }

    // A consistent read on the leader sees the forwarded write; a follower refuses one.
    let leader = servers.iter().find(|s| s.node.id() == leader_id).unwrap();
    let v = leader.node.read(ReadConsistency::Consistent, |sm| kv_value(sm, "via-follower"));
    assert_eq!(v.await.unwrap(), Some(b"v1".to_vec()));
    match follower.node.read(ReadConsistency::Consistent, |sm| sm.last_index()).await {
        Err(NodeError::NotLeader { leader }) => assert_eq!(leader, Some(leader_id)),
        other => panic!("follower consistent read: {other:?}"),
    }

    // A CAS refused by the state machine comes back through the forward as `succeeded: false`.
    let cas = proconsul_core::state::Command::KvSet {
        key: "via-follower".to_string(),
        value: b"v2".to_vec(),
        flags: 0,
        cas: Some(resp.index + 1000),
    };
    let r = follower.node.write(cas).await.unwrap();
    assert_eq!(r.outcome, WriteOutcome::Applied { succeeded: false });

    for s in &mut servers {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_leader_does_not_block_writes_on_the_remaining_majority() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = cluster(dir.path()).await;
    let old = leader_seen_by(&servers[0].node, None).await;
    let first = servers[0].node.write(kv_set("before", "1")).await.unwrap();

    let old_pos = servers.iter().position(|s| s.node.id() == old).unwrap();
    servers[old_pos].stop().await;
    let mut survivors: Vec<Server> =
        servers.into_iter().enumerate().filter(|(i, _)| *i != old_pos).map(|(_, s)| s).collect();

    let new_leader = leader_seen_by(&survivors[0].node, Some(old)).await;
    assert_ne!(new_leader, old);
    // Write through whichever survivor is the follower (forwarded) and through the leader.
    for s in &survivors {
        let r = s.node.write(kv_set(&format!("after-{}", s.node.id()), "2")).await.unwrap();
        assert_eq!(r.outcome, WriteOutcome::Applied { succeeded: true });
        assert!(r.index > first.index);
    }
    let leader = survivors.iter().find(|s| s.node.id() == new_leader).unwrap();
    let idx = leader.node.read(ReadConsistency::Consistent, |sm| sm.last_index()).await.unwrap();
    for s in &survivors {
        let w = s.node.raft().wait(Some(WAIT));
        w.applied_index_at_least(Some(idx), "survivor applied").await.unwrap();
        for t in &survivors {
            let key = format!("after-{}", t.node.id());
            let v = s.node.read(ReadConsistency::Stale, |sm| kv_value(sm, &key)).await.unwrap();
            assert_eq!(v, Some(b"2".to_vec()), "{key} on node {}", s.node.id());
        }
    }
    for s in &mut survivors {
        s.stop().await;
    }
}

#[tokio::test]
async fn write_without_a_known_leader_fails_with_no_leader() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Never initialized: no membership, no leader. The write waits for one within its
    // deadline, then says so.
    let deadline = Duration::from_millis(300);
    let mut server = start_server(1, dir.path(), listener, deadline).await;
    let start = tokio::time::Instant::now();
    match server.node.write(kv_set("k", "v")).await {
        Err(NodeError::NoLeader) => {}
        other => panic!("write without leader: {other:?}"),
    }
    let took = start.elapsed();
    assert!(took <= deadline + Duration::from_millis(200), "took {took:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_behind_a_purged_log_is_caught_up_with_a_snapshot_over_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a1, a2) = (l1.local_addr().unwrap().to_string(), l2.local_addr().unwrap().to_string());
    let mut s1 = start_server(1, dir.path(), l1, WAIT).await;
    let mut s2 = start_server(2, dir.path(), l2, WAIT).await;
    let raft1 = s1.node.raft().clone();
    raft1.initialize(BTreeMap::from([(1, BasicNode::new(&a1))])).await.unwrap();
    leader_seen_by(&s1.node, None).await;

    let mut last = 0;
    for i in 0..5 {
        last = s1.node.write(kv_set(&format!("k{i}"), "v")).await.unwrap().index;
    }
    raft1.trigger().snapshot().await.unwrap();
    let w = raft1.wait(Some(WAIT));
    w.metrics(|m| m.snapshot.is_some_and(|s| s.index() >= last), "snapshot").await.unwrap();
    raft1.trigger().purge_log(last).await.unwrap();
    let w = raft1.wait(Some(WAIT));
    w.metrics(|m| m.purged.is_some_and(|p| p.index() >= last), "purged").await.unwrap();

    // The log before `last` is gone: node 2 can only be caught up by installing the snapshot.
    raft1.add_learner(2, BasicNode::new(&a2), true).await.unwrap();
    let w = s2.node.raft().wait(Some(WAIT));
    let m = w.applied_index_at_least(Some(last), "learner caught up").await.unwrap();
    assert!(m.snapshot.is_some_and(|s| s.index() >= last), "installed a snapshot: {m:?}");
    for i in 0..5 {
        let key = format!("k{i}");
        let v = s2.node.read(ReadConsistency::Stale, |sm| kv_value(sm, &key)).await.unwrap();
        assert_eq!(v, Some(b"v".to_vec()), "{key}");
    }
    s1.stop().await;
    s2.stop().await;
}

async fn vote_to(addr: &str, ttl: Duration) -> (Result<(), RPCError<TypeConfig>>, Duration) {
    let mut network = RpcNetwork::new(1, CONNECT);
    let mut client = network.new_client(2, &BasicNode::new(addr)).await;
    let vote = openraft::Vote::new(1, 1);
    let rpc = VoteRequest::<TypeConfig>::new(vote, None);
    let start = tokio::time::Instant::now();
    let r = client.vote(rpc, RPCOption::new(ttl)).await.map(|_| ());
    (r, start.elapsed())
}

#[tokio::test]
async fn calls_to_dead_addresses_fail_within_their_deadline() {
    let ttl = Duration::from_millis(400);
    let soft = RPCOption::new(ttl).soft_ttl();

    // A port nobody listens on: refused, reported as unreachable, quickly.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (r, took) = vote_to(&closed_addr, ttl).await;
    assert!(matches!(r, Err(RPCError::Unreachable(_))), "closed port: {r:?}");
    assert!(took <= soft + Duration::from_millis(200), "closed port took {took:?}");

    // A listener that accepts TCP but never speaks HTTP/2: the deadline ends the call.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let (r, took) = vote_to(&silent_addr, ttl).await;
    assert!(matches!(r, Err(RPCError::Timeout(_))), "silent peer: {r:?}");
    assert!(took >= soft - Duration::from_millis(50), "silent peer answered early: {took:?}");
    assert!(took <= soft + Duration::from_millis(200), "silent peer took {took:?}");
    drop(silent);
}
