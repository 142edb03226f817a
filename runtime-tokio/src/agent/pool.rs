//! The agent in its datacenter's LAN gossip pool: joining (and retrying `-retry-join`),
//! advertising its role and addresses as tags, the servers' `-bootstrap-expect` (the first
//! server by name initializes raft once it sees enough servers), and the leader's
//! reconciliation of membership into the catalog (`serfHealth`, the `consul` service).

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use proconsul_core::agent::config::default_ports;
use proconsul_core::gossip::{Member, MemberStatus, Profile, reconcile, tags};
use proconsul_core::ids::NodeName;

use super::{Agent, AgentError, spawn};
use crate::gossip::{Gossip, GossipConfig};
use crate::raft::RaftNode;

/// How often `-retry-join` retries (Consul's default is 30 s; a shorter wait forms
/// clusters faster and costs one datagram per address).
const RETRY_JOIN_INTERVAL: Duration = Duration::from_secs(2);
/// How often the leader reconciles even when membership did not change (Consul: 60 s).
const RECONCILE_INTERVAL: Duration = Duration::from_secs(60);

impl Agent {
    /// This agent's gossip tags.
    fn gossip_tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        let role = if self.opts.server { tags::ROLE_SERVER } else { tags::ROLE_CLIENT };
        t.insert(tags::ROLE.to_owned(), role.to_owned());
        t.insert(tags::NODE_ID.to_owned(), self.node.id.clone());
        let addrs = self.addrs();
        if let Some(rpc) = addrs.server {
            t.insert(
                tags::RPC_ADDR.to_owned(),
                SocketAddr::new(self.opts.advertise, rpc.port()).to_string(),
            );
        }
        if let Some(http) = addrs.http {
            let ip = if http.ip().is_unspecified() { self.opts.advertise } else { http.ip() };
            t.insert(tags::HTTP_ADDR.to_owned(), SocketAddr::new(ip, http.port()).to_string());
        }
        t
    }

    /// Joins the LAN pool (when `-serf-lan-port` is not disabled) and starts the retry-join
    /// and bootstrap loops.
    pub(super) async fn start_gossip(self: &Arc<Self>) -> Result<(), AgentError> {
        let Some(port) = self.opts.serf_lan_port else { return Ok(()) };
        let node_name = NodeName::new(self.opts.node_name.clone())
            .map_err(|e| AgentError::Config(format!("node name: {e}")))?;
        let bind = SocketAddr::new(self.opts.bind, port);
        let failed = |error| AgentError::Bind { what: "LAN gossip", addr: bind, error };
        let socket = self.opts.env.net.bind_udp(bind).await.map_err(failed)?;
        let bound = socket.local_addr().map_err(failed)?;
        let config = GossipConfig {
            node_name,
            datacenter: self.opts.datacenter.clone(),
            bind,
            advertise: Some(SocketAddr::new(self.opts.advertise, bound.port())),
            tags: self.gossip_tags(),
            profile: if self.opts.dev { Profile::Dev } else { Profile::Lan },
            seed: self.opts.seed ^ 0x5345_5246,
        };
        let handle = Gossip::start_on(config, socket).map_err(failed)?;
        let _ = self.gossip.set(handle);
        if !self.opts.retry_join.is_empty() {
            spawn(retry_join(self.clone()));
        }
        if let Some(raft) = &self.raft
            && self.opts.bootstrap_expect > 1
        {
            spawn(bootstrap_expect(self.clone(), raft.clone()));
        }
        Ok(())
    }

    /// The LAN members as a watch (`None` when gossip is disabled): observers that poll
    /// often check `has_changed` instead of copying the list.
    pub fn member_updates(&self) -> Option<tokio::sync::watch::Receiver<Vec<Member>>> {
        self.gossip.get().map(|g| g.subscribe())
    }

    /// The LAN members, or just this agent when gossip is disabled.
    pub fn members(&self) -> Vec<Member> {
        match self.gossip.get() {
            Some(g) => g.members(),
            None => {
                let name = NodeName::new(self.opts.node_name.clone());
                name.map(|name| {
                    vec![Member {
                        name,
                        datacenter: self.opts.datacenter.clone(),
                        addr: SocketAddr::new(self.opts.advertise, 0),
                        status: MemberStatus::Alive,
                        tags: self.gossip_tags(),
                        incarnation: 0,
                    }]
                })
                .unwrap_or_default()
            }
        }
    }
}

