//! Sessions: validation on create, TTL clocks, KV locks, invalidation by the catalog,
//! lock-delay, and the snapshot rows.

use super::super::tests::{check, dc1, register, svc};
use super::*;
use crate::state::{ApplyResult, KvEntry, KvLock, KvUnlock, SnapshotError};

const T0: u64 = 1_700_000_000_000;

fn apply(sm: &mut StateMachine, index: u64, cmd: Command) -> ApplyResult {
    sm.apply(index, &cmd).unwrap_or_else(|e| panic!("apply {index} {cmd:?}: {e}"))
}

fn refused(sm: &mut StateMachine, index: u64, cmd: Command) -> StateError {
    let before = sm.clone();
    let err = sm.apply(index, &cmd).expect_err("refused");
    assert_eq!(*sm, before, "a refused command changes nothing");
    err
}

fn session(id: &str, node: &str) -> Session {
    Session {
        id: id.into(),
        node: node.into(),
        node_checks: vec![SERF_HEALTH.into()],
        lock_delay_ns: 15_000_000_000,
        ..Session::default()
    }
}

fn create(s: Session, now_ms: u64) -> Command {
    Command::SessionCreate(SessionCreate { session: s, now_ms })
}

fn serf(status: HealthStatus) -> crate::state::Check {
    check(SERF_HEALTH, "", status)
}

/// n1 with a passing serfHealth and a service check `web-alive`.
fn state_with_node() -> StateMachine {
    let mut sm = StateMachine::new(dc1());
    let checks =
        vec![serf(HealthStatus::Passing), check("web-alive", "web1", HealthStatus::Passing)];
    let _ = apply(&mut sm, 1, register("n1", Some(svc("web1", "web")), checks));
    sm
}

fn lock(key: &str, value: &str, session: &str, now_ms: u64) -> Command {
    let value = value.as_bytes().to_vec();
    Command::KvLock(KvLock { key: key.into(), value, flags: 0, session: session.into(), now_ms })
}

fn unlock(key: &str, session: &str) -> Command {
    Command::KvUnlock(KvUnlock {
        key: key.into(),
        value: b"x".to_vec(),
        flags: 0,
        session: session.into(),
    })
}

fn entry(sm: &StateMachine, key: &str) -> KvEntry {
    sm.kv_get(key).cloned().unwrap_or_else(|| panic!("no key {key}"))
}

#[test]
fn create_needs_a_registered_node_and_existing_healthy_checks() {
    let mut sm = StateMachine::new(dc1());
    let err = refused(&mut sm, 1, create(session("s1", "n1"), T0));
    assert_eq!(err.to_string(), "Missing node registration");
    let _ = apply(&mut sm, 2, register("n1", None, vec![]));
    let err = refused(&mut sm, 3, create(session("s1", "n1"), T0));
    assert_eq!(err.to_string(), "Missing check 'serfHealth' registration");
    let _ = apply(&mut sm, 4, register("n1", None, vec![serf(HealthStatus::Critical)]));
    let err = refused(&mut sm, 5, create(session("s1", "n1"), T0));
    assert_eq!(err.to_string(), "Check 'serfHealth' is in critical state");
    let _ = apply(&mut sm, 6, register("n1", None, vec![serf(HealthStatus::Warning)]));
    let r = apply(&mut sm, 7, create(session("s1", "n1"), T0));
    assert!(r.succeeded);
    assert_eq!(r.changed, vec![WatchKey::Sessions]);
    let s = sm.session("s1").unwrap();
    assert_eq!((s.create_index, s.modify_index), (7, 7));
    assert_eq!(sm.index_of(&WatchKey::Sessions), 7);
    assert_eq!(sm.node_sessions("n1").count(), 1);
    assert_eq!(sm.node_sessions("n2").count(), 0);
    assert_eq!(sm.next_session_deadline_ms(), None, "no TTL, no deadline");
}

