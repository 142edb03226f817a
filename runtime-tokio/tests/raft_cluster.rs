//! Three raft servers in one process over the in-memory network: a write committed on the
//! leader is applied on every follower; followers refuse writes and consistent reads with the
//! leader's id but serve stale reads. (Forwarding is off here; `raft_rpc.rs` covers
//! `with_write_forwarding` over the real RPC.)

mod raft_support;

use std::collections::BTreeMap;

use openraft::BasicNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use proconsul_runtime_tokio::raft::{NodeError, RaftNode, ReadConsistency, WriteOutcome};
use raft_support::{WAIT, kv_set, kv_value, start};

async fn cluster(dir: &std::path::Path, router: &MemRouter) -> Vec<RaftNode> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, &dir.join(format!("n{id}.redb")), router).await);
    }
    let members: BTreeMap<_, _> = (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[0].raft().initialize(members).await.expect("initialize");
    nodes
}

async fn leader_of(nodes: &[RaftNode]) -> u64 {
    let w = nodes[0].raft().wait(Some(WAIT));
    let m = w.metrics(|m| m.current_leader.is_some(), "leader elected").await.unwrap();
    m.current_leader.unwrap()
}

#[tokio::test]
async fn leader_write_is_applied_on_followers_and_followers_name_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let router = MemRouter::new();
    let nodes = cluster(dir.path(), &router).await;
    let leader_id = leader_of(&nodes).await;
    let leader = nodes.iter().find(|n| n.id() == leader_id).unwrap();

    let resp = leader.write(kv_set("shared", "v")).await.unwrap();
    assert_eq!(resp.outcome, WriteOutcome::Applied { succeeded: true });

    for node in nodes.iter().filter(|n| n.id() != leader_id) {
        let w = node.raft().wait(Some(WAIT));
        w.applied_index_at_least(Some(resp.index), "follower applied").await.unwrap();
        let v = node.read(ReadConsistency::Stale, |sm| kv_value(sm, "shared")).await.unwrap();
        assert_eq!(v, Some(b"v".to_vec()), "node {}", node.id());
        // Every server computes the same modify index for the same entry.
        let idx = node.read(ReadConsistency::Stale, |sm| sm.kv_get("shared").unwrap().modify_index);
        assert_eq!(idx.await.unwrap(), resp.index);

        match node.write(kv_set("from-follower", "x")).await {
            Err(NodeError::NotLeader { leader }) => assert_eq!(leader, Some(leader_id)),
            other => panic!("follower write: {other:?}"),
        }
        match node.read(ReadConsistency::Consistent, |sm| sm.last_index()).await {
            Err(NodeError::NotLeader { leader }) => assert_eq!(leader, Some(leader_id)),
            other => panic!("follower consistent read: {other:?}"),
        }
    }
    let v = leader.read(ReadConsistency::Consistent, |sm| kv_value(sm, "from-follower")).await;
    assert_eq!(v.unwrap(), None, "a refused follower write is not applied");
    for node in &nodes {
        node.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn isolated_leader_is_replaced_and_its_consistent_reads_stop() {
    let dir = tempfile::tempdir().unwrap();
    let router = MemRouter::new();
    let nodes = cluster(dir.path(), &router).await;
    let old = leader_of(&nodes).await;
    router.set_isolated(old, true);

    let survivor = nodes.iter().find(|n| n.id() != old).unwrap();
    let w = survivor.raft().wait(Some(WAIT));
    let m = w.metrics(|m| m.current_leader.is_some_and(|l| l != old), "new leader").await.unwrap();
    let new_leader = nodes.iter().find(|n| Some(n.id()) == m.current_leader).unwrap();
    new_leader.write(kv_set("after-failover", "1")).await.unwrap();

    // The old leader cannot confirm leadership with a quorum: no consistent read there.
    let old_node = nodes.iter().find(|n| n.id() == old).unwrap();
    let r = old_node.read(ReadConsistency::Consistent, |sm| kv_value(sm, "after-failover")).await;
    assert!(r.is_err(), "isolated old leader served a consistent read: {r:?}");

    router.set_isolated(old, false);
    let idx = new_leader.read(ReadConsistency::Consistent, |sm| sm.last_index()).await.unwrap();
    let w = old_node.raft().wait(Some(WAIT));
    w.applied_index_at_least(Some(idx), "healed node caught up").await.unwrap();
    let v = old_node.read(ReadConsistency::Stale, |sm| kv_value(sm, "after-failover")).await;
    assert_eq!(v.unwrap(), Some(b"1".to_vec()));
    for node in &nodes {
        node.shutdown().await.unwrap();
    }
}
