//! Prepared queries: validation, name rules, resolution by id, name and template prefix,
//! template rendering, execution filters, and session binding.

use std::collections::BTreeMap;

use super::super::tests::{check, dc1, register, svc};
use super::*;
use crate::state::{
    ApplyResult, Command, HealthStatus, Node, SERF_HEALTH, Service, Session, SessionCreate,
    SessionDestroy,
};

fn apply(sm: &mut StateMachine, index: u64, cmd: Command) -> ApplyResult {
    sm.apply(index, &cmd).unwrap_or_else(|e| panic!("apply {index} {cmd:?}: {e}"))
}

fn refused(sm: &mut StateMachine, index: u64, cmd: Command) -> String {
    let before = sm.clone();
    let err = sm.apply(index, &cmd).expect_err("refused");
    assert_eq!(*sm, before, "a refused command changes nothing");
    err.to_string()
}

fn query(id: &str, name: &str, service: &str) -> PreparedQuery {
    PreparedQuery {
        id: id.into(),
        name: name.into(),
        service: ServiceQuery { service: service.into(), ..ServiceQuery::default() },
        ..PreparedQuery::default()
    }
}

fn template(id: &str, name: &str, service: &str) -> PreparedQuery {
    let mut q = query(id, name, service);
    q.template.kind = TEMPLATE_NAME_PREFIX_MATCH.into();
    q
}

fn create(q: PreparedQuery) -> Command {
    Command::PreparedQuerySet(QuerySet { query: q, create: true })
}

fn update(q: PreparedQuery) -> Command {
    Command::PreparedQuerySet(QuerySet { query: q, create: false })
}

#[test]
fn validation_names_the_field_and_reason() {
    let mut bad_ttl = query("q", "n", "web");
    bad_ttl.dns.ttl = "ten".into();
    let mut neg_ttl = query("q", "n", "web");
    neg_ttl.dns.ttl = "-1s".into();
    let mut nearest = query("q", "n", "web");
    nearest.service.failover.nearest_n = -1;
    let mut kind = query("q", "n", "web");
    kind.template.kind = "regex".into();
    let mut regexp = template("q", "n", "web");
    regexp.template.regexp = "(".into();
    let cases = [
        (query("q", "n", ""), "Must provide a Service name to query".to_owned()),
        (bad_ttl, "Bad DNS TTL 'ten': invalid duration \"ten\"".into()),
        (neg_ttl, "Bad DNS TTL '-1s': must be >= 0".into()),
        (nearest, "Bad NearestN '-1', must be >= 0".into()),
        (kind, "Bad Template.Type 'regex'".into()),
        (
            template("q", "n", "${nope}"),
            "Failed to parse template field Service.Service: unknown interpolation \"nope\"".into(),
        ),
    ];
    for (q, message) in cases {
        assert_eq!(q.validate().unwrap_err().to_string(), message);
    }
    assert!(regexp.validate().unwrap_err().to_string().starts_with("Bad Template.Regexp '('"));
    assert!(query("q", "n", "${not-a-template}").validate().is_ok(), "only templates interpolate");
}

