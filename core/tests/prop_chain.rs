//! Property family 3: every entry set the write-time checks accept compiles, for every
//! service, into a well-formed discovery chain (CONSUL-FACTS.md §3.6, §4): all routes and
//! splits end in resolver nodes whose targets exist, nothing is unreachable from the start
//! node, and every splitter's flattened legs still add up to 100%.
//!
//! Entry sets are built the way a cluster builds them: a stream of random writes over a small
//! pool of services, each kept only if `validate_write` accepts it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::routing::hundredths;
use proconsul_core::config::{
    ConfigEntries, ConfigEntry, ConfigError, validate_delete, validate_graph, validate_write,
    weight_hundredths,
};
use proconsul_core::discovery_chain::{ChainNode, CompiledChain, NodeType, compile};
use proconsul_core::ids::{Namespace, ServiceName};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

const FILE: &str = "prop_chain";
const SERVICES: [&str; 5] = ["web", "api", "db", "billing", "auth"];
/// Names no entry defines; they compile to a default chain.
const GHOSTS: [&str; 2] = ["ghost", "nobody"];
const SUBSETS: [&str; 2] = ["v1", "v2"];

fn service() -> BoxedStrategy<String> {
    select(&SERVICES[..]).prop_map(str::to_owned).boxed()
}

/// An optional name: `""` (unset) a third of the time.
fn opt(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![1 => Just(String::new()), 2 => select(items).prop_map(str::to_owned)].boxed()
}

fn service_defaults() -> BoxedStrategy<Value> {
    let protocol =
        prop_oneof![6 => Just("http"), 1 => Just("grpc"), 1 => Just("tcp"), 1 => Just("")];
    (service(), protocol, prop::bool::weighted(0.05))
        .prop_map(|(name, protocol, external)| {
            let mut v = json!({"Kind": "service-defaults", "Name": name, "Protocol": protocol});
            if external {
                v["ExternalSNI"] = json!(format!("{name}.external.example"));
            }
            v
        })
        .boxed()
}

fn proxy_defaults() -> BoxedStrategy<Value> {
    (select(&["http", "tcp", "grpc"][..]), select(&["", "local", "remote"][..]))
        .prop_map(|(protocol, mode)| {
            json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": protocol},
                   "MeshGateway": {"Mode": mode}})
        })
        .boxed()
}

fn router() -> BoxedStrategy<Value> {
    let path = prop_oneof![
        Just(json!({})),
        select(&["/a", "/b/", "/api"][..]).prop_map(|p| json!({"PathPrefix": p})),
        select(&["/exact"][..]).prop_map(|p| json!({"PathExact": p})),
        Just(json!({"Header": [{"Name": "x-canary", "Exact": "1"}]})),
    ];
    let dest = option::of((opt(&SERVICES), opt(&SUBSETS))).prop_map(|d| match d {
        None => Value::Null,
        Some((service, subset)) => json!({"Service": service, "ServiceSubset": subset}),
    });
    (service(), vec((option::of(path), dest), 0..4))
        .prop_map(|(name, routes)| {
            let routes: Vec<Value> = routes
                .into_iter()
                .map(|(http, destination)| {
                    let mut route = json!({});
                    if let Some(http) = http {
                        route["Match"] = json!({"HTTP": http});
                    }
                    if !destination.is_null() {
                        route["Destination"] = destination;
                    }
                    route
                })
                .collect();
            json!({"Kind": "service-router", "Name": name, "Routes": routes})
        })
        .boxed()
}

fn splitter() -> BoxedStrategy<Value> {
    // Legs without a subset to a service with its own splitter are flattened; favour them.
    let subset =
        prop_oneof![3 => Just(String::new()), 1 => select(&SUBSETS[..]).prop_map(str::to_owned)];
    (service(), vec((opt(&SERVICES), subset), 1..4))
        .prop_flat_map(|(name, legs)| {
            let mut seen = BTreeSet::new();
            let legs: Vec<(String, String)> = legs
                .into_iter()
                .filter(|(s, sub)| {
                    seen.insert((if s.is_empty() { &name } else { s }.clone(), sub.clone()))
                })
                .collect();
            let n = legs.len();
            (Just(name), Just(legs), hundredths(n))
        })
        .prop_map(|(name, legs, weights)| {
            let splits: Vec<Value> = legs
                .into_iter()
                .zip(weights)
                .map(|((service, subset), w)| {
                    json!({"Weight": w as f64 / 100.0, "Service": service, "ServiceSubset": subset})
                })
                .collect();
            json!({"Kind": "service-splitter", "Name": name, "Splits": splits})
        })
        .boxed()
}

