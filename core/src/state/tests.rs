//! Apply sequences, indexes, CAS, refusals, watch keys, health reads and snapshots.

use super::*;
use crate::ca::CaRoot;
use crate::config::ConfigEntry;
use crate::time::UnixTime;

pub(super) fn dc1() -> Datacenter {
    Datacenter::new("dc1").unwrap()
}

pub(super) fn node(name: &str) -> Node {
    Node { node: name.into(), address: format!("10.0.0.{}", name.len()), ..Node::default() }
}

pub(super) fn svc(id: &str, name: &str) -> Service {
    Service { id: id.into(), service: name.into(), port: 8080, ..Service::default() }
}

pub(super) fn sidecar(id: &str, dest: &str) -> Service {
    Service {
        kind: ServiceKind::ConnectProxy,
        id: id.into(),
        service: format!("{dest}-sidecar-proxy"),
        port: 21000,
        proxy: Some(ProxyConfig {
            destination_service_name: dest.into(),
            ..ProxyConfig::default()
        }),
        ..Service::default()
    }
}

pub(super) fn check(id: &str, service_id: &str, status: HealthStatus) -> Check {
    Check {
        check_id: id.into(),
        name: id.into(),
        service_id: service_id.into(),
        status,
        ..Check::default()
    }
}

pub(super) fn register(n: &str, s: Option<Service>, checks: Vec<Check>) -> Command {
    Command::Register { node: node(n), service: s, checks }
}

pub(super) fn entry(json: &str) -> ConfigEntry {
    ConfigEntry::from_json(json).unwrap()
}

fn kv_set(key: &str, value: &str, cas: Option<u64>) -> Command {
    Command::KvSet { key: key.into(), value: value.as_bytes().to_vec(), flags: 0, cas }
}

fn apply_ok(sm: &mut StateMachine, index: u64, cmd: Command) -> ApplyResult {
    sm.apply(index, &cmd).unwrap_or_else(|e| panic!("apply {index} {cmd:?}: {e}"))
}

fn ok(sm: &mut StateMachine, index: u64, cmd: Command) {
    let _ = apply_ok(sm, index, cmd);
}

#[test]
fn register_sets_row_and_table_indexes_and_reports_keys() {
    let mut sm = StateMachine::new(dc1());
    let r = apply_ok(&mut sm, 5, register("n1", Some(svc("web1", "web")), vec![]));
    assert!(r.succeeded);
    assert_eq!(
        r.changed,
        vec![WatchKey::Nodes, WatchKey::Services, WatchKey::ServiceName("web".into())]
    );
    let n = sm.node("n1").unwrap();
    assert_eq!((n.create_index, n.modify_index, n.datacenter.as_str()), (5, 5, "dc1"));
    assert_eq!(sm.index_of(&WatchKey::Nodes), 5);
    assert_eq!(sm.index_of(&WatchKey::ServiceName("web".into())), 5);
    assert_eq!(sm.index_of(&WatchKey::Checks), 1, "never 0");
    assert_eq!(sm.index_of(&WatchKey::ServiceName("db".into())), 1);

    let r = apply_ok(&mut sm, 9, register("n1", Some(svc("db1", "db")), vec![]));
    assert_eq!(r.changed, vec![WatchKey::Services, WatchKey::ServiceName("db".into())]);
    assert_eq!(sm.node("n1").unwrap().modify_index, 5, "node unchanged");
    assert_eq!(sm.index_of(&WatchKey::ServiceName("web".into())), 5);
    assert_eq!(sm.index_of(&WatchKey::Services), 9);
    assert_eq!(sm.last_index(), 9);
}

#[test]
fn identical_reregistration_moves_no_index() {
    let mut sm = StateMachine::new(dc1());
    let cmd =
        register("n1", Some(svc("web1", "web")), vec![check("c1", "web1", HealthStatus::Passing)]);
    ok(&mut sm, 1, cmd.clone());
    let before = sm.snapshot();
    let r = apply_ok(&mut sm, 2, cmd);
    assert!(r.succeeded && r.changed.is_empty());
    assert_eq!(sm.snapshot(), before);
}

