//! The server half of an agent: raft over redb with the server RPC, bootstrap, and the
//! duties only the leader has (the CA, registering the servers' `consul` service).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use proconsul_core::ca::{IssuedCert, Requester};
use proconsul_core::ids::TrustDomain;
use proconsul_core::rng::Seed;
use proconsul_core::state::Node;

use super::LeafSigner;
use crate::ca_manager::CaManager;

use super::{Agent, AgentError, AgentOptions, spawn};
use crate::raft::rpc::{Forwarder, RaftRpcService, RpcNetwork, RpcServer};
use crate::raft::{
    LogStore, NodeId, RaftNode, SnapshotCadence, SnapshotWork, StateMachineStore, open_database,
    open_in_memory_database,
};

/// Leaves from this server's CA.
pub(super) struct LocalSigner {
    pub(super) raft: Arc<RaftNode>,
    pub(super) ca: Arc<CaManager>,
}

impl LeafSigner for LocalSigner {
    fn sign(&self, csr_der: Vec<u8>, service: String) -> BoxFuture<'_, Result<IssuedCert, String>> {
        Box::pin(async move {
            let requester = Requester::Services(BTreeSet::from([service]));
            let issued = self
                .ca
                .sign(&csr_der, &requester, self.ca.now())
                .await
                .map_err(|e| e.to_string())?;
            Ok(issued.cert)
        })
    }

    fn active_root(&self) -> Option<(TrustDomain, String)> {
        let state = self.raft.state().read();
        let roots = state.machine.ca_roots()?;
        Some((TrustDomain::new(&roots.trust_domain).ok()?, roots.active_root_id.clone()))
    }

    fn on_leadership(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.ca.establish(self.ca.now()).await.map_err(|e| e.to_string()) })
    }
}

/// Bound on every raft write and consistent read.
const RAFT_DEADLINE: Duration = Duration::from_secs(5);
/// Bound on connecting to another server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The raft id of a server: the first 8 bytes of its node id (a UUID), never 0.
pub(crate) fn raft_id(node_id: &str) -> NodeId {
    let hex: String = node_id.chars().filter(char::is_ascii_hexdigit).take(16).collect();
    let id = u64::from_str_radix(&hex, 16).unwrap_or(0);
    if id == 0 { 1 } else { id }
}

