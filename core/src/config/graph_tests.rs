//! Write-time checks: a change is refused when it would break any chain.

use serde_json::{Value, json};

use super::*;
use crate::ids::Datacenter;

fn entry(v: Value) -> ConfigEntry {
    ConfigEntry::from_value(v).unwrap()
}

fn set(list: Value) -> ConfigEntries {
    list.as_array().unwrap().iter().cloned().map(entry).collect()
}

fn dc1() -> Datacenter {
    Datacenter::new("dc1").unwrap()
}

#[test]
fn a_splitter_on_a_tcp_service_is_refused_even_as_a_noop() {
    let existing = set(json!([{"Kind": "service-defaults", "Name": "db", "Protocol": "tcp"}]));
    let splitter =
        entry(json!({"Kind": "service-splitter", "Name": "db", "Splits": [{"Weight": 100}]}));
    assert_eq!(
        validate_write(&existing, &splitter, &dc1()).unwrap_err().to_string(),
        "discovery chain \"db\" uses a protocol \"tcp\" that does not permit advanced routing or splitting behavior"
    );
}

#[test]
fn a_router_on_a_service_without_protocol_is_refused() {
    let router = entry(json!({"Kind": "service-router", "Name": "web"}));
    let err = validate_write(&ConfigEntries::new(), &router, &dc1()).unwrap_err();
    assert!(err.to_string().contains("uses a protocol \"tcp\""), "{err}");
}

#[test]
fn turning_a_routed_service_back_to_tcp_is_refused() {
    let existing = set(json!([
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {"Kind": "service-router", "Name": "web"}
    ]));
    let tcp = entry(json!({"Kind": "service-defaults", "Name": "web", "Protocol": "tcp"}));
    assert!(validate_write(&existing, &tcp, &dc1()).is_err());
    let err = validate_delete(&existing, Kind::ServiceDefaults, "web", &dc1()).unwrap_err();
    assert!(err.to_string().contains("does not permit advanced routing"), "{err}");
    // Deleting the router first is fine, and then the protocol may change.
    validate_delete(&existing, Kind::ServiceRouter, "web", &dc1()).unwrap();
}

#[test]
fn the_write_that_closes_a_redirect_loop_is_refused() {
    let existing =
        set(json!([{"Kind": "service-resolver", "Name": "a", "Redirect": {"Service": "b"}}]));
    let closing =
        entry(json!({"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "a"}}));
    let err = validate_write(&existing, &closing, &dc1()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "detected circular resolver redirect: [a.default.default.dc1 -> b.default.default.dc1 -> a.default.default.dc1]"
    );
}

#[test]
fn the_write_that_closes_a_splitter_loop_is_refused() {
    let existing = set(json!([
        {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}},
        {"Kind": "service-splitter", "Name": "a", "Splits": [{"Weight": 50, "Service": "b"}, {"Weight": 50, "ServiceSubset": "x"}]},
        {"Kind": "service-resolver", "Name": "a", "Subsets": {"x": {}}}
    ]));
    let closing = entry(
        json!({"Kind": "service-splitter", "Name": "b", "Splits": [{"Weight": 100, "Service": "a"}]}),
    );
    let err = validate_write(&existing, &closing, &dc1()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "detected circular reference: [splitter:a.default.default -> splitter:b.default.default -> splitter:a.default.default]"
    );
}

#[test]
fn inconsistent_protocols_along_a_chain_are_refused() {
    let existing = set(json!([
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {"Kind": "service-defaults", "Name": "api", "Protocol": "grpc"}
    ]));
    let router = entry(json!({"Kind": "service-router", "Name": "web",
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/api"}}, "Destination": {"Service": "api"}}]}));
    assert_eq!(
        validate_write(&existing, &router, &dc1()).unwrap_err().to_string(),
        "discovery chain \"web\" uses inconsistent protocols; service \"api\" has \"grpc\" which is not \"http\""
    );
}

#[test]
fn a_missing_subset_referenced_by_a_route_is_refused() {
    let existing =
        set(json!([{"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}}]));
    let router = entry(json!({"Kind": "service-router", "Name": "web",
        "Routes": [{"Destination": {"Service": "api", "ServiceSubset": "canary"}}]}));
    assert_eq!(
        validate_write(&existing, &router, &dc1()).unwrap_err().to_string(),
        "service \"api\" does not have a subset named \"canary\""
    );
}

#[test]
fn l7_intentions_need_an_http_destination() {
    let l7 = entry(json!({"Kind": "service-intentions", "Name": "db", "Sources": [
        {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}]}));
    assert_eq!(
        validate_write(&ConfigEntries::new(), &l7, &dc1()).unwrap_err().to_string(),
        "service \"db\" has protocol \"tcp\", which is incompatible with L7 intentions permissions"
    );
    let http = set(json!([{"Kind": "service-defaults", "Name": "db", "Protocol": "http"}]));
    validate_write(&http, &l7, &dc1()).unwrap();
    let mut with_l7 = http.clone();
    with_l7.insert(l7);
    let tcp = entry(json!({"Kind": "service-defaults", "Name": "db", "Protocol": "tcp"}));
    assert!(validate_write(&with_l7, &tcp, &dc1()).is_err());
}

#[test]
fn circular_failover_is_accepted() {
    let existing = set(
        json!([{"Kind": "service-resolver", "Name": "a", "Failover": {"*": {"Service": "b"}}}]),
    );
    let back = entry(
        json!({"Kind": "service-resolver", "Name": "b", "Failover": {"*": {"Service": "a"}}}),
    );
    validate_write(&existing, &back, &dc1()).unwrap();
}

#[test]
fn a_refused_write_leaves_the_existing_set_untouched() {
    let existing =
        set(json!([{"Kind": "service-resolver", "Name": "a", "Redirect": {"Service": "b"}}]));
    let before = existing.clone();
    let closing =
        entry(json!({"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "a"}}));
    assert!(validate_write(&existing, &closing, &dc1()).is_err());
    assert_eq!(existing, before);
}
