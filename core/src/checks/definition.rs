//! What a check is once registered: its identity, its kind and Consul's knobs.
//!
//! A definition arrives as a [`CheckSpec`] (the JSON as written, see `decode.rs`) and becomes a
//! [`CheckDefinition`] when its id and name are settled: by [`CheckDefinition::from_spec`]
//! for `PUT /v1/agent/check/register` (ID defaults to Name) and by
//! [`service_check_definitions`] for the `Check`/`Checks` of a service registration
//! (`service:<id>`, `service:<id>:<n>` when there are several; Consul's `addServiceInternal`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckDefinitionError, CheckId};
use crate::state::HealthStatus;

/// Consul's floor for every interval check (`checks.MinInterval`): shorter intervals are
/// raised to it with a warning, not refused, so `"100ms"` registers and probes every second.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Probe timeout when the definition sets none (Consul's HTTP client and TCP dialer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Consul's `User-Agent` for HTTP checks; services filter their access logs on it.
pub const USER_AGENT: &str = "Consul Health Check";

/// One check as the client wrote it, before its id and name are settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// `ID` / `CheckID`, if given.
    pub id: Option<String>,
    /// `Name`, if given.
    pub name: Option<String>,
    /// `Notes`: free text shown with the check.
    pub notes: String,
    /// `ServiceID`: the instance the check belongs to (only read by `check/register`; a
    /// service's own checks always belong to it).
    pub service_id: Option<String>,
    /// `Status`: the status before the first result (Consul's default is critical).
    pub status: Option<HealthStatus>,
    /// What runs.
    pub kind: CheckKind,
    /// Shared knobs.
    pub options: CheckOptions,
}

/// The knobs every kind shares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOptions {
    /// `DeregisterCriticalServiceAfter`: reap the check's service once the check has been
    /// critical this long (raised to the scheduler's minimum, Consul's 1 minute).
    pub deregister_critical_service_after: Option<Duration>,
    /// `SuccessBeforePassing`: consecutive successes before passing is reported.
    pub success_before_passing: u32,
    /// `FailuresBeforeWarning`: consecutive failures before warning is reported; 0 means
    /// "same as `failures_before_critical`" (Consul).
    pub failures_before_warning: u32,
    /// `FailuresBeforeCritical`: consecutive failures before critical is reported.
    pub failures_before_critical: u32,
    /// `OutputMaxSize`: caps captured output below the agent's limit, never above it.
    pub output_max_size: Option<usize>,
}

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// The application reports its own status through `/v1/agent/check/{pass,warn,fail}`;
    /// silence for `ttl` turns the check critical.
    Ttl {
        /// Time allowed between two updates.
        ttl: Duration,
    },
    /// A request every interval: 2xx passing, 429 warning, anything else critical.
    Http(HttpCheck),
    /// A TCP connect (optionally a TLS handshake) every interval.
    Tcp(TcpCheck),
    /// Mirrors the health of a service on this agent (`AliasService`, no `AliasNode`):
    /// the worst of that service's checks and of the node's checks.
    Alias {
        /// The aliased service instance id.
        service_id: String,
    },
    /// A kind Proconsul accepts but does not run (scripts, Docker, gRPC, H2PING, UDP, OS
    /// services, aliases of other nodes). Registration succeeds, as it does on a Consul agent
    /// that allows the kind, and the check stays critical with an output naming the reason,
    /// so nothing that depends on it is reported healthy by mistake.
    Unsupported(UnsupportedCheck),
}

/// An HTTP check (`HTTP`, `Method`, `Header`, `Body`, `TLSSkipVerify`, `TLSServerName`,
/// `DisableRedirects`, `Interval`, `Timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// The URL as written.
    pub url: String,
    /// `GET` unless set.
    pub method: String,
    /// Extra request headers (a header may repeat).
    pub header: BTreeMap<String, Vec<String>>,
    /// Request body.
    pub body: String,
    /// Skip certificate verification for `https` URLs.
    pub tls_skip_verify: bool,
    /// SNI and verification name instead of the URL's host.
    pub tls_server_name: Option<String>,
    /// Treat a 3xx as the result instead of following it (Consul follows up to 10).
    pub disable_redirects: bool,
    /// Time between the end of one probe and the start of the next, as written.
    pub interval: Duration,
    /// Per-probe timeout, [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
}

/// A TCP check (`TCP`, `TCPUseTLS`, `Interval`, `Timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpCheck {
    /// `host:port`.
    pub addr: String,
    /// Complete a TLS handshake after connecting.
    pub use_tls: bool,
    /// Skip certificate verification (with `use_tls`).
    pub tls_skip_verify: bool,
    /// SNI and verification name (with `use_tls`).
    pub tls_server_name: Option<String>,
    /// Time between probes, as written.
    pub interval: Duration,
    /// Per-probe timeout, [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
}

/// A kind that registers but does not run; see [`CheckKind::Unsupported`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedCheck {
    /// Which kind.
    pub kind: UnsupportedKind,
    /// The key that made it that kind (`Args`, `GRPC`, `AliasNode`).
    pub field: &'static str,
    /// Its interval, kept for display.
    pub interval: Option<Duration>,
}

