//! The servers' Connect CA (Consul's built-in provider run by the leader): it creates the
//! primary CA once, survives leader changes and restarts by rebuilding the exact signer from
//! the replicated provider state, signs leaves (rate limited), rotates the root on a
//! configuration change and prunes old roots. Every CA decision is the core's
//! (`proconsul_core::ca`); this module decides only *where* it runs and carries the results
//! through raft.
//!
//! ```text
//!  raft leader, new term ─► establish(): consistent read
//!      ├─ no provider state, no roots ─► CertificateAuthority::new_primary ─► CaSetProviderState{cas: 0}
//!      └─ provider state ──────────────► CertificateAuthority::restore (same keys and roots)
//!  sign(csr) ── leader ─► CsrLimiter ─► CertificateAuthority::sign_leaf
//!            └─ follower ─► leader's PUT /v1/internal/connect/ca/sign (deadline, marked forwarded)
//!  set_config(new) ─► copy.update_config (rotation: new root cross-signed by the old one)
//!                  ─► CaSetProviderState{cas: index} ─► swap in the copy
//!  every prune_interval on the leader ─► copy.prune_roots ─► CaSetProviderState{cas}
//! ```
//!
//! Start one per server: [`CaManager::new`], then [`CaManager::spawn`] (the leader loop), and
//! hand the manager to the HTTP API with `http::with_connect_ca`. Nothing else is needed on
//! leadership changes: the loop watches raft metrics and establishes the CA in each new
//! term. Serials are random bytes then a counter; the generator after a restore is derived
//! from the seed, this server's id and the raft term, so no two leaderships replay a stream.

mod forward;
mod task;
mod wire;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::Method;
use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use proconsul_core::ca::{
    CaConfig, CaError, CertificateAuthority, CsrLimiter, RateLimited, Requester, SignerFactory,
    pem_encode,
};
use proconsul_core::ids::Datacenter;
use proconsul_core::rng::{Seed, Stream};
use proconsul_core::state::{Command, WatchKey};
use proconsul_core::time::{Instant, UnixTime};

use crate::ca_signer::RingSignerFactory;
use crate::raft::{NodeError, NodeId, RaftNode, ReadConsistency, WriteOutcome};

pub use forward::{FORWARDED_HEADER, HttpAddrResolver, LeaderForwarder, NOT_LEADER_HEADER};
pub use task::CaManagerTask;
pub use wire::{IssuedCertJson, IssuedLeaf, RequesterJson, SignRequest};

/// Wall-clock time for certificates (the simulation plugs its own).
pub type WallClock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The host's clock.
pub fn system_clock() -> WallClock {
    Arc::new(|| {
        #[allow(clippy::disallowed_methods, reason = "certificates carry real wall-clock time")]
        let now = std::time::SystemTime::now();
        let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
    })
}

/// How one server runs the CA.
#[derive(Clone)]
pub struct CaManagerConfig {
    /// This server's datacenter (leaf identities must name it).
    pub datacenter: Datacenter,
    /// The server's seed: the CA's streams derive from it.
    pub seed: Seed,
    /// Configuration for a new CA when the state has none (Consul's defaults otherwise).
    pub initial_config: Option<CaConfig>,
    /// Certificate time.
    pub clock: WallClock,
    /// Fast signing outside the simulation; `None` keeps the core's deterministic signer.
    pub signer_factory: Option<Arc<dyn SignerFactory>>,
    /// How often the leader prunes rotated-out roots (Consul: hourly).
    pub prune_interval: Duration,
    /// Wait before retrying a failed establishment.
    pub retry_interval: Duration,
}

impl CaManagerConfig {
    /// Consul's defaults: ring signing, the host clock, hourly pruning, 1 s retries.
    pub fn new(datacenter: Datacenter, seed: Seed) -> Self {
        CaManagerConfig {
            datacenter,
            seed,
            initial_config: None,
            clock: system_clock(),
            signer_factory: Some(Arc::new(RingSignerFactory)),
            prune_interval: Duration::from_secs(3600),
            retry_interval: Duration::from_secs(1),
        }
    }
}

