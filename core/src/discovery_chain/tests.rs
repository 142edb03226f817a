//! The compile cases of Consul's `compile_test.go` (CONSUL-FACTS.md §4.1), one test each,
//! and the seed scenarios as golden files in `testdata/`.

use serde_json::{Value, json};

use super::*;
use crate::config::{ConfigEntries, ConfigEntry, MeshGatewayMode};
use crate::ids::{Datacenter, Namespace, ServiceName, TrustDomain};

const TD: &str = "trustdomain.consul";

fn entries(list: Value) -> ConfigEntries {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| ConfigEntry::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}")))
        .collect()
}

fn compile_main(list: Value) -> Result<CompiledChain, ChainError> {
    compile_svc(list, "main", "dc1")
}

fn compile_svc(list: Value, svc: &str, dc: &str) -> Result<CompiledChain, ChainError> {
    compile(
        &entries(list),
        &ServiceName::new(svc).unwrap(),
        &Namespace::default(),
        &Datacenter::new(dc).unwrap(),
        &TrustDomain::new(TD).unwrap(),
    )
}

fn with_overrides(list: Value, overrides: Overrides) -> CompiledChain {
    let e = entries(list);
    compile_with(&CompileRequest {
        entries: &e,
        service: &ServiceName::new("main").unwrap(),
        namespace: &Namespace::default(),
        partition: &Default::default(),
        datacenter: &Datacenter::new("dc1").unwrap(),
        trust_domain: &TrustDomain::new(TD).unwrap(),
        overrides,
    })
    .unwrap()
}

fn resolver<'a>(c: &'a CompiledChain, key: &str) -> &'a ChainResolver {
    c.nodes
        .get(key)
        .and_then(|n| n.resolver.as_ref())
        .unwrap_or_else(|| panic!("no resolver node {key}"))
}

fn failover_of(c: &CompiledChain, key: &str) -> Vec<String> {
    resolver(c, key).failover.as_ref().map(|f| f.targets.clone()).unwrap_or_default()
}

fn target_ids(c: &CompiledChain) -> Vec<&str> {
    c.targets.keys().map(String::as_str).collect()
}

fn sd(name: &str, protocol: &str) -> Value {
    json!({"Kind": "service-defaults", "Name": name, "Protocol": protocol})
}

const MAIN: &str = "resolver:main.default.default.dc1";