#[test]
fn create_refuses_bad_ids_nodes_and_ttls() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(session("s1", "n1"), T0));
    let cases = [
        (session("", "n1"), "Missing session ID"),
        (session("s1", "n1"), "Session ID \"s1\" already exists"),
        (session("s2", ""), "Must provide Node"),
        (
            Session { ttl: "5s".into(), ..session("s2", "n1") },
            "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]",
        ),
        (
            Session { ttl: "25h".into(), ..session("s2", "n1") },
            "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]",
        ),
        (
            Session { ttl: "soon".into(), ..session("s2", "n1") },
            "Session TTL 'soon' invalid: invalid duration \"soon\"",
        ),
        (
            Session { node_checks: vec!["nope".into()], ..session("s2", "n1") },
            "Missing check 'nope' registration",
        ),
    ];
    for (s, message) in cases {
        assert_eq!(refused(&mut sm, 3, create(s, T0)).to_string(), message);
    }
}

#[test]
fn service_checks_bind_the_session_too() {
    let mut sm = state_with_node();
    let s = Session {
        service_checks: vec![ServiceCheck { id: "web-alive".into(), namespace: String::new() }],
        ..session("s1", "n1")
    };
    let _ = apply(&mut sm, 2, create(s, T0));
    assert_eq!(
        sm.session("s1").unwrap().check_ids().collect::<Vec<_>>(),
        ["serfHealth", "web-alive"]
    );
    let warn = Command::UpdateCheckStatus {
        node: "n1".into(),
        check_id: "web-alive".into(),
        status: HealthStatus::Warning,
        output: String::new(),
    };
    let _ = apply(&mut sm, 3, warn);
    assert!(sm.session("s1").is_some(), "warning keeps the session");
    let critical = Command::UpdateCheckStatus {
        node: "n1".into(),
        check_id: "web-alive".into(),
        status: HealthStatus::Critical,
        output: String::new(),
    };
    let r = apply(&mut sm, 4, critical);
    assert!(r.changed.contains(&WatchKey::Sessions), "{:?}", r.changed);
    assert!(sm.session("s1").is_none(), "a critical check invalidates the session");
}

#[test]
fn ttl_sessions_get_a_deadline_renew_moves_it_and_expire_destroys_due_ones() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(Session { ttl: "20s".into(), ..session("a", "n1") }, T0));
    let _ = apply(&mut sm, 3, create(Session { ttl: "30s".into(), ..session("b", "n1") }, T0));
    assert_eq!(sm.session_deadline_ms("a"), Some(T0 + 40_000), "TTL × 2");
    assert_eq!(sm.next_session_deadline_ms(), Some(T0 + 40_000));

    let renew = |id: &str, now_ms| Command::SessionRenew(SessionRenew { id: id.into(), now_ms });
    let r = apply(&mut sm, 4, renew("a", T0 + 30_000));
    assert!(r.succeeded && r.changed.is_empty(), "renew moves no index, as Consul");
    assert_eq!(sm.session_deadline_ms("a"), Some(T0 + 70_000));
    assert_eq!(sm.next_session_deadline_ms(), Some(T0 + 60_000), "now b is first");
    assert!(!apply(&mut sm, 5, renew("ghost", T0)).succeeded, "unknown session");

    let expire = |now_ms| Command::SessionExpire(SessionExpire { now_ms });
    let r = apply(&mut sm, 6, expire(T0 + 59_999));
    assert!(r.changed.is_empty());
    let r = apply(&mut sm, 7, expire(T0 + 60_000));
    assert_eq!(r.changed, vec![WatchKey::Sessions]);
    assert!(sm.session("b").is_none() && sm.session("a").is_some());
    assert_eq!(sm.next_session_deadline_ms(), Some(T0 + 70_000));
    let _ = apply(&mut sm, 8, expire(T0 + 70_000));
    assert_eq!(sm.sessions().count(), 0);
    assert_eq!(sm.next_session_deadline_ms(), None);
}

