//! A client agent's view of the servers: which one to ask (the LAN pool's servers, by their
//! `http_addr` tags, or the `-retry-join` hosts' HTTP until the pool knows them), and the
//! cache it keeps with one long-poll read (`/v1/internal/agent/cache`) so proxies and
//! authorization keep working from the last answer while the servers are unreachable.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use proconsul_core::agent::CatalogView;
use proconsul_core::ca::{IssuedCert, RootsResponse, pem_encode};
use proconsul_core::config::ConfigEntries;
use proconsul_core::gossip::MemberStatus;
use proconsul_core::ids::{Datacenter, TrustDomain};
use proconsul_core::state::{Command, ServiceHealth};
use tokio::sync::watch;

use super::api::internal::{CacheSnapshot, NodeRows};
use super::{Agent, LeafSigner, lock};
use crate::api_client::{ApiClient, Query};

/// Bound on one call to a server (blocking reads add their wait).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one cache read blocks on the server.
const CACHE_WAIT: Duration = Duration::from_secs(30);

/// The cached catalog of a client agent.
#[derive(Debug, Clone)]
pub(crate) struct CachedCatalog {
    pub(crate) datacenter: Datacenter,
    pub(crate) index: u64,
    pub(crate) entries: ConfigEntries,
    pub(crate) roots: Option<RootsResponse>,
    pub(crate) connect: std::collections::BTreeMap<String, Vec<ServiceHealth>>,
    pub(crate) gateways: Vec<ServiceHealth>,
}

impl CatalogView for CachedCatalog {
    fn datacenter(&self) -> &Datacenter {
        &self.datacenter
    }

    fn config_entries(&self) -> &ConfigEntries {
        &self.entries
    }

    fn connect_instances(&self, service: &str) -> Vec<ServiceHealth> {
        self.connect.get(service).cloned().unwrap_or_default()
    }

    fn mesh_gateways(&self) -> Vec<ServiceHealth> {
        self.gateways.clone()
    }
}

/// The servers as a client agent reaches them.
pub(crate) struct Remote {
    datacenter: Datacenter,
    /// Where to look first: `host:port` of servers' HTTP APIs known before gossip has them.
    seeds: Vec<String>,
    next: AtomicUsize,
    cache: Mutex<Option<Arc<CachedCatalog>>>,
    /// Bumped on every new cache answer.
    pub(crate) version: watch::Sender<u64>,
}

impl Remote {
    pub(crate) fn new(datacenter: Datacenter, seeds: Vec<String>) -> Self {
        Remote {
            datacenter,
            seeds,
            next: AtomicUsize::new(0),
            cache: Mutex::new(None),
            version: watch::channel(0).0,
        }
    }

    /// The last cache answer, if any arrived yet.
    pub(crate) fn cached(&self) -> Option<Arc<CachedCatalog>> {
        lock(&self.cache).clone()
    }

    /// Candidate server HTTP addresses, rotated so failures move to the next server.
    pub(crate) fn server_addrs(&self, agent: &Agent) -> Vec<String> {
        let members = agent.members();
        let servers = || members.iter().filter(|m| m.is_server());
        let mut out: Vec<String> = servers()
            .filter(|m| m.status == MemberStatus::Alive)
            .filter_map(|m| m.http_addr().map(|a| a.to_string()))
            .collect();
        out.extend(self.seeds.iter().cloned());
        if !out.is_empty() {
            let k = self.next.load(Ordering::Relaxed) % out.len();
            out.rotate_left(k);
        }
        // Servers gossip thinks failed come last: a server back from a crash answers HTTP
        // before the pool has noticed it again.
        out.extend(
            servers()
                .filter(|m| m.status != MemberStatus::Alive && m.status != MemberStatus::Left)
                .filter_map(|m| m.http_addr().map(|a| a.to_string())),
        );
        out
    }

    fn rotate(&self) {
        self.next.fetch_add(1, Ordering::Relaxed);
    }