#[test]
fn case01_resolver_with_no_entries_and_inferring_defaults() {
    let c = compile_main(json!([])).unwrap();
    assert_eq!(c.protocol, "tcp");
    assert!(c.default);
    assert_eq!(c.start_node, MAIN);
    assert!(resolver(&c, MAIN).default);
    assert_eq!(target_ids(&c), ["main.default.default.dc1"]);
    let t = &c.targets["main.default.default.dc1"];
    assert_eq!(t.sni, "main.default.dc1.internal.trustdomain.consul");
    assert_eq!(t.name, t.sni);
    assert_eq!(t.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
}

#[test]
fn case02_default_resolver_with_proxy_defaults() {
    let c = compile_main(json!([{"Kind": "proxy-defaults", "Name": "global",
        "Config": {"protocol": "grpc"}, "MeshGateway": {"Mode": "remote"}}]))
    .unwrap();
    assert_eq!(c.protocol, "grpc");
    assert!(c.default);
    assert_eq!(c.targets["main.default.default.dc1"].mesh_gateway.mode, MeshGatewayMode::Remote);
}

#[test]
fn case03_router_with_defaults() {
    let c = compile_main(json!([sd("main", "http"), {"Kind": "service-router", "Name": "main"}]))
        .unwrap();
    assert_eq!(c.start_node, "router:main.default.default");
    assert!(!c.default);
    let routes = &c.nodes["router:main.default.default"].routes;
    assert_eq!(routes.len(), 1);
    let http = routes[0].definition.r#match.as_ref().unwrap().http.as_ref().unwrap();
    assert_eq!(http.path_prefix, "/");
    assert_eq!(routes[0].definition.destination.as_ref().unwrap().service, "main");
    assert_eq!(routes[0].next_node, MAIN);
    assert!(resolver(&c, MAIN).default);
}

#[test]
fn case04_router_with_no_destination() {
    let c = compile_main(json!([sd("main", "http"),
        {"Kind": "service-router", "Name": "main", "Routes": [{"Match": {"HTTP": {"PathPrefix": "/"}}}]}]))
    .unwrap();
    let routes = &c.nodes["router:main.default.default"].routes;
    assert_eq!(routes.len(), 2);
    assert!(routes.iter().all(|r| r.next_node == MAIN));
}

#[test]
fn case05_route_bypasses_splitter() {
    let c = compile_main(json!([sd("main", "http"), sd("other", "http"),
        {"Kind": "service-router", "Name": "main", "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/other"}}, "Destination": {"Service": "other", "ServiceSubset": "bypass"}}]},
        {"Kind": "service-splitter", "Name": "other", "Splits": [{"Weight": 100, "Service": "ignored"}]},
        {"Kind": "service-resolver", "Name": "other", "Subsets": {"bypass": {"Filter": "Service.Meta.version == bypass"}}}]))
    .unwrap();
    let routes = &c.nodes["router:main.default.default"].routes;
    assert_eq!(routes[0].next_node, "resolver:bypass.other.default.default.dc1");
    assert!(!resolver(&c, "resolver:bypass.other.default.default.dc1").default);
    assert_eq!(routes[1].next_node, MAIN);
    assert!(resolver(&c, MAIN).default);
    assert!(!c.nodes.contains_key("splitter:other.default.default"));
    assert_eq!(target_ids(&c), ["bypass.other.default.default.dc1", "main.default.default.dc1"]);
    assert_eq!(
        c.targets["bypass.other.default.default.dc1"].subset.filter,
        "Service.Meta.version == bypass"
    );
}

#[test]
fn case06_noop_split() {
    let c = compile_main(json!([sd("main", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 100}]}]))
    .unwrap();
    assert_eq!(c.start_node, "splitter:main.default.default");
    let splits = &c.nodes["splitter:main.default.default"].splits;
    assert_eq!(splits.len(), 1);
    assert_eq!((splits[0].weight, splits[0].next_node.as_str()), (100.0, MAIN));
    assert!(resolver(&c, MAIN).default);
}

#[test]
fn case07_subset_split() {
    let c = compile_main(json!([sd("main", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 60, "ServiceSubset": "v2"}, {"Weight": 40, "ServiceSubset": "v1"}]},
        {"Kind": "service-resolver", "Name": "main", "Subsets": {
            "v1": {"Filter": "Service.Meta.version == 1"}, "v2": {"Filter": "Service.Meta.version == 2"}}}]))
    .unwrap();
    let splits = &c.nodes["splitter:main.default.default"].splits;
    let got: Vec<_> = splits.iter().map(|s| (s.weight, s.next_node.as_str())).collect();
    assert_eq!(
        got,
        [
            (60.0, "resolver:v2.main.default.default.dc1"),
            (40.0, "resolver:v1.main.default.default.dc1")
        ]
    );
    assert!(!resolver(&c, "resolver:v2.main.default.default.dc1").default);
}

#[test]
fn case08_service_split() {
    let c = compile_main(json!([sd("main", "http"), sd("foo", "http"), sd("bar", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 60, "Service": "foo"}, {"Weight": 40, "Service": "bar"}]}]))
    .unwrap();
    let splits = &c.nodes["splitter:main.default.default"].splits;
    assert_eq!(splits[0].next_node, "resolver:foo.default.default.dc1");
    assert_eq!(splits[1].next_node, "resolver:bar.default.default.dc1");
    assert!(resolver(&c, "resolver:foo.default.default.dc1").default);
}

