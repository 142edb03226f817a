//! Upstreams with L7 chains: the seed `counting` chain, failover (CONSUL-FACTS.md §10.7),
//! splitter weights (§3.4, §10.5), router matches, retries and timeouts (§3.3), customized
//! chains and explicit datacenters.

use std::sync::Arc;

use serde_json::json;

use super::fixtures::*;
use crate::config::GoDuration;
use crate::discovery_chain::{CompileRequest, Overrides, compile_with};
use crate::ids::Namespace;
use crate::xds::TypeUrl;
use crate::xds::generate::generate;
use crate::xds::model::{
    ClusterSpecifier, DiscoveryType, HeaderMatch, HeaderMatcher, HeaderValueOption, HttpFilter,
    LbPolicy, NetworkFilter, PathMatch, QueryMatch, QueryParameterMatcher, RetryPolicy,
    RouteAction, RouteSpecifier, StringMatcher, TOTAL_WEIGHT,
};
use crate::xds::snapshot::{Protocol, ProxySnapshot};

fn sni(prefix: &str) -> String {
    format!("{prefix}.internal.{TD}")
}

/// The seed scenario: `dashboard`'s sidecar with upstream `counting` on 127.0.0.1:9001.
pub(super) fn counting_sidecar() -> ProxySnapshot {
    let mut snap = sidecar("dashboard", Protocol::Http);
    let mut up = upstream("counting", chain(&counting_entries(), "counting", "dc1"), 9001);
    for (target, addr) in [
        ("counting.default.default.dc1", "10.0.1.10:21000"),
        ("v1.counting-admin.default.default.dc1", "10.0.1.11:21000"),
        ("v2.counting-admin.default.default.dc1", "10.0.1.12:21000"),
        ("v1.counting-admin.default.default.dc-aws", "10.1.1.11:21000"),
        ("v2.counting-admin.default.default.dc-gcp", "10.2.1.12:21000"),
    ] {
        up.endpoints.insert(target.into(), eps(&[addr]));
    }
    snap.upstreams.push(up);
    snap
}

fn weights(action: &RouteAction) -> Vec<(String, u32)> {
    let ClusterSpecifier::WeightedClusters { clusters, total_weight } = &action.cluster else {
        panic!("not a split: {action:?}")
    };
    assert_eq!(*total_weight, TOTAL_WEIGHT);
    assert_eq!(clusters.iter().map(|c| c.weight).sum::<u32>(), TOTAL_WEIGHT);
    clusters.iter().map(|c| (c.name.clone(), c.weight)).collect()
}

#[test]
fn counting_upstream_listener_uses_rds_named_by_envoy_id() {
    let set = generate(&counting_sidecar());
    let l = listener(&set, "counting:127.0.0.1:9001");
    let [NetworkFilter::HttpConnectionManager(hcm)] = l.filter_chains[0].filters.as_slice() else {
        panic!("one HCM")
    };
    assert_eq!(hcm.stat_prefix, "upstream.counting.default.default.dc1");
    assert_eq!(hcm.route_specifier, RouteSpecifier::Rds { route_config_name: "counting".into() });
    assert_eq!(hcm.http_filters, [HttpFilter::Router]);
    assert_eq!(hcm.tracing.as_ref().unwrap().random_sampling_percent, 0);
    assert_eq!(hcm.upgrade_types, ["websocket"]);
    assert!(!hcm.http2);
}

#[test]
fn counting_routes_admin_to_an_80_20_split_with_prefix_rewrite() {
    let set = generate(&counting_sidecar());
    assert_eq!(names(&set, TypeUrl::RouteConfiguration), ["counting"]);
    let rc = route(&set, "counting");
    assert!(rc.validate_clusters);
    let vh = &rc.virtual_hosts[0];
    assert_eq!((vh.name.as_str(), vh.domains.as_slice()), ("counting", &["*".to_owned()][..]));
    assert_eq!(vh.routes.len(), 2);
    let admin = &vh.routes[0];
    assert_eq!(admin.route_match.path, PathMatch::Prefix("/admin".into()));
    assert_eq!(admin.action.prefix_rewrite.as_deref(), Some("/"));
    assert_eq!(
        weights(&admin.action),
        [
            (sni("v1.counting-admin.default.dc1"), 8000),
            (sni("v2.counting-admin.default.dc1"), 2000)
        ]
    );
    let rest = &vh.routes[1];
    assert_eq!(rest.route_match.path, PathMatch::Prefix("/".into()));
    assert_eq!(rest.action, RouteAction::to_cluster(sni("counting.default.dc1")));
}

