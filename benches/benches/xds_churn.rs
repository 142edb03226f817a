//! PERF.md W3: xDS churn in the core. 10,000 services × 3 instances, 1,000 sidecars with
//! 10-50 upstreams. `one_endpoint_change` is the whole incremental path for one instance
//! change: find the affected proxies, rebuild only their load assignments for that target,
//! hash, diff against what each proxy has, and encode what changed. `full_endpoint_rebuild`
//! rebuilds (builds and hashes) every load assignment of the shared endpoint table from its
//! instances: one per service, 10,000. `full_endpoint_rebuild_from_snapshots` does the same
//! work the per-snapshot way, walking a subscriber's chain for each service, and
//! `one_endpoint_change_shared` is the incremental path through the table (rebuild and
//! encode once, hand the same `Arc` to every subscriber). `full_sidecar_50_upstreams`
//! generates every resource of one sidecar with 50 upstreams.

use criterion::{Criterion, criterion_group, criterion_main};
use proconsul_benches::churn::{ChurnFixture, churn_fixture, instances, sidecar};
use proconsul_core::xds::TypeUrl;
use proconsul_core::xds::generate::{generate, generate_target_endpoints};
use proconsul_proto::EncodeResource;

/// Applies a new instance list for service `s` and returns how many resources changed.
fn endpoint_change(f: &mut ChurnFixture, s: usize, bump: u16) -> usize {
    let service = f.chains[s].service_name.clone();
    let subs: Vec<_> = f.index.subscribers(&service).cloned().collect();
    let mut changed = 0;
    for sub in subs {
        let p = f.position[&sub.proxy_id];
        let snap = &mut f.snapshots[p];
        snap.upstreams[sub.upstream].endpoints.insert(sub.target_id.clone(), instances(s, bump));
        let rebuilt =
            generate_target_endpoints(snap, &snap.upstreams[sub.upstream], &sub.target_id);
        let current = f.resources[p].entry(TypeUrl::ClusterLoadAssignment).or_default();
        for v in rebuilt {
            let name = v.resource.name().to_owned();
            if current.get(&name).is_some_and(|old| old.version == v.version) {
                continue;
            }
            std::hint::black_box(v.resource.encode_any());
            current.insert(name, v);
            changed += 1;
        }
    }
    changed
}

/// The same change through the shared table: one rebuild and one encoding, then the same
/// `Arc` into every subscriber's resources. Returns how many subscribers got it.
fn shared_endpoint_change(f: &mut ChurnFixture, target: &str, s: usize, bump: u16) -> usize {
    let mut delivered = 0;
    for row in f.table.set_instances(target, instances(s, bump)) {
        let v = f.table.assignment(row).expect("changed rows are live");
        std::hint::black_box(v.resource.encode_any());
        for proxy in f.table.subscribers(row) {
            let current =
                f.resources[f.position[proxy]].entry(TypeUrl::ClusterLoadAssignment).or_default();
            current.insert(v.resource.name().to_owned(), v.clone());
            delivered += 1;
        }
    }
    delivered
}

fn bench(c: &mut Criterion) {
    let mut f = churn_fixture(10_000, 1_000);
    for (snap, set) in f.snapshots.iter().zip(&f.resources) {
        let shared = f.table.assignments(&snap.proxy_id).expect("subscribed");
        assert_eq!(shared, set[&TypeUrl::ClusterLoadAssignment], "{}", snap.proxy_id);
    }
    let busy = (0..10_000)
        .max_by_key(|&s| f.index.subscribers(&f.chains[s].service_name).count())
        .expect("services");
    let subscribers = f.index.subscribers(&f.chains[busy].service_name).count();
    eprintln!("one_endpoint_change: service {busy} has {subscribers} subscribers");
    let mut group = c.benchmark_group("xds_churn");
    let mut bump = 0u16;
    group.bench_function("one_endpoint_change", |b| {
        b.iter(|| {
            bump = 1 - bump;
            let changed = endpoint_change(&mut f, busy, bump);
            assert_eq!(changed, subscribers, "every subscriber gets exactly one changed resource");
        })
    });
    // One subscriber per service stands for that service's load assignment.
    let owners: Vec<(usize, usize, String)> = (0..10_000)
        .filter_map(|s| f.index.subscribers(&f.chains[s].service_name).next())
        .map(|sub| (f.position[&sub.proxy_id], sub.upstream, sub.target_id.clone()))
        .collect();
    assert_eq!(owners.len(), 10_000, "every service has a subscriber");
    assert_eq!(f.table.len(), 10_000, "one shared assignment per service");
    group.bench_function("full_endpoint_rebuild", |b| {
        b.iter(|| {
            let rebuild = f.table.rebuild_all();
            assert_eq!(rebuild.rebuilt, 10_000);
            assert!(rebuild.changed.is_empty(), "the instances did not change");
        })
    });
    group.bench_function("full_endpoint_rebuild_from_snapshots", |b| {
        b.iter(|| {
            let mut n = 0;
            for (p, u, target) in &owners {
                let snap = &f.snapshots[*p];
                n += generate_target_endpoints(snap, &snap.upstreams[*u], target).len();
            }
            assert_eq!(n, 10_000);
        })
    });
    eprintln!("full_endpoint_rebuild: {} load assignments", owners.len());
    let (p0, u0, t0) = owners[0].clone();
    group.bench_function("one_assignment_hot", |b| {
        b.iter(|| {
            let snap = &f.snapshots[p0];
            generate_target_endpoints(snap, &snap.upstreams[u0], &t0)
        })
    });
    let mut bump = 0u16;
    let target = f.chains[busy].targets.keys().next().expect("a target").clone();
    group.bench_function("one_endpoint_change_shared", |b| {
        b.iter(|| {
            bump = 1 - bump;
            let changed = shared_endpoint_change(&mut f, &target, busy, bump);
            assert_eq!(changed, subscribers, "every subscriber gets exactly one changed resource");
        })
    });
    let fifty: Vec<usize> = (0..50).map(|j| j * 199).collect();
    let big = sidecar(9_999, &fifty, &f.chains);
    group.bench_function("full_sidecar_50_upstreams", |b| b.iter(|| generate(&big)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