#[test]
fn case09_split_bypasses_next_splitter() {
    let c = compile_main(json!([sd("main", "http"), sd("next", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 100, "Service": "next", "ServiceSubset": "bypassed"}]},
        {"Kind": "service-splitter", "Name": "next", "Splits": [{"Weight": 100, "ServiceSubset": "not-bypassed"}]},
        {"Kind": "service-resolver", "Name": "next", "Subsets": {"bypassed": {}, "not-bypassed": {}}}]))
    .unwrap();
    let splits = &c.nodes["splitter:main.default.default"].splits;
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].next_node, "resolver:bypassed.next.default.default.dc1");
    assert!(!c.nodes.contains_key("splitter:next.default.default"));
}

#[test]
fn case10_service_redirect() {
    let c = compile_main(
        json!([{"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}]),
    )
    .unwrap();
    assert_eq!(c.protocol, "tcp");
    assert_eq!(c.start_node, "resolver:other.default.default.dc1");
    assert!(resolver(&c, "resolver:other.default.default.dc1").default);
    assert!(!c.default, "a redirect to another service's default resolver is not a default chain");
    assert_eq!(target_ids(&c), ["other.default.default.dc1"]);
}

#[test]
fn case11_service_and_subset_redirect() {
    let c = compile_main(json!([
        {"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other", "ServiceSubset": "v2"}},
        {"Kind": "service-resolver", "Name": "other", "Subsets": {
            "v1": {"Filter": "Service.Meta.version == 1"}, "v2": {"Filter": "Service.Meta.version == 2"}}}]))
    .unwrap();
    assert_eq!(c.start_node, "resolver:v2.other.default.default.dc1");
    assert_eq!(
        c.targets["v2.other.default.default.dc1"].subset.filter,
        "Service.Meta.version == 2"
    );
}

#[test]
fn case12_datacenter_redirect() {
    let c = compile_main(
        json!([{"Kind": "service-resolver", "Name": "main", "Redirect": {"Datacenter": "dc9"}}]),
    )
    .unwrap();
    assert_eq!(c.start_node, "resolver:main.default.default.dc9");
    assert!(!resolver(&c, "resolver:main.default.default.dc9").default);
    assert_eq!(
        c.targets["main.default.default.dc9"].sni,
        "main.default.dc9.internal.trustdomain.consul"
    );
}

#[test]
fn case13_datacenter_redirect_with_mesh_gateways() {
    let c = compile_main(json!([
        {"Kind": "proxy-defaults", "Name": "global", "MeshGateway": {"Mode": "remote"}},
        {"Kind": "service-resolver", "Name": "main", "Redirect": {"Datacenter": "dc9"}}]))
    .unwrap();
    assert_eq!(c.targets["main.default.default.dc9"].mesh_gateway.mode, MeshGatewayMode::Remote);
}

#[test]
fn case14_service_failover() {
    let c = compile_main(json!([{"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "backup"}}}])).unwrap();
    assert_eq!(failover_of(&c, MAIN), ["backup.default.default.dc1"]);
    assert_eq!(target_ids(&c), ["backup.default.default.dc1", "main.default.default.dc1"]);
}

#[test]
fn case15_service_failover_through_redirect() {
    let c = compile_main(json!([
        {"Kind": "service-resolver", "Name": "backup", "Redirect": {"Service": "actual"}},
        {"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "backup"}}}]))
    .unwrap();
    assert_eq!(failover_of(&c, MAIN), ["actual.default.default.dc1"]);
    assert!(!c.targets.contains_key("backup.default.default.dc1"));
}

#[test]
fn case16_circular_resolver_failover_is_allowed() {
    let c = compile_main(json!([
        {"Kind": "service-resolver", "Name": "backup", "Failover": {"*": {"Service": "main"}}},
        {"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "backup"}}}]))
    .unwrap();
    assert_eq!(failover_of(&c, MAIN), ["backup.default.default.dc1"]);
}

#[test]
fn case17_service_and_subset_failover() {
    let c = compile_main(json!([{"Kind": "service-resolver", "Name": "main",
        "Subsets": {"backup": {"Filter": "Service.Meta.version == backup"}},
        "Failover": {"*": {"ServiceSubset": "backup"}}}]))
    .unwrap();
    assert_eq!(failover_of(&c, MAIN), ["backup.main.default.default.dc1"]);
}

#[test]
fn case18_datacenter_failover_keeps_config_order() {
    let c = compile_main(json!([{"Kind": "service-resolver", "Name": "main",
        "Failover": {"*": {"Datacenters": ["dc2", "dc4"]}}}]))
    .unwrap();
    assert_eq!(c.start_node, MAIN);
    assert_eq!(failover_of(&c, MAIN), ["main.default.default.dc2", "main.default.default.dc4"]);
    assert_eq!(c.targets.len(), 3);
    assert_eq!(resolver(&c, MAIN).connect_timeout, DEFAULT_CONNECT_TIMEOUT);
}

#[test]
fn case19_datacenter_failover_with_mesh_gateways() {
    let c = compile_main(json!([
        {"Kind": "proxy-defaults", "Name": "global", "MeshGateway": {"Mode": "remote"}},
        {"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Datacenters": ["dc2", "dc4"]}}}]))
    .unwrap();
    assert_eq!(failover_of(&c, MAIN), ["main.default.default.dc2", "main.default.default.dc4"]);
    assert!(c.targets.values().all(|t| t.mesh_gateway.mode == MeshGatewayMode::Remote));
}

#[test]
fn case20_target_failover_including_peers() {
    let c = compile_main(json!([
        {"Kind": "proxy-defaults", "Name": "global", "MeshGateway": {"Mode": "remote"}},
        {"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Targets": [
            {"Datacenter": "dc3"}, {"Service": "new-main"}, {"Peer": "cluster-01"}, {"Peer": "cluster-02"}]}}}]))
    .unwrap();
    assert_eq!(
        failover_of(&c, MAIN),
        [
            "main.default.default.dc3",
            "new-main.default.default.dc1",
            "main.default.default.external.cluster-01",
            "main.default.default.external.cluster-02"
        ]
    );
    let peer = &c.targets["main.default.default.external.cluster-01"];
    assert_eq!((peer.sni.as_str(), peer.name.as_str(), peer.datacenter.as_str()), ("", "", ""));
    assert_eq!(peer.peer, "cluster-01");
}

#[test]
fn case21_resolver_with_default_subset() {
    let c = compile_main(json!([{"Kind": "service-resolver", "Name": "main", "DefaultSubset": "v2",
        "Subsets": {"v1": {"Filter": "Service.Meta.version == 1"}, "v2": {"Filter": "Service.Meta.version == 2"}}}]))
    .unwrap();
    assert_eq!(c.start_node, "resolver:v2.main.default.default.dc1");
}

#[test]
fn case22_default_resolver_with_external_sni() {
    let c = compile_main(json!([{"Kind": "service-defaults", "Name": "main", "ExternalSNI": "main.some.other.service.mesh"}])).unwrap();
    assert!(c.default);
    let t = &c.targets["main.default.default.dc1"];
    assert_eq!(t.sni, "main.some.other.service.mesh");
    assert!(t.external);
    assert_eq!(t.name, "main.default.dc1.internal.trustdomain.consul");
}

#[test]
fn case23_multi_dc_canary() {
    let c = compile_main(json!([sd("main", "http"), sd("main-dc2", "http"), sd("main-dc3", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 60, "Service": "main-dc2"}, {"Weight": 40, "Service": "main-dc3"}]},
        {"Kind": "service-resolver", "Name": "main-dc2", "Redirect": {"Service": "main", "Datacenter": "dc2"}},
        {"Kind": "service-resolver", "Name": "main-dc3", "Redirect": {"Service": "main", "Datacenter": "dc3"}},
        {"Kind": "service-resolver", "Name": "main", "ConnectTimeout": "33s"}]))
    .unwrap();
    let splits = &c.nodes["splitter:main.default.default"].splits;
    assert_eq!(splits[0].next_node, "resolver:main.default.default.dc2");
    assert_eq!(splits[1].next_node, "resolver:main.default.default.dc3");
    for key in ["resolver:main.default.default.dc2", "resolver:main.default.default.dc3"] {
        assert_eq!(resolver(&c, key).connect_timeout, crate::config::GoDuration::from_secs(33));
    }
    assert_eq!(
        c.targets["main.default.default.dc2"].connect_timeout,
        crate::config::GoDuration::from_secs(33)
    );
}

#[test]
fn case24_all_the_bells_and_whistles() {
    let c = compile_main(json!([
        {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}},
        {"Kind": "service-router", "Name": "main", "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/svc-redirect"}}, "Destination": {"Service": "svc-redirect"}},
            {"Match": {"HTTP": {"PathPrefix": "/svc-split"}}, "Destination": {"Service": "svc-split"}}]},
        {"Kind": "service-resolver", "Name": "svc-redirect", "Redirect": {"Service": "svc-redirect-again"}},
        {"Kind": "service-resolver", "Name": "svc-redirect-again", "Redirect": {"Service": "redirected"}},
        {"Kind": "service-resolver", "Name": "redirected", "DefaultSubset": "prod",
         "Subsets": {"prod": {"Filter": "Service.Meta.env == prod"}, "qa": {"Filter": "Service.Meta.env == qa"}},
         "LoadBalancer": {"Policy": "ring_hash", "HashPolicies": [{"Field": "header", "FieldValue": "x-user-id"}]}},
        {"Kind": "service-splitter", "Name": "svc-split", "Splits": [
            {"Weight": 60, "Service": "svc-redirect"}, {"Weight": 40, "Service": "svc-split-again"}]},
        {"Kind": "service-splitter", "Name": "svc-split-again", "Splits": [
            {"Weight": 75, "Service": "main", "ServiceSubset": "v1"}, {"Weight": 25, "Service": "svc-split-one-more-time"}]},
        {"Kind": "service-splitter", "Name": "svc-split-one-more-time", "Splits": [
            {"Weight": 80, "Service": "main", "ServiceSubset": "v2"}, {"Weight": 20, "Service": "main", "ServiceSubset": "v3"}]},
        {"Kind": "service-resolver", "Name": "main", "DefaultSubset": "default-subset",
         "Subsets": {"v1": {"Filter": "Service.Meta.version == 1"}, "v2": {"Filter": "Service.Meta.version == 2"},
                     "v3": {"Filter": "Service.Meta.version == 3"}, "default-subset": {"OnlyPassing": true}}}]))
    .unwrap();
    let routes = &c.nodes["router:main.default.default"].routes;
    let next: Vec<_> = routes.iter().map(|r| r.next_node.as_str()).collect();
    assert_eq!(
        next,
        [
            "resolver:prod.redirected.default.default.dc1",
            "splitter:svc-split.default.default",
            "resolver:default-subset.main.default.default.dc1"
        ]
    );
    let split = &c.nodes["splitter:svc-split.default.default"];
    let legs: Vec<_> = split.splits.iter().map(|s| (s.weight, s.next_node.as_str())).collect();
    assert_eq!(
        legs,
        [
            (60.0, "resolver:prod.redirected.default.default.dc1"),
            (30.0, "resolver:v1.main.default.default.dc1"),
            (8.0, "resolver:v2.main.default.default.dc1"),
            (2.0, "resolver:v3.main.default.default.dc1"),
        ]
    );
    assert_eq!(split.load_balancer.as_ref().unwrap().policy, "ring_hash");
    assert!(!c.nodes.contains_key("splitter:svc-split-again.default.default"));
    assert!(!c.nodes.contains_key("splitter:svc-split-one-more-time.default.default"));
}

fn err(list: Value) -> String {
    compile_main(list).unwrap_err().to_string()
}

#[test]
fn case25_errors_use_consul_messages() {
    assert_eq!(
        err(
            json!([sd("main", "tcp"), {"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 100}]}])
        ),
        "discovery chain \"main\" uses a protocol \"tcp\" that does not permit advanced routing or splitting behavior"
    );
    assert_eq!(
        err(json!([sd("main", "tcp"), {"Kind": "service-router", "Name": "main"}])),
        "discovery chain \"main\" uses a protocol \"tcp\" that does not permit advanced routing or splitting behavior"
    );
    assert_eq!(
        err(json!([sd("main", "grpc"), sd("other", "tcp"),
            {"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "other"}}}])),
        "discovery chain \"main\" uses inconsistent protocols; service \"other\" has \"tcp\" which is not \"grpc\""
    );
    assert_eq!(
        err(json!([sd("main", "grpc"), sd("other", "tcp"),
            {"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}])),
        "discovery chain \"main\" uses inconsistent protocols; service \"other\" has \"tcp\" which is not \"grpc\""
    );
    assert_eq!(
        err(
            json!([{"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other", "ServiceSubset": "v1"}}])
        ),
        "service \"other\" does not have a subset named \"v1\""
    );
    assert_eq!(
        err(json!([
            {"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}},
            {"Kind": "service-resolver", "Name": "other", "Redirect": {"Service": "main"}}])),
        "detected circular resolver redirect: [main.default.default.dc1 -> other.default.default.dc1 -> main.default.default.dc1]"
    );
    assert_eq!(
        err(json!([sd("main", "http"), sd("other", "http"),
            {"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 100, "Service": "other"}]},
            {"Kind": "service-splitter", "Name": "other", "Splits": [{"Weight": 100, "Service": "main"}]}])),
        "detected circular reference: [splitter:main.default.default -> splitter:other.default.default -> splitter:main.default.default]"
    );
    for (extra, what) in [
        (json!({"Failover": {"*": {"Datacenters": ["dc2"]}}}), "failover"),
        (json!({"Subsets": {"v1": {}}}), "subsets"),
        (json!({"Redirect": {"Datacenter": "dc2"}}), "redirects"),
    ] {
        let mut r = json!({"Kind": "service-resolver", "Name": "main"});
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        assert_eq!(
            err(
                json!([{"Kind": "service-defaults", "Name": "main", "ExternalSNI": "main.example.com"}, r])
            ),
            format!(
                "service \"main\" has an external SNI set; cannot define {what} for external services"
            )
        );
    }
}

#[test]
fn case26_protocol_override() {
    let c = with_overrides(
        json!([sd("main", "grpc")]),
        Overrides { protocol: Some("http2".into()), ..Default::default() },
    );
    assert_eq!(c.protocol, "http2");
    assert!(c.default);
    assert_eq!(c.customization_hash.len(), 8);
    let same = with_overrides(
        json!([sd("main", "grpc")]),
        Overrides { protocol: Some("grpc".into()), ..Default::default() },
    );
    assert_eq!(same.customization_hash, "");
    let tcp = with_overrides(
        json!([sd("main", "http"), {"Kind": "service-router", "Name": "main"}]),
        Overrides { protocol: Some("tcp".into()), ..Default::default() },
    );
    assert_eq!(tcp.start_node, MAIN);
    assert!(tcp.default);
    assert!(!tcp.customization_hash.is_empty());
}

#[test]
fn overrides_of_connect_timeout_and_mesh_gateway_customize_the_chain() {
    let c = with_overrides(
        json!([]),
        Overrides {
            connect_timeout: Some(crate::config::GoDuration::from_secs(9)),
            ..Default::default()
        },
    );
    assert_eq!(resolver(&c, MAIN).connect_timeout, crate::config::GoDuration::from_secs(9));
    assert!(!c.customization_hash.is_empty());
    let m = with_overrides(
        json!([]),
        Overrides { mesh_gateway: MeshGatewayMode::Local, ..Default::default() },
    );
    assert_eq!(m.targets["main.default.default.dc1"].mesh_gateway.mode, MeshGatewayMode::Local);
    assert_ne!(m.customization_hash, c.customization_hash);
}

#[test]
fn virtual_service_compiles_to_its_redirect_target() {
    let c = compile_main(
        json!([{"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}]),
    )
    .unwrap();
    assert_eq!(c.start_node, "resolver:other.default.default.dc1");
    assert!(!c.default);
}

#[test]
fn chain_json_has_consul_discovery_chain_shape() {
    let c = compile_main(json!([{"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Datacenters": ["dc2"]}}}])).unwrap();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["StartNode"], MAIN);
    assert_eq!(v["Nodes"][MAIN]["Type"], "resolver");
    assert_eq!(v["Nodes"][MAIN]["Resolver"]["ConnectTimeout"], "5s");
    assert_eq!(
        v["Nodes"][MAIN]["Resolver"]["Failover"]["Targets"],
        json!(["main.default.default.dc2"])
    );
    assert_eq!(
        v["Targets"]["main.default.default.dc2"]["SNI"],
        "main.default.dc2.internal.trustdomain.consul"
    );
    assert_eq!(v["Targets"]["main.default.default.dc2"]["MeshGateway"], json!({}));
    assert_eq!(v["Targets"]["main.default.default.dc2"]["ID"], "main.default.default.dc2");
}

/// Reads every `*.hcl` entry of a seed scenario directory, in file-name order.
fn seed_entries(scenario: &str) -> ConfigEntries {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery_chain/testdata")
        .join(scenario);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            ConfigEntry::from_hcl(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Compares the chain with `testdata/<scenario>.golden.json`; `UPDATE_GOLDEN=1` rewrites it.
fn check_golden(scenario: &str, service: &str) {
    let entries = seed_entries(scenario);
    let chain = compile(
        &entries,
        &ServiceName::new(service).unwrap(),
        &Namespace::default(),
        &Datacenter::new("dc1").unwrap(),
        &TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").unwrap(),
    )
    .unwrap();
    let got = serde_json::to_string_pretty(&json!({ "Chain": chain })).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery_chain/testdata")
        .join(format!("{scenario}.golden.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(got, want, "golden {scenario} differs (UPDATE_GOLDEN=1 rewrites it)");
}

#[test]
fn golden_counting_routes_admin_to_an_80_20_subset_split_with_dc_failover() {
    check_golden("counting", "counting");
}

#[test]
fn golden_virtual_admin_splits_across_datacenters_through_redirects() {
    check_golden("virtual-admin", "virtual-admin");
}

#[test]
fn golden_web_dc2_redirects_to_web_in_dc2() {
    check_golden("web-dc2", "web-dc2");
}

#[test]
fn seed_counting_chain_has_the_expected_structure() {
    let entries = seed_entries("counting");
    let c = compile(
        &entries,
        &ServiceName::new("counting").unwrap(),
        &Namespace::default(),
        &Datacenter::new("dc1").unwrap(),
        &TrustDomain::new(TD).unwrap(),
    )
    .unwrap();
    let routes = &c.nodes["router:counting.default.default"].routes;
    assert_eq!(routes[0].next_node, "splitter:counting-admin.default.default");
    assert_eq!(routes[0].definition.destination.as_ref().unwrap().prefix_rewrite, "/");
    assert_eq!(routes[1].next_node, "resolver:counting.default.default.dc1");
    let legs: Vec<_> = c.nodes["splitter:counting-admin.default.default"]
        .splits
        .iter()
        .map(|s| (s.weight, s.next_node.as_str()))
        .collect();
    assert_eq!(
        legs,
        [
            (80.0, "resolver:v1.counting-admin.default.default.dc1"),
            (20.0, "resolver:v2.counting-admin.default.default.dc1")
        ]
    );
    assert_eq!(
        failover_of(&c, "resolver:v1.counting-admin.default.default.dc1"),
        ["v1.counting-admin.default.default.dc-aws", "v1.counting-admin.default.default.dc-gcp"]
    );
}

#[test]
fn failover_per_subset_wins_over_the_wildcard() {
    let c = compile_main(json!([sd("main", "http"),
        {"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 50, "ServiceSubset": "v1"}, {"Weight": 50, "ServiceSubset": "v2"}]},
        {"Kind": "service-resolver", "Name": "main",
         "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}},
         "Failover": {"v1": {"Datacenters": ["dc2"]}, "*": {"Datacenters": ["dc3"]}}}]))
    .unwrap();
    assert_eq!(
        failover_of(&c, "resolver:v1.main.default.default.dc1"),
        ["v1.main.default.default.dc2"]
    );
    assert_eq!(
        failover_of(&c, "resolver:v2.main.default.default.dc1"),
        ["v2.main.default.default.dc3"]
    );
}
