//! The disk floor under PERF.md W6: how long one registration's raft entry takes to become
//! durable in the redb log, from `LogStore::append` to its `IOFlushed` (one redb write
//! transaction and its fdatasync, on the log store's writer thread).
//!
//! - `one_store`: one log on the disk, as one server on its own machine would have.
//! - `three_stores_quorum`: three logs in one directory, each appending the entry at the same
//!   moment, timed until two of them are durable. That is W6's setup (three servers on one
//!   machine and one disk) and its commit rule: a registration is committed once two of the
//!   three servers hold it durably. The third is awaited untimed before the next round.
//!
//! Compare with W6's one-client row: its whole round trip (HTTP, raft, two RPC legs, apply)
//! has to fit in 0.5 ms for the 2,000/s target, of which this is the part no code path skips.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::stream::{FuturesUnordered, StreamExt};
use openraft::alias::EntryOf;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::testing::log_id;
use openraft::type_config::TypeConfigExt;
use proconsul_runtime_tokio::raft::{LogStore, Proposal, TypeConfig, open_database};

/// The `proconsul` binary's allocator, as in the other server benchmarks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One W6 registration as the raft log holds it (~700 B of JSON).
fn registration(index: u64) -> EntryOf<TypeConfig> {
    let (b, c) = ((index >> 8) & 0xff, index & 0xff);
    let command = format!(
        concat!(
            r#"{{"Op":"Register","Node":{{"Node":"bench-node-{i}","Address":"10.20.{b}.{c}","#,
            r#""Datacenter":"dc1","TaggedAddresses":{{"lan":"10.20.{b}.{c}","#,
            r#""wan":"198.18.{b}.{c}"}},"Meta":{{"rack":"r1","workload":"w6"}}}},"#,
            r#""Service":{{"ID":"bench-svc-{i}-1","Service":"bench-svc-{i}","#,
            r#""Tags":["v1","primary"],"Address":"10.20.{b}.{c}","Port":8080,"#,
            r#""Meta":{{"version":"1.2.3"}}}},"Checks":[{{"CheckID":"service:bench-svc-{i}-1","#,
            r#""Name":"HTTP health","Status":"passing","ServiceID":"bench-svc-{i}-1"}}]}}"#
        ),
        i = index,
        b = b,
        c = c,
    );
    let command = serde_json::from_str(&command).expect("a valid Register command");
    EntryOf::<TypeConfig>::new_normal(log_id::<TypeConfig>(1, 1, index), Proposal::new(command))
}

/// Appends entry `index` to `store`; resolves once it is durable.
async fn append(store: &mut LogStore, index: u64) -> Duration {
    #[allow(clippy::disallowed_methods, reason = "a benchmark measures real time")]
    let start = std::time::Instant::now();
    let (tx, rx) = TypeConfig::oneshot();
    store.append([registration(index)], IOFlushed::signal(tx)).await.expect("append queued");
    rx.await.expect("flush answered").expect("flushed");
    start.elapsed()
}

/// Appends entry `index` to every store at once; returns the time until `quorum` of them hold
/// it durably (the others are awaited, untimed, so rounds do not overlap).
async fn until_durable(stores: &mut [LogStore], index: u64, quorum: usize) -> Duration {
    let mut durable: FuturesUnordered<_> =
        stores.iter_mut().map(|store| append(store, index)).collect();
    let mut took = Duration::ZERO;
    for _ in 0..quorum {
        took = durable.next().await.expect("an append per store");
    }
    while durable.next().await.is_some() {}
    took
}

/// `n` log stores in `dir`, in files named after `name`.
fn stores(dir: &tempfile::TempDir, name: &str, n: usize) -> Vec<LogStore> {
    (0..n)
        .map(|i| {
            let db = open_database(&dir.path().join(format!("{name}-{i}.redb"))).expect("open");
            LogStore::new(db)
        })
        .collect()
}

fn raft_log(c: &mut Criterion) {
    // Two workers, as the box has two cores (and W6's servers share them).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("raft_log_append");
    group.sample_size(20).measurement_time(Duration::from_secs(10));

    let dir = tempfile::tempdir().expect("a temporary directory");
    // (benchmark, file name, logs on the disk, how many must hold the entry durably)
    let cases = [("one_store", "alone", 1, 1), ("three_stores_quorum", "server", 3, 2)];
    for (name, file, logs, quorum) in cases {
        let mut logs = stores(&dir, file, logs);
        let mut next = 1u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += until_durable(&mut logs, next, quorum).await;
                        next += 1;
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, raft_log);
criterion_main!(benches);