fn failover() -> BoxedStrategy<Value> {
    prop_oneof![
        service().prop_map(|s| json!({"Service": s})),
        select(&SUBSETS[..]).prop_map(|s| json!({"ServiceSubset": s})),
        subsequence(&["dc2", "dc3", "dc1"][..], 1..=3).prop_map(|dcs| json!({"Datacenters": dcs})),
        vec(
            prop_oneof![
                service().prop_map(|s| json!({"Service": s})),
                Just(json!({"Datacenter": "dc2"})),
                Just(json!({"Peer": "peer1"})),
                (service(), select(&SUBSETS[..]))
                    .prop_map(|(s, b)| json!({"Service": s, "ServiceSubset": b})),
            ],
            1..3
        )
        .prop_map(|targets| json!({"Targets": targets})),
    ]
    .boxed()
}

fn resolver() -> BoxedStrategy<Value> {
    let redirect = (opt(&SERVICES), opt(&SUBSETS), opt(&["dc2", "dc3"]));
    (
        service(),
        subsequence(&SUBSETS[..], 0..=2),
        any::<bool>(),
        0..3u8,
        redirect,
        (failover(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(name, subsets, use_default, mode, (rs, rsub, rdc), (failover, keyed, timeout))| {
                let mut v = json!({"Kind": "service-resolver", "Name": name});
                let defs: BTreeMap<&str, Value> = subsets
                    .iter()
                    .map(|s| (*s, json!({"Filter": format!("Service.Meta.version == {s}")})))
                    .collect();
                if let (true, Some(first)) = (use_default, subsets.first()) {
                    v["DefaultSubset"] = json!(first);
                }
                v["Subsets"] = json!(defs);
                match mode {
                    1 => {
                        // A subset of another service may not exist; the graph check decides.
                        let rsub = if rs.is_empty() { String::new() } else { rsub };
                        let rdc =
                            if rs.is_empty() && rdc.is_empty() { "dc2".to_owned() } else { rdc };
                        v["Redirect"] =
                            json!({"Service": rs, "ServiceSubset": rsub, "Datacenter": rdc});
                    }
                    2 => {
                        // Keyed by one of its subsets, or by `*` for all of them.
                        let key = subsets.first().filter(|_| keyed).map_or("*", |s| *s);
                        v["Failover"] = json!({key: failover});
                    }
                    _ => {}
                }
                if timeout {
                    v["ConnectTimeout"] = json!("15s");
                }
                v
            },
        )
        .boxed()
}

fn intentions() -> BoxedStrategy<Value> {
    (service(), select(&["web", "api", "*"][..]), any::<bool>())
        .prop_map(|(name, source, l7)| {
            let rule = if l7 {
                json!({"Name": source, "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]})
            } else {
                json!({"Name": source, "Action": "deny"})
            };
            json!({"Kind": "service-intentions", "Name": name, "Sources": [rule]})
        })
        .boxed()
}

fn write() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => service_defaults(),
        1 => proxy_defaults(),
        1 => intentions(),
        3 => router(),
        3 => splitter(),
        3 => resolver(),
    ]
    .boxed()
}

/// Most services speak HTTP and define subsets v1 and v2 first, so routers and splitters
/// have somewhere to go and a good share of the random writes that follow is accepted.
fn with_base(base: Vec<(bool, bool)>, writes: Vec<Value>) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    for (name, (http, subsets)) in SERVICES.iter().zip(base) {
        let protocol = if http { "http" } else { "tcp" };
        all.push(json!({"Kind": "service-defaults", "Name": name, "Protocol": protocol}));
        if subsets {
            all.push(json!({"Kind": "service-resolver", "Name": name, "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"}}}));
        }
    }
    all.extend(writes);
    all
}

fn base() -> impl Strategy<Value = Vec<(bool, bool)>> {
    vec((prop::bool::weighted(0.85), prop::bool::weighted(0.7)), SERVICES.len())
}

/// Applies writes in order, keeping those the entry and graph checks accept.
fn apply_writes(writes: Vec<Value>) -> ConfigEntries {
    let dc = common::dc1();
    let mut entries = ConfigEntries::new();
    for doc in writes {
        let Ok(entry) = ConfigEntry::from_value(doc) else { continue };
        if validate_write(&entries, &entry, &dc).is_ok() {
            entries.insert(entry);
        }
    }
    entries
}

