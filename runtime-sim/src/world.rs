//! A running simulation: the topology's agents as turmoil hosts (the production agent, over
//! [`SimNet`], [`SimClock`] and a [`SimDisk`] per server), the harness that steps it, applies
//! faults and records the [`Trace`], and read access to every live agent between steps.
//!
//! Observation happens between steps, outside every host, so it never perturbs the run:
//! the same seed gives the same steps, the same observations and the same trace.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, UNIX_EPOCH};

use openraft_compat::metrics;
use proconsul_core::gossip::MemberStatus;
use proconsul_core::rng::{Seed, uuid};
use proconsul_runtime_tokio::agent::{Agent, AgentOptions, FlagValues};
use proconsul_runtime_tokio::env::{Env, RaftDisk};
use rand::Rng as _;

use crate::clock::SimClock;
use crate::disk::SimDisk;
use crate::faults::Fault;
use crate::net::SimNet;
use crate::proxy::{self, ProxyView};
use crate::topology::{HostSpec, Role, Topology};
use crate::trace::{Event, Trace};

/// The agents' ports: Consul's defaults, since every host has its own address.
pub const HTTP_PORT: u16 = 8500;
/// gRPC (xDS).
pub const GRPC_PORT: u16 = 8502;
/// Server RPC.
pub const SERVER_PORT: u16 = 8300;
/// LAN gossip.
pub const SERF_LAN_PORT: u16 = 8301;

/// How the simulated world behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds turmoil (latencies, faults, tokio's scheduling) and every agent.
    pub seed: u64,
    /// Simulated time per step.
    pub tick: Duration,
    /// Message latency bounds.
    pub min_latency: Duration,
    /// Upper bound.
    pub max_latency: Duration,
    /// The Unix time the simulation starts at.
    pub epoch: Duration,
}

impl SimConfig {
    /// 10 ms steps, 1-5 ms latency, starting 2026-01-01T00:00:00Z.
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            tick: Duration::from_millis(10),
            min_latency: Duration::from_millis(1),
            max_latency: Duration::from_millis(5),
            epoch: Duration::from_secs(1_767_225_600),
        }
    }
}

/// What the harness last saw of one host (to record changes only).
#[derive(Debug, Default)]
struct Seen {
    leader: Option<(u64, Option<String>)>,
    applied: u64,
    members: Vec<String>,
    /// The agent's pool watch, taken once it runs (copying the member list every step
    /// would cost more than the simulation itself).
    member_updates: Option<tokio::sync::watch::Receiver<Vec<proconsul_core::gossip::Member>>>,
}

struct Host {
    spec: HostSpec,
    /// Set by the host's software once its agent runs; dead with the host's runtime.
    agent: Arc<Mutex<Weak<Agent>>>,
    disk: Option<SimDisk>,
    up: bool,
    seen: Seen,
}

struct Proxy {
    host: String,
    id: String,
    view: Arc<Mutex<ProxyView>>,
    seen: BTreeMap<String, String>,
}

