//! PERF.md W6: catalog registrations per second through the HTTP API of three servers on
//! loopback, with redb's fsync on every raft commit (its default `Durability::Immediate`;
//! nothing here turns it off), for 1, 64 and 1,000 concurrent clients.
//!
//! ```text
//!  C client tasks ─ PUT /v1/catalog/register (keep-alive) ─► leader's HTTP API
//!        ▲                                                      │ raft client_write
//!        └──────── 200 `true` once committed and applied ◄──────┘ append + fsync on 2 of 3
//! ```
//!
//! The three agents and the clients share one tokio multi-thread runtime (2 workers, as
//! the box has 2 cores), so client and server CPU compete as on one loaded machine. Writes go
//! to the leader only by default; `W6_TARGET=all` spreads them over the three servers
//! (followers forward to the leader over the server RPC, which adds a hop). `W6_CONFIG=FILE`
//! hands every server an agent config file (HCL or JSON), to measure other raft settings.
//!
//! Each criterion iteration sends one batch of distinct registrations (one node and one
//! service each, ~420 B of JSON) with C clients and returns the batch's wall time, so
//! criterion's throughput is registrations per second. Every request's round trip (the
//! commit latency a Consul client sees) is kept; the report at the end prints throughput
//! and p50/p99 per client count from all measured batches.
//!
//! Then reads, as PERF.md W6 also asks: 64 clients ask `GET /v1/health/service/<one of the
//! registered services>`, with `?stale` spread over the three servers (each answers from
//! its own applied state), and consistent (the default) on the leader, which confirms its
//! leadership with a quorum round (ReadIndex) before every answer. The catalog holds every
//! registration of the write workloads by then (~250k).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use proconsul_runtime_tokio::agent::{Agent, AgentOptions, FlagValues};
use proconsul_runtime_tokio::api_client::{ApiClient, Query};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// The `proconsul` binary's allocator, so the in-process servers allocate as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Client counts of the workload, each with the registrations one iteration sends: big
/// enough that a batch takes ~0.1 s or more at the target rate, so start-up and tail effects
/// of a batch stay small.
const WORKLOADS: [(usize, usize); 3] = [(1, 200), (64, 2_000), (1_000, 5_000)];
/// Concurrent readers, and the reads one iteration sends.
const READ_CLIENTS: usize = 64;
const READ_BATCH: usize = 5_000;
/// Attempts of one registration before the run is abandoned (a minute of elections).
const MAX_RETRIES: u64 = 600;
/// Pause before a failed registration is sent again.
const RETRY_WAIT: Duration = Duration::from_millis(100);
/// How long a cluster may take to elect a leader through gossip and `-bootstrap-expect`.
const FORMATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The three in-process servers and their data directories (deleted on drop).
struct Cluster {
    agents: Vec<Arc<Agent>>,
    _dirs: Vec<tempfile::TempDir>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `-server -bootstrap-expect 3` options for server `i`, joining the next server's LAN port.
fn server_flags(i: usize, dir: &std::path::Path, lan_ports: &[u16; 3]) -> FlagValues {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let port = |p: u16| Some(i32::from(p));
    FlagValues {
        server: true,
        bootstrap_expect: Some(3),
        node: Some(format!("server-{}", i + 1)),
        data_dir: Some(dir.to_path_buf()),
        bind: Some(lo),
        advertise: Some(lo),
        client: Some(lo),
        retry_join: vec![format!("127.0.0.1:{}", lan_ports[(i + 1) % 3])],
        http_port: port(free_port()),
        grpc_port: Some(-1),
        dns_port: Some(-1),
        server_port: port(free_port()),
        serf_lan_port: port(lan_ports[i]),
        serf_wan_port: port(free_port()),
        seed: Some(0x5736_0000 + i as u64),
        config_files: std::env::var("W6_CONFIG").ok().map(Into::into).into_iter().collect(),
        ..Default::default()
    }
}

impl Cluster {
    /// Starts the three servers concurrently (each waits for the others to bootstrap) and
    /// waits until they agree on a leader.
    async fn start() -> Cluster {
        let dirs: Vec<tempfile::TempDir> =
            (0..3).map(|_| tempfile::tempdir().expect("a temporary data dir")).collect();
        let lan_ports = [free_port(), free_port(), free_port()];
        let mut starting = JoinSet::new();
        for (i, dir) in dirs.iter().enumerate() {
            let flags = server_flags(i, dir.path(), &lan_ports);
            let opts = AgentOptions::resolve(&flags, "bench", i as u64).expect("valid options");
            starting.spawn(async move { (i, Agent::start(opts).await.expect("agent starts")) });
        }
        let mut agents: Vec<(usize, Arc<Agent>)> = starting.join_all().await;
        agents.sort_by_key(|(i, _)| *i);
        let cluster = Cluster { agents: agents.into_iter().map(|(_, a)| a).collect(), _dirs: dirs };
        tokio::time::timeout(FORMATION_TIMEOUT, cluster.wait_for_leader())
            .await
            .expect("three servers elect a leader");
        cluster
    }