fn check_chain(chain: &CompiledChain, entries: &ConfigEntries) -> Result<(), TestCaseError> {
    let nodes = &chain.nodes;
    prop_assert!(nodes.contains_key(&chain.start_node), "start node {} missing", chain.start_node);
    let mut reached = BTreeSet::new();
    let mut queue = vec![chain.start_node.clone()];
    let mut used_targets = BTreeSet::new();
    while let Some(key) = queue.pop() {
        if !reached.insert(key.clone()) {
            continue;
        }
        let Some(node) = nodes.get(&key) else {
            return Err(TestCaseError::fail(format!("next node {key} is not in Nodes")));
        };
        prop_assert_eq!(&key, &format!("{}:{}", node.r#type.as_str(), node.name));
        match node.r#type {
            NodeType::Router => {
                prop_assert!(!node.routes.is_empty(), "router {} has no catch-all route", key);
                for route in &node.routes {
                    let next = nodes.get(&route.next_node);
                    prop_assert!(
                        next.is_some_and(|n| n.r#type != NodeType::Router),
                        "route of {} goes to {:?}",
                        key,
                        route.next_node
                    );
                    queue.push(route.next_node.clone());
                }
            }
            NodeType::Splitter => {
                prop_assert!(!node.splits.is_empty(), "splitter {} has no legs", key);
                check_split_weights(&key, node, entries)?;
                for split in &node.splits {
                    // Nested splitters are flattened: every leg ends at a resolver.
                    let next = nodes.get(&split.next_node);
                    prop_assert!(
                        next.is_some_and(|n| n.r#type == NodeType::Resolver),
                        "split of {} goes to {:?}",
                        key,
                        split.next_node
                    );
                    queue.push(split.next_node.clone());
                }
            }
            NodeType::Resolver => {
                let Some(r) = &node.resolver else {
                    return Err(TestCaseError::fail(format!(
                        "resolver node {key} has no Resolver"
                    )));
                };
                prop_assert_eq!(&key, &format!("resolver:{}", r.target));
                prop_assert!(chain.targets.contains_key(&r.target), "target {} missing", r.target);
                used_targets.insert(r.target.clone());
                for t in r.failover.iter().flat_map(|f| &f.targets) {
                    prop_assert!(chain.targets.contains_key(t), "failover target {} missing", t);
                    prop_assert_ne!(t, &r.target, "a target fails over to itself");
                    used_targets.insert(t.clone());
                }
            }
        }
    }
    let unreachable: Vec<&String> = nodes.keys().filter(|k| !reached.contains(*k)).collect();
    prop_assert!(
        unreachable.is_empty(),
        "nodes unreachable from {}: {:?}",
        chain.start_node,
        unreachable
    );
    let unused: Vec<&String> =
        chain.targets.keys().filter(|t| !used_targets.contains(*t)).collect();
    prop_assert!(unused.is_empty(), "targets no resolver uses: {:?}", unused);
    for (id, t) in &chain.targets {
        prop_assert_eq!(id, &t.id);
    }
    let advanced = nodes.values().any(|n| n.r#type != NodeType::Resolver);
    prop_assert!(
        !advanced || matches!(chain.protocol.as_str(), "http" | "http2" | "grpc"),
        "{} chain has routers or splitters",
        chain.protocol
    );
    prop_assert_eq!(&chain.protocol, &entries.protocol_of(&chain.service_name));
    Ok(())
}

fn text<T>(result: Result<T, ConfigError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

/// One leg of a splitter flattened by hand: its exact weight and how many splitters deep it
/// was folded (0 = a leg of the node's own splitter).
struct ExactLeg {
    weight: f64,
    depth: u32,
}

/// Consul's flattening rule (CONSUL-FACTS.md §3.4) without rounding: a leg to another
/// service, with no subset, that has a splitter is replaced by that splitter's legs with
/// weight `parent * child / 100`.
fn exact_legs(entries: &ConfigEntries, service: &str) -> Vec<ExactLeg> {
    let Some(splitter) = entries.splitter(service) else { return Vec::new() };
    let mut out = Vec::new();
    for split in &splitter.splits {
        let weight = weight_hundredths(split.weight) as f64 / 100.0;
        let target = if split.service.is_empty() { service } else { split.service.as_str() };
        let nested = split.service_subset.is_empty() && target != service;
        match entries.splitter(target).filter(|_| nested) {
            Some(_) => {
                out.extend(exact_legs(entries, target).into_iter().map(|leg| ExactLeg {
                    weight: weight * leg.weight / 100.0,
                    depth: leg.depth + 1,
                }))
            }
            None => out.push(ExactLeg { weight, depth: 0 }),
        }
    }
    out
}

/// Each compiled leg is its exact weight rounded to 0.01 once per flattening level, so a
/// splitter that flattened nothing sums to 100 within 0.01, and one that did may drift by
/// the accumulated rounding (Consul rounds each flattened leg the same way).
fn check_split_weights(
    key: &str,
    node: &ChainNode,
    entries: &ConfigEntries,
) -> Result<(), TestCaseError> {
    let service = key.trim_start_matches("splitter:").split('.').next().unwrap_or_default();
    let exact = exact_legs(entries, service);
    prop_assert_eq!(node.splits.len(), exact.len(), "legs of {}", key);
    let exact_sum: f64 = exact.iter().map(|l| l.weight).sum();
    prop_assert!((exact_sum - 100.0).abs() < 1e-9, "exact legs of {} sum to {}", key, exact_sum);
    let mut drift = 0.0;
    for (leg, want) in node.splits.iter().zip(&exact) {
        let bound = 0.005 * f64::from(want.depth) + 1e-9;
        prop_assert!(
            (leg.weight - want.weight).abs() <= bound,
            "leg of {} to {} has weight {}, exact {}",
            key,
            leg.next_node,
            leg.weight,
            want.weight
        );
        drift += bound;
    }
    let sum: f64 = node.splits.iter().map(|s| s.weight).sum();
    let tolerance = if exact.iter().all(|l| l.depth == 0) { 0.01 } else { drift.max(0.01) };
    prop_assert!((sum - 100.0).abs() <= tolerance + 1e-9, "splits of {} sum to {}", key, sum);
    Ok(())
}

proptest! {
    #![proptest_config(common::config(512, FILE))]

    #[test]
    fn accepted_entry_sets_compile_into_well_formed_chains(
        base in base(),
        writes in vec(write(), 4..16),
    ) {
        let entries = apply_writes(with_base(base, writes));
        let dc = common::dc1();
        let td = common::trust_domain();
        prop_assert_eq!(validate_graph(&entries, &dc), Ok(()));
        for name in SERVICES.iter().chain(&GHOSTS) {
            let service = ServiceName::new(*name).expect("pool names are valid");
            let chain = compile(&entries, &service, &Namespace::default(), &dc, &td)
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(&chain.service_name, name);
            check_chain(&chain, &entries)
                .map_err(|e| TestCaseError::fail(format!("chain of {name}: {e}\n{chain:#?}")))?;
        }
    }

    /// `validate_write` and `validate_delete` recompile only the chains that can reach the
    /// changed entry; over an accepted set they must decide exactly as re-checking the whole
    /// resulting set does, with the same message.
    #[test]
    fn write_and_delete_checks_agree_with_checking_the_whole_set(
        base in base(),
        writes in vec(write(), 4..14),
        proposed in vec(write(), 1..4),
    ) {
        let entries = apply_writes(with_base(base, writes));
        let dc = common::dc1();
        for doc in proposed {
            let Ok(entry) = ConfigEntry::from_value(doc) else { continue };
            let mut next = entries.clone();
            next.insert(entry.clone());
            prop_assert_eq!(
                text(validate_write(&entries, &entry, &dc)),
                text(validate_graph(&next, &dc)),
                "writing {}",
                entry.to_value()
            );
        }
        for entry in entries.iter() {
            let mut next = entries.clone();
            next.remove(entry.kind(), entry.name());
            prop_assert_eq!(
                text(validate_delete(&entries, entry.kind(), entry.name(), &dc)),
                text(validate_graph(&next, &dc)),
                "deleting {} {}",
                entry.kind(),
                entry.name()
            );
        }
    }
}

/// The flattening rounding in one example: 50% to each of two splitters that split
/// 33.33/33.33/33.34. Every flattened leg is 16.665% exactly and 16.67% compiled (Consul
/// rounds each flattened leg to 0.01 too), so the node's legs add up to 100.02, not 100.
#[test]
fn flattened_legs_are_rounded_per_leg_so_nested_splitters_can_sum_past_100() {
    let thirds = json!([
        {"Weight": 33.33, "Service": "x", "ServiceSubset": "v1"},
        {"Weight": 33.33, "Service": "x", "ServiceSubset": "v2"},
        {"Weight": 33.34, "Service": "x", "ServiceSubset": "v3"}]);
    let entries = common::entry_set(&[
        json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}}),
        json!({"Kind": "service-resolver", "Name": "x", "Subsets": {"v1": {}, "v2": {}, "v3": {}}}),
        json!({"Kind": "service-splitter", "Name": "a",
               "Splits": [{"Weight": 50, "Service": "b"}, {"Weight": 50, "Service": "c"}]}),
        json!({"Kind": "service-splitter", "Name": "b", "Splits": thirds}),
        json!({"Kind": "service-splitter", "Name": "c", "Splits": thirds}),
    ])
    .unwrap();
    let dc = common::dc1();
    assert_eq!(validate_graph(&entries, &dc), Ok(()));
    let a = ServiceName::new("a").unwrap();
    let chain = compile(&entries, &a, &Namespace::default(), &dc, &common::trust_domain()).unwrap();
    let node = &chain.nodes["splitter:a.default.default"];
    let weights: Vec<f64> = node.splits.iter().map(|s| s.weight).collect();
    assert_eq!(weights, [16.67; 6]);
    let sum: f64 = weights.iter().sum();
    assert!((sum - 100.02).abs() < 1e-9, "{sum}");
    check_split_weights("splitter:a.default.default", node, &entries).unwrap();
}