/// A simulation in progress.
pub struct World {
    sim: turmoil::Sim<'static>,
    config: SimConfig,
    hosts: Vec<Host>,
    proxies: Vec<Proxy>,
    trace: Trace,
    health: BTreeMap<String, String>,
    /// The (server, applied index) the health map was read at.
    health_index: Option<(u64, u64)>,
    clients: u16,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A boxed error for turmoil's host results.
type HostResult = Result<(), Box<dyn std::error::Error>>;

impl World {
    /// Builds the world and registers every host; nothing runs until the first step.
    pub fn new(topology: &Topology, config: SimConfig) -> Result<World, String> {
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(config.seed)
            .tick_duration(config.tick)
            .min_message_latency(config.min_latency)
            .max_message_latency(config.max_latency)
            .simulation_duration(Duration::from_secs(365 * 86_400))
            .tcp_capacity(1 << 16)
            .epoch(UNIX_EPOCH + config.epoch);
        let mut world = World {
            sim: builder.build(),
            config,
            hosts: Vec::new(),
            proxies: Vec::new(),
            trace: Trace::new(),
            health: BTreeMap::new(),
            health_index: None,
            clients: 0,
        };
        for spec in topology.hosts() {
            world.add_host(topology, spec)?;
        }
        // Datacenters' private networks are not routed to each other (their addresses may
        // even overlap): until WAN federation exists, no host of one reaches another.
        let dcs = topology.datacenters();
        for (i, a) in dcs.iter().enumerate() {
            for b in &dcs[i + 1..] {
                let ips = |dc: &String| -> Vec<IpAddr> {
                    topology
                        .hosts()
                        .iter()
                        .filter(|h| &h.dc == dc)
                        .map(|h| IpAddr::V4(h.ip))
                        .collect()
                };
                for x in ips(a) {
                    for y in ips(b) {
                        world.sim.partition(x, y);
                    }
                }
            }
        }
        Ok(world)
    }

    fn add_host(&mut self, topology: &Topology, spec: &HostSpec) -> Result<(), String> {
        let disk = (spec.role == Role::Server).then(SimDisk::new);
        let opts = agent_options(topology, spec, &self.config, disk.clone())?;
        let slot: Arc<Mutex<Weak<Agent>>> = Arc::new(Mutex::new(Weak::new()));
        let mut proxies = Vec::new();
        for p in &spec.proxies {
            let view = Arc::new(Mutex::new(ProxyView::default()));
            self.proxies.push(Proxy {
                host: spec.name.clone(),
                id: p.id.clone(),
                view: view.clone(),
                seen: BTreeMap::new(),
            });
            proxies.push((p.clone(), view));
        }
        let grpc = SocketAddr::new(IpAddr::V4(spec.ip), GRPC_PORT);
        let software_slot = slot.clone();
        self.sim.host(IpAddr::V4(spec.ip), move || {
            let (opts, slot, proxies) = (opts.clone(), software_slot.clone(), proxies.clone());
            async move {
                let agent = Agent::start(opts).await.map_err(|e| e.to_string())?;
                *lock(&slot) = Arc::downgrade(&agent);
                for (spec, view) in proxies {
                    let task = proxy::run(grpc, spec.id, spec.service, view);
                    #[allow(clippy::disallowed_methods, reason = "a simulated proxy's task")]
                    tokio::spawn(task);
                }
                agent.stopped().await;
                HostResult::Ok(())
            }
        });
        self.hosts.push(Host {
            spec: spec.clone(),
            agent: slot,
            disk,
            up: true,
            seen: Seen::default(),
        });
        Ok(())
    }

    /// Simulated time since the start.
    pub fn now(&self) -> Duration {
        self.sim.elapsed()
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Every host's spec.
    pub fn hosts(&self) -> impl Iterator<Item = &HostSpec> {
        self.hosts.iter().map(|h| &h.spec)
    }

    /// One step, then the observations.
    pub fn step(&mut self) -> Result<(), String> {
        self.sim.step().map_err(|e| format!("a host failed: {e}"))?;
        self.observe();
        Ok(())
    }

    /// Steps for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) -> Result<(), String> {
        let until = self.now() + d;
        while self.now() < until {
            self.step()?;
        }
        Ok(())
    }

    /// Steps until `done` holds (checked after every step) or `limit` more simulated time
    /// passed; returns whether it held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&World) -> bool,
    ) -> Result<bool, String> {
        let until = self.now() + limit;
        while self.now() < until {
            self.step()?;
            if done(self) {
                return Ok(true);
            }
        }
        Ok(done(self))
    }

    /// The running agent of `host`, if its host is up and the agent started.
    pub fn agent(&self, host: &str) -> Option<Arc<Agent>> {
        let h = self.hosts.iter().find(|h| h.spec.name == host)?;
        if !h.up {
            return None;
        }
        lock(&h.agent).upgrade()
    }