/// `host`, `host:port` or `[v6]:port`; the port defaults to Consul's LAN port.
fn join_addrs(addr: &str) -> Vec<SocketAddr> {
    let with_port = if addr.parse::<SocketAddr>().is_ok()
        || addr.rsplit_once(':').is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        addr.to_owned()
    } else {
        format!("{addr}:{}", default_ports::SERF_LAN)
    };
    with_port.to_socket_addrs().map(Iterator::collect).unwrap_or_default()
}

/// Resolves and joins `addrs`; how many answered.
pub(crate) async fn join(agent: &Agent, addrs: &[String]) -> usize {
    let Some(gossip) = agent.gossip.get() else { return 0 };
    let resolved: Vec<SocketAddr> = addrs.iter().flat_map(|a| join_addrs(a)).collect();
    if resolved.is_empty() {
        return 0;
    }
    gossip.join(&resolved).await
}

async fn retry_join(agent: Arc<Agent>) {
    let mut stop = agent.shutdown.subscribe();
    loop {
        let n = join(&agent, &agent.opts.retry_join).await;
        if n > 0 {
            tracing::info!("joined the LAN pool through {n} of {:?}", agent.opts.retry_join);
            return;
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(RETRY_JOIN_INTERVAL) => {}
        }
    }
}

/// Waits for `-bootstrap-expect` servers in the pool; the first of them by node name
/// initializes raft with all of them (the others are then contacted by its leader).
async fn bootstrap_expect(agent: Arc<Agent>, raft: Arc<RaftNode>) {
    let Some(gossip) = agent.gossip.get() else { return };
    let mut members = gossip.subscribe();
    let mut stop = agent.shutdown.subscribe();
    loop {
        if raft.raft().is_initialized().await.unwrap_or(true) {
            return;
        }
        let servers: Vec<Member> = members
            .borrow()
            .iter()
            .filter(|m| {
                m.is_server()
                    && m.status == MemberStatus::Alive
                    && m.datacenter == agent.opts.datacenter
            })
            .cloned()
            .collect();
        if servers.len() >= agent.opts.bootstrap_expect as usize {
            if servers.first().is_some_and(|m| m.name.as_str() == agent.opts.node_name) {
                let voters: BTreeMap<u64, BasicNode> = servers
                    .iter()
                    .filter_map(|m| {
                        let id = super::server::raft_id(m.tags.get(tags::NODE_ID)?);
                        Some((id, BasicNode::new(m.rpc_addr()?.to_string())))
                    })
                    .collect();
                match raft.raft().initialize(voters.clone()).await {
                    Ok(()) => tracing::info!("bootstrapped raft with {} servers", voters.len()),
                    Err(e) => tracing::warn!("raft bootstrap: {e}"),
                }
            }
            return;
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            r = members.changed() => if r.is_err() { return },
        }
    }
}

/// On the leader: keep the catalog's view of the pool current, after every membership change
/// and every [`RECONCILE_INTERVAL`].
pub(super) async fn reconcile_while_leading(agent: &Agent, raft: &RaftNode) -> Result<(), String> {
    let Ok(leader) = NodeName::new(agent.opts.node_name.clone()) else {
        return Err("invalid node name".into());
    };
    let members = agent.members();
    let commands = raft
        .read(crate::raft::ReadConsistency::Stale, |sm| reconcile(&members, sm, &leader))
        .await
        .map_err(|e| e.to_string())?;
    for command in commands {
        raft.write(command).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs reconciliation on the leader for as long as the agent runs.
pub(super) fn spawn_reconciler(agent: Arc<Agent>, raft: Arc<RaftNode>) {
    spawn(async move {
        let mut stop = agent.shutdown.subscribe();
        let mut metrics = raft.raft().metrics();
        let mut members = agent.gossip.get().map(|g| g.subscribe());
        loop {
            let leading = metrics.borrow_watched().current_leader == Some(raft.id());
            if leading && let Err(e) = reconcile_while_leading(&agent, &raft).await {
                tracing::debug!("reconciling members: {e}");
            }
            let members_changed = async {
                match members.as_mut() {
                    Some(m) => m.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let leadership_flips = async {
                loop {
                    if metrics.changed().await.is_err() {
                        return false;
                    }
                    if (metrics.borrow_watched().current_leader == Some(raft.id())) != leading {
                        return true;
                    }
                }
            };
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                alive = leadership_flips => if !alive { return },
                ok = members_changed => if !ok { members = None },
                _ = tokio::time::sleep(if leading { RECONCILE_INTERVAL } else { Duration::from_secs(1) }) => {}
            }
        }
    });
}