    /// Waits until every server names the same leader and that leader accepts a write.
    async fn wait_for_leader(&self) -> usize {
        loop {
            if let Some(leader) = self.leader().await {
                let client = ApiClient::new(&self.http(leader).to_string()).expect("address");
                if register(&client, u64::MAX).await.is_ok() {
                    return leader;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The index of the server every server agrees leads, if they agree.
    async fn leader(&self) -> Option<usize> {
        let mut seen = Vec::new();
        for agent in &self.agents {
            seen.push(agent.raft()?.raft().current_leader().await?);
        }
        if seen.windows(2).any(|w| w[0] != w[1]) {
            return None;
        }
        self.agents.iter().position(|a| a.raft().is_some_and(|r| r.id() == seen[0]))
    }

    fn http(&self, i: usize) -> SocketAddr {
        self.agents[i].addrs().http.expect("HTTP API enabled")
    }

    async fn shutdown(&self) {
        for agent in &self.agents {
            agent.shutdown().await;
        }
    }
}

/// The body of registration `n`: one node with tagged addresses and meta, one service
/// instance and its check (~420 B, the PERF.md W6 entry size). Formatted directly rather
/// than built as a JSON value, so the load generator takes little of the CPU it shares with
/// the servers (the names and addresses need no escaping).
fn registration(n: u64) -> String {
    let (b, c, rack) = ((n >> 8) & 0xff, n & 0xff, n % 32);
    format!(
        concat!(
            r#"{{"Node":"bench-node-{n}","Address":"10.20.{b}.{c}","Datacenter":"dc1","#,
            r#""TaggedAddresses":{{"lan":"10.20.{b}.{c}","wan":"198.18.{b}.{c}"}},"#,
            r#""NodeMeta":{{"rack":"r{rack}","workload":"w6"}},"#,
            r#""Service":{{"ID":"bench-svc-{n}-1","Service":"bench-svc-{n}","#,
            r#""Tags":["v1","primary"],"Address":"10.20.{b}.{c}","Port":8080,"#,
            r#""Meta":{{"version":"1.2.3"}}}},"#,
            r#""Check":{{"CheckID":"service:bench-svc-{n}-1","Name":"HTTP health","#,
            r#""Status":"passing","ServiceID":"bench-svc-{n}-1"}}}}"#
        ),
        n = n,
        b = b,
        c = c,
        rack = rack,
    )
}

/// Sends registration `n` and checks Consul's answer (`true`).
async fn register(client: &ApiClient, n: u64) -> Result<(), String> {
    let r = client
        .put("/v1/catalog/register", &Query::new(), registration(n))
        .await
        .map_err(|e| e.to_string())?;
    match r.body.as_ref() {
        b"true" | b"true\n" => Ok(()),
        other => Err(format!("register answered {:?}", String::from_utf8_lossy(other))),
    }
}

/// Sends registration `n` until it is acknowledged, as a Consul client retries a write that
/// met a leader election (500 "No cluster leader" / "not the leader"); returns the retries.
/// Gives up (panics, ending the run) after [`MAX_RETRIES`]: the cluster is broken then.
async fn register_until_acknowledged(client: &ApiClient, n: u64) -> u64 {
    let mut retries = 0;
    loop {
        match register(client, n).await {
            Ok(()) => return retries,
            Err(e) if retries < MAX_RETRIES => {
                if retries == 0 {
                    eprintln!("registration {n}: {e}; retrying");
                }
                retries += 1;
                tokio::time::sleep(RETRY_WAIT).await;
            }
            Err(e) => panic!("registration {n} failed {retries} times, last: {e}"),
        }
    }
}

/// What one request of a batch is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Registration `n` (a new node and service).
    Register,
    /// `GET /v1/health/service/bench-svc-K` for one of the first `registered` services:
    /// with `?stale` from whichever server the client talks to, or consistent (the
    /// default), which the leader confirms with a quorum before it answers.
    Read { stale: bool, registered: u64 },
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Read { stale: true, .. } => "read ?stale",
            Op::Read { stale: false, .. } => "read (consistent)",
        }
    }
}

/// Reads the health of a registered service and checks it has its one instance. Reads are
/// not retried: one that fails ends the run.
async fn read_service(client: &ApiClient, n: u64, stale: bool, registered: u64) {
    // A stride through the registered services, so reads do not repeat one entry.
    let k = n.wrapping_mul(0x9e37_79b9) % registered.max(1);
    let query = if stale { Query::new().flag("stale") } else { Query::new() };
    let path = format!("/v1/health/service/bench-svc-{k}");
    let r = client.get(&path, &query).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains(&format!("\"bench-svc-{k}-1\"")), "GET {path} answered {body}");
}

/// Round-trip times of every measured request and the batches' totals, per workload.
#[derive(Default)]
struct Stats {
    /// Requests answered with an error and sent again (their latency includes the retries).
    retries: u64,
    latencies: Vec<Duration>,
    requests: u64,
    elapsed: Duration,
}

/// Sends `batch` requests (numbered from `first`) with `clients` concurrent clients, each
/// taking the next number until the batch is done; returns the batch's wall time.
async fn run_batch(
    targets: &Arc<Vec<ApiClient>>,
    clients: usize,
    batch: usize,
    first: u64,
    op: Op,
    stats: &mut Stats,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    #[allow(clippy::disallowed_methods, reason = "a benchmark measures real time")]
    let started = std::time::Instant::now();
    for c in 0..clients {
        let (targets, next) = (targets.clone(), next.clone());
        tasks.spawn(async move {
            let client = &targets[c % targets.len()];
            let mut latencies = Vec::with_capacity(batch / clients + 1);
            let mut retries = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= batch {
                    return (latencies, retries);
                }
                let n = first + i as u64;
                #[allow(clippy::disallowed_methods, reason = "a benchmark measures real time")]
                let sent = std::time::Instant::now();
                retries += match op {
                    Op::Register => register_until_acknowledged(client, n).await,
                    Op::Read { stale, registered } => {
                        read_service(client, n, stale, registered).await;
                        0
                    }
                };
                latencies.push(sent.elapsed());
            }
        });
    }
    for (latencies, retries) in tasks.join_all().await {
        stats.latencies.extend(latencies);
        stats.retries += retries;
    }
    let elapsed = started.elapsed();
    stats.requests += batch as u64;
    stats.elapsed += elapsed;
    elapsed
}