#[test]
fn create_update_delete_and_their_refusals() {
    let mut sm = StateMachine::new(dc1());
    let r = apply(&mut sm, 1, create(query("q1", "web-q", "web")));
    assert_eq!(r.changed, vec![WatchKey::PreparedQueries]);
    assert_eq!(sm.prepared_query("q1").unwrap().create_index, 1);
    assert_eq!(
        refused(&mut sm, 2, create(query("q1", "other", "web"))),
        "Query ID \"q1\" already exists"
    );
    assert_eq!(
        refused(&mut sm, 2, update(query("q9", "x", "web"))),
        "Cannot modify non-existent prepared query: 'q9'"
    );
    assert_eq!(
        refused(&mut sm, 2, create(query("q2", "WEB-Q", "db"))),
        "name 'WEB-Q' aliases an existing query name"
    );
    assert_eq!(
        refused(&mut sm, 2, create(query("q2", "q1", "db"))),
        "name 'q1' aliases an existing query ID"
    );
    assert_eq!(refused(&mut sm, 2, create(query("", "x", "db"))), "Missing query ID");
    let mut with_session = query("q2", "x", "db");
    with_session.session = "nope".into();
    assert_eq!(refused(&mut sm, 2, create(with_session)), "invalid session \"nope\"");
    let _ = apply(&mut sm, 2, update(query("q1", "web-q", "web2")));
    let q = sm.prepared_query("q1").unwrap();
    assert_eq!((q.create_index, q.modify_index, q.service.service.as_str()), (1, 2, "web2"));
    let _ = apply(&mut sm, 3, create(template("t1", "", "${name.full}")));
    assert_eq!(
        refused(&mut sm, 4, create(template("t2", "", "x"))),
        "a query template with an empty name already exists"
    );
    let _ = apply(&mut sm, 4, Command::PreparedQueryDelete(QueryDelete { id: "q1".into() }));
    assert!(sm.prepared_query("q1").is_none());
    assert_eq!(sm.index_of(&WatchKey::PreparedQueries), 4);
    let del = Command::PreparedQueryDelete(QueryDelete { id: "q1".into() });
    assert_eq!(refused(&mut sm, 5, del), "Cannot delete non-existent prepared query: 'q1'");
    assert_eq!(sm.prepared_queries().map(|q| q.id.as_str()).collect::<Vec<_>>(), ["t1"]);
}

#[test]
fn resolution_prefers_id_then_exact_name_then_longest_template_prefix() {
    let mut sm = StateMachine::new(dc1());
    let _ = apply(&mut sm, 1, create(query("q1", "geo-db", "plain")));
    let _ = apply(&mut sm, 2, create(template("t1", "geo", "${name.suffix}")));
    let _ = apply(&mut sm, 3, create(template("t2", "geo-", "long-${name.suffix}")));
    let _ = apply(&mut sm, 4, create(template("t3", "", "any-${name.full}")));
    let service = |name: &str| sm.resolve_query(name).unwrap().unwrap().service.service;
    assert_eq!(service("q1"), "plain");
    assert_eq!(service("GEO-DB"), "plain", "exact names are case-insensitive");
    assert_eq!(service("geo-web"), "long-web", "longest prefix wins");
    assert_eq!(service("geoweb"), "web");
    assert_eq!(service("other"), "any-other", "the empty-name template catches the rest");
    assert_eq!(service("t2"), "long-${name.suffix}", "by id: unrendered");
}

#[test]
fn templates_render_regexp_groups_and_drop_empty_tags() {
    let mut t = template("t", "geo-", "${match(1)}");
    t.template.regexp = r"^geo-([a-z]+)-(primary|secondary)$".into();
    t.template.remove_empty_tags = true;
    t.service.tags = vec!["${match(2)}".into(), "${match(7)}".into(), "${ name.prefix }".into()];
    t.service.failover.datacenters = vec!["dc-${agent.segment}x".into()];
    let mut sm = StateMachine::new(dc1());
    let _ = apply(&mut sm, 1, create(t));
    let q = sm.resolve_query("geo-db-primary").unwrap().unwrap();
    assert_eq!(q.service.service, "db");
    assert_eq!(q.service.tags, ["primary", "geo-"]);
    assert_eq!(q.service.failover.datacenters, ["dc-x"]);
    let q = sm.resolve_query("geo-nomatch").unwrap().unwrap();
    assert_eq!(q.service.service, "", "no regexp match: empty groups");
    assert!(sm.resolve_query("nothing").unwrap().is_none());
}

fn with_meta(mut n: Node, k: &str, v: &str) -> Node {
    n.meta = BTreeMap::from([(k.to_owned(), v.to_owned())]);
    n
}

fn tagged(id: &str, tags: &[&str]) -> Service {
    Service { tags: tags.iter().map(|t| (*t).to_owned()).collect(), ..svc(id, "web") }
}

