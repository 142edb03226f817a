//! Intention precedence, ordering and authorization, with Consul's reason strings.

use serde_json::{Value, json};

use super::*;
use crate::config::{ConfigEntries, ConfigEntry};
use crate::ids::{ServiceName, SpiffeId};

fn set(entries: Value) -> Vec<Intention> {
    let entries: ConfigEntries = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|v| ConfigEntry::from_value(v.clone()).unwrap())
        .collect();
    Intention::all(&entries)
}

fn caller(svc: &str) -> SpiffeId {
    format!("spiffe://1234.consul/ns/default/dc/dc1/svc/{svc}").parse().unwrap()
}

fn check(ixns: &[Intention], src: &str, dst: &str, default: DefaultPolicy) -> Decision {
    authorize(ixns, &caller(src), &ServiceName::new(dst).unwrap(), default).unwrap()
}

fn db_entries() -> Vec<Intention> {
    set(json!([{"Kind": "service-intentions", "Name": "db", "Sources": [
        {"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}]}]))
}

#[test]
fn consul_compatibility_check_4_authorize() {
    let ixns = db_entries();
    assert_eq!(
        check(&ixns, "web", "db", DefaultPolicy::Deny),
        Decision {
            authorized: true,
            reason:
                "Matched L4 intention: default/web => default/db (Precedence: 9, Action: ALLOW)"
                    .into()
        }
    );
    assert_eq!(
        check(&ixns, "api", "db", DefaultPolicy::Allow),
        Decision {
            authorized: false,
            reason: "Matched L4 intention: default/* => default/db (Precedence: 8, Action: DENY)"
                .into()
        }
    );
    assert_eq!(
        check(&[], "web", "db", DefaultPolicy::Deny),
        Decision { authorized: false, reason: "Default behavior configured by ACLs".into() }
    );
    assert!(check(&[], "web", "db", DefaultPolicy::Allow).authorized);
}

#[test]
fn signing_and_agent_ids_are_not_service_identities() {
    let ixns = db_entries();
    let signing: SpiffeId = "spiffe://1234.consul".parse().unwrap();
    let err = authorize(&ixns, &signing, &ServiceName::new("db").unwrap(), DefaultPolicy::Allow)
        .unwrap_err();
    assert_eq!(err.to_string(), "ClientCertURI not a valid Service identifier");
    assert_eq!(
        authorize_uri(&ixns, "not a uri", "db", DefaultPolicy::Allow).unwrap_err().to_string(),
        "ClientCertURI not a valid Connect identifier"
    );
    assert_eq!(
        authorize_uri(
            &ixns,
            "spiffe://1234.consul/ns/default/dc/dc1/svc/web",
            "",
            DefaultPolicy::Allow
        )
        .unwrap_err()
        .to_string(),
        "Target service must be specified"
    );
    let agent = "spiffe://1234.consul/agent/client/dc/dc1/id/uuid";
    assert_eq!(
        authorize_uri(&ixns, agent, "db", DefaultPolicy::Allow).unwrap_err(),
        AuthorizeError::NotAService
    );
}

#[test]
fn precedence_orders_evaluation_most_specific_first() {
    let ixns = set(json!([
        {"Kind": "service-intentions", "Name": "*", "Sources": [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}]},
        {"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "*", "Action": "allow"}, {"Name": "web", "Action": "deny"}]}
    ]));
    let order: Vec<String> = ixns.iter().map(ToString::to_string).collect();
    assert_eq!(
        order,
        [
            "default/web => default/db (Precedence: 9, Action: DENY)",
            "default/* => default/db (Precedence: 8, Action: ALLOW)",
            "default/web => default/* (Precedence: 6, Action: ALLOW)",
            "default/* => default/* (Precedence: 5, Action: DENY)",
        ]
    );
    assert!(!check(&ixns, "web", "db", DefaultPolicy::Allow).authorized);
    assert!(check(&ixns, "api", "db", DefaultPolicy::Deny).authorized);
    let d = check(&ixns, "web", "cache", DefaultPolicy::Deny);
    assert_eq!(
        d.reason,
        "Matched L4 intention: default/web => default/* (Precedence: 6, Action: ALLOW)"
    );
    assert!(!check(&ixns, "api", "cache", DefaultPolicy::Allow).authorized);
}

#[test]
fn l7_intentions_deny_at_connection_level() {
    let ixns = set(json!([{"Kind": "service-intentions", "Name": "db", "Sources": [
        {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/read"}},
                                        {"Action": "deny", "HTTP": {"PathPrefix": "/"}}]}]}]));
    let d = check(&ixns, "web", "db", DefaultPolicy::Allow);
    assert_eq!(
        d,
        Decision {
            authorized: false,
            reason:
                "Matched L7 intention: default/web => default/db (Precedence: 9, Permissions: 2)"
                    .into()
        }
    );
}

#[test]
fn peered_and_partitioned_sources_do_not_match_local_callers() {
    let ixns = set(json!([{"Kind": "service-intentions", "Name": "db", "Sources": [
        {"Name": "web", "Action": "allow", "Peer": "other-cluster"},
        {"Name": "web", "Action": "deny", "Partition": "team-a"}]}]));
    let d = check(&ixns, "web", "db", DefaultPolicy::Deny);
    assert_eq!(d.reason, "Default behavior configured by ACLs");
    // Equal precedence: plain sources sort before peered ones (empty strings first).
    let order: Vec<String> = ixns.iter().map(ToString::to_string).collect();
    assert_eq!(
        order,
        [
            "team-a/default/web => default/db (Precedence: 9, Action: DENY)",
            "peer(other-cluster)/default/web => default/db (Precedence: 9, Action: ALLOW)",
        ]
    );
}

#[test]
fn decision_serializes_as_the_authorize_endpoint() {
    let d = check(&db_entries(), "web", "db", DefaultPolicy::Deny);
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"Authorized": true, "Reason": "Matched L4 intention: default/web => default/db (Precedence: 9, Action: ALLOW)"})
    );
}

#[test]
fn the_readme_example_file_allows_web_and_denies_the_rest() {
    let text = include_str!("testdata/db.hcl");
    let entries: ConfigEntries = [ConfigEntry::from_hcl(text).unwrap()].into_iter().collect();
    let ixns = Intention::all(&entries);
    assert!(check(&ixns, "web", "db", DefaultPolicy::Allow).authorized);
    let d = check(&ixns, "api", "db", DefaultPolicy::Allow);
    assert_eq!(
        d.reason,
        "Matched L4 intention: default/* => default/db (Precedence: 8, Action: DENY)"
    );
}
