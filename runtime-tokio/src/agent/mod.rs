//! `proconsul agent`: one process that hosts a server (raft, the HTTP API, the CA) and/or a
//! client agent (its node's services and checks, the proxies' xDS), wired from the drivers
//! in this crate. The decisions live in core (`agent::LocalState`, `agent::sidecar_snapshot`,
//! `xds::generate`); this module only moves data between them and sockets.
//!
//! ```text
//!  HTTP /v1/agent/* ─► LocalState ─► sync (anti-entropy) ─► RaftNode::write
//!  applied state / local changes / leaves ─► proxies::rebuild ─► Snapshots ─► ADS streams
//! ```

mod api;
mod forward;
mod leaves;
mod options;
mod pool;
mod proxies;
mod registry;
mod remote;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use proconsul_core::agent::LocalState;
use proconsul_core::rng::{Seed, uuid};
use proconsul_core::state::{Command, Node};
use proconsul_core::xds::TypeUrl;
use proconsul_core::xds::model::Resource;
use tokio::sync::watch;

pub use leaves::{LeafSigner, SignedLeaf};
pub use options::{AgentOptions, FlagValues, OptionsError};

use crate::ca_manager::{CaManager, CaManagerConfig};
use crate::checks::{CheckEvent, CheckRunner, CheckRunnerHandle};
use crate::raft::{RaftNode, ReadConsistency, WriteOutcome};
use crate::xds::{AdsServer, Snapshots};
use proconsul_core::checks::CheckDefinition;

/// The version `GET /v1/agent/self` reports as `Config.Version`: the Consul release whose API
/// this agent answers like.
pub const CONSUL_COMPATIBLE_VERSION: &str = "1.22.0";

/// How long anti-entropy waits between full syncs when nothing changes.
const SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// Why the agent did not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A listener could not be bound.
    #[error("binding {what} on {addr}: {error}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        error: std::io::Error,
    },
    /// Raft could not start.
    #[error("raft: {0}")]
    Raft(String),
    /// A setting is unusable.
    #[error("{0}")]
    Config(String),
}

/// A running agent.
pub struct Agent {
    opts: AgentOptions,
    node: Node,
    local: Mutex<LocalState>,
    /// This agent's raft server (servers and `-dev`).
    raft: Option<Arc<RaftNode>>,
    /// How a client agent reaches the servers, and its cache.
    remote: Option<Arc<remote::Remote>>,
    /// Bumped after every local change and renewed leaf: wakes anti-entropy and the proxy
    /// manager (a watch, so a change during a pass is never missed).
    changes: Arc<watch::Sender<u64>>,
    snapshots: Arc<Snapshots<Resource>>,
    leaves: leaves::LeafCache,
    /// Runs the local checks.
    checks: CheckRunnerHandle,
    /// The definitions of the running checks (for `/v1/agent/checks`).
    check_defs: Mutex<BTreeMap<String, CheckDefinition>>,
    /// The Connect CA of this server.
    ca: Option<Arc<CaManager>>,
    /// The CA's leader loop (establish per term, hourly pruning).
    ca_task: Mutex<Option<crate::ca_manager::CaManagerTask>>,
    /// The LAN pool (set once the listeners are bound: its tags carry their addresses).
    gossip: std::sync::OnceLock<crate::gossip::GossipHandle>,
    addrs: Mutex<Addrs>,
    /// The server RPC listener (dropping it stops it).
    rpc: Mutex<Option<crate::raft::rpc::RpcServer>>,
    shutdown: watch::Sender<bool>,
}