/// The `q`-quantile of sorted durations (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One row per workload; the last column names the servers its requests went to.
fn report(results: &[(Op, &'static str, usize, Stats)]) {
    println!();
    println!("W6: 3 servers on loopback, fsync on (redb Durability::Immediate)");
    println!(
        "{:<18} {:>8} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8}",
        "workload", "clients", "requests", "requests/s", "p50", "p99", "max", "retries"
    );
    for (op, to, clients, stats) in results {
        let mut sorted = stats.latencies.clone();
        sorted.sort_unstable();
        let rate = stats.requests as f64 / stats.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<18} {clients:>8} {:>10} {rate:>12.0} {:>10.2?} {:>10.2?} {:>10.2?} {:>8}   ({to})",
            op.label(),
            sorted.len(),
            quantile(&sorted, 0.50),
            quantile(&sorted, 0.99),
            sorted.last().copied().unwrap_or_default(),
            stats.retries,
        );
    }
}

fn clients_for(cluster: &Cluster, rt: &Runtime, servers: &[usize]) -> Arc<Vec<ApiClient>> {
    Arc::new(rt.block_on(async {
        servers
            .iter()
            .map(|&i| ApiClient::new(&cluster.http(i).to_string()).expect("address"))
            .collect()
    }))
}

fn bench(c: &mut Criterion) {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = rt.block_on(Cluster::start());
    let leader = rt.block_on(cluster.wait_for_leader());
    let to_all = std::env::var("W6_TARGET").is_ok_and(|t| t == "all");
    let write_servers: Vec<usize> = if to_all { vec![0, 1, 2] } else { vec![leader] };
    let writers = clients_for(&cluster, &rt, &write_servers);
    let all = clients_for(&cluster, &rt, &[0, 1, 2]);
    let on_leader = clients_for(&cluster, &rt, &[leader]);
    // Registration numbers never repeat, so every request creates a new node and service.
    let numbers = AtomicU64::new(0);
    let mut results = Vec::new();

    let mut group = c.benchmark_group("registrations");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(8));
    let mut measure = |name: String, targets: &Arc<Vec<ApiClient>>, op: Op, clients, batch| {
        // Opens the clients' keep-alive connections before anything is timed.
        let mut discard = Stats::default();
        let first = numbers.fetch_add(clients as u64, Ordering::Relaxed);
        rt.block_on(run_batch(targets, clients, clients, first, op, &mut discard));
        let mut stats = Stats::default();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let first = numbers.fetch_add(batch as u64, Ordering::Relaxed);
                    total += rt.block_on(run_batch(targets, clients, batch, first, op, &mut stats));
                }
                total
            })
        });
        stats
    };
    let writes_to = if to_all { "all three" } else { "leader" };
    for (clients, batch) in WORKLOADS {
        let stats = measure(format!("clients_{clients}"), &writers, Op::Register, clients, batch);
        results.push((Op::Register, writes_to, clients, stats));
    }
    // Every number handed out so far was registered and acknowledged (the write workloads'
    // warm-up batches run even when criterion's filter skips their measurement).
    let registered = numbers.load(Ordering::Relaxed);
    if registered > 0 {
        for (stale, targets, to) in [(true, &all, "all three"), (false, &on_leader, "leader")] {
            let op = Op::Read { stale, registered };
            let name = if stale { "reads_stale_64" } else { "reads_consistent_64" };
            let stats = measure(name.to_owned(), targets, op, READ_CLIENTS, READ_BATCH);
            results.push((op, to, READ_CLIENTS, stats));
        }
    }
    group.finish();
    report(&results);
    rt.block_on(cluster.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