    /// One call on the first server that answers.
    async fn call<T>(
        &self,
        agent: &Agent,
        timeout: Duration,
        f: impl Fn(ApiClient) -> BoxFuture<'static, Result<T, String>>,
    ) -> Result<T, String> {
        let servers = self.server_addrs(agent);
        if servers.is_empty() {
            return Err("no known server".into());
        }
        let mut last = String::new();
        for addr in servers {
            let client = match ApiClient::with_net(&addr, agent.opts.env.net.clone()) {
                Ok(c) => c.with_timeout(timeout),
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            match f(client).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    last = format!("{addr}: {e}");
                    self.rotate();
                }
            }
        }
        Err(last)
    }

    /// The catalog rows of `node`.
    pub(crate) async fn node_rows(&self, agent: &Agent, node: &str) -> Result<NodeRows, String> {
        let path = format!("/v1/internal/agent/node/{node}");
        self.call(agent, CALL_TIMEOUT, move |c| {
            let path = path.clone();
            Box::pin(async move {
                let r = c.get(&path, &Query::new()).await.map_err(|e| e.to_string())?;
                r.json::<NodeRows>(&path).map_err(|e| e.to_string())
            })
        })
        .await
    }

    /// Applies one anti-entropy command on the servers.
    pub(crate) async fn apply(&self, agent: &Agent, command: &Command) -> Result<(), String> {
        let body = serde_json::to_vec(command).map_err(|e| e.to_string())?;
        self.call(agent, CALL_TIMEOUT, move |c| {
            let body = body.clone();
            Box::pin(async move {
                c.put("/v1/internal/agent/apply", &Query::new(), body)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        })
        .await
    }

    /// One blocking cache read for `services`; stores and announces the answer.
    async fn refresh(&self, agent: &Agent, services: &BTreeSet<String>) -> Result<(), String> {
        let index = self.cached().map_or(0, |c| c.index);
        let list = services.iter().cloned().collect::<Vec<_>>().join(",");
        let snapshot: CacheSnapshot = self
            .call(agent, CACHE_WAIT + CALL_TIMEOUT, move |c| {
                let q = Query::new().param("services", &list).index(index).wait(CACHE_WAIT);
                Box::pin(async move {
                    let r =
                        c.get("/v1/internal/agent/cache", &q).await.map_err(|e| e.to_string())?;
                    r.json::<CacheSnapshot>("/v1/internal/agent/cache").map_err(|e| e.to_string())
                })
            })
            .await?;
        let mut entries = ConfigEntries::new();
        for e in snapshot.entries {
            entries.insert(e);
        }
        let cached = CachedCatalog {
            datacenter: self.datacenter.clone(),
            index: snapshot.index,
            entries,
            roots: snapshot.roots,
            connect: snapshot.connect,
            gateways: snapshot.gateways,
        };
        *lock(&self.cache) = Some(Arc::new(cached));
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }
}

/// Keeps the cache fresh: a blocking read that restarts when the set of services the local
/// proxies need changes. On errors the last answer stays in use.
pub(crate) async fn cache_loop(agent: Arc<Agent>, remote: Arc<Remote>) {
    let mut stop = agent.shutdown.subscribe();
    let mut changes = agent.changes.subscribe();
    let mut backoff = Duration::from_millis(200);
    loop {
        let services = super::proxies::watched_services(&agent);
        let got_services = services.clone();
        let services_moved = async {
            loop {
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                if super::proxies::watched_services(&agent) != got_services {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            // A new upstream: ask again with the new set at once.
            () = services_moved => None,
            r = remote.refresh(&agent, &services) => Some(r),
        };
        match outcome {
            Some(Ok(())) | None => backoff = Duration::from_millis(200),
            Some(Err(e)) => {
                tracing::debug!("client cache: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Leaves signed by the servers' CA.
pub(crate) struct RemoteSigner {
    pub(crate) agent: std::sync::Weak<Agent>,
    pub(crate) remote: Arc<Remote>,
}

impl LeafSigner for RemoteSigner {
    fn sign(&self, csr_der: Vec<u8>, service: String) -> BoxFuture<'_, Result<IssuedCert, String>> {
        Box::pin(async move {
            let agent = self.agent.upgrade().ok_or("the agent stopped")?;
            let body = serde_json::to_vec(&serde_json::json!({
                "CSR": pem_encode("CERTIFICATE REQUEST", &csr_der),
                "Requester": {"Services": [service]},
            }))
            .map_err(|e| e.to_string())?;
            self.remote
                .call(&agent, CALL_TIMEOUT, move |c| {
                    let body = body.clone();
                    Box::pin(async move {
                        let r = c
                            .put("/v1/internal/connect/ca/sign", &Query::new(), body)
                            .await
                            .map_err(|e| e.to_string())?;
                        r.json::<IssuedCert>("/v1/internal/connect/ca/sign")
                            .map_err(|e| e.to_string())
                    })
                })
                .await
        })
    }

    fn active_root(&self) -> Option<(TrustDomain, String)> {
        let cache = self.remote.cached()?;
        let roots = cache.roots.as_ref()?;
        Some((TrustDomain::new(&roots.trust_domain).ok()?, roots.active_root_id.clone()))
    }
}
