//! Intentions → RBAC (CONSUL-FACTS.md §2.3): default allow lists denies under `DENY`,
//! default deny lists allows under `ALLOW`, wildcards become `[^/]+`, and higher-precedence
//! intentions are carved out of wider lower-precedence ones with `not_id`.

use serde_json::{Value, json};

use super::fixtures::*;
use crate::intentions::{DefaultPolicy, Intention};
use crate::xds::generate::{generate, intention_rbac};
use crate::xds::model::{
    ForwardClientCert, HttpFilter, NetworkFilter, Permission, Principal, Rbac, RbacAction,
    RbacPolicy, StringMatcher,
};
use crate::xds::snapshot::Protocol;

fn intentions(sources: Value) -> Vec<Intention> {
    Intention::all(&entries(
        json!([{"Kind": "service-intentions", "Name": "db", "Sources": sources}]),
    ))
}

fn id(service_regex: &str) -> Principal {
    Principal::Authenticated(StringMatcher::SafeRegex(format!(
        "^spiffe://[^/]+/ns/default/dc/[^/]+/svc/{service_regex}$"
    )))
}

fn not(p: Principal) -> Principal {
    Principal::NotId(Box::new(p))
}

fn layer4(action: RbacAction, principals: Vec<Principal>) -> Rbac {
    Rbac {
        action,
        policies: [(
            "consul-intentions-layer4".to_owned(),
            RbacPolicy { permissions: vec![Permission::Any], principals },
        )]
        .into(),
    }
}

#[test]
fn default_allow_with_one_deny_lists_the_denied_source() {
    let ixns = intentions(json!([{"Name": "web", "Action": "deny"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Allow),
        layer4(RbacAction::Deny, vec![id("web")])
    );
}

#[test]
fn default_deny_with_wildcard_allow_carves_out_the_exact_deny() {
    let ixns =
        intentions(json!([{"Name": "*", "Action": "allow"}, {"Name": "web", "Action": "deny"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![Principal::AndIds(vec![id("[^/]+"), not(id("web"))])])
    );
}

#[test]
fn default_allow_with_wildcard_deny_carves_out_the_exact_allow() {
    let ixns =
        intentions(json!([{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Allow),
        layer4(RbacAction::Deny, vec![Principal::AndIds(vec![id("[^/]+"), not(id("web"))])])
    );
}

#[test]
fn intentions_equal_to_the_default_are_dropped() {
    // default deny: `* deny` says what the default says; only `web allow` remains.
    let ixns =
        intentions(json!([{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![id("web")])
    );
    // Only intentions equal to the default: no policies at all.
    let ixns = intentions(json!([{"Name": "web", "Action": "allow"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Allow),
        Rbac { action: RbacAction::Deny, policies: Default::default() }
    );
}

#[test]
fn several_exact_sources_share_the_layer4_policy_in_precedence_order() {
    let ixns =
        intentions(json!([{"Name": "web", "Action": "allow"}, {"Name": "api", "Action": "allow"},
        {"Name": "*", "Action": "deny"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![id("api"), id("web")])
    );
}

#[test]
fn l7_intentions_are_denied_at_the_connection() {
    let l7 = json!([{"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]},
        {"Name": "*", "Action": "allow"}]);
    assert_eq!(
        intention_rbac(&intentions(l7), "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![Principal::AndIds(vec![id("[^/]+"), not(id("web"))])])
    );
}

#[test]
fn intentions_for_other_destinations_are_ignored() {
    let mut ixns = intentions(json!([{"Name": "web", "Action": "allow"}]));
    ixns.extend(Intention::all(&entries(json!([{"Kind": "service-intentions", "Name": "other",
        "Sources": [{"Name": "api", "Action": "allow"}]}]))));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![id("web")])
    );
}

#[test]
fn service_names_are_regex_escaped() {
    let ixns = intentions(json!([{"Name": "web.v1", "Action": "allow"}]));
    assert_eq!(
        intention_rbac(&ixns, "db", DefaultPolicy::Deny),
        layer4(RbacAction::Allow, vec![id(r"web\.v1")])
    );
}

#[test]
fn tcp_public_listener_carries_network_rbac_and_http_one_carries_http_rbac() {
    let ixns = intentions(json!([{"Name": "web", "Action": "allow"}]));
    let want = layer4(RbacAction::Allow, vec![id("web")]);

    let mut snap = sidecar("db", Protocol::Tcp);
    snap.intentions = ixns.clone();
    let set = generate(&snap);
    let chain = &listener(&set, "public_listener:0.0.0.0:9999").filter_chains[0];
    let NetworkFilter::Rbac(rbac) = &chain.filters[0] else { panic!() };
    assert_eq!(rbac.rules, want);

    snap.protocol = Protocol::Http;
    snap.intentions = ixns;
    let set = generate(&snap);
    let chain = &listener(&set, "public_listener:0.0.0.0:9999").filter_chains[0];
    assert_eq!(filter_names(&chain.filters), ["envoy.filters.network.http_connection_manager"]);
    let NetworkFilter::HttpConnectionManager(hcm) = &chain.filters[0] else { panic!() };
    assert_eq!(hcm.stat_prefix, "public_listener");
    assert_eq!(hcm.http_filters, [HttpFilter::Rbac(want), HttpFilter::Router]);
    assert_eq!(hcm.forward_client_cert, ForwardClientCert::AppendForward);
    let crate::xds::model::RouteSpecifier::RouteConfig(rc) = &hcm.route_specifier else { panic!() };
    assert_eq!(
        (rc.name.as_str(), rc.virtual_hosts[0].name.as_str()),
        ("public_listener", "public_listener")
    );
    assert_eq!(
        rc.virtual_hosts[0].routes[0].action,
        crate::xds::model::RouteAction::to_cluster("local_app")
    );
    assert!(chain.transport_socket.as_ref().unwrap().require_client_certificate);
}