#[test]
fn counting_subsets_fail_over_through_aggregate_clusters() {
    let set = generate(&counting_sidecar());
    let mut want = vec![sni("counting.default.dc1")];
    for v in ["v1", "v2"] {
        for i in 0..3 {
            want.push(format!(
                "failover-target~{i}~{}",
                sni(&format!("{v}.counting-admin.default.dc1"))
            ));
        }
    }
    want.push("local_app".into());
    want.push(sni("v1.counting-admin.default.dc1"));
    want.push(sni("v2.counting-admin.default.dc1"));
    want.sort();
    assert_eq!(names(&set, TypeUrl::Cluster), want);

    let agg = cluster(&set, &sni("v1.counting-admin.default.dc1"));
    assert_eq!(agg.lb_policy, LbPolicy::ClusterProvided);
    assert!(agg.transport_socket.is_none());
    let base = sni("v1.counting-admin.default.dc1");
    assert_eq!(
        agg.discovery,
        DiscoveryType::Aggregate {
            clusters: (0..3).map(|i| format!("failover-target~{i}~{base}")).collect()
        }
    );
    for (i, dcn) in [(0, "dc1"), (1, "dc-aws"), (2, "dc-gcp")] {
        let c = cluster(&set, &format!("failover-target~{i}~{base}"));
        assert_eq!(c.discovery, DiscoveryType::Eds);
        let tls = c.transport_socket.as_ref().unwrap();
        assert_eq!(tls.sni, sni(&format!("v1.counting-admin.default.{dcn}")));
        let san = &tls
            .common_tls_context
            .validation_context
            .as_ref()
            .unwrap()
            .match_typed_subject_alt_names[0];
        assert_eq!(
            san.matcher,
            StringMatcher::Exact(format!("spiffe://{TD}/ns/default/dc/{dcn}/svc/counting-admin"))
        );
    }
    // Endpoints per failover target; a target without instances gets an empty assignment.
    assert_eq!(addrs(cla(&set, &format!("failover-target~1~{base}"))), ["10.1.1.11:21000"]);
    assert!(addrs(cla(&set, &format!("failover-target~2~{base}"))).is_empty());
    assert_eq!(set[&TypeUrl::ClusterLoadAssignment].len(), 7);
}

#[test]
fn datacenter_failover_is_an_aggregate_over_failover_targets() {
    // CONSUL-FACTS.md §10.7.
    let e = entries(json!([{"Kind": "service-resolver", "Name": "main",
        "Failover": {"*": {"Datacenters": ["dc2", "dc4"]}}}]));
    let mut snap = sidecar("web", Protocol::Tcp);
    snap.upstreams.push(upstream("main", chain(&e, "main", "dc1"), 9191));
    let set = generate(&snap);
    let base = sni("main.default.dc1");
    let targets: Vec<String> = (0..3).map(|i| format!("failover-target~{i}~{base}")).collect();
    assert_eq!(
        cluster(&set, &base).discovery,
        DiscoveryType::Aggregate { clusters: targets.clone() }
    );
    for (t, dcn) in targets.iter().zip(["dc1", "dc2", "dc4"]) {
        let c = cluster(&set, t);
        assert_eq!(c.connect_timeout, GoDuration::from_secs(5));
        assert_eq!(c.transport_socket.as_ref().unwrap().sni, sni(&format!("main.default.{dcn}")));
    }
    // A tcp chain with failover still uses tcp_proxy, to the aggregate.
    let l = listener(&set, "main:127.0.0.1:9191");
    let NetworkFilter::TcpProxy(tcp) = &l.filter_chains[0].filters[0] else { panic!() };
    assert_eq!(tcp.cluster, base);
}