    /// `ip:port` of `host`'s HTTP API.
    pub fn http_addr(&self, host: &str) -> Option<String> {
        let h = self.hosts.iter().find(|h| h.spec.name == host)?;
        Some(format!("{}:{HTTP_PORT}", h.spec.ip))
    }

    fn host(&self, name: &str) -> Result<&Host, String> {
        self.hosts.iter().find(|h| h.spec.name == name).ok_or_else(|| format!("no host {name}"))
    }

    fn ips(&self, names: &[String]) -> Result<Vec<IpAddr>, String> {
        names.iter().map(|n| Ok(IpAddr::V4(self.host(n)?.spec.ip))).collect()
    }

    /// Every (a, b) address pair of two host sets.
    fn pairs(&self, a: &[String], b: &[String]) -> Result<Vec<(IpAddr, IpAddr)>, String> {
        let (a, b) = (self.ips(a)?, self.ips(b)?);
        Ok(a.iter().flat_map(|x| b.iter().map(move |y| (*x, *y))).collect())
    }

    /// The servers' view of the leader: `(term, leader)` of every running server.
    pub fn leaders(&self) -> BTreeMap<String, (u64, Option<String>)> {
        let mut out = BTreeMap::new();
        for h in self.hosts.iter().filter(|h| h.spec.role == Role::Server) {
            if let Some(seen) = self.agent(&h.spec.name).and(h.seen.leader.clone()) {
                out.insert(h.spec.name.clone(), seen);
            }
        }
        out
    }

    /// The leader every running server agrees on, if they do.
    pub fn agreed_leader(&self) -> Option<String> {
        let views = self.leaders();
        let mut leaders = views.values().map(|(_, l)| l.clone());
        let first = leaders.next()??;
        leaders.all(|l| l.as_deref() == Some(first.as_str())).then_some(first)
    }

    /// The proxy with sidecar id `id` on `host`: what it holds.
    pub fn proxy(&self, host: &str, id: &str) -> Option<ProxyView> {
        let p = self.proxies.iter().find(|p| p.host == host && p.id == id)?;
        Some(lock(&p.view).clone())
    }

    /// Every proxy: `(host, sidecar id, view)`.
    pub fn proxies(&self) -> Vec<(String, String, ProxyView)> {
        self.proxies.iter().map(|p| (p.host.clone(), p.id.clone(), lock(&p.view).clone())).collect()
    }