#[test]
fn locks_follow_consul_acquire_and_release_rules() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(session("s1", "n1"), T0));
    let _ = apply(&mut sm, 3, create(session("s2", "n1"), T0));
    assert!(apply(&mut sm, 4, lock("foo", "1", "s1", T0)).succeeded);
    let e = entry(&sm, "foo");
    assert_eq!((e.lock_index, e.session.as_str(), e.modify_index), (1, "s1", 4));
    let r = apply(&mut sm, 5, lock("foo", "2", "s2", T0));
    assert!(!r.succeeded && r.changed.is_empty(), "held by s1");
    assert!(apply(&mut sm, 6, lock("foo", "3", "s1", T0)).succeeded, "re-acquire by the holder");
    let e = entry(&sm, "foo");
    assert_eq!((e.lock_index, e.value.as_slice()), (1, b"3".as_slice()), "no second acquisition");
    assert!(!apply(&mut sm, 7, unlock("foo", "foo")).succeeded);
    assert!(!apply(&mut sm, 8, unlock("foo", "s2")).succeeded);
    assert!(apply(&mut sm, 9, unlock("foo", "s1")).succeeded);
    let e = entry(&sm, "foo");
    assert_eq!((e.lock_index, e.session.as_str(), e.value.as_slice()), (1, "", b"x".as_slice()));
    assert!(apply(&mut sm, 10, lock("foo", "4", "s2", T0)).succeeded);
    assert_eq!(entry(&sm, "foo").lock_index, 2, "a new holder bumps LockIndex");
    assert!(!apply(&mut sm, 11, unlock("absent", "s2")).succeeded);

    let plain = Command::KvSet { key: "foo".into(), value: b"5".to_vec(), flags: 0, cas: None };
    let _ = apply(&mut sm, 12, plain);
    assert_eq!(entry(&sm, "foo").session, "s2", "a plain write keeps the lock");
}

#[test]
fn locks_refuse_missing_and_unknown_sessions() {
    let mut sm = state_with_node();
    assert_eq!(refused(&mut sm, 2, lock("foo", "1", "", T0)).to_string(), "missing session");
    assert_eq!(
        refused(&mut sm, 2, lock("foo", "1", "foo", T0)).to_string(),
        "invalid session \"foo\""
    );
    assert_eq!(refused(&mut sm, 2, lock("", "1", "foo", T0)).to_string(), "Missing key name");
    assert_eq!(refused(&mut sm, 2, unlock("foo", "")).to_string(), "missing session");
}

#[test]
fn destroy_releases_keys_and_arms_the_lock_delay() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(session("s1", "n1"), T0));
    let _ = apply(&mut sm, 3, create(session("s2", "n1"), T0));
    let _ = apply(&mut sm, 4, lock("a/lock", "v", "s1", T0));
    let destroy = Command::SessionDestroy(SessionDestroy { id: "s1".into(), now_ms: T0 + 1_000 });
    let r = apply(&mut sm, 5, destroy);
    assert_eq!(r.changed, vec![WatchKey::Sessions, WatchKey::KvPrefix("a/lock".into())]);
    let e = entry(&sm, "a/lock");
    assert_eq!((e.session.as_str(), e.modify_index, e.value.as_slice()), ("", 5, b"v".as_slice()));
    assert!(sm.kv_lock_delayed("a/lock"));
    assert!(!apply(&mut sm, 6, lock("a/lock", "w", "s2", T0 + 15_999)).succeeded, "inside 15s");
    assert!(apply(&mut sm, 7, lock("a/lock", "w", "s2", T0 + 16_000)).succeeded, "delay over");
    assert!(!sm.kv_lock_delayed("a/lock"), "elapsed delays are forgotten");
    let again = Command::SessionDestroy(SessionDestroy { id: "s1".into(), now_ms: T0 });
    assert!(apply(&mut sm, 8, again).succeeded, "destroying a gone session succeeds");
}

#[test]
fn delete_behavior_removes_held_keys() {
    let mut sm = state_with_node();
    let s = Session { behavior: SessionBehavior::Delete, lock_delay_ns: 0, ..session("s1", "n1") };
    let _ = apply(&mut sm, 2, create(s, T0));
    let _ = apply(&mut sm, 3, lock("eph/x", "v", "s1", T0));
    let _ = apply(
        &mut sm,
        4,
        Command::KvSet { key: "eph/y".into(), value: vec![], flags: 0, cas: None },
    );
    let _ =
        apply(&mut sm, 5, Command::SessionDestroy(SessionDestroy { id: "s1".into(), now_ms: T0 }));
    assert!(sm.kv_get("eph/x").is_none());
    assert!(sm.kv_get("eph/y").is_some(), "only held keys go");
    assert_eq!(
        sm.index_of(&WatchKey::KvPrefix("eph/x".into())),
        5,
        "the tombstone moves the index"
    );
    assert!(!sm.kv_lock_delayed("eph/x"), "no lock-delay configured");
}