#[test]
fn service_id_defaults_to_name_and_checks_get_service_name() {
    let mut sm = StateMachine::new(dc1());
    let mut s = svc("", "web");
    s.id.clear();
    ok(&mut sm, 1, register("n1", Some(s), vec![check("c", "web", HealthStatus::Passing)]));
    assert!(sm.service("n1", "web").is_some());
    assert_eq!(sm.node_checks("n1").next().unwrap().service_name, "web");
}

#[test]
fn refused_registrations_leave_state_unchanged() {
    let mut sm = StateMachine::new(dc1());
    ok(&mut sm, 1, register("n1", Some(svc("web1", "web")), vec![]));
    let before = sm.clone();
    let mut no_addr = node("n2");
    no_addr.address.clear();
    let mut bad_proxy = sidecar("p", "web");
    bad_proxy.port = 0;
    let mut no_dest = sidecar("p", "web");
    no_dest.proxy = None;
    let cases = [
        (
            Command::Register { node: no_addr, service: None, checks: vec![] },
            "Must provide address",
        ),
        (register("", None, vec![]), "Must provide node"),
        (register("n1", Some(svc("x", "")), vec![]), "Must provide service name"),
        (register("n1", Some(bad_proxy), vec![]), "Port must be non-zero"),
        (register("n1", Some(no_dest), vec![]), "DestinationServiceName must be non-empty"),
        (
            register("n1", Some(svc("a", "a")), vec![check("c", "nope", HealthStatus::Passing)]),
            "Missing service registration",
        ),
        (register("n1", None, vec![check("", "", HealthStatus::Passing)]), "check ID"),
        (
            Command::UpdateCheckStatus {
                node: "n1".into(),
                check_id: "c9".into(),
                status: HealthStatus::Passing,
                output: String::new(),
            },
            "Unknown check",
        ),
    ];
    for (i, (cmd, message)) in cases.into_iter().enumerate() {
        let err = sm.apply(10 + i as u64, &cmd).unwrap_err();
        assert!(err.to_string().contains(message), "{err} should mention {message:?}");
        assert_eq!(sm, before, "{cmd:?} changed state");
    }
}

#[test]
fn index_must_increase() {
    let mut sm = StateMachine::new(dc1());
    ok(&mut sm, 4, kv_set("a", "1", None));
    let err = sm.apply(4, &kv_set("b", "1", None)).unwrap_err();
    assert_eq!(err, StateError::IndexNotIncreasing { index: 4, last: 4 });
    assert!(sm.kv_get("b").is_none());
}

#[test]
fn node_check_wakes_every_service_on_the_node() {
    let mut sm = StateMachine::new(dc1());
    ok(&mut sm, 1, register("n1", Some(svc("web1", "web")), vec![]));
    ok(&mut sm, 2, register("n1", Some(sidecar("web1-proxy", "web")), vec![]));
    let r = apply_ok(
        &mut sm,
        3,
        register("n1", None, vec![check("serfHealth", "", HealthStatus::Passing)]),
    );
    assert_eq!(
        r.changed,
        vec![
            WatchKey::ServiceName("web".into()),
            WatchKey::ServiceName("web-sidecar-proxy".into()),
            WatchKey::ConnectService("web".into()),
            WatchKey::Checks,
        ]
    );
    let r = apply_ok(
        &mut sm,
        4,
        Command::UpdateCheckStatus {
            node: "n1".into(),
            check_id: "serfHealth".into(),
            status: HealthStatus::Critical,
            output: "gone".into(),
        },
    );
    assert!(r.changed.contains(&WatchKey::ConnectService("web".into())));
    assert_eq!(sm.index_of(&WatchKey::ServiceName("web".into())), 4);
    assert!(sm.health_service("web", true).is_empty());
    assert_eq!(sm.health_service("web", false).len(), 1);
}

