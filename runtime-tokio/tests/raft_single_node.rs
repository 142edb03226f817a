//! A single raft server on tokio with a redb file: writes return after commit with the core's
//! answer, consistent and stale reads see them, and the log, vote and state survive a restart
//! (from the log alone, and from a snapshot after the log was purged).

mod raft_support;

use std::collections::BTreeMap;

use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use proconsul_core::state::Command;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use proconsul_runtime_tokio::raft::{RaftNode, ReadConsistency, WriteOutcome};
use raft_support::{WAIT, kv_set, kv_value, start};

async fn bootstrap(node: &RaftNode) {
    let members = BTreeMap::from([(node.id(), BasicNode::default())]);
    node.raft().initialize(members).await.expect("initialize");
    node.raft().wait(Some(WAIT)).current_leader(node.id(), "self-elected").await.expect("leader");
}

#[tokio::test]
async fn write_returns_core_outcome_after_commit_and_reads_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let router = MemRouter::new();
    let node = start(1, &dir.path().join("raft.redb"), &router).await;
    bootstrap(&node).await;

    let resp = node.write(kv_set("a", "1")).await.unwrap();
    assert_eq!(resp.outcome, WriteOutcome::Applied { succeeded: true });
    assert!(!resp.changed.is_empty(), "a KV write touches watch keys");
    let applied = *node.state().applied_index().borrow();
    assert!(applied >= resp.index, "write returned before its entry was applied");

    // CAS mismatch: applied, answered false, state unchanged.
    let cas = Command::KvSet { key: "a".into(), value: b"2".to_vec(), flags: 0, cas: Some(999) };
    let resp2 = node.write(cas).await.unwrap();
    assert_eq!(resp2.outcome, WriteOutcome::Applied { succeeded: false });
    assert!(resp2.index > resp.index);

    let consistent = node.read(ReadConsistency::Consistent, |sm| kv_value(sm, "a")).await.unwrap();
    assert_eq!(consistent, Some(b"1".to_vec()));
    let stale = node.read(ReadConsistency::Stale, |sm| kv_value(sm, "a")).await.unwrap();
    assert_eq!(stale, Some(b"1".to_vec()));
    // The KV index is the raft index of the write that changed it.
    let modify = node.read(ReadConsistency::Stale, |sm| sm.kv_get("a").unwrap().modify_index);
    assert_eq!(modify.await.unwrap(), resp.index);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn log_vote_and_state_survive_restart_from_the_same_redb_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.redb");
    let router = MemRouter::new();
    let node = start(1, &path, &router).await;
    bootstrap(&node).await;
    let mut last = 0;
    for i in 0..5 {
        last = node.write(kv_set(&format!("k{i}"), &format!("v{i}"))).await.unwrap().index;
    }
    let term = node.raft().metrics().borrow_watched().current_term;
    node.shutdown().await.unwrap();
    drop(node);

    let router = MemRouter::new();
    let node = start(1, &path, &router).await;
    // Nothing is re-initialized: the node recovers its membership and log, elects itself
    // again and re-applies the committed entries.
    node.raft().wait(Some(WAIT)).applied_index_at_least(Some(last), "replayed").await.unwrap();
    let m = node.raft().metrics().borrow_watched().clone();
    assert!(m.current_term >= term, "vote survived: term {} < {term}", m.current_term);
    for i in 0..5 {
        let v = node.read(ReadConsistency::Stale, |sm| kv_value(sm, &format!("k{i}"))).await;
        assert_eq!(v.unwrap(), Some(format!("v{i}").into_bytes()));
    }
    node.raft().wait(Some(WAIT)).current_leader(1, "re-elected").await.unwrap();
    let resp = node.write(kv_set("after", "restart")).await.unwrap();
    assert!(resp.index > last, "new writes continue the old log");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn state_survives_restart_from_snapshot_after_log_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.redb");
    let router = MemRouter::new();
    let node = start(1, &path, &router).await;
    bootstrap(&node).await;
    let mut last = 0;
    for i in 0..4 {
        last = node.write(kv_set(&format!("s{i}"), "x")).await.unwrap().index;
    }
    node.raft().trigger().snapshot().await.unwrap();
    let w = node.raft().wait(Some(WAIT));
    let m = w.metrics(|m| m.snapshot.is_some_and(|s| s.index >= last), "snapshot").await.unwrap();
    let snap = m.snapshot.unwrap();
    node.raft().trigger().purge_log(snap.index).await.unwrap();
    node.raft().wait(Some(WAIT)).purged(Some(snap), "purged").await.unwrap();
    node.shutdown().await.unwrap();
    drop(node);

    let node = start(1, &path, &MemRouter::new()).await;
    // Right after start, before any replay, the state comes from the stored snapshot.
    let v = node.read(ReadConsistency::Stale, |sm| (kv_value(sm, "s3"), sm.last_index())).await;
    assert_eq!(v.unwrap(), (Some(b"x".to_vec()), last));
    node.raft().wait(Some(WAIT)).current_leader(1, "re-elected").await.unwrap();
    node.write(kv_set("s4", "y")).await.unwrap();
    let v = node.read(ReadConsistency::Consistent, |sm| kv_value(sm, "s4")).await.unwrap();
    assert_eq!(v, Some(b"y".to_vec()));
    node.shutdown().await.unwrap();
}