/// Starts raft and the server RPC. A server that expects only itself bootstraps at once.
pub(super) async fn start_raft(
    opts: &AgentOptions,
    node: &Node,
) -> Result<(Arc<RaftNode>, RpcServer), AgentError> {
    let raft_err = |e: &dyn std::fmt::Display| AgentError::Raft(e.to_string());
    let env = &opts.env;
    let paths = opts.raft_db_path().zip(opts.raft_snapshot_path());
    let (db, snapshot_db) = match (paths, &env.raft_disk) {
        (_, Some(disk)) => (disk.open(), disk.open_snapshots()),
        (Some((log, snapshots)), None) if !opts.dev => {
            if let Some(dir) = log.parent() {
                std::fs::create_dir_all(dir).map_err(|e| raft_err(&e))?;
            }
            (open_database(&log), open_database(&snapshots))
        }
        _ => (open_in_memory_database(), open_in_memory_database()),
    };
    let (db, snapshot_db) = (db.map_err(|e| raft_err(&e))?, snapshot_db.map_err(|e| raft_err(&e))?);
    // A dev server is alone: short timers only make it lead sooner. Real servers get
    // timers that survive a loaded machine (Consul's are 1 s at raft_multiplier 1).
    let m = u64::from(opts.raft_multiplier);
    let (heartbeat, election) = if opts.dev { (50, 150) } else { (100, 500) };
    let config = openraft::Config {
        cluster_name: opts.datacenter.to_string(),
        heartbeat_interval: heartbeat * m,
        election_timeout_min: election * m,
        election_timeout_max: 2 * election * m,
        // Snapshots follow Consul's cadence instead ([`spawn_snapshot_cadence`]).
        snapshot_policy: openraft::SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: opts.raft_trailing_logs,
        // A follower further behind than the kept log can only be caught up by a snapshot.
        replication_lag_threshold: opts.raft_trailing_logs.max(1),
        ..Default::default()
    }
    .validate()
    .map_err(|e| raft_err(&e))?;
    let addr = SocketAddr::new(opts.bind, opts.server_port);
    let listener = env.net.listen(addr).await.map_err(|error| AgentError::Bind {
        what: "server RPC",
        addr,
        error,
    })?;
    let bound = listener.local_addr().map_err(|e| raft_err(&e))?;
    let advertised = SocketAddr::new(opts.advertise, bound.port());
    let id = raft_id(&node.id);
    // A world-owned disk is written inline: a log thread's fsync is invisible to a
    // simulated clock, and so is a snapshot written on the blocking pool.
    let (log, work) = match env.raft_disk {
        Some(_) => (LogStore::inline(db.clone()), SnapshotWork::Inline),
        None => (LogStore::new(db.clone()), SnapshotWork::BlockingPool),
    };
    let dc = opts.datacenter.clone();
    let sm = StateMachineStore::open_split(db, snapshot_db, dc, work).map_err(|e| raft_err(&e))?;
    let network = RpcNetwork::with_net(id, CONNECT_TIMEOUT, env.net.clone());
    let seed = env.raft_seed.unwrap_or(opts.seed) ^ id;
    let config = Arc::new(config);
    let raft = RaftNode::start_seeded(id, config, sm, network, RAFT_DEADLINE, log, seed)
        .await
        .map_err(|e| raft_err(&e))?
        .with_write_forwarding(Forwarder::with_net(CONNECT_TIMEOUT, env.net.clone()));
    let service = RaftRpcService::new(raft.raft().clone(), raft.deadline());
    let rpc = RpcServer::serve_on(listener, service).map_err(|e| raft_err(&e))?;
    if opts.bootstrap_expect == 1
        && !raft.raft().is_initialized().await.map_err(|e| raft_err(&e))?
    {
        let members = BTreeMap::from([(id, BasicNode::new(advertised.to_string()))]);
        raft.raft().initialize(members).await.map_err(|e| raft_err(&e))?;
    }
    Ok((Arc::new(raft), rpc))
}

/// Takes raft snapshots on Consul's cadence ([`SnapshotCadence`]) until the agent stops.
pub(super) fn spawn_snapshot_cadence(agent: Arc<Agent>, raft: Arc<RaftNode>) {
    let cadence = SnapshotCadence {
        threshold: agent.opts.raft_snapshot_threshold,
        interval: agent.opts.raft_snapshot_interval,
    };
    let rng = Seed(agent.opts.seed).stream("raft-snapshots");
    let raft = raft.raft().clone();
    spawn(async move {
        let mut stop = agent.shutdown.subscribe();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => {}
            () = cadence.run(raft, rng) => {}
        }
    });
}

/// Waits until this server knows a leader (or `timeout` passes).
pub(super) async fn wait_for_leader(raft: &RaftNode, timeout: Duration) -> bool {
    let mut metrics = raft.raft().metrics();
    tokio::time::timeout(timeout, async {
        loop {
            if metrics.borrow_watched().current_leader.is_some() {
                return;
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// While this server leads: make sure the CA exists (membership is reconciled into the
/// catalog by [`super::pool::spawn_reconciler`]).
pub(super) fn spawn_leader_duties(agent: Arc<Agent>, raft: Arc<RaftNode>) {
    spawn(async move {
        let mut stop = agent.shutdown.subscribe();
        let mut metrics = raft.raft().metrics();
        let mut done_for_term: Option<u64> = None;
        loop {
            let m = metrics.borrow_watched().clone();
            let leading = m.current_leader == Some(raft.id());
            if leading && done_for_term != Some(m.current_term) {
                let ok = leader_duties(&agent, &raft).await;
                if ok {
                    done_for_term = Some(m.current_term);
                }
            }
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                r = metrics.changed() => if r.is_err() { return },
                // Retry failed duties.
                _ = tokio::time::sleep(Duration::from_secs(1)), if leading && done_for_term != Some(m.current_term) => {}
            }
        }
    });
}

async fn leader_duties(agent: &Agent, raft: &RaftNode) -> bool {
    let _ = raft;
    match agent.leaves.signer().on_leadership().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("CA initialization: {e}");
            false
        }
    }
}