    /// Runs `f` on a client host added to the world (a turmoil client: it runs until `f`
    /// returns and never crashes). Its address is in `10.250.0.0/16`.
    pub fn client<F>(&mut self, name: &str, f: F)
    where
        F: std::future::Future<Output = Result<(), String>> + 'static,
    {
        self.clients += 1;
        let [hi, lo] = self.clients.to_be_bytes();
        let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 250, hi, lo));
        self.trace.record(self.now(), "sim", Event::Host(format!("client {name} at {ip}")));
        self.sim.client(ip, async move { f.await.map_err(Into::into) });
    }

    /// Applies one fault now.
    pub fn apply(&mut self, fault: &Fault) -> Result<(), String> {
        self.trace.record(self.now(), "sim", Event::Fault(fault.to_string()));
        match fault {
            Fault::Partition(a, b) => {
                for (x, y) in self.pairs(a, b)? {
                    self.sim.partition(x, y);
                }
            }
            Fault::PartitionOneway(a, b) => {
                for (x, y) in self.pairs(a, b)? {
                    self.sim.partition_oneway(x, y);
                }
            }
            Fault::Heal(a, b) => {
                for (x, y) in self.pairs(a, b)? {
                    self.sim.repair(x, y);
                }
            }
            Fault::HealAll => {
                let all: Vec<String> = self.hosts.iter().map(|h| h.spec.name.clone()).collect();
                for (x, y) in self.pairs(&all, &all)? {
                    if x != y {
                        self.sim.repair(x, y);
                    }
                }
            }
            Fault::Crash(name) => self.crash(name)?,
            Fault::Restart(name) => self.restart(name)?,
            Fault::Latency { max } => self.sim.set_max_message_latency(*max),
            Fault::Slow { host, latency } => {
                let others: Vec<String> = self
                    .hosts
                    .iter()
                    .filter(|h| &h.spec.name != host)
                    .map(|h| h.spec.name.clone())
                    .collect();
                for (x, y) in self.pairs(std::slice::from_ref(host), &others)? {
                    self.sim.set_link_latency(x, y, *latency);
                }
            }
            Fault::Loss(rate) => self.sim.set_fail_rate(*rate),
        }
        Ok(())
    }

    fn crash(&mut self, name: &str) -> Result<(), String> {
        let i =
            self.hosts.iter().position(|h| h.spec.name == name).ok_or(format!("no host {name}"))?;
        let ip = IpAddr::V4(self.hosts[i].spec.ip);
        self.sim.crash(ip);
        let host = &mut self.hosts[i];
        host.up = false;
        host.seen = Seen::default();
        if let Some(disk) = &host.disk {
            disk.crash();
        }
        Ok(())
    }

    fn restart(&mut self, name: &str) -> Result<(), String> {
        let i =
            self.hosts.iter().position(|h| h.spec.name == name).ok_or(format!("no host {name}"))?;
        let ip = IpAddr::V4(self.hosts[i].spec.ip);
        self.sim.bounce(ip);
        self.hosts[i].up = true;
        Ok(())
    }

    /// Records what changed since the last step.
    fn observe(&mut self) {
        let now = self.now();
        let names: BTreeMap<IpAddr, String> =
            self.hosts.iter().map(|h| (IpAddr::V4(h.spec.ip), h.spec.name.clone())).collect();
        let mut health_source = None;
        for h in &mut self.hosts {
            if !h.up {
                continue;
            }
            let Some(agent) = lock(&h.agent).upgrade() else { continue };
            if let Some(raft) = agent.raft() {
                let (term, leader, applied) = metrics(raft, &names);
                if h.seen.leader.as_ref() != Some(&(term, leader.clone())) {
                    self.trace.record(
                        now,
                        &h.spec.name,
                        Event::Leader { term, leader: leader.clone() },
                    );
                    h.seen.leader = Some((term, leader.clone()));
                }
                if applied != h.seen.applied {
                    self.trace.record(now, &h.spec.name, Event::Applied { index: applied });
                    h.seen.applied = applied;
                }
                if leader.as_deref() == Some(h.spec.name.as_str()) {
                    health_source = Some(raft.clone());
                }
            }
            if h.seen.member_updates.is_none() {
                h.seen.member_updates = agent.member_updates();
                if let Some(rx) = &mut h.seen.member_updates {
                    rx.mark_changed();
                }
            }
            let Some(rx) = &mut h.seen.member_updates else { continue };
            if !rx.has_changed().unwrap_or(false) {
                continue;
            }
            let mut alive: Vec<String> = rx
                .borrow_and_update()
                .iter()
                .filter(|m| matches!(m.status, MemberStatus::Alive | MemberStatus::Suspect))
                .map(|m| m.name.to_string())
                .collect();
            alive.sort();
            if alive != h.seen.members {
                self.trace.record(now, &h.spec.name, Event::Members { alive: alive.clone() });
                h.seen.members = alive;
            }
        }
        let health_at =
            health_source.as_ref().map(|r| (r.id(), *r.state().applied_index().borrow()));
        if let Some(raft) = health_source
            && self.health_index != health_at
        {
            self.health_index = health_at;
            let state = raft.state().read();
            let mut current = BTreeMap::new();
            for node in state.machine.nodes() {
                for check in state.machine.node_checks(&node.node) {
                    let key = format!("{}/{}", check.node, check.check_id);
                    current.insert(key, format!("{:?}", check.status).to_ascii_lowercase());
                }
            }
            drop(state);
            for (check, status) in &current {
                if self.health.get(check) != Some(status) {
                    let event = Event::Health { check: check.clone(), status: status.clone() };
                    self.trace.record(now, "leader", event);
                }
            }
            self.health = current;
        }
        for p in &mut self.proxies {
            let view = lock(&p.view);
            for (type_url, held) in &view.acked {
                if p.seen.get(type_url) != Some(&held.version) {
                    let event = Event::Xds {
                        type_url: type_url.clone(),
                        version: held.version.clone(),
                        resources: held.resources.len(),
                    };
                    self.trace.record(now, &format!("{}/{}", p.host, p.id), event);
                    p.seen.insert(type_url.clone(), held.version.clone());
                }
            }
        }
    }
}