/// The addresses the listeners actually bound (ports may have been 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct Addrs {
    /// HTTP API.
    pub http: Option<SocketAddr>,
    /// gRPC / xDS.
    pub grpc: Option<SocketAddr>,
    /// DNS.
    pub dns: Option<SocketAddr>,
    /// Server RPC.
    pub server: Option<SocketAddr>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Agent {
    /// Starts every listener and background task the options ask for. Returns once the HTTP
    /// API answers (and, for a bootstrapping server, once it leads or follows a leader).
    pub async fn start(opts: AgentOptions) -> Result<Arc<Agent>, AgentError> {
        let seed = Seed(opts.seed);
        let node_id = node_id(&opts, &seed)?;
        let mut tagged = BTreeMap::new();
        tagged.insert("lan".to_owned(), opts.advertise.to_string());
        tagged.insert("lan_ipv4".to_owned(), opts.advertise.to_string());
        tagged.insert("wan".to_owned(), opts.advertise.to_string());
        tagged.insert("wan_ipv4".to_owned(), opts.advertise.to_string());
        let mut meta = opts.node_meta.clone();
        meta.entry("consul-network-segment".into()).or_default();
        let node = Node {
            id: node_id,
            node: opts.node_name.clone(),
            address: opts.advertise.to_string(),
            datacenter: opts.datacenter.to_string(),
            tagged_addresses: tagged,
            meta,
            create_index: 0,
            modify_index: 0,
        };

        let mut addrs = Addrs::default();
        let (raft, rpc) = if opts.server {
            let (raft, rpc) = server::start_raft(&opts, &node).await?;
            addrs.server = Some(rpc.local_addr());
            (Some(raft), Some(rpc))
        } else {
            (None, None)
        };
        let remote = raft
            .is_none()
            .then(|| Arc::new(remote::Remote::new(opts.datacenter.clone(), Vec::new())));
        let mut check_config = crate::checks::CheckRunnerConfig::new(opts.seed ^ 0x4348_4543);
        check_config.net = opts.env.net.clone();
        let (checks, check_events) =
            CheckRunner::start_with(check_config).map_err(|e| AgentError::Config(e.to_string()))?;
        let (shutdown, _) = watch::channel(false);
        let changes = Arc::new(watch::channel(0u64).0);
        let agent = Arc::new_cyclic(|me: &std::sync::Weak<Agent>| {
            let ca = raft.as_ref().map(|r| {
                // Followers hand CA work to the leader's HTTP API, found through the pool.
                let weak = me.clone();
                let resolve: crate::ca_manager::HttpAddrResolver = Arc::new(move |_, node| {
                    let agent = weak.upgrade()?;
                    let members = agent.members();
                    let member = members
                        .iter()
                        .find(|m| m.rpc_addr().is_some_and(|a| a.to_string() == node.addr))?;
                    member.http_addr().map(|a| a.to_string())
                });
                let mut config =
                    CaManagerConfig::new(opts.datacenter.clone(), Seed(opts.seed ^ 0x4341));
                let clock = opts.env.clock.clone();
                config.clock = Arc::new(move || clock.unix());
                if opts.env.deterministic_signing {
                    config.signer_factory = None;
                }
                let forwarder =
                    crate::ca_manager::LeaderForwarder::new(resolve, Duration::from_secs(5))
                        .with_net(opts.env.net.clone());
                Arc::new(CaManager::new(r.clone(), config).with_forwarding(forwarder))
            });
            let signer: Arc<dyn LeafSigner> = match (&raft, &ca, &remote) {
                (Some(r), Some(ca), _) => {
                    Arc::new(server::LocalSigner { raft: r.clone(), ca: ca.clone() })
                }
                (_, _, Some(remote)) => {
                    Arc::new(remote::RemoteSigner { agent: me.clone(), remote: remote.clone() })
                }
                _ => unreachable_signer(),
            };
            Agent {
                leaves: leaves::LeafCache::new(
                    signer,
                    seed.stream("leaf-keys"),
                    changes.clone(),
                    opts.env.clock.clone(),
                ),
                local: Mutex::new(LocalState::new(node.clone())),
                node,
                raft,
                remote,
                changes,
                checks,
                check_defs: Mutex::new(BTreeMap::new()),
                ca,
                gossip: std::sync::OnceLock::new(),
                ca_task: Mutex::new(None),
                snapshots: Arc::new(Snapshots::new()),
                addrs: Mutex::new(addrs),
                rpc: Mutex::new(rpc),
                shutdown,
                opts,
            }
        });

        if let Some(ca) = &agent.ca {
            *lock(&agent.ca_task) = Some(ca.spawn());
        }
        spawn(check_events_loop(agent.clone(), check_events));
        for def in agent.opts.services.clone() {
            if let Err(e) = agent.register_service(def, false).await {
                tracing::error!("service from config: {e}");
            }
        }
        for def in agent.opts.checks.clone() {
            if let Err(e) = agent.register_check(&def).await {
                tracing::error!("check from config: {e}");
            }
        }

        agent.serve_grpc().await?;
        agent.serve_dns().await?;
        agent.serve_http().await?;
        agent.start_gossip().await?;
        if let Some(raft) = &agent.raft {
            server::spawn_leader_duties(agent.clone(), raft.clone());
            server::spawn_snapshot_cadence(agent.clone(), raft.clone());
            pool::spawn_reconciler(agent.clone(), raft.clone());
        }
        if let Some(remote) = &agent.remote {
            spawn(remote::cache_loop(agent.clone(), remote.clone()));
        }
        spawn(anti_entropy(agent.clone()));
        spawn(proxies::run(agent.clone()));
        spawn(leaves::renew_loop(agent.clone()));
        if let Some(raft) = &agent.raft
            && agent.opts.bootstrap_expect == 1
            && server::wait_for_leader(raft, Duration::from_secs(10)).await
        {
            // The first sync, so the catalog shows this node as soon as the API answers.
            let _ = agent.sync_once().await;
        }
        Ok(agent)
    }

    /// The options again from the same flags and (re-read) config files.
    pub(crate) fn reload_options(&self) -> Result<AgentOptions, OptionsError> {
        let mut opts =
            AgentOptions::resolve(&self.opts.flags, &self.opts.node_name, self.opts.seed)?;
        opts.env = self.opts.env.clone();
        Ok(opts)
    }

    /// The addresses the listeners bound.
    pub fn addrs(&self) -> Addrs {
        *lock(&self.addrs)
    }

    /// The node row this agent registers.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The settings the agent runs with.
    pub fn options(&self) -> &AgentOptions {
        &self.opts
    }

    /// This agent's raft server, if it is one.
    pub fn raft(&self) -> Option<&Arc<RaftNode>> {
        self.raft.as_ref()
    }

    /// Resolves when [`Self::shutdown`] is called.
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Leaves the gossip pool gracefully (peers record this node as left), then stops.
    pub async fn leave(&self) {
        if let Some(g) = self.gossip.get()
            && let Err(e) = g.leave().await
        {
            tracing::warn!("leaving the LAN pool: {e}");
        }
        self.shutdown().await;
    }

    /// Stops the agent's tasks and raft.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        if let Some(g) = self.gossip.get() {
            g.shutdown();
        }
        let ca_task = lock(&self.ca_task).take();
        if let Some(task) = ca_task {
            task.shutdown().await;
        }
        if let Some(raft) = &self.raft {
            let _ = raft.shutdown().await;
        }
        let rpc = lock(&self.rpc).take();
        if let Some(rpc) = rpc {
            rpc.shutdown(Duration::from_secs(1)).await;
        }
    }

    /// Tells anti-entropy and the proxy manager that the local state changed.
    fn changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    fn local(&self) -> MutexGuard<'_, LocalState> {
        lock(&self.local)
    }

    async fn serve_http(self: &Arc<Self>) -> Result<(), AgentError> {
        let Some(port) = self.opts.http_port else { return Ok(()) };
        let addr = SocketAddr::new(self.opts.client, port);
        let listener = self.opts.env.net.listen(addr).await.map_err(|error| AgentError::Bind {
            what: "HTTP API",
            addr,
            error,
        })?;
        lock(&self.addrs).http = listener.local_addr().ok();
        let router = match &self.raft {
            Some(raft) => {
                let state = crate::http::ApiState::new(raft.clone(), self.opts.seed ^ 0x4854_5450)
                    .with_node_name(self.opts.node_name.clone())
                    .with_clock(&*self.opts.env.clock);
                let mut router = crate::http::router_with(state);
                if let Some(ca) = &self.ca {
                    router = crate::http::with_connect_ca(router, ca.clone());
                }
                router.merge(api::routes(self.clone())).merge(api::server_routes(self.clone()))
            }
            // A client serves its own endpoints and hands the rest to a server.
            None => api::routes(self.clone()).fallback_service(forward::to_servers(self.clone())),
        };
        let mut stop = self.shutdown.subscribe();
        spawn(async move {
            let listener = crate::env::AxumListener(listener);
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!("HTTP API stopped: {e}");
            }
        });
        Ok(())
    }

    async fn serve_dns(self: &Arc<Self>) -> Result<(), AgentError> {
        let Some(port) = self.opts.dns_port else { return Ok(()) };
        let Some(raft) = &self.raft else {
            tracing::info!("DNS is served by server agents only; -dns-port ignored");
            return Ok(());
        };
        let addr = SocketAddr::new(self.opts.client, port);
        let bind = |error| AgentError::Bind { what: "DNS", addr, error };
        let net = &self.opts.env.net;
        let tcp = net.listen(addr).await.map_err(bind)?;
        // UDP on the port TCP got (the same number when `port` was 0).
        let bound = tcp.local_addr().map_err(bind)?;
        let udp = net.bind_udp(bound).await.map_err(bind)?;
        lock(&self.addrs).dns = Some(bound);
        let domain = proconsul_core::dns::Domain::new(&self.opts.domain)
            .map_err(|e| AgentError::Config(format!("domain: {e}")))?;
        let config = proconsul_core::dns::DnsConfig::new(domain, self.opts.datacenter.clone());
        let catalog: Arc<dyn crate::dns::DnsCatalog> = Arc::new(raft.clone());
        let mut stop = self.shutdown.subscribe();
        spawn(async move {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => {}
                r = crate::dns::serve(udp, tcp, catalog, config) => {
                    if let Err(e) = r {
                        tracing::error!("DNS server stopped: {e}");
                    }
                }
            }
        });
        Ok(())
    }

    async fn serve_grpc(self: &Arc<Self>) -> Result<(), AgentError> {
        use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer;
        let Some(port) = self.opts.grpc_port else { return Ok(()) };
        let addr = SocketAddr::new(self.opts.client, port);
        let listener = self.opts.env.net.listen(addr).await.map_err(|error| AgentError::Bind {
            what: "gRPC (xDS)",
            addr,
            error,
        })?;
        lock(&self.addrs).grpc = listener.local_addr().ok();
        // Gateways' Envoy waits for a first CDS answer even when it is empty.
        let allow_empty = [TypeUrl::Cluster, TypeUrl::Listener].into_iter().collect();
        let ads = AdsServer::new(self.snapshots.clone(), allow_empty);
        let mut stop = self.shutdown.subscribe();
        spawn(async move {
            let serve = tonic::transport::Server::builder()
                .add_service(AggregatedDiscoveryServiceServer::new(ads))
                .serve_with_incoming_shutdown(crate::env::incoming(listener), async move {
                    let _ = stop.wait_for(|s| *s).await;
                });
            if let Err(e) = serve.await {
                tracing::error!("gRPC server stopped: {e}");
            }
        });
        Ok(())
    }

    /// Writes the anti-entropy commands for this node; returns how many were written.
    async fn sync_once(&self) -> Result<usize, String> {
        let name = self.node.node.clone();
        let (node, services, checks) = match (&self.raft, &self.remote) {
            (Some(raft), _) => raft
                .read(ReadConsistency::Stale, |sm| {
                    let services: Vec<_> = sm.node_services(&name).cloned().collect();
                    let checks: Vec<_> = sm.node_checks(&name).cloned().collect();
                    (sm.node(&name).cloned(), services, checks)
                })
                .await
                .map_err(|e| e.to_string())?,
            (None, Some(remote)) => {
                let rows = remote.node_rows(self, &name).await?;
                (rows.node, rows.services, rows.checks)
            }
            (None, None) => return Err("no server to sync with".into()),
        };
        let mut commands = self.local().sync_commands(node.as_ref(), &services, &checks);
        // The leader registers the `consul` service of servers, not the agent.
        commands.retain(|c| {
            !matches!(c, Command::DeregisterService { service_id, .. } if service_id == "consul")
        });
        let n = commands.len();
        for command in commands {
            match (&self.raft, &self.remote) {
                (Some(raft), _) => {
                    let resp = raft.write(command).await.map_err(|e| e.to_string())?;
                    if let WriteOutcome::Refused { reason } = resp.outcome {
                        return Err(reason);
                    }
                }
                (None, Some(remote)) => remote.apply(self, &command).await?,
                (None, None) => return Err("no server to sync with".into()),
            }
        }
        Ok(n)
    }

    /// Runs `f` on the agent's view of the catalog and the CA roots: the server's state, or
    /// a client's cache (`None` before its first answer).
    pub(crate) async fn with_view<T>(
        &self,
        f: impl FnOnce(
            &dyn proconsul_core::agent::CatalogView,
            Option<&proconsul_core::ca::RootsResponse>,
        ) -> T,
    ) -> Option<T> {
        match (&self.raft, &self.remote) {
            (Some(raft), _) => {
                raft.read(ReadConsistency::Stale, |sm| f(sm, sm.ca_roots())).await.ok()
            }
            (None, Some(remote)) => {
                let cache = remote.cached()?;
                Some(f(&*cache, cache.roots.as_ref()))
            }
            (None, None) => None,
        }
    }

    /// A watch that changes whenever the agent's view of the catalog may have changed.
    pub(crate) fn view_changes(&self) -> Option<watch::Receiver<u64>> {
        match (&self.raft, &self.remote) {
            (Some(raft), _) => Some(raft.state().applied_index()),
            (None, Some(remote)) => Some(remote.version.subscribe()),
            (None, None) => None,
        }
    }

    /// Syncs now (after an API change), so the catalog shows it when the call returns, as
    /// Consul's agent endpoints appear to; failures are retried by the background loop.
    async fn sync_after_change(&self) {
        self.changed();
        if let Err(e) = self.sync_once().await {
            tracing::warn!("anti-entropy: {e} (will retry)");
        }
    }
}