fn split_chain_sidecar(splits: serde_json::Value, services: &[&str]) -> ProxySnapshot {
    let mut list = vec![json!({"Kind": "service-defaults", "Name": "db", "Protocol": "http"})];
    for s in services {
        list.push(json!({"Kind": "service-defaults", "Name": s, "Protocol": "http"}));
    }
    list.push(json!({"Kind": "service-splitter", "Name": "db", "Splits": splits}));
    let mut snap = sidecar("web", Protocol::Tcp);
    snap.upstreams.push(upstream("db", chain(&entries(json!(list)), "db", "dc1"), 9191));
    snap
}

#[test]
fn splitter_weights_are_hundredths_summing_to_10000() {
    // CONSUL-FACTS.md §10.5: 95.5/4/0.5 -> 9550/400/50.
    let snap = split_chain_sidecar(
        json!([{"Weight": 95.5, "Service": "big-side"}, {"Weight": 4, "Service": "goldilocks"},
               {"Weight": 0.5, "Service": "lil-bit"}]),
        &["big-side", "goldilocks", "lil-bit"],
    );
    let set = generate(&snap);
    let rc = route(&set, "db");
    assert_eq!(rc.virtual_hosts[0].routes.len(), 1);
    assert_eq!(rc.virtual_hosts[0].routes[0].route_match.path, PathMatch::Prefix("/".into()));
    assert_eq!(
        weights(&rc.virtual_hosts[0].routes[0].action),
        [
            (sni("big-side.default.dc1"), 9550),
            (sni("goldilocks.default.dc1"), 400),
            (sni("lil-bit.default.dc1"), 50)
        ]
    );
}

#[test]
fn split_rounding_remainder_goes_to_the_first_leg() {
    let mut snap = split_chain_sidecar(
        json!([{"Weight": 33.33, "Service": "a"}, {"Weight": 33.33, "Service": "b"},
               {"Weight": 33.34, "Service": "c"}]),
        &["a", "b", "c"],
    );
    // Weights as a flattened split of thirds might come out: 3333 each, 9999 in all.
    let chain = Arc::make_mut(&mut snap.upstreams[0].chain);
    for split in &mut chain.nodes.get_mut("splitter:db.default.default").unwrap().splits {
        split.weight = 33.333;
    }
    let set = generate(&snap);
    let action = &route(&set, "db").virtual_hosts[0].routes[0].action;
    let w: Vec<u32> = weights(action).into_iter().map(|(_, w)| w).collect();
    assert_eq!(w, [3334, 3333, 3333]);
}

fn router_sidecar() -> ProxySnapshot {
    let e = entries(json!([
        {"Kind": "service-defaults", "Name": "db", "Protocol": "http"},
        {"Kind": "service-defaults", "Name": "exact", "Protocol": "http"},
        {"Kind": "service-defaults", "Name": "regex", "Protocol": "http"},
        {"Kind": "service-router", "Name": "db", "Routes": [
            {"Match": {"HTTP": {"PathExact": "/exact",
                "Header": [{"Name": "x-debug", "Exact": "1"}, {"Name": "x-any", "Present": true}],
                "Methods": ["GET", "PUT"]}},
             "Destination": {"Service": "exact", "PrefixRewrite": "/", "RequestTimeout": "5s",
                "IdleTimeout": "10s", "NumRetries": 3, "RetryOnConnectFailure": true,
                "RetryOn": ["reset"], "RetryOnStatusCodes": [503],
                "RequestHeaders": {"Add": {"x-a": "1"}, "Set": {"x-b": "2"}, "Remove": ["x-c"]}}},
            {"Match": {"HTTP": {"PathRegex": "/re/[a-z]+",
                "Header": [{"Name": "x-inv", "Prefix": "a", "Invert": true},
                           {"Name": "x-suf", "Suffix": "z"}, {"Name": "x-re", "Regex": "v[0-9]"}],
                "QueryParam": [{"Name": "debug", "Present": true}, {"Name": "env", "Exact": "prod"},
                               {"Name": "id", "Regex": "[0-9]+"}]}},
             "Destination": {"Service": "regex", "RetryOn": ["connect-failure"],
                "RetryOnConnectFailure": true}}
        ]}
    ]));
    let mut snap = sidecar("web", Protocol::Tcp);
    snap.upstreams.push(upstream("db", chain(&e, "db", "dc1"), 9191));
    snap
}