/// The agent options of one host.
fn agent_options(
    topology: &Topology,
    spec: &HostSpec,
    config: &SimConfig,
    disk: Option<SimDisk>,
) -> Result<AgentOptions, String> {
    let servers: Vec<&HostSpec> =
        topology.hosts().iter().filter(|h| h.dc == spec.dc && h.role == Role::Server).collect();
    let ip = IpAddr::V4(spec.ip);
    // Each host draws from its own named stream of the world's seed, its node id as an
    // agent without a stored one would (the agent reads no data directory here).
    let host_seed = Seed(config.seed).stream(&spec.name).next_u64();
    let flags = FlagValues {
        server: spec.role == Role::Server,
        bootstrap_expect: (spec.role == Role::Server)
            .then(|| u32::try_from(servers.len()).unwrap_or(u32::MAX)),
        datacenter: Some(spec.dc.clone()),
        node: Some(spec.name.clone()),
        node_id: Some(uuid(&mut Seed(host_seed).stream("node-id"))),
        data_dir: Some(format!("/sim/{}", spec.name).into()),
        bind: Some(ip),
        advertise: Some(ip),
        client: Some(ip),
        retry_join: servers
            .iter()
            .filter(|s| s.name != spec.name)
            .map(|s| format!("{}:{SERF_LAN_PORT}", s.ip))
            .collect(),
        http_port: Some(i32::from(HTTP_PORT)),
        grpc_port: Some(i32::from(GRPC_PORT)),
        dns_port: Some(-1),
        server_port: Some(i32::from(SERVER_PORT)),
        serf_lan_port: Some(i32::from(SERF_LAN_PORT)),
        serf_wan_port: Some(-1),
        seed: Some(host_seed),
        ..FlagValues::default()
    };
    let mut opts = AgentOptions::resolve(&flags, &spec.name, host_seed)
        .map_err(|e| format!("{}: {e}", spec.name))?;
    opts.services = spec.services.clone();
    opts.env = Env {
        net: Arc::new(SimNet),
        clock: Arc::new(SimClock { epoch: config.epoch }),
        raft_disk: disk.map(|d| Arc::new(d) as Arc<dyn RaftDisk>),
        raft_seed: Some(host_seed),
        deterministic_signing: true,
    };
    Ok(opts)
}

mod openraft_compat {
    //! Reads openraft's metrics into names.

    use std::collections::BTreeMap;
    use std::net::{IpAddr, SocketAddr};

    use openraft::async_runtime::WatchReceiver;
    use proconsul_runtime_tokio::raft::RaftNode;

    /// `(term, leader name, last applied index)` of one server.
    pub(super) fn metrics(
        raft: &RaftNode,
        names: &BTreeMap<IpAddr, String>,
    ) -> (u64, Option<String>, u64) {
        let m = raft.raft().metrics().borrow_watched().clone();
        let leader = m.current_leader.and_then(|id| {
            let node = m.membership_config.membership().get_node(&id)?;
            let addr: SocketAddr = node.addr.parse().ok()?;
            names.get(&addr.ip()).cloned()
        });
        (m.current_term, leader, m.last_applied.map_or(0, |l| l.index))
    }
}
