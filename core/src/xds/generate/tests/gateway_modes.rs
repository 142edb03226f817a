//! Targets in another datacenter (CONSUL-FACTS.md §3.2, §10.10): mode `local` dials this
//! datacenter's gateways (LAN), `remote` the target datacenter's gateways (WAN), `none` the
//! instances themselves (WAN); always with the target's SNI. Endpoint health and weights.

use std::collections::BTreeMap;

use serde_json::json;

use super::fixtures::*;
use crate::config::MeshGatewayMode;
use crate::xds::generate::generate;
use crate::xds::model::HealthStatus;
use crate::xds::snapshot::{CheckHealth, Endpoint, GatewayEndpoints, Protocol, ProxySnapshot};

const DB_DC2: &str = "db.default.dc2.internal.11111111-2222-3333-4444-555555555555.consul";

/// web in dc1 with upstream `db?dc=dc2`: db instances in dc2 (LAN 10.0.2.x, WAN 198.19.x),
/// gateways in dc1 (LAN 10.10.1.x:8443) and dc2 (WAN 198.18.1.x:443).
pub(super) fn dc2_upstream(mode: MeshGatewayMode) -> ProxySnapshot {
    let mut snap = sidecar("web", Protocol::Tcp);
    let mut up = upstream("db", chain(&crate::config::ConfigEntries::new(), "db", "dc2"), 9191);
    up.datacenter = Some(dc("dc2"));
    up.mesh_gateway_mode = mode;
    up.endpoints.insert(
        "db.default.default.dc2".into(),
        vec![
            Endpoint::new("10.0.2.1", 21000).with_wan("198.19.0.1", 21000),
            Endpoint::new("10.0.2.2", 21000).with_wan("198.19.0.2", 21000),
        ],
    );
    snap.upstreams.push(up);
    snap.gateways = GatewayEndpoints {
        local: vec![
            Endpoint::new("10.10.1.1", 8443).with_wan("198.18.0.1", 443),
            Endpoint::new("10.10.1.2", 8443).with_wan("198.18.0.2", 443),
        ],
        remote: BTreeMap::from([(
            dc("dc2"),
            vec![
                Endpoint::new("10.0.9.1", 8443).with_wan("198.18.1.1", 443),
                Endpoint::new("10.0.9.2", 8443).with_wan("198.18.1.2", 443),
            ],
        )]),
    };
    snap
}

#[test]
fn mode_local_dials_the_local_gateways_lan_address_with_target_sni() {
    let set = generate(&dc2_upstream(MeshGatewayMode::Local));
    assert_eq!(addrs(cla(&set, DB_DC2)), ["10.10.1.1:8443", "10.10.1.2:8443"]);
    assert_eq!(cluster(&set, DB_DC2).transport_socket.as_ref().unwrap().sni, DB_DC2);
}

#[test]
fn mode_remote_dials_the_remote_gateways_wan_address() {
    let set = generate(&dc2_upstream(MeshGatewayMode::Remote));
    assert_eq!(addrs(cla(&set, DB_DC2)), ["198.18.1.1:443", "198.18.1.2:443"]);
    assert_eq!(cluster(&set, DB_DC2).transport_socket.as_ref().unwrap().sni, DB_DC2);
}

#[test]
fn mode_none_and_unset_dial_the_instances_wan_address() {
    for mode in [MeshGatewayMode::None, MeshGatewayMode::Default] {
        let set = generate(&dc2_upstream(mode));
        assert_eq!(addrs(cla(&set, DB_DC2)), ["198.19.0.1:21000", "198.19.0.2:21000"], "{mode:?}");
    }
}

#[test]
fn proxy_mode_applies_when_the_upstream_sets_none_and_upstream_mode_wins() {
    let mut snap = dc2_upstream(MeshGatewayMode::Default);
    snap.mesh_gateway_mode = MeshGatewayMode::Local;
    assert_eq!(addrs(cla(&generate(&snap), DB_DC2)), ["10.10.1.1:8443", "10.10.1.2:8443"]);
    snap.upstreams[0].mesh_gateway_mode = MeshGatewayMode::Remote;
    assert_eq!(addrs(cla(&generate(&snap), DB_DC2)), ["198.18.1.1:443", "198.18.1.2:443"]);
}

#[test]
fn chain_target_mode_from_config_entries_applies() {
    let e = entries(json!([{"Kind": "service-defaults", "Name": "db",
        "MeshGateway": {"Mode": "remote"}}]));
    let mut snap = dc2_upstream(MeshGatewayMode::Default);
    snap.upstreams[0].chain = chain(&e, "db", "dc2");
    assert_eq!(addrs(cla(&generate(&snap), DB_DC2)), ["198.18.1.1:443", "198.18.1.2:443"]);
}

#[test]
fn same_datacenter_targets_never_use_gateways() {
    let mut snap = dc2_upstream(MeshGatewayMode::Local);
    let up = &mut snap.upstreams[0];
    up.datacenter = None;
    up.chain = chain(&crate::config::ConfigEntries::new(), "db", "dc1");
    up.endpoints = BTreeMap::from([(
        "db.default.default.dc1".to_owned(),
        vec![Endpoint::new("10.0.1.5", 21000).with_wan("198.19.1.5", 21000)],
    )]);
    let set = generate(&snap);
    let name = DB_DC2.replace(".dc2.", ".dc1.");
    assert_eq!(addrs(cla(&set, &name)), ["10.0.1.5:21000"]);
}