/// Why a CA operation failed. Nothing changed unless stated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaManagerError {
    /// The core CA refused (bad CSR, wrong identity, invalid configuration): a client error,
    /// answered 400 with this message.
    #[error("{0}")]
    Refused(#[from] CaError),
    /// `CSRMaxPerSecond`/`CSRMaxConcurrent` reached: retry after the delay, with jitter.
    #[error("{0}")]
    RateLimited(#[from] RateLimited),
    /// This server cannot act and has no way to reach the leader.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this server knows of.
        leader: Option<NodeId>,
    },
    /// No leader is known (an election is in progress); retry.
    #[error("No cluster leader")]
    NoLeader,
    /// The CA has not been established yet, or the state cannot build one.
    #[error("Connect CA is not ready: {0}")]
    NotReady(String),
    /// The CA state changed under this operation (another leader, or `?cas` mismatch);
    /// nothing was written. Retry.
    #[error("CA state changed concurrently: {0}")]
    Conflict(String),
    /// The state machine refused the write (a bug: the core validates before proposing).
    #[error("CA state write refused: {0}")]
    WriteRefused(String),
    /// Raft failed or timed out; a write may or may not have been applied.
    #[error(transparent)]
    Raft(#[from] NodeError),
    /// The leader answered a forwarded request with an error status and message.
    #[error("{message}")]
    Leader {
        /// The HTTP status the leader answered.
        status: u16,
        /// Its message.
        message: String,
    },
    /// Forwarding to the leader failed before it answered.
    #[error("forwarding to leader {leader} failed: {reason}")]
    Forward {
        /// The leader.
        leader: NodeId,
        /// What failed.
        reason: String,
    },
    /// The leader did not answer within the deadline.
    #[error("the leader did not answer within {0:?}")]
    Timeout(Duration),
}

/// The CA this server built, valid for one raft term and one provider-state index.
struct Active {
    ca: CertificateAuthority,
    term: u64,
    state_index: u64,
    limiter: CsrLimiter,
}

/// Where raft leadership is, as this server sees it.
enum Leadership {
    Leader { term: u64 },
    Follower { leader: Option<(NodeId, BasicNode)> },
}

/// One server's CA manager. Share it in an `Arc`.
pub struct CaManager {
    node: Arc<RaftNode>,
    config: CaManagerConfig,
    forwarder: Option<LeaderForwarder>,
    /// Origin of the limiter's monotonic clock.
    started: tokio::time::Instant,
    /// Serializes establishing, reconfiguring and pruning (each ends in one CAS write).
    admin: tokio::sync::Mutex<()>,
    active: Mutex<Option<Active>>,
}

impl CaManager {
    /// A manager for `node`. Without [`CaManager::with_forwarding`], a follower answers
    /// [`CaManagerError::NotLeader`] instead of forwarding.
    pub fn new(node: Arc<RaftNode>, config: CaManagerConfig) -> Self {
        CaManager {
            node,
            config,
            forwarder: None,
            started: tokio::time::Instant::now(),
            admin: tokio::sync::Mutex::new(()),
            active: Mutex::new(None),
        }
    }

    /// Followers forward signing and configuration changes to the leader through `forwarder`.
    pub fn with_forwarding(mut self, forwarder: LeaderForwarder) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// The manager's wall clock (handlers stamp requests with it).
    pub fn now(&self) -> UnixTime {
        (self.config.clock)()
    }

    /// The raft node this manager runs on.
    pub fn node(&self) -> &Arc<RaftNode> {
        &self.node
    }

    fn active(&self) -> std::sync::MutexGuard<'_, Option<Active>> {
        // Nothing in the critical sections can panic halfway through a mutation.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn monotonic(&self) -> Instant {
        Instant(u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn leadership(&self) -> Leadership {
        let metrics = self.node.raft().metrics();
        let m = metrics.borrow_watched();
        match m.current_leader {
            Some(id) if id == self.node.id() => Leadership::Leader { term: m.current_term },
            Some(id) => Leadership::Follower {
                leader: Some((
                    id,
                    m.membership_config.membership().get_node(&id).cloned().unwrap_or_default(),
                )),
            },
            None => Leadership::Follower { leader: None },
        }
    }

    /// A fresh stream for one leadership (and one state index), never replayed.
    fn stream(&self, purpose: &str, term: u64, index: u64) -> Stream {
        let name = format!("ca/{purpose}/node-{}/term-{term}/index-{index}", self.node.id());
        self.config.seed.stream(&name)
    }

    /// The provider state's modify index in the local applied state (0: none).
    fn replicated_index(&self) -> u64 {
        self.node.state().read().machine.ca_provider().map_or(0, |p| p.modify_index)
    }

    fn is_current(&self, term: u64) -> bool {
        let index = self.replicated_index();
        self.active().as_ref().is_some_and(|a| a.term == term && a.state_index == index)
    }

    fn install(
        &self,
        mut ca: CertificateAuthority,
        term: u64,
        state_index: u64,
    ) -> Result<(), CaError> {
        if let Some(factory) = &self.config.signer_factory {
            ca.set_signer_factory(Arc::clone(factory))?;
        }
        let limiter = CsrLimiter::new(&ca.config().config, self.monotonic());
        *self.active() = Some(Active { ca, term, state_index, limiter });
        Ok(())
    }

    /// On the leader: makes sure this server holds the CA of the replicated state, creating
    /// the primary CA if the cluster has none. Idempotent and cheap once established for
    /// this term; the leader loop calls it on every leadership change.
    pub async fn establish(&self, now: UnixTime) -> Result<(), CaManagerError> {
        let _admin = self.admin.lock().await;
        self.establish_locked(now).await.map(drop)
    }

    /// [`CaManager::establish`] under the admin lock; returns the term.
    async fn establish_locked(&self, now: UnixTime) -> Result<u64, CaManagerError> {
        let Leadership::Leader { term } = self.leadership() else {
            return Err(CaManagerError::NotLeader { leader: self.leader_id() });
        };
        if self.is_current(term) {
            return Ok(term);
        }
        // Twice at most: a lost bootstrap race is followed by a restore of the winner's CA.
        for _ in 0..2 {
            // ReadIndex: everything committed before this term is applied locally first.
            let (provider, has_roots, config) = self
                .node
                .read(ReadConsistency::Consistent, |sm| {
                    (sm.ca_provider().cloned(), sm.ca_roots().is_some(), sm.ca_config().cloned())
                })
                .await?;
            let config = config.or_else(|| self.config.initial_config.clone()).unwrap_or_default();
            let dc = self.config.datacenter.clone();
            if let Some(stored) = provider {
                let rng = self.stream("restore", term, stored.modify_index);
                let ca = CertificateAuthority::restore(config, dc, &stored.state, rng)?;
                self.install(ca, term, stored.modify_index)?;
                return Ok(term);
            }
            if has_roots {
                return Err(CaManagerError::NotReady(
                    "CA roots are published but no provider state holds their keys".into(),
                ));
            }
            let ca =
                CertificateAuthority::new_primary(config, dc, self.config.seed.stream("ca"), now)?;
            if let Some(index) = self.write_state(&ca, 0).await? {
                tracing::info!(trust_domain = %ca.trust_domain(), "created the primary Connect CA");
                self.install(ca, term, index)?;
                return Ok(term);
            }
        }
        Err(CaManagerError::Conflict("the CA was created concurrently; retry".into()))
    }

    /// Writes `ca`'s state, roots and config with a CAS on the provider state's index.
    /// `Some(new index)` when applied, `None` when the CAS lost.
    async fn write_state(
        &self,
        ca: &CertificateAuthority,
        cas: u64,
    ) -> Result<Option<u64>, CaManagerError> {
        let command = Command::CaSetProviderState {
            state: ca.stored_state(),
            config: ca.config().clone(),
            cas: Some(cas),
        };
        let response = self.node.write(command).await?;
        match response.outcome {
            WriteOutcome::Applied { succeeded: true } => Ok(Some(self.replicated_index())),
            WriteOutcome::Applied { succeeded: false } => Ok(None),
            WriteOutcome::Refused { reason } => Err(CaManagerError::WriteRefused(reason)),
            WriteOutcome::NoCommand => {
                Err(CaManagerError::WriteRefused("no command applied".into()))
            }
        }
    }

    fn leader_id(&self) -> Option<NodeId> {
        match self.leadership() {
            Leadership::Leader { .. } => Some(self.node.id()),
            Leadership::Follower { leader } => leader.map(|(id, _)| id),
        }
    }

    /// Signs a leaf from `csr_der` for `requester`, valid from a minute before `now`: here
    /// on the leader, else on the leader through the forwarder.
    pub async fn sign(
        &self,
        csr_der: &[u8],
        requester: &Requester,
        now: UnixTime,
    ) -> Result<IssuedLeaf, CaManagerError> {
        if let Leadership::Leader { .. } = self.leadership() {
            return self.sign_local(csr_der, requester, now).await;
        }
        let request = SignRequest {
            csr: pem_encode("CERTIFICATE REQUEST", csr_der),
            requester: requester.into(),
        };
        let body =
            serde_json::to_vec(&request).map_err(|e| CaManagerError::NotReady(e.to_string()))?;
        let answer = match self.forward(Method::PUT, "/v1/internal/connect/ca/sign", body).await? {
            Route::Local => return self.sign_local(csr_der, requester, now).await,
            Route::Remote(answer) => answer,
        };
        let json: IssuedCertJson = serde_json::from_slice(&answer).map_err(|e| {
            CaManagerError::Leader { status: 502, message: format!("undecodable leaf: {e}") }
        })?;
        Ok(json.into())
    }

    /// [`CaManager::sign`] without forwarding: the answer to a forwarded request.
    pub async fn sign_local(
        &self,
        csr_der: &[u8],
        requester: &Requester,
        now: UnixTime,
    ) -> Result<IssuedLeaf, CaManagerError> {
        let Leadership::Leader { term } = self.leadership() else {
            return Err(CaManagerError::NotLeader { leader: self.leader_id() });
        };
        if !self.is_current(term) {
            self.establish(now).await?;
        }
        let mut guard = self.active();
        let active = guard
            .as_mut()
            .ok_or_else(|| CaManagerError::NotReady("the CA is not established yet".into()))?;
        active.limiter.try_acquire(self.monotonic())?;
        // Signing runs under the lock, so at most one is ever in flight: free the slot now.
        let issued = active.ca.sign_leaf(csr_der, requester, now);
        active.limiter.release();
        Ok(IssuedLeaf { cert: issued?, index: active.state_index })
    }

    /// Applies a new CA configuration (Consul's `PUT /v1/connect/ca/configuration`): a new
    /// key type or size rotates the root, cross-signed by the old one, which stays published
    /// until its leaves expire; other changes only replace the settings. With `cas`, only if
    /// the configuration's ModifyIndex is `cas`. On a follower, forwarded to the leader.
    pub async fn set_config(
        &self,
        config: CaConfig,
        cas: Option<u64>,
        now: UnixTime,
    ) -> Result<(), CaManagerError> {
        config.validate().map_err(CaError::from)?;
        if let Leadership::Leader { .. } = self.leadership() {
            return self.set_config_local(config, cas, now).await;
        }
        let path = match cas {
            Some(cas) => format!("/v1/connect/ca/configuration?cas={cas}"),
            None => "/v1/connect/ca/configuration".to_owned(),
        };
        let body =
            serde_json::to_vec(&config).map_err(|e| CaManagerError::NotReady(e.to_string()))?;
        match self.forward(Method::PUT, &path, body).await? {
            Route::Local => self.set_config_local(config, cas, now).await,
            Route::Remote(_) => Ok(()),
        }
    }

    /// [`CaManager::set_config`] without forwarding.
    pub async fn set_config_local(
        &self,
        config: CaConfig,
        cas: Option<u64>,
        now: UnixTime,
    ) -> Result<(), CaManagerError> {
        config.validate().map_err(CaError::from)?;
        let _admin = self.admin.lock().await;
        let term = self.establish_locked(now).await?;
        if let Some(cas) = cas {
            let current = self.node.state().read().machine.index_of(&WatchKey::CaConfig);
            if current != cas {
                return Err(CaManagerError::Conflict(format!(
                    "the CA configuration's ModifyIndex is {current}, not {cas}"
                )));
            }
        }
        self.replace(term, |next| next.update_config(config, false, now).map(|_| true)).await
    }

    /// On the leader: drops roots rotated out longer ago than their leaves can live.
    /// Returns how many went.
    pub async fn prune(&self, now: UnixTime) -> Result<usize, CaManagerError> {
        let _admin = self.admin.lock().await;
        let term = self.establish_locked(now).await?;
        let mut pruned = 0;
        self.replace(term, |next| {
            pruned = next.prune_roots(now);
            Ok(pruned > 0)
        })
        .await?;
        Ok(pruned)
    }

    /// Applies `change` to a copy of the active CA and, when it says a write is due, writes
    /// the copy's state with a CAS on the index the active CA was built from and swaps it in.
    /// The live CA never holds a change raft did not accept. Call with the admin lock held.
    async fn replace(
        &self,
        term: u64,
        change: impl FnOnce(&mut CertificateAuthority) -> Result<bool, CaError>,
    ) -> Result<(), CaManagerError> {
        let (stored, config, index) = {
            let guard = self.active();
            let active = guard
                .as_ref()
                .ok_or_else(|| CaManagerError::NotReady("the CA is not established yet".into()))?;
            (active.ca.stored_state(), active.ca.config().clone(), active.state_index)
        };
        let dc = self.config.datacenter.clone();
        let rng = self.stream("update", term, index);
        let mut next = CertificateAuthority::restore(config, dc, &stored, rng)?;
        if !change(&mut next)? {
            return Ok(());
        }
        match self.write_state(&next, index).await? {
            Some(new_index) => Ok(self.install(next, term, new_index)?),
            None => Err(CaManagerError::Conflict("the CA state moved on; retry".into())),
        }
    }

    /// Sends a request to the leader's HTTP API and returns the body of a 2xx answer, or
    /// [`Route::Local`] when this server became the leader meanwhile. Leadership moving
    /// during the call (the old leader refuses, or is gone) is retried with the new leader
    /// until the forwarder's deadline, as raft writes are.
    async fn forward(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Route, CaManagerError> {
        let Some(forwarder) = &self.forwarder else {
            return Err(CaManagerError::NotLeader { leader: self.leader_id() });
        };
        let until = tokio::time::Instant::now() + forwarder.deadline();
        let mut retries = 0u32;
        loop {
            let Some((leader, node)) = self.wait_for_leader(until).await? else {
                return Ok(Route::Local);
            };
            let outcome =
                forwarder.call(leader, &node, method.clone(), path, body.clone(), until).await;
            let moved = match &outcome {
                Ok(answer) => answer.leader_moved,
                Err(e) => matches!(e, CaManagerError::Forward { .. }),
            };
            retries += 1;
            let backoff = Duration::from_millis(10 * u64::from(retries.min(10)));
            if moved && tokio::time::Instant::now() + backoff < until {
                tokio::time::sleep(backoff).await;
                continue;
            }
            let answer = outcome?;
            if (200..300).contains(&answer.status) {
                return Ok(Route::Remote(answer.body));
            }
            return Err(CaManagerError::Leader {
                status: answer.status,
                message: String::from_utf8_lossy(&answer.body).into_owned(),
            });
        }
    }

    /// The leader to forward to (`None`: this server leads now); during an election, waits
    /// for one until `until`.
    async fn wait_for_leader(
        &self,
        until: tokio::time::Instant,
    ) -> Result<Option<(NodeId, BasicNode)>, CaManagerError> {
        let mut metrics = self.node.raft().metrics();
        loop {
            match self.leadership() {
                Leadership::Follower { leader: Some(leader) } => return Ok(Some(leader)),
                Leadership::Leader { .. } => return Ok(None),
                Leadership::Follower { leader: None } => {}
            }
            match tokio::time::timeout_at(until, metrics.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(CaManagerError::NoLeader),
            }
        }
    }
}

/// Where a forwarded operation ended up.
enum Route {
    /// This server is the leader now: run it here.
    Local,
    /// The leader's 2xx answer body.
    Remote(Vec<u8>),
}
