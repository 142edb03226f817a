//! Discovery-chain compilation and whole-graph write checks over an L7 mesh.
//!
//! Every config write recompiles every chain (`validate_graph`), so its cost bounds the
//! config write rate of a server; one chain compile bounds proxy snapshot rebuilds.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use proconsul_benches::l7_mesh;
use proconsul_core::config::validate_graph;
use proconsul_core::discovery_chain::compile;
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, TrustDomain};

fn bench(c: &mut Criterion) {
    let dc = Datacenter::new("dc1").expect("valid");
    let td = TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").expect("valid");
    let ns = Namespace::default();
    let mut group = c.benchmark_group("chain_compile");
    for n in [10, 100] {
        let entries = l7_mesh(n);
        let svc = ServiceName::new("svc-0").expect("valid");
        group.bench_with_input(BenchmarkId::new("one_chain", n), &entries, |b, e| {
            b.iter(|| compile(e, &svc, &ns, &dc, &td).expect("compiles"))
        });
        group.bench_with_input(BenchmarkId::new("validate_graph", n), &entries, |b, e| {
            b.iter(|| validate_graph(e, &dc).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