#[test]
fn gateway_endpoints_take_the_targets_overall_health() {
    let mut snap = dc2_upstream(MeshGatewayMode::Remote);
    for e in snap.upstreams[0].endpoints.values_mut().flatten() {
        e.health = CheckHealth::Critical;
    }
    let set = generate(&snap);
    let health: Vec<_> =
        cla(&set, DB_DC2).endpoints[0].lb_endpoints.iter().map(|e| e.health_status).collect();
    assert_eq!(health, [HealthStatus::Unhealthy; 2]);
    snap.upstreams[0].endpoints.values_mut().flatten().next().unwrap().health =
        CheckHealth::Warning;
    let set = generate(&snap);
    let health: Vec<_> =
        cla(&set, DB_DC2).endpoints[0].lb_endpoints.iter().map(|e| e.health_status).collect();
    assert_eq!(health, [HealthStatus::Healthy; 2]);
}

#[test]
fn failover_to_dc2_through_remote_and_local_gateways() {
    // Consul's connect-proxy-with-tcp-chain-failover-through-{remote,local}-gateway.
    let e = entries(json!([
        {"Kind": "service-defaults", "Name": "db", "MeshGateway": {"Mode": "remote"}},
        {"Kind": "service-resolver", "Name": "db", "ConnectTimeout": "33s",
         "Failover": {"*": {"Datacenters": ["dc2"]}}}]));
    let mut snap = dc2_upstream(MeshGatewayMode::Default);
    let up = &mut snap.upstreams[0];
    up.datacenter = None;
    up.chain = chain(&e, "db", "dc1");
    up.endpoints.insert("db.default.default.dc1".into(), eps(&["10.10.1.1:8080"]));
    let set = generate(&snap);
    let base = DB_DC2.replace(".dc2.", ".dc1.");
    let t1 = format!("failover-target~1~{base}");
    assert_eq!(addrs(cla(&set, &t1)), ["198.18.1.1:443", "198.18.1.2:443"]);
    let c = cluster(&set, &t1);
    assert_eq!(c.connect_timeout, crate::config::GoDuration::from_secs(33));
    let tls = c.transport_socket.as_ref().unwrap();
    assert_eq!(tls.sni, DB_DC2);
    let san =
        &tls.common_tls_context.validation_context.as_ref().unwrap().match_typed_subject_alt_names
            [0];
    assert_eq!(
        san.matcher,
        crate::xds::model::StringMatcher::Exact(format!("spiffe://{TD}/ns/default/dc/dc2/svc/db"))
    );
    // The primary target is local: its instances, whatever the mode.
    assert_eq!(addrs(cla(&set, &format!("failover-target~0~{base}"))), ["10.10.1.1:8080"]);

    snap.upstreams[0].mesh_gateway_mode = MeshGatewayMode::Local;
    let set = generate(&snap);
    assert_eq!(addrs(cla(&set, &t1)), ["10.10.1.1:8443", "10.10.1.2:8443"]);
}

#[test]
fn endpoint_health_and_weights_follow_consul() {
    let mut snap = dc2_upstream(MeshGatewayMode::None);
    let up = &mut snap.upstreams[0];
    up.datacenter = None;
    up.chain = chain(&crate::config::ConfigEntries::new(), "db", "dc1");
    let ep = |host: &str, health, weight| Endpoint {
        weight,
        ..Endpoint::new(host, 1).with_health(health)
    };
    up.endpoints = BTreeMap::from([(
        "db.default.default.dc1".to_owned(),
        vec![
            ep("10.0.0.1", CheckHealth::Passing, 5),
            ep("10.0.0.2", CheckHealth::Warning, 1),
            ep("10.0.0.3", CheckHealth::Critical, 1),
            ep("10.0.0.4", CheckHealth::Passing, 0),
            ep("10.0.0.5", CheckHealth::Passing, 500),
        ],
    )]);
    let set = generate(&snap);
    let got: Vec<_> = cla(&set, &DB_DC2.replace(".dc2.", ".dc1.")).endpoints[0]
        .lb_endpoints
        .iter()
        .map(|e| (e.health_status, e.load_balancing_weight.unwrap()))
        .collect();
    use HealthStatus::{Healthy, Unhealthy};
    assert_eq!(got, [(Healthy, 5), (Healthy, 1), (Unhealthy, 1), (Unhealthy, 1), (Healthy, 128)]);
}

#[test]
fn only_passing_subsets_treat_warning_as_unhealthy() {
    let e = entries(json!([{"Kind": "service-resolver", "Name": "db", "DefaultSubset": "v1",
        "Subsets": {"v1": {"Filter": "Service.Meta.version == v1", "OnlyPassing": true}}}]));
    let mut snap = sidecar("web", Protocol::Tcp);
    let mut up = upstream("db", chain(&e, "db", "dc1"), 9191);
    up.endpoints.insert(
        "v1.db.default.default.dc1".into(),
        vec![Endpoint::new("10.0.0.1", 1).with_health(CheckHealth::Warning)],
    );
    snap.upstreams.push(up);
    let set = generate(&snap);
    let name = format!("v1.db.default.dc1.internal.{TD}");
    assert_eq!(
        cla(&set, &name).endpoints[0].lb_endpoints[0].health_status,
        HealthStatus::Unhealthy
    );
}