#[test]
fn router_routes_keep_order_and_map_every_match_kind() {
    let set = generate(&router_sidecar());
    let routes = &route(&set, "db").virtual_hosts[0].routes;
    assert_eq!(routes.len(), 3, "two routes and the catch-all");
    let m = &routes[0].route_match;
    assert_eq!(m.path, PathMatch::Path("/exact".into()));
    let hm = |name: &str, matcher: HeaderMatch, invert_match: bool| HeaderMatcher {
        name: name.into(),
        matcher,
        invert_match,
    };
    assert_eq!(
        m.headers,
        [
            hm("x-debug", HeaderMatch::Exact("1".into()), false),
            hm("x-any", HeaderMatch::Present, false),
            hm(":method", HeaderMatch::SafeRegex("GET|PUT".into()), false),
        ]
    );
    let m = &routes[1].route_match;
    assert_eq!(m.path, PathMatch::SafeRegex("/re/[a-z]+".into()));
    assert_eq!(
        m.headers,
        [
            hm("x-inv", HeaderMatch::Prefix("a".into()), true),
            hm("x-suf", HeaderMatch::Suffix("z".into()), false),
            hm("x-re", HeaderMatch::SafeRegex("v[0-9]".into()), false),
        ]
    );
    let qm = |name: &str, matcher: QueryMatch| QueryParameterMatcher { name: name.into(), matcher };
    assert_eq!(
        m.query_parameters,
        [
            qm("debug", QueryMatch::Present),
            qm("env", QueryMatch::StringMatch(StringMatcher::Exact("prod".into()))),
            qm("id", QueryMatch::StringMatch(StringMatcher::SafeRegex("[0-9]+".into()))),
        ]
    );
    assert_eq!(routes[1].action.cluster, ClusterSpecifier::Cluster(sni("regex.default.dc1")));
    assert_eq!(routes[2].action, RouteAction::to_cluster(sni("db.default.dc1")));
}

#[test]
fn router_destination_sets_rewrite_timeouts_retries_and_headers() {
    let set = generate(&router_sidecar());
    let routes = &route(&set, "db").virtual_hosts[0].routes;
    let a = &routes[0].action;
    assert_eq!(a.cluster, ClusterSpecifier::Cluster(sni("exact.default.dc1")));
    assert_eq!(a.prefix_rewrite.as_deref(), Some("/"));
    assert_eq!(a.timeout, Some(GoDuration::from_secs(5)));
    assert_eq!(a.idle_timeout, Some(GoDuration::from_secs(10)));
    assert_eq!(
        a.retry_policy,
        Some(RetryPolicy {
            retry_on: "reset,connect-failure,retriable-status-codes".into(),
            num_retries: Some(3),
            retriable_status_codes: vec![503],
        })
    );
    let h = &routes[0].headers;
    let opt =
        |k: &str, v: &str, append| HeaderValueOption { key: k.into(), value: v.into(), append };
    assert_eq!(h.request_headers_to_add, [opt("x-a", "1", true), opt("x-b", "2", false)]);
    assert_eq!(h.request_headers_to_remove, ["x-c"]);
    // connect-failure is not repeated when RetryOn already has it.
    let r = routes[1].action.retry_policy.as_ref().unwrap();
    assert_eq!((r.retry_on.as_str(), r.num_retries), ("connect-failure", None));
}

#[test]
fn default_http_chain_uses_an_inline_route_and_no_rds() {
    let e = entries(json!([{"Kind": "service-defaults", "Name": "db", "Protocol": "http"}]));
    let mut snap = sidecar("web", Protocol::Tcp);
    snap.upstreams.push(upstream("db", chain(&e, "db", "dc1"), 9191));
    let set = generate(&snap);
    assert!(set[&TypeUrl::RouteConfiguration].is_empty());
    let l = listener(&set, "db:127.0.0.1:9191");
    let NetworkFilter::HttpConnectionManager(hcm) = &l.filter_chains[0].filters[0] else {
        panic!()
    };
    let RouteSpecifier::RouteConfig(rc) = &hcm.route_specifier else { panic!("inline routes") };
    assert_eq!(rc.name, "db");
    assert_eq!(rc.virtual_hosts[0].name, "db.default.default.dc1");
    assert_eq!(
        rc.virtual_hosts[0].routes[0].action,
        RouteAction::to_cluster(sni("db.default.dc1"))
    );
}

