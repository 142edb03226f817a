//! Health checks run by this agent: the core's [`CheckScheduler`] in one task, probes run
//! concurrently with real sockets, status changes and deregistrations out on a channel.
//!
//! ```text
//!  agent (HTTP API) ──CheckRunnerHandle──► runner task ──► CheckScheduler (core)
//!     add / remove / update_ttl / statuses     │  ▲ probes (HTTP, HTTPS, TCP, TCP+TLS),
//!                                              ▼  │ all in flight at once, each timed out
//!  agent ◄──mpsc::Receiver<CheckEvent>── StatusChanged / DeregisterService
//! ```
//!
//! How the agent uses it:
//! 1. `let (checks, mut events) = CheckRunner::start(seed);` inside the tokio runtime.
//! 2. On `PUT /v1/agent/check/register`: `CheckDefinition::from_json(&body)` (400 on error),
//!    check `service_id` exists (404), write the check to the catalog with
//!    `status = def.status` and empty output, then `checks.add(def).await`.
//!    On a service registration: `decode_service_checks(body.get("Check"), body.get("Checks"))`
//!    and `service_check_definitions(id, name, specs)`, then the same per check.
//! 3. On `/v1/agent/check/{pass,warn,fail}/<id>?note=` and `PUT /v1/agent/check/update/<id>`:
//!    `checks.update_ttl(id, status, note).await` (500 with the error's message when refused).
//! 4. On deregistration: `checks.remove(id).await` for each check.
//! 5. Consume `events`: `StatusChanged` -> write the status through the servers;
//!    `DeregisterService` -> remove the service and its checks as if the API had asked.
//! 6. `/v1/agent/checks` reads `checks.statuses().await` (the local, undeferred view).
//!
//! The task stops when every handle is dropped. If the event receiver is dropped, checks
//! keep running and their events are discarded.

mod http;
mod probe;
mod runner;
mod tls;

use std::sync::Arc;

use proconsul_core::checks::{
    AddCheckError, CheckDefinition, CheckScheduler, CheckStatus, NoTtlError, SchedulerConfig,
    StatusChange,
};
use proconsul_core::state::HealthStatus;
use tokio::sync::{mpsc, oneshot};

/// What the runner tells the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent {
    /// Write this check status to the catalog.
    StatusChanged(StatusChange),
    /// A check with `DeregisterCriticalServiceAfter` stayed critical: deregister the service
    /// instance. Its checks are already stopped.
    DeregisterService {
        /// The service instance id.
        service_id: String,
    },
}

/// Settings of a runner.
#[derive(Debug, Clone)]
pub struct CheckRunnerConfig {
    /// Seed of the scheduler's random stream (probe offsets, output-sync jitter).
    pub seed: u64,
    /// Consul's agent-wide check settings.
    pub scheduler: SchedulerConfig,
    /// CAs that verify `https`/`TCPUseTLS` targets; `None` reads the system bundle
    /// (`SSL_CERT_FILE` first).
    pub tls_roots: Option<Arc<rustls::RootCertStore>>,
    /// Events buffered before the runner waits for the agent (changes keep coalescing in
    /// the scheduler meanwhile, so nothing is lost).
    pub event_capacity: usize,
    /// The network probes dial through.
    pub net: Arc<dyn crate::env::Net>,
}

impl CheckRunnerConfig {
    /// Consul's defaults with `seed`.
    pub fn new(seed: u64) -> Self {
        CheckRunnerConfig {
            seed,
            scheduler: SchedulerConfig::default(),
            tls_roots: None,
            event_capacity: 256,
            net: Arc::new(crate::env::TokioNet),
        }
    }
}