#[test]
fn health_passing_filter_drops_instance_with_any_failing_check() {
    let mut sm = StateMachine::new(dc1());
    ok(
        &mut sm,
        1,
        register("a", Some(svc("web1", "web")), vec![check("c", "web1", HealthStatus::Passing)]),
    );
    ok(
        &mut sm,
        2,
        register("b", Some(svc("web2", "web")), vec![check("c", "web2", HealthStatus::Warning)]),
    );
    ok(&mut sm, 3, register("c", Some(svc("web3", "web")), vec![]));
    ok(
        &mut sm,
        4,
        register("c", Some(svc("db", "db")), vec![check("d", "db", HealthStatus::Critical)]),
    );
    let all: Vec<_> = sm.health_service("web", false).into_iter().map(|h| h.service.id).collect();
    assert_eq!(all, ["web1", "web2", "web3"]);
    let passing: Vec<_> =
        sm.health_service("web", true).into_iter().map(|h| h.service.id).collect();
    assert_eq!(passing, ["web1", "web3"], "db's check on node c is not web3's");
    let row = &sm.health_service("web", false)[0];
    assert_eq!(row.checks.len(), 1);
    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["Node"]["Node"], "a");
    assert_eq!(json["Service"]["ID"], "web1");
    assert_eq!(json["Checks"][0]["Status"], "passing");
    assert_eq!(json["Checks"][0]["ServiceName"], "web");
}

#[test]
fn health_connect_returns_sidecars_and_native_instances() {
    let mut sm = StateMachine::new(dc1());
    ok(&mut sm, 1, register("a", Some(svc("web1", "web")), vec![]));
    ok(&mut sm, 2, register("a", Some(sidecar("web1-sidecar-proxy", "web")), vec![]));
    let mut native = svc("web2", "web");
    native.connect.native = true;
    ok(&mut sm, 3, register("b", Some(native), vec![]));
    let ids: Vec<_> = sm.health_connect("web", false).into_iter().map(|h| h.service.id).collect();
    assert_eq!(ids, ["web1-sidecar-proxy", "web2"]);
    assert_eq!(sm.index_of(&WatchKey::ConnectService("web".into())), 3);
    let r = apply_ok(
        &mut sm,
        4,
        Command::DeregisterService { node: "a".into(), service_id: "web1-sidecar-proxy".into() },
    );
    assert!(r.changed.contains(&WatchKey::ConnectService("web".into())));
    assert_eq!(sm.health_connect("web", false).len(), 1);
}

