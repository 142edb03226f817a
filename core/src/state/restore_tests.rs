//! Snapshot restore through the log: the state is replaced, every index a waiter can hold
//! moves to the restore's index, TTL clocks restart, and a bad document changes nothing.

use super::super::tests::{busy_state, check, dc1, register, svc};
use super::*;
use crate::state::{
    ApplyResult, Command, HealthStatus, SERF_HEALTH, SNAPSHOT_VERSION, Session, SessionCreate,
};

const T0: u64 = 1_700_000_000_000;

fn restore_cmd(bytes: &[u8], now_ms: u64) -> Command {
    let snapshot = String::from_utf8(bytes.to_vec()).unwrap();
    Command::SnapshotRestore(SnapshotRestore { snapshot, now_ms })
}

fn apply(sm: &mut StateMachine, index: u64, cmd: Command) -> ApplyResult {
    sm.apply(index, &cmd).unwrap_or_else(|e| panic!("apply {index}: {e}"))
}

#[test]
fn restore_replaces_the_state_and_moves_every_watched_index() {
    let saved = busy_state();
    let bytes = saved.snapshot();
    let mut sm = StateMachine::new(dc1());
    let _ = apply(&mut sm, 1, register("n9", Some(svc("db1", "db")), vec![]));
    let kv = Command::KvSet { key: "only/before".into(), value: vec![1], flags: 0, cas: None };
    let _ = apply(&mut sm, 2, kv);
    let r = apply(&mut sm, 50, restore_cmd(&bytes, T0));
    assert!(r.succeeded);
    assert_eq!(r.changed, vec![WatchKey::All]);
    assert!(WatchKey::ServiceName("anything".into()).affects(&WatchKey::All));

    assert!(sm.node("n9").is_none() && sm.node("n1").is_some(), "rows are the snapshot's");
    assert_eq!(sm.kv_get("a/b").unwrap().modify_index, saved.kv_get("a/b").unwrap().modify_index);
    assert_eq!(sm.last_index(), 50);
    for key in [
        WatchKey::Nodes,
        WatchKey::Checks,
        WatchKey::ServiceName("web".into()),
        WatchKey::ServiceName("db".into()),
        WatchKey::KvPrefix("a/b".into()),
        WatchKey::KvPrefix("only/before".into()),
        WatchKey::Sessions,
        WatchKey::All,
    ] {
        assert_eq!(sm.index_of(&key), 50, "{key:?}");
    }
    assert_eq!(sm.index_of(&WatchKey::KvPrefix("never/".into())), 1, "untouched prefixes stay");
    let _ = apply(&mut sm, 51, Command::DeregisterNode { node: "n2".into() });
}

#[test]
fn restore_restarts_ttl_clocks() {
    let mut sm = StateMachine::new(dc1());
    let _ = apply(
        &mut sm,
        1,
        register("n1", None, vec![check(SERF_HEALTH, "", HealthStatus::Passing)]),
    );
    let session = Session {
        id: "s1".into(),
        node: "n1".into(),
        ttl: "10s".into(),
        node_checks: vec![SERF_HEALTH.into()],
        ..Session::default()
    };
    let _ = apply(&mut sm, 2, Command::SessionCreate(SessionCreate { session, now_ms: T0 }));
    let bytes = sm.snapshot();
    let _ = apply(&mut sm, 3, restore_cmd(&bytes, T0 + 3_600_000));
    assert_eq!(sm.next_session_deadline_ms(), Some(T0 + 3_620_000));
}

#[test]
fn a_bad_document_is_refused_and_changes_nothing() {
    let mut sm = busy_state();
    let before = sm.clone();
    let err = sm.apply(99, &restore_cmd(b"{\"Version\": 77}", T0)).unwrap_err();
    assert_eq!(err.to_string(), "unsupported snapshot version 77 (this build reads version 2)");
    assert!(sm.apply(99, &restore_cmd(b"[]", T0)).is_err());
    assert_eq!(sm, before);
}

#[test]
fn version_1_documents_still_restore() {
    assert_eq!(SNAPSHOT_VERSION, 2);
    let saved = busy_state();
    let mut doc: serde_json::Value = serde_json::from_slice(&saved.snapshot()).unwrap();
    doc["Version"] = 1.into();
    let mut sm = StateMachine::new(dc1());
    sm.restore(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(sm, saved);
    assert_eq!(sm.sessions().count(), 0);
}