/// The signer of an agent that is neither server nor client cannot exist: `start` builds one
/// or the other.
fn unreachable_signer() -> Arc<dyn LeafSigner> {
    struct NoSigner;
    impl LeafSigner for NoSigner {
        fn sign(
            &self,
            _: Vec<u8>,
            _: String,
        ) -> futures::future::BoxFuture<'_, Result<proconsul_core::ca::IssuedCert, String>>
        {
            Box::pin(async { Err("this agent has no way to reach a CA".to_owned()) })
        }
        fn active_root(&self) -> Option<(proconsul_core::ids::TrustDomain, String)> {
            None
        }
    }
    Arc::new(NoSigner)
}

/// The node id: configured, else kept in `<data-dir>/node-id` (written on first start, so
/// a restarted server keeps its raft identity), else drawn from the seed (`-dev`).
fn node_id(opts: &AgentOptions, seed: &Seed) -> Result<String, AgentError> {
    if let Some(id) = &opts.node_id {
        return Ok(id.clone());
    }
    let fresh = uuid(&mut seed.stream("node-id"));
    let Some(dir) = opts.data_dir.as_ref().filter(|_| !opts.dev) else { return Ok(fresh) };
    let path = dir.join("node-id");
    let io = |e: std::io::Error| AgentError::Config(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) => Err(AgentError::Config(format!("{} is empty", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)?;
            std::fs::write(&path, &fresh).map_err(io)?;
            Ok(fresh)
        }
        Err(e) => Err(io(e)),
    }
}