fn catalog() -> StateMachine {
    let mut sm = StateMachine::new(dc1());
    let node = |name| with_meta(super::super::tests::node(name), "rack", name);
    let regs = [
        (node("n1"), tagged("w1", &["v1", "Primary"]), HealthStatus::Passing),
        (node("n2"), tagged("w2", &["v1"]), HealthStatus::Warning),
        (node("n3"), tagged("w3", &["v2"]), HealthStatus::Critical),
        (node("n4"), tagged("w4", &["v1", "canary"]), HealthStatus::Passing),
    ];
    for (i, (node, service, status)) in regs.into_iter().enumerate() {
        let id = service.id.clone();
        let checks = vec![check(&format!("{id}-check"), &id, status)];
        let cmd = Command::Register { node, service: Some(service), checks };
        let _ = apply(&mut sm, i as u64 + 1, cmd);
    }
    sm
}

fn ids(sm: &StateMachine, q: &PreparedQuery) -> Vec<String> {
    sm.execute_query(q).nodes.into_iter().map(|r| r.service.id).collect()
}

#[test]
fn execution_drops_critical_and_applies_only_passing_tags_and_meta() {
    let sm = catalog();
    let mut q = query("q", "", "web");
    assert_eq!(ids(&sm, &q), ["w1", "w2", "w4"], "critical dropped, warning kept");
    q.service.only_passing = true;
    assert_eq!(ids(&sm, &q), ["w1", "w4"]);
    q.service.tags = vec!["V1".into(), "!canary".into()];
    assert_eq!(ids(&sm, &q), ["w1"], "tags are case-insensitive; ! excludes");
    q.service = ServiceQuery { service: "web".into(), ..ServiceQuery::default() };
    q.service.ignore_check_ids = vec!["w3-check".into()];
    assert_eq!(ids(&sm, &q), ["w1", "w2", "w3", "w4"]);
    q.service.node_meta = BTreeMap::from([("rack".into(), "n3".into())]);
    assert_eq!(ids(&sm, &q), ["w3"]);
    let out = sm.execute_query(&q);
    assert_eq!((out.service.as_str(), out.datacenter.as_str(), out.failovers), ("web", "dc1", 0));
    let json = serde_json::to_value(&out).unwrap();
    assert!(json["Nodes"][0]["Service"]["ID"] == "w3" && json["DNS"]["TTL"] == "", "{json}");
}

#[test]
fn a_query_bound_to_a_session_goes_with_it() {
    let mut sm = StateMachine::new(dc1());
    let serf = check(SERF_HEALTH, "", HealthStatus::Passing);
    let _ = apply(&mut sm, 1, register("n1", None, vec![serf]));
    let session = Session {
        id: "s1".into(),
        node: "n1".into(),
        node_checks: vec![SERF_HEALTH.into()],
        ..Session::default()
    };
    let _ = apply(&mut sm, 2, Command::SessionCreate(SessionCreate { session, now_ms: 0 }));
    let mut q = query("q1", "bound", "web");
    q.session = "s1".into();
    let _ = apply(&mut sm, 3, create(q));
    let _ = apply(&mut sm, 4, create(query("q2", "free", "web")));
    let r =
        apply(&mut sm, 5, Command::SessionDestroy(SessionDestroy { id: "s1".into(), now_ms: 0 }));
    assert!(r.changed.contains(&WatchKey::PreparedQueries));
    assert_eq!(sm.prepared_queries().map(|q| q.id.as_str()).collect::<Vec<_>>(), ["q2"]);
}

#[test]
fn queries_survive_a_snapshot_and_commands_round_trip() {
    let mut sm = StateMachine::new(dc1());
    let _ = apply(&mut sm, 1, create(template("t1", "geo", "${name.suffix}")));
    let bytes = sm.snapshot();
    let mut restored = StateMachine::new(dc1());
    restored.restore(&bytes).unwrap();
    assert_eq!(restored, sm);
    for cmd in [
        create(query("q", "n", "web")),
        Command::PreparedQueryDelete(QueryDelete { id: "q".into() }),
    ] {
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd, "{json}");
    }
}