#[test]
fn catalog_services_unions_tags() {
    let mut sm = StateMachine::new(dc1());
    let mut a = svc("w1", "web");
    a.tags = vec!["v2".into(), "x".into()];
    let mut b = svc("w2", "web");
    b.tags = vec!["v1".into(), "x".into()];
    ok(&mut sm, 1, register("n", Some(a), vec![]));
    ok(&mut sm, 2, register("n", Some(b), vec![]));
    ok(&mut sm, 3, register("n", Some(svc("d", "db")), vec![]));
    let json = serde_json::to_string(&sm.catalog_services()).unwrap();
    assert_eq!(json, r#"{"db":[],"web":["v1","v2","x"]}"#);
}

#[test]
fn deregister_node_removes_services_and_checks() {
    let mut sm = StateMachine::new(dc1());
    ok(
        &mut sm,
        1,
        register("n", Some(svc("w1", "web")), vec![check("c", "w1", HealthStatus::Passing)]),
    );
    let r = apply_ok(&mut sm, 2, Command::DeregisterNode { node: "n".into() });
    assert_eq!(
        r.changed,
        vec![
            WatchKey::Nodes,
            WatchKey::Services,
            WatchKey::ServiceName("web".into()),
            WatchKey::Checks
        ]
    );
    assert!(sm.catalog_services().is_empty() && sm.node("n").is_none());
    assert_eq!(sm.index_of(&WatchKey::ServiceName("web".into())), 2, "delete moves the index");
    let r = apply_ok(&mut sm, 3, Command::DeregisterNode { node: "n".into() });
    assert!(r.succeeded && r.changed.is_empty());
}

#[test]
fn kv_cas_and_indexes() {
    let mut sm = StateMachine::new(dc1());
    assert!(apply_ok(&mut sm, 1, kv_set("app/a", "1", Some(0))).succeeded);
    let r = apply_ok(&mut sm, 2, kv_set("app/a", "2", Some(0)));
    assert!(!r.succeeded && r.changed.is_empty(), "cas=0 only creates");
    assert!(!apply_ok(&mut sm, 3, kv_set("app/a", "2", Some(7))).succeeded);
    let r = apply_ok(&mut sm, 4, kv_set("app/a", "2", Some(1)));
    assert_eq!(r.changed, vec![WatchKey::KvPrefix("app/a".into())]);
    let e = sm.kv_get("app/a").unwrap();
    assert_eq!((e.value.as_slice(), e.create_index, e.modify_index), (&b"2"[..], 1, 4));
    ok(&mut sm, 5, kv_set("other", "x", None));
    assert_eq!(sm.index_of(&WatchKey::KvPrefix("app/".into())), 4);
    assert_eq!(sm.index_of(&WatchKey::KvPrefix(String::new())), 5);
    assert_eq!(sm.index_of(&WatchKey::KvPrefix("zzz".into())), 1);

    let del = |cas| Command::KvDelete { key: "app/a".into(), recurse: false, cas };
    assert!(!apply_ok(&mut sm, 6, del(Some(1))).succeeded);
    assert!(apply_ok(&mut sm, 7, del(Some(4))).succeeded);
    assert!(sm.kv_get("app/a").is_none());
    assert_eq!(sm.index_of(&WatchKey::KvPrefix("app/".into())), 7, "tombstone keeps the index");
    assert!(apply_ok(&mut sm, 8, del(Some(4))).succeeded, "absent key: Consul answers true");
    assert_eq!(sm.last_index(), 7);
}

#[test]
fn kv_refusals() {
    let mut sm = StateMachine::new(dc1());
    assert_eq!(sm.apply(1, &kv_set("", "x", None)).unwrap_err(), StateError::EmptyKey);
    let cmd = Command::KvDelete { key: "a".into(), recurse: true, cas: Some(1) };
    assert_eq!(sm.apply(2, &cmd).unwrap_err(), StateError::CasWithRecurse);
    assert_eq!(sm, StateMachine::new(dc1()));
}

#[test]
fn kv_delete_tree_and_key_listing() {
    let mut sm = StateMachine::new(dc1());
    for (i, k) in ["web/a", "web/b/c", "web/b/d", "web0", "x"].iter().enumerate() {
        ok(&mut sm, i as u64 + 1, kv_set(k, "v", None));
    }
    assert_eq!(sm.kv_keys("web", Some("/")), ["web/", "web0"]);
    assert_eq!(sm.kv_keys("web/", Some("/")), ["web/a", "web/b/"]);
    assert_eq!(sm.kv_keys("web/", None), ["web/a", "web/b/c", "web/b/d"]);
    assert_eq!(sm.kv_list("web/b").len(), 2);
    let r =
        apply_ok(&mut sm, 10, Command::KvDelete { key: "web/".into(), recurse: true, cas: None });
    assert_eq!(r.changed, vec![WatchKey::KvPrefix("web/".into())]);
    let remaining: Vec<_> = sm.kv_list("").into_iter().map(|e| e.key.as_str()).collect();
    assert_eq!(remaining, ["web0", "x"]);
    assert_eq!(sm.index_of(&WatchKey::KvPrefix("web/b".into())), 10);
    assert!(WatchKey::KvPrefix("web/b".into()).affects(&r.changed[0]));
    assert!(WatchKey::KvPrefix("w".into()).affects(&r.changed[0]));
    assert!(!WatchKey::KvPrefix("x".into()).affects(&r.changed[0]));
}

const DEFAULTS_HTTP: &str = r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#;
const ROUTER: &str = r#"{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/a"}},"Destination":{"Service":"web","PrefixRewrite":"/"}}]}"#;

#[test]
fn config_entry_cas_and_watch_keys() {
    let mut sm = StateMachine::new(dc1());
    let set = |json, cas| Command::ConfigEntrySet { entry: entry(json), cas };
    let r = apply_ok(&mut sm, 3, set(DEFAULTS_HTTP, Some(0)));
    assert!(r.succeeded);
    let web = WatchKey::ConfigEntry { kind: Kind::ServiceDefaults, name: "web".into() };
    assert_eq!(r.changed, vec![WatchKey::ConfigEntries, web.clone()]);
    assert!(!apply_ok(&mut sm, 4, set(DEFAULTS_HTTP, Some(0))).succeeded);
    let grpc = r#"{"Kind":"service-defaults","Name":"web","Protocol":"grpc"}"#;
    assert!(!apply_ok(&mut sm, 5, set(grpc, Some(2))).succeeded);
    assert!(apply_ok(&mut sm, 6, set(grpc, Some(3))).succeeded);
    let stored = sm.config_entry(Kind::ServiceDefaults, "web").unwrap();
    assert_eq!((stored.create_index, stored.modify_index), (3, 6));
    assert_eq!(sm.index_of(&web), 6);

    let del =
        |cas| Command::ConfigEntryDelete { kind: Kind::ServiceDefaults, name: "web".into(), cas };
    assert!(!apply_ok(&mut sm, 7, del(Some(3))).succeeded);
    assert!(apply_ok(&mut sm, 8, del(Some(6))).succeeded);
    assert!(sm.config_entry(Kind::ServiceDefaults, "web").is_none());
    assert_eq!(sm.index_of(&web), 8);
    assert!(apply_ok(&mut sm, 9, del(Some(6))).succeeded, "absent entry: true");
}

#[test]
fn config_entry_graph_validation_runs_in_apply() {
    let mut sm = StateMachine::new(dc1());
    let set = |json| Command::ConfigEntrySet { entry: entry(json), cas: None };
    let err = sm.apply(1, &set(ROUTER)).unwrap_err();
    assert!(matches!(err, StateError::ConfigEntry(_)), "{err}");
    assert!(err.to_string().contains("tcp") || err.to_string().contains("protocol"), "{err}");
    assert_eq!(sm, StateMachine::new(dc1()));
    ok(&mut sm, 2, set(DEFAULTS_HTTP));
    ok(&mut sm, 3, set(ROUTER));
    let before = sm.clone();
    let del =
        Command::ConfigEntryDelete { kind: Kind::ServiceDefaults, name: "web".into(), cas: None };
    assert!(matches!(sm.apply(4, &del), Err(StateError::ConfigEntry(_))));
    assert_eq!(sm, before);
}

#[test]
fn intentions_touch_the_intentions_key() {
    let mut sm = StateMachine::new(dc1());
    let ixn =
        r#"{"Kind":"service-intentions","Name":"db","Sources":[{"Name":"web","Action":"allow"}]}"#;
    let r = apply_ok(&mut sm, 1, Command::ConfigEntrySet { entry: entry(ixn), cas: None });
    assert!(r.changed.contains(&WatchKey::Intentions));
    assert_eq!(sm.config_entry_set().all_intentions().count(), 1);
    assert_eq!(sm.index_of(&WatchKey::Intentions), 1);
}

pub(super) fn roots() -> crate::ca::RootsResponse {
    let root = CaRoot {
        id: "aa:bb".into(),
        name: "Consul CA Primary Cert".into(),
        serial_number: "01".into(),
        signing_key_id: "cc:dd".into(),
        external_trust_domain: "11111111-2222-3333-4444-555555555555".into(),
        not_before: UnixTime(1_700_000_000),
        not_after: UnixTime(2_000_000_000),
        root_cert: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
        intermediate_certs: vec![],
        active: true,
        private_key_type: "ec".into(),
        private_key_bits: 256,
        rotated_out_at: None,
    };
    crate::ca::RootsResponse {
        active_root_id: "aa:bb".into(),
        trust_domain: "11111111-2222-3333-4444-555555555555.consul".into(),
        roots: vec![root],
    }
}

#[test]
fn ca_roots_and_config() {
    let mut sm = StateMachine::new(dc1());
    let r = apply_ok(&mut sm, 1, Command::CaSetRoots { roots: roots() });
    assert_eq!(r.changed, vec![WatchKey::CaRoots]);
    assert_eq!(sm.ca_roots(), Some(&roots()));
    let mut bad = roots();
    bad.active_root_id = "zz".into();
    assert!(matches!(
        sm.apply(2, &Command::CaSetRoots { roots: bad }),
        Err(StateError::UnknownActiveRoot(_))
    ));
    let r = apply_ok(&mut sm, 3, Command::CaSetConfig { config: CaConfig::default() });
    assert_eq!(r.changed, vec![WatchKey::CaConfig]);
    let bad = CaConfig { provider: "vault".into(), ..CaConfig::default() };
    assert!(matches!(
        sm.apply(4, &Command::CaSetConfig { config: bad }),
        Err(StateError::CaConfig(_))
    ));
    assert_eq!(sm.index_of(&WatchKey::CaConfig), 3);
}

pub(super) fn busy_state() -> StateMachine {
    let mut sm = StateMachine::new(dc1());
    let cmds = vec![
        register("n1", Some(svc("web1", "web")), vec![check("c1", "web1", HealthStatus::Passing)]),
        register("n1", Some(sidecar("web1-sidecar-proxy", "web")), vec![]),
        register("n2", None, vec![check("serfHealth", "", HealthStatus::Critical)]),
        Command::ConfigEntrySet { entry: entry(DEFAULTS_HTTP), cas: None },
        Command::ConfigEntrySet { entry: entry(ROUTER), cas: None },
        kv_set("a/b", "1", None),
        kv_set("a/c", "2", None),
        Command::KvDelete { key: "a/c".into(), recurse: false, cas: None },
        Command::CaSetRoots { roots: roots() },
        Command::CaSetConfig { config: CaConfig::default() },
    ];
    for (i, cmd) in cmds.into_iter().enumerate() {
        ok(&mut sm, i as u64 + 1, cmd);
    }
    sm
}

#[test]
fn snapshot_round_trips() {
    let sm = busy_state();
    let bytes = sm.snapshot();
    let mut restored = StateMachine::new(dc1());
    restored.restore(&bytes).unwrap();
    assert_eq!(restored, sm, "derived indexes rebuilt too");
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.index_of(&WatchKey::KvPrefix("a/".into())), 8);
    assert_eq!(restored.health_connect("web", false).len(), 1);
}

