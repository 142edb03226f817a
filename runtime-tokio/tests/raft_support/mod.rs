//! Shared helpers for the raft tests: fast timeouts, node start, KV commands.

#![allow(dead_code, reason = "each raft test file uses a different subset")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use proconsul_core::ids::Datacenter;
use proconsul_core::state::Command;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use proconsul_runtime_tokio::raft::{LogStore, NodeId, RaftNode, open_database};

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(5);

pub fn config() -> Arc<openraft::Config> {
    let config = openraft::Config {
        cluster_name: "dc1".to_string(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        ..Default::default()
    };
    Arc::new(config.validate().expect("valid raft config"))
}

pub fn dc() -> Datacenter {
    Datacenter::new("dc1").expect("valid datacenter")
}

pub async fn start(id: NodeId, path: &Path, router: &MemRouter) -> RaftNode {
    let db = open_database(path).expect("open redb");
    // Inline log writes: some suites run on a paused clock, which a writer thread's fsync
    // would let jump ahead.
    let log = LogStore::inline(db.clone());
    let node = RaftNode::start_with_log(id, config(), db, dc(), router.network(id), WAIT, log)
        .await
        .expect("start raft node");
    router.register(id, node.raft().clone());
    node
}

pub fn kv_set(key: &str, value: &str) -> Command {
    Command::KvSet { key: key.to_string(), value: value.as_bytes().to_vec(), flags: 0, cas: None }
}

pub fn kv_value(sm: &proconsul_core::state::StateMachine, key: &str) -> Option<Vec<u8>> {
    sm.kv_get(key).map(|e| e.value.clone())
}
