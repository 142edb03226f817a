//! Criterion benchmarks over the core's pure functions live in `benches/benches/`; this
//! library holds the workloads they share, so a workload is defined once.
//!
//! Timings are measured there, never asserted in tests (PERF.md holds the workloads and the
//! baselines we compare against).
#![forbid(unsafe_code)]

pub mod churn;

use proconsul_core::config::{ConfigEntries, ConfigEntry};
use serde_json::json;

/// A mesh of `n` HTTP services where every service has a router (two routes), a splitter over
/// two subsets and a resolver with datacenter failover: the shape of a busy L7 mesh.
pub fn l7_mesh(n: usize) -> ConfigEntries {
    let mut entries =
        vec![json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}})];
    for i in 0..n {
        let svc = format!("svc-{i}");
        let next = format!("svc-{}", (i + 1) % n);
        entries.push(json!({"Kind": "service-router", "Name": svc, "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/next"}}, "Destination": {"Service": next, "PrefixRewrite": "/"}},
            {"Match": {"HTTP": {"Header": [{"Name": "x-canary", "Exact": "1"}]}}, "Destination": {"ServiceSubset": "v2"}}]}));
        entries.push(json!({"Kind": "service-splitter", "Name": svc, "Splits": [
            {"Weight": 90, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}]}));
        entries.push(json!({"Kind": "service-resolver", "Name": svc,
            "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}},
            "Failover": {"*": {"Datacenters": ["dc2", "dc3"]}}}));
    }
    entries
        .into_iter()
        .map(|v| ConfigEntry::from_value(v).expect("benchmark entries are valid"))
        .collect()
}