#[test]
fn grpc_chains_speak_http2_and_add_grpc_filters() {
    let e = entries(json!([{"Kind": "service-defaults", "Name": "db", "Protocol": "grpc"},
        {"Kind": "service-resolver", "Name": "db", "RequestTimeout": "7s",
         "LoadBalancer": {"Policy": "least_request"}}]));
    let mut snap = sidecar("web", Protocol::Grpc);
    snap.upstreams.push(upstream("db", chain(&e, "db", "dc1"), 9191));
    let set = generate(&snap);
    let c = cluster(&set, &sni("db.default.dc1"));
    assert!(c.http2);
    assert_eq!(c.lb_policy, LbPolicy::LeastRequest);
    assert!(cluster(&set, "local_app").http2);
    let l = listener(&set, "db:127.0.0.1:9191");
    let NetworkFilter::HttpConnectionManager(hcm) = &l.filter_chains[0].filters[0] else {
        panic!()
    };
    assert!(hcm.http2);
    assert_eq!(
        hcm.http_filters,
        [HttpFilter::GrpcStats, HttpFilter::GrpcHttp1Bridge, HttpFilter::Router]
    );
    // A non-default resolver makes the chain non-default: RDS with the resolver's timeout.
    let r = &route(&set, "db").virtual_hosts[0].routes[0];
    assert_eq!(r.action.timeout, Some(GoDuration::from_secs(7)));
}

#[test]
fn customized_chains_prefix_cluster_names_but_not_sni() {
    let e = crate::config::ConfigEntries::new();
    let compiled = compile_with(&CompileRequest {
        entries: &e,
        service: &svc("db"),
        namespace: &Namespace::default(),
        partition: &Default::default(),
        datacenter: &dc("dc1"),
        trust_domain: &td(),
        overrides: Overrides {
            connect_timeout: Some(GoDuration::from_secs(66)),
            ..Default::default()
        },
    })
    .unwrap();
    let hash = compiled.customization_hash.clone();
    assert!(!hash.is_empty());
    let mut snap = sidecar("web", Protocol::Tcp);
    snap.upstreams.push(upstream("db", Arc::new(compiled), 9191));
    let set = generate(&snap);
    let name = format!("{hash}~{}", sni("db.default.dc1"));
    let c = cluster(&set, &name);
    assert_eq!(c.connect_timeout, GoDuration::from_secs(66));
    assert_eq!(c.transport_socket.as_ref().unwrap().sni, sni("db.default.dc1"));
    assert_eq!(names(&set, TypeUrl::ClusterLoadAssignment), [name.as_str()]);
    let NetworkFilter::TcpProxy(tcp) =
        &listener(&set, "db:127.0.0.1:9191").filter_chains[0].filters[0]
    else {
        panic!()
    };
    assert_eq!(tcp.cluster, name);
}

#[test]
fn explicit_datacenter_upstream_is_named_with_dc_query() {
    let e = entries(json!([{"Kind": "service-defaults", "Name": "db", "Protocol": "http"},
        {"Kind": "service-router", "Name": "db"}]));
    let mut snap = sidecar("web", Protocol::Tcp);
    let mut up = upstream("db", chain(&e, "db", "dc2"), 9191);
    up.datacenter = Some(dc("dc2"));
    snap.upstreams.push(up);
    let set = generate(&snap);
    let l = listener(&set, "db?dc=dc2:127.0.0.1:9191");
    let NetworkFilter::HttpConnectionManager(hcm) = &l.filter_chains[0].filters[0] else {
        panic!()
    };
    assert_eq!(hcm.stat_prefix, "upstream.db.default.default.dc2");
    assert_eq!(hcm.route_specifier, RouteSpecifier::Rds { route_config_name: "db?dc=dc2".into() });
    assert_eq!(names(&set, TypeUrl::RouteConfiguration), ["db?dc=dc2"]);
    assert_eq!(names(&set, TypeUrl::Cluster), [sni("db.default.dc2").as_str(), "local_app"]);
}