/// The kinds Proconsul registers but does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnsupportedKind {
    /// `Args`/`ScriptArgs`: runs a local command.
    Script,
    /// `DockerContainerID` with `Args`: runs a command in a container.
    Docker,
    /// `GRPC`: the gRPC health protocol.
    Grpc,
    /// `H2PING`: an HTTP/2 ping.
    H2Ping,
    /// `UDP`: a datagram exchange.
    Udp,
    /// `OSService`: a Windows/systemd service state.
    OsService,
    /// `AliasNode`: the health of another node, which needs catalog queries.
    RemoteAlias,
}

impl UnsupportedKind {
    /// Consul's `Type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            UnsupportedKind::Script => "script",
            UnsupportedKind::Docker => "docker",
            UnsupportedKind::Grpc => "grpc",
            UnsupportedKind::H2Ping => "h2ping",
            UnsupportedKind::Udp => "udp",
            UnsupportedKind::OsService => "os_service",
            UnsupportedKind::RemoteAlias => "alias",
        }
    }
}

impl UnsupportedCheck {
    /// The output the check keeps while registered.
    pub fn output(&self) -> String {
        format!(
            "{} checks are not supported by Proconsul (set by {:?}); the check stays critical",
            self.kind.type_name(),
            self.field
        )
    }
}

impl CheckKind {
    /// Consul's `Type` string for `/v1/agent/checks` (`ttl`, `http`, `tcp`, `alias`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Ttl { .. } => "ttl",
            CheckKind::Http(_) => "http",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Alias { .. } => "alias",
            CheckKind::Unsupported(u) => u.kind.type_name(),
        }
    }

    /// The interval as registered (before the [`MIN_INTERVAL`] floor), if the kind has one.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            CheckKind::Http(h) => Some(h.interval),
            CheckKind::Tcp(t) => Some(t.interval),
            CheckKind::Unsupported(u) => u.interval,
            CheckKind::Ttl { .. } | CheckKind::Alias { .. } => None,
        }
    }

    /// The timeout as registered, if the kind has one.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            CheckKind::Http(h) => h.timeout,
            CheckKind::Tcp(t) => t.timeout,
            _ => None,
        }
    }
}

/// A check ready to run: what [`super::CheckScheduler::add`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDefinition {
    /// Unique on this agent.
    pub id: CheckId,
    /// Human name.
    pub name: String,
    /// Free text.
    pub notes: String,
    /// The instance the check belongs to; `None` for a node check.
    pub service_id: Option<String>,
    /// Status until the first result.
    pub status: HealthStatus,
    /// What runs.
    pub kind: CheckKind,
    /// Shared knobs.
    pub options: CheckOptions,
}

impl CheckDefinition {
    /// The definition of `PUT /v1/agent/check/register`: `Name` is required, the id defaults
    /// to the name. Whether `ServiceID` names a registered service is the agent's question
    /// (Consul answers 404 `ServiceID "x" does not exist`).
    pub fn from_spec(spec: CheckSpec) -> Result<Self, CheckDefinitionError> {
        let name = spec.name.filter(|n| !n.is_empty()).ok_or(CheckDefinitionError::MissingName)?;
        let id = CheckId::new(spec.id.filter(|i| !i.is_empty()).unwrap_or_else(|| name.clone()))?;
        Ok(CheckDefinition {
            id,
            name,
            notes: spec.notes,
            service_id: spec.service_id.filter(|s| !s.is_empty()),
            status: spec.status.unwrap_or_default(),
            kind: spec.kind,
            options: spec.options,
        })
    }

    /// Decodes and settles the body of `PUT /v1/agent/check/register`.
    pub fn from_json(body: &serde_json::Value) -> Result<Self, CheckDefinitionError> {
        Self::from_spec(CheckSpec::from_json(body)?)
    }
}

/// The checks of one service registration: `Check` first, then `Checks`, ids
/// `service:<service_id>` (one check) or `service:<service_id>:<n>` counting from 1 when an
/// explicit `CheckID` is absent, names `Service '<service_name>' check` when `Name` is.
/// A service's checks always belong to it, whatever their `ServiceID` says.
pub fn service_check_definitions(
    service_id: &str,
    service_name: &str,
    specs: Vec<CheckSpec>,
) -> Result<Vec<CheckDefinition>, CheckDefinitionError> {
    let several = specs.len() > 1;
    specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let id = match spec.id.filter(|i| !i.is_empty()) {
                Some(id) => id,
                None if several => format!("service:{service_id}:{}", i + 1),
                None => format!("service:{service_id}"),
            };
            let name = spec
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("Service '{service_name}' check"));
            Ok(CheckDefinition {
                id: CheckId::new(id)?,
                name,
                notes: spec.notes,
                service_id: Some(service_id.to_owned()),
                status: spec.status.unwrap_or_default(),
                kind: spec.kind,
                options: spec.options,
            })
        })
        .collect()
}