/// Applies what the check runner reports: status changes (synced to the catalog) and
/// services to deregister after staying critical too long.
async fn check_events_loop(agent: Arc<Agent>, mut events: tokio::sync::mpsc::Receiver<CheckEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            CheckEvent::StatusChanged(change) => {
                agent.apply_status(change.check_id.as_str(), change.status, &change.output);
            }
            CheckEvent::DeregisterService { service_id } => {
                if let Err(e) = agent.deregister_service(&service_id).await {
                    tracing::debug!("reaping {service_id}: {e}");
                }
            }
        }
    }
}

/// Keeps the catalog in sync with the local state: after every local change, and every
/// [`SYNC_INTERVAL`] in case a server lost or changed our rows.
async fn anti_entropy(agent: Arc<Agent>) {
    let mut stop = agent.shutdown.subscribe();
    let mut changes = agent.changes.subscribe();
    let mut backoff = Duration::from_millis(100);
    loop {
        changes.mark_unchanged();
        let wait = match agent.sync_once().await {
            Ok(_) => {
                backoff = Duration::from_millis(100);
                SYNC_INTERVAL
            }
            Err(e) => {
                tracing::debug!("anti-entropy: {e}");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Spawns a driver task of the agent.
fn spawn<F>(f: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    #[allow(clippy::disallowed_methods, reason = "the agent's drivers are runtime tasks")]
    tokio::spawn(f);
}
