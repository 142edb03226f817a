//! Versions are content hashes: equal snapshots give equal versions, and a change touches
//! exactly the resources that depend on it. Plus our own golden file of the model for the
//! seed `counting` sidecar (`testdata/counting-sidecar.golden.json`, rewritten with
//! `UPDATE_GOLDEN=1`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::chains::counting_sidecar;
use super::consul_golden::mesh_gateway_snapshot;
use super::fixtures::*;
use crate::xds::generate::{
    generate, generate_mesh_gateway, generate_target_endpoints, generate_type,
};
use crate::xds::model::Resource;
use crate::xds::snapshot::{CheckHealth, LeafCert};
use crate::xds::{ResourceSet, TypeUrl, diff};

fn versions(set: &ResourceSet<Resource>) -> BTreeMap<(TypeUrl, String), String> {
    set.iter()
        .flat_map(|(t, m)| m.iter().map(|(n, v)| ((*t, n.clone()), v.version.clone())))
        .collect()
}

#[test]
fn generating_twice_gives_identical_versions() {
    let snap = counting_sidecar();
    let a = generate(&snap);
    let b = generate(&snap.clone());
    assert_eq!(versions(&a), versions(&b));
    assert_eq!(a, b);
    assert!(versions(&a).values().all(|v| v.len() == 32));
    let g = mesh_gateway_snapshot();
    assert_eq!(versions(&generate_mesh_gateway(&g)), versions(&generate_mesh_gateway(&g)));
}

#[test]
fn changing_one_endpoint_changes_only_that_load_assignment() {
    let snap = counting_sidecar();
    let before = generate(&snap);
    let mut changed = snap.clone();
    let eps =
        changed.upstreams[0].endpoints.get_mut("v2.counting-admin.default.default.dc1").unwrap();
    eps[0].health = CheckHealth::Critical;
    let after = generate(&changed);
    let delta = diff(&before, &after);
    let name = format!("failover-target~0~v2.counting-admin.default.dc1.internal.{TD}");
    assert_eq!(delta.len(), 1, "{delta:?}");
    let d = &delta[&TypeUrl::ClusterLoadAssignment];
    assert_eq!((d.added.len(), d.removed.len()), (0, 0));
    assert_eq!(d.changed, [name]);
}

#[test]
fn rotating_the_leaf_changes_tls_carriers_only() {
    let snap = counting_sidecar();
    let before = generate(&snap);
    let mut rotated = snap.clone();
    rotated.leaf = LeafCert {
        cert_chain_pem: "-----BEGIN CERTIFICATE-----\nNEW\n-----END CERTIFICATE-----\n".into(),
        private_key_pem: rotated.leaf.private_key_pem.clone(),
    };
    let delta = diff(&before, &generate(&rotated));
    let kinds: Vec<TypeUrl> = delta.keys().copied().collect();
    assert_eq!(kinds, [TypeUrl::Cluster, TypeUrl::Listener]);
    // Every EDS cluster carries TLS; local_app and the aggregates do not.
    assert_eq!(delta[&TypeUrl::Cluster].changed.len(), 7);
    assert_eq!(delta[&TypeUrl::Listener].changed, ["public_listener:0.0.0.0:9999"]);
}

#[test]
fn generate_type_matches_the_full_set() {
    let snap = counting_sidecar();
    let all = generate(&snap);
    for t in crate::xds::generate::GENERATED_TYPES {
        assert_eq!(generate_type(&snap, t), all[&t], "{t:?}");
    }
}

#[test]
fn target_endpoints_rebuild_matches_the_full_set() {
    let mut snap = counting_sidecar();
    let target = "v1.counting-admin.default.default.dc-aws";
    snap.upstreams[0].endpoints.insert(target.into(), eps(&["10.1.1.99:21000"]));
    let full = generate(&snap);
    let got = generate_target_endpoints(&snap, &snap.upstreams[0], target);
    let base = format!("v1.counting-admin.default.dc1.internal.{TD}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].resource.name(), format!("failover-target~1~{base}"));
    assert_eq!(got[0], full[&TypeUrl::ClusterLoadAssignment][got[0].resource.name()]);
    assert!(generate_target_endpoints(&snap, &snap.upstreams[0], "nope").is_empty());
}

#[test]
fn private_keys_never_reach_debug_or_serialized_output() {
    let set = generate(&counting_sidecar());
    let text = format!("{set:?}") + &serde_json::to_string(&golden_json(&set)).unwrap();
    assert!(!text.contains("TEST-KEY"));
    assert!(text.contains("<private key sha256/128:"));
}

/// `{type url: {name: {version, resource}}}`.
fn golden_json(set: &ResourceSet<Resource>) -> Value {
    let mut out = Map::new();
    for (t, m) in set {
        let mut by_name = Map::new();
        for (name, v) in m {
            by_name.insert(name.clone(), json!({"version": v.version, "resource": *v.resource}));
        }
        out.insert(t.as_str().to_owned(), Value::Object(by_name));
    }
    Value::Object(out)
}

#[test]
fn golden_counting_sidecar_model() {
    let got =
        serde_json::to_string_pretty(&golden_json(&generate(&counting_sidecar()))).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/xds/testdata/counting-sidecar.golden.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(got, want, "golden differs (UPDATE_GOLDEN=1 rewrites it)");
}