#[test]
fn snapshot_refuses_unknown_version_and_garbage() {
    let sm = busy_state();
    let mut value: serde_json::Value = serde_json::from_slice(&sm.snapshot()).unwrap();
    value["Version"] = 99.into();
    let mut target = StateMachine::new(dc1());
    let err = target.restore(&serde_json::to_vec(&value).unwrap()).unwrap_err();
    assert_eq!(err, SnapshotError::UnsupportedVersion { found: 99, supported: SNAPSHOT_VERSION });
    assert!(err.to_string().contains("unsupported snapshot version 99"));
    assert!(matches!(target.restore(b"not json"), Err(SnapshotError::Decode(_))));
    value["Version"] = SNAPSHOT_VERSION.into();
    value["Index"] = 1.into();
    assert!(matches!(
        target.restore(&serde_json::to_vec(&value).unwrap()),
        Err(SnapshotError::Inconsistent(_))
    ));
    assert_eq!(target, StateMachine::new(dc1()), "failed restores change nothing");
}

/// The raft layer snapshots a clone taken under its lock while apply continues on the
/// original: the clone must not see those later writes.
#[test]
fn a_clone_is_a_frozen_copy_that_later_writes_do_not_reach() {
    let mut sm = busy_state();
    let frozen = sm.clone();
    let before = frozen.snapshot();
    ok(&mut sm, 11, register("n3", Some(svc("api1", "api")), vec![]));
    ok(&mut sm, 12, kv_set("a/b", "changed", None));
    ok(&mut sm, 13, Command::DeregisterNode { node: "n1".into() });
    assert_eq!(frozen.snapshot(), before);
    assert_eq!(frozen, busy_state());
    assert_ne!(sm.snapshot(), before);
}

#[test]
fn same_commands_give_same_snapshot_bytes() {
    assert_eq!(busy_state().snapshot(), busy_state().snapshot());
}

#[test]
fn commands_round_trip_through_json() {
    let cmds = [
        register("n1", Some(sidecar("p", "web")), vec![check("c", "p", HealthStatus::Warning)]),
        Command::ConfigEntrySet { entry: entry(ROUTER), cas: Some(3) },
        Command::ConfigEntryDelete { kind: Kind::ServiceRouter, name: "web".into(), cas: None },
        kv_set("k", "v", Some(0)),
        Command::CaSetRoots { roots: roots() },
        Command::CaSetConfig { config: CaConfig::default() },
    ];
    for cmd in cmds {
        let json = serde_json::to_string(&cmd).unwrap();
        assert!(json.starts_with(r#"{"Op":"#), "{json}");
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd, "{json}");
    }
    let err = serde_json::from_str::<Command>(r#"{"Op":"Nope"}"#).unwrap_err();
    assert!(err.to_string().contains("Nope"), "{err}");
}