#[test]
fn deregistering_the_node_invalidates_its_sessions_with_a_delay_from_the_next_clock() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, register("n2", None, vec![serf(HealthStatus::Passing)]));
    let _ = apply(&mut sm, 3, create(session("s1", "n1"), T0));
    let _ = apply(&mut sm, 4, create(session("s2", "n2"), T0));
    let _ = apply(&mut sm, 5, lock("leader", "n1", "s1", T0));
    let r = apply(&mut sm, 6, Command::DeregisterNode { node: "n1".into() });
    assert!(r.changed.contains(&WatchKey::Sessions));
    assert!(r.changed.contains(&WatchKey::KvPrefix("leader".into())));
    assert!(sm.session("s1").is_none() && sm.session("s2").is_some());
    assert_eq!(entry(&sm, "leader").session, "");
    // The catalog command carried no clock: the 15 s run from the next one seen.
    assert!(!apply(&mut sm, 7, lock("leader", "n2", "s2", T0 + 60_000)).succeeded);
    assert!(!apply(&mut sm, 8, lock("leader", "n2", "s2", T0 + 74_999)).succeeded);
    assert!(apply(&mut sm, 9, lock("leader", "n2", "s2", T0 + 75_000)).succeeded);
}

#[test]
fn losing_serf_health_invalidates_only_that_nodes_sessions() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, register("n2", None, vec![serf(HealthStatus::Passing)]));
    let _ = apply(&mut sm, 3, create(session("s1", "n1"), T0));
    let _ = apply(&mut sm, 4, create(session("s2", "n2"), T0));
    let _ = apply(&mut sm, 5, register("n2", None, vec![serf(HealthStatus::Critical)]));
    assert!(sm.session("s1").is_some() && sm.session("s2").is_none());
    let _ = apply(
        &mut sm,
        6,
        Command::DeregisterCheck { node: "n1".into(), check_id: SERF_HEALTH.into() },
    );
    assert!(sm.session("s1").is_none(), "a removed check invalidates too");
}

#[test]
fn sessions_lock_delays_and_deadlines_survive_a_snapshot() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(Session { ttl: "10s".into(), ..session("s1", "n1") }, T0));
    let _ = apply(&mut sm, 3, create(session("s2", "n1"), T0));
    let _ = apply(&mut sm, 4, lock("k", "v", "s2", T0));
    let _ =
        apply(&mut sm, 5, Command::SessionDestroy(SessionDestroy { id: "s2".into(), now_ms: T0 }));
    let bytes = sm.snapshot();
    let mut restored = StateMachine::new(dc1());
    restored.restore(&bytes).unwrap();
    assert_eq!(restored, sm);
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.next_session_deadline_ms(), Some(T0 + 20_000));
    assert!(restored.kv_lock_delayed("k"));
}

#[test]
fn a_snapshot_with_a_session_on_a_missing_node_is_refused() {
    let mut sm = state_with_node();
    let _ = apply(&mut sm, 2, create(session("s1", "n1"), T0));
    let mut doc: serde_json::Value = serde_json::from_slice(&sm.snapshot()).unwrap();
    doc["Sessions"][0]["Session"]["Node"] = "ghost".into();
    let mut target = StateMachine::new(dc1());
    let err = target.restore(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert!(matches!(err, SnapshotError::Inconsistent(ref m) if m.contains("ghost")), "{err}");
}

#[test]
fn session_commands_round_trip_through_json() {
    let cmds = [
        create(
            Session { ttl: "15s".into(), behavior: SessionBehavior::Delete, ..session("s", "n") },
            T0,
        ),
        Command::SessionDestroy(SessionDestroy { id: "s".into(), now_ms: T0 }),
        Command::SessionRenew(SessionRenew { id: "s".into(), now_ms: T0 }),
        Command::SessionExpire(SessionExpire { now_ms: T0 }),
        lock("k", "v", "s", T0),
        unlock("k", "s"),
    ];
    for cmd in cmds {
        let json = serde_json::to_string(&cmd).unwrap();
        assert!(json.starts_with(r#"{"Op":"#), "{json}");
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd, "{json}");
    }
    let json = serde_json::to_value(session("s", "n")).unwrap();
    assert_eq!(json["LockDelay"], 15_000_000_000u64, "nanoseconds, as Consul");
    assert_eq!(json["Behavior"], "release");
    assert_eq!(json["NodeChecks"], serde_json::json!(["serfHealth"]));
}
