//! The shared endpoint table gives every subscriber exactly what per-snapshot generation
//! gives it, builds a shared row once, and rebuilds only what a change touches.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::chains::counting_sidecar;
use super::fixtures::*;
use super::gateway_modes::dc2_upstream;
use crate::config::{GoDuration, MeshGatewayMode};
use crate::discovery_chain::{CompileRequest, Overrides, compile_with};
use crate::ids::Namespace;
use crate::xds::generate::{EndpointTable, generate_type};
use crate::xds::model::Resource;
use crate::xds::snapshot::{
    CheckHealth, Endpoint, GatewayEndpoints, Protocol, ProxySnapshot, UpstreamSnapshot,
};
use crate::xds::{TypeUrl, Versioned};

const DB_DC2: &str = "db.default.dc2.internal.11111111-2222-3333-4444-555555555555.consul";

/// `db?dc=dc2` in every gateway mode, each its own proxy.
fn dc2_in_every_mode() -> Vec<ProxySnapshot> {
    [
        ("local", MeshGatewayMode::Local),
        ("remote", MeshGatewayMode::Remote),
        ("none", MeshGatewayMode::None),
        ("default", MeshGatewayMode::Default),
    ]
    .into_iter()
    .map(|(id, mode)| {
        let mut snap = dc2_upstream(mode);
        snap.proxy_id = format!("web-{id}");
        snap
    })
    .collect()
}

/// A tcp sidecar with a failover chain through gateways, a customized chain and a chain
/// whose targets have no instances.
fn failover_and_customized() -> ProxySnapshot {
    let e = entries(json!([
        {"Kind": "service-defaults", "Name": "db", "MeshGateway": {"Mode": "remote"}},
        {"Kind": "service-resolver", "Name": "db", "Failover": {"*": {"Datacenters": ["dc2"]}}},
        {"Kind": "service-resolver", "Name": "main",
         "Failover": {"*": {"Datacenters": ["dc2", "dc4"]}}}]));
    let mut snap = sidecar("api", Protocol::Tcp);
    let mut db = upstream("db", chain(&e, "db", "dc1"), 9191);
    db.endpoints.insert("db.default.default.dc1".into(), eps(&["10.10.1.1:8080"]));
    db.endpoints.insert(
        "db.default.default.dc2".into(),
        dc2_upstream(MeshGatewayMode::Default).upstreams[0].endpoints["db.default.default.dc2"]
            .clone(),
    );
    let customized = compile_with(&CompileRequest {
        entries: &e,
        service: &svc("cache"),
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
    assert!(!customized.customization_hash.is_empty());
    let mut cache = upstream("cache", Arc::new(customized), 9292);
    cache.endpoints.insert("cache.default.default.dc1".into(), eps(&["10.0.3.1:21000"]));
    snap.upstreams = vec![db, cache, upstream("main", chain(&e, "main", "dc1"), 9393)];
    snap
}

fn fixtures() -> Vec<ProxySnapshot> {
    let mut all = vec![counting_sidecar(), failover_and_customized()];
    all.extend(dc2_in_every_mode());
    all
}

fn gateways() -> GatewayEndpoints {
    dc2_upstream(MeshGatewayMode::Local).gateways
}

/// A table fed with every fixture's instances and [`gateways`], every fixture subscribed.
fn table_of(snaps: &[ProxySnapshot]) -> EndpointTable {
    let mut table = EndpointTable::new();
    table.set_gateways(gateways());
    for snap in snaps {
        for (target, instances) in snap.upstreams.iter().flat_map(|u| &u.endpoints) {
            table.set_instances(target, instances.clone());
        }
        table.subscribe(snap);
    }
    table
}

/// Per-snapshot generation of the load assignments, with the table's gateways.
fn generated(snap: &ProxySnapshot) -> BTreeMap<String, Versioned<Resource>> {
    let mut snap = snap.clone();
    snap.gateways = gateways();
    generate_type(&snap, TypeUrl::ClusterLoadAssignment)
}

fn upstream_endpoints<'a>(snap: &'a mut ProxySnapshot, target: &str) -> &'a mut Vec<Endpoint> {
    snap.upstreams
        .iter_mut()
        .find_map(|u: &mut UpstreamSnapshot| u.endpoints.get_mut(target))
        .unwrap_or_else(|| panic!("no upstream has {target}"))
}