/// Why a handle call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckRunnerError {
    /// The runner task is gone (runtime shut down); nothing changed.
    #[error("the check runner has stopped")]
    Stopped,
    /// The scheduler refused the check; nothing changed.
    #[error(transparent)]
    Add(#[from] AddCheckError),
    /// `update_ttl` on a check that is not a TTL check (Consul answers 500 with this text).
    #[error(transparent)]
    NoTtl(#[from] NoTtlError),
    /// TLS client configs could not be built (start only).
    #[error("check runner TLS setup: {0}")]
    Tls(String),
}

/// Starts runners.
pub struct CheckRunner;

impl CheckRunner {
    /// Starts a runner with Consul's defaults. MUST be called inside a tokio runtime.
    pub fn start(seed: u64) -> (CheckRunnerHandle, mpsc::Receiver<CheckEvent>) {
        Self::start_with(CheckRunnerConfig::new(seed))
            .expect("the ring provider supports its own safe default protocol versions")
    }

    /// Starts a runner with explicit settings. MUST be called inside a tokio runtime.
    pub fn start_with(
        config: CheckRunnerConfig,
    ) -> Result<(CheckRunnerHandle, mpsc::Receiver<CheckEvent>), CheckRunnerError> {
        let tls = tls::ProbeDialer::new(config.net.clone(), config.tls_roots.clone())
            .map_err(|e| CheckRunnerError::Tls(e.to_string()))?;
        let rng = proconsul_core::rng::Seed(config.seed).stream("checks");
        let scheduler = CheckScheduler::new(config.scheduler, rng);
        let (command_tx, command_rx) = mpsc::channel(64);
        let (event_tx, event_rx) = mpsc::channel(config.event_capacity.max(1));
        runner::spawn(scheduler, tls, command_rx, event_tx);
        Ok((CheckRunnerHandle { commands: command_tx }, event_rx))
    }
}

/// Requests to the runner task.
enum Command {
    Add(Box<CheckDefinition>, oneshot::Sender<Result<(), AddCheckError>>),
    Remove(String, oneshot::Sender<bool>),
    UpdateTtl(String, HealthStatus, String, oneshot::Sender<Result<(), NoTtlError>>),
    Statuses(oneshot::Sender<Vec<CheckStatus>>),
}

/// The agent's side of a runner. Cheap to clone; the runner stops when all are dropped.
#[derive(Debug, Clone)]
pub struct CheckRunnerHandle {
    commands: mpsc::Sender<Command>,
}

impl CheckRunnerHandle {
    /// Starts (or replaces, keeping its status) a check.
    pub async fn add(&self, def: CheckDefinition) -> Result<(), CheckRunnerError> {
        let (tx, rx) = oneshot::channel();
        self.call(Command::Add(Box::new(def), tx), rx).await?.map_err(CheckRunnerError::from)
    }

    /// Stops a check; `false` if it was not running.
    pub async fn remove(&self, id: &str) -> Result<bool, CheckRunnerError> {
        let (tx, rx) = oneshot::channel();
        self.call(Command::Remove(id.to_owned(), tx), rx).await
    }

    /// Sets a TTL check's status and output and restarts its TTL.
    pub async fn update_ttl(
        &self,
        id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<(), CheckRunnerError> {
        let (tx, rx) = oneshot::channel();
        let command = Command::UpdateTtl(id.to_owned(), status, output.to_owned(), tx);
        self.call(command, rx).await?.map_err(CheckRunnerError::from)
    }

    /// Every check's current local status, by id.
    pub async fn statuses(&self) -> Result<Vec<CheckStatus>, CheckRunnerError> {
        let (tx, rx) = oneshot::channel();
        self.call(Command::Statuses(tx), rx).await
    }

    async fn call<T>(
        &self,
        command: Command,
        reply: oneshot::Receiver<T>,
    ) -> Result<T, CheckRunnerError> {
        self.commands.send(command).await.map_err(|_| CheckRunnerError::Stopped)?;
        reply.await.map_err(|_| CheckRunnerError::Stopped)
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Add(def, _) => write!(f, "Add({})", def.id),
            Command::Remove(id, _) => write!(f, "Remove({id})"),
            Command::UpdateTtl(id, status, _, _) => write!(f, "UpdateTtl({id}, {status:?})"),
            Command::Statuses(_) => f.write_str("Statuses"),
        }
    }
}