#[test]
fn every_subscriber_gets_what_per_snapshot_generation_gives() {
    let snaps = fixtures();
    let table = table_of(&snaps);
    for snap in &snaps {
        let got = table.assignments(&snap.proxy_id).unwrap();
        assert_eq!(got, generated(snap), "{}", snap.proxy_id);
        assert!(!got.is_empty(), "{}", snap.proxy_id);
    }
    assert!(table.assignments("nobody").is_none());
}

#[test]
fn subscribers_reaching_a_target_the_same_way_share_one_row() {
    let mut twin = dc2_upstream(MeshGatewayMode::Remote);
    twin.proxy_id = "web-remote-twin".into();
    let mut snaps = dc2_in_every_mode();
    snaps.push(twin);
    let table = table_of(&snaps);
    let of = |proxy: &str| table.assignments(proxy).unwrap()[DB_DC2].clone();
    assert!(Arc::ptr_eq(&of("web-remote").resource, &of("web-remote-twin").resource));
    // Modes `none` and unset both dial the instances' WAN address: one row.
    assert!(Arc::ptr_eq(&of("web-none").resource, &of("web-default").resource));
    // Same cluster name, other source: another row with other endpoints.
    assert_ne!(of("web-local").version, of("web-remote").version);
    assert_eq!(table.len(), 3);
}

#[test]
fn an_instance_change_rebuilds_each_affected_row_once_and_names_its_subscribers() {
    let mut snaps = fixtures();
    let mut table = table_of(&snaps);
    let before: Vec<_> = snaps.iter().map(|s| table.assignments(&s.proxy_id).unwrap()).collect();
    let target = "db.default.default.dc2";
    let mut instances = upstream_endpoints(&mut snaps[2], target).clone();
    instances[0].health = CheckHealth::Critical;
    for snap in &mut snaps {
        if let Some(u) = snap.upstreams.iter_mut().find(|u| u.endpoints.contains_key(target)) {
            u.endpoints.insert(target.into(), instances.clone());
        }
    }
    let changed = table.set_instances(target, instances);
    // Rows: failover-target~1 of `api` (remote gateways), and for `db?dc=dc2` one row per
    // distinct source: local gateways, remote gateways, the instances themselves. Through
    // gateways the overall health stays healthy (the other instance passes), so only the
    // direct row and nothing else changes.
    assert_eq!(changed.len(), 1, "{changed:?}");
    let subscribers: Vec<&str> = table.subscribers(changed[0]).collect();
    assert_eq!(subscribers, ["web-default", "web-none"]);
    let name = table.assignment(changed[0]).unwrap().resource.name().to_owned();
    assert_eq!(name, DB_DC2);
    for (snap, before) in snaps.iter().zip(before) {
        let after = table.assignments(&snap.proxy_id).unwrap();
        assert_eq!(after, generated(snap), "{}", snap.proxy_id);
        let moved: Vec<&String> =
            after.iter().filter(|(n, v)| before[*n].version != v.version).map(|(n, _)| n).collect();
        let expect_moved = subscribers.contains(&snap.proxy_id.as_str());
        assert_eq!(moved.len(), usize::from(expect_moved), "{}: {moved:?}", snap.proxy_id);
    }
}

#[test]
fn equal_instances_and_a_full_rebuild_of_unchanged_data_change_nothing() {
    let snaps = fixtures();
    let mut table = table_of(&snaps);
    let before = table.assignments("dashboard-sidecar-proxy").unwrap();
    let instances = snaps[0].upstreams[0].endpoints["counting.default.default.dc1"].clone();
    assert!(table.set_instances("counting.default.default.dc1", instances).is_empty());
    let rebuild = table.rebuild_all();
    assert_eq!(rebuild.rebuilt, table.len());
    assert!(rebuild.changed.is_empty(), "{:?}", rebuild.changed);
    let after = table.assignments("dashboard-sidecar-proxy").unwrap();
    for (name, v) in &before {
        assert!(Arc::ptr_eq(&v.resource, &after[name].resource), "{name} kept its Arc");
    }
}

#[test]
fn a_gateway_change_rebuilds_only_rows_that_dial_gateways() {
    let snaps = fixtures();
    let mut table = table_of(&snaps);
    let mut moved = gateways();
    moved.local[0] = Endpoint::new("10.10.1.9", 8443);
    let changed = table.set_gateways(moved.clone());
    let mut names: Vec<(String, Vec<&str>)> = changed
        .iter()
        .map(|&id| {
            let name = table.assignment(id).unwrap().resource.name().to_owned();
            (name, table.subscribers(id).collect())
        })
        .collect();
    names.sort();
    assert_eq!(names, [(DB_DC2.to_owned(), vec!["web-local"])]);
    assert!(table.set_gateways(moved).is_empty(), "unchanged gateways rebuild nothing");
}

#[test]
fn unsubscribing_frees_rows_nobody_uses_and_reuses_their_slots() {
    let snaps = dc2_in_every_mode();
    let mut table = table_of(&snaps);
    assert_eq!(table.len(), 3);
    let local = table.set_gateways(GatewayEndpoints::default());
    assert_eq!(local.len(), 2, "local and remote gateway rows");
    table.unsubscribe("web-none");
    assert_eq!(table.len(), 3, "web-default still uses the direct row");
    table.unsubscribe("web-default");
    assert_eq!(table.len(), 2);
    table.unsubscribe("web-local");
    assert_eq!(table.len(), 1);
    // Two of three names freed: the name store was compacted, and still names every row.
    assert!(table.rebuild_all().changed.is_empty());
    assert!(table.assignments("web-local").is_none());
    table.subscribe(&snaps[0]);
    assert_eq!(table.len(), 2);
    assert_eq!(table.assignments("web-local").unwrap(), {
        let mut snap = snaps[0].clone();
        snap.gateways = GatewayEndpoints::default();
        generate_type(&snap, TypeUrl::ClusterLoadAssignment)
    });
    for s in &snaps {
        table.unsubscribe(&s.proxy_id);
    }
    assert!(table.is_empty());
}

#[test]
fn resubscribing_with_another_plan_leaves_rows_it_no_longer_uses() {
    let snaps = dc2_in_every_mode();
    let mut table = table_of(&snaps[..1]);
    assert_eq!(table.len(), 1);
    let mut moved = snaps[0].clone();
    moved.upstreams[0].mesh_gateway_mode = MeshGatewayMode::Remote;
    table.subscribe(&moved);
    assert_eq!(table.len(), 1, "the local-gateway row was freed");
    assert_eq!(table.assignments("web-local").unwrap(), generated(&moved));
    table.subscribe(&moved);
    assert_eq!(table.len(), 1, "re-subscribing the same plan keeps its rows");
    let row = table.set_instances("db.default.default.dc2", Vec::new());
    assert_eq!(row.len(), 1);
    assert_eq!(table.subscribers(row[0]).collect::<Vec<_>>(), ["web-local"]);
}

#[test]
fn a_target_without_instances_is_empty_until_its_instances_are_set() {
    let snap = failover_and_customized();
    let mut table = EndpointTable::new();
    table.subscribe(&snap);
    let mut empty = snap.clone();
    for u in &mut empty.upstreams {
        u.endpoints.clear();
    }
    empty.gateways = GatewayEndpoints::default();
    assert_eq!(
        table.assignments("api-sidecar-proxy").unwrap(),
        generate_type(&empty, TypeUrl::ClusterLoadAssignment)
    );
    let cache = "cache.default.default.dc1";
    let changed = table.set_instances(cache, eps(&["10.0.3.1:21000"]));
    assert_eq!(changed.len(), 1);
    assert!(table.assignment(changed[0]).unwrap().resource.name().ends_with(&sni_dc1("cache")));
    assert!(table.set_instances("not.subscribed.default.dc1", eps(&["1.2.3.4:1"])).is_empty());
}

fn sni_dc1(service: &str) -> String {
    format!("{service}.default.dc1.internal.{TD}")
}
