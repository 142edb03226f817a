//! Health checks run by the owning agent: TTL, HTTP and TCP checks (plus local aliases),
//! Consul's check definition format, and a sans-IO scheduler.
//!
//! ```text
//!  PUT /v1/agent/check/register ─► CheckDefinition::from_json ──┐
//!  service "Check"/"Checks" ─► decode_service_checks ──►        │
//!                              service_check_definitions ───────┤
//!                                                               ▼
//!   runtime prober ◄── Probe ◄── CheckScheduler ──► StatusChange ──► catalog (via servers)
//!        └──── ProbeResult ───────►   ▲      └────► deregister ────► agent removes service
//!   /v1/agent/check/pass|warn|fail ───┘ update_ttl
//! ```
//!
//! Kinds Proconsul does not run (script, Docker, gRPC, H2PING, UDP, OS service, aliases of
//! other nodes) are accepted, as a Consul agent that allows them accepts them, and stay
//! critical with an output that names the kind and the key that selected it. Refusing them
//! would break clients that register them routinely (py-consul's own tests register script
//! checks); running them silently as passing would lie about health.
//!
//! Facts from Consul: `agent/checks/check.go` (probes, outputs, `MinInterval`,
//! `DefaultBufSize`, `StatusHandler`), `agent/checks/alias.go`, `agent/structs/check_type.go`
//! (`Validate`), `agent/agent.go` (`addCheck`, `addServiceInternal` ids, reaping) and
//! `agent/local/state.go` (`UpdateCheck`, `check_update_interval`).

mod alias;
mod decode;
mod definition;
mod error;
mod id;
mod probe;
mod scheduler;
mod thresholds;
mod timers;

pub use decode::decode_service_checks;
pub use definition::{
    CheckDefinition, CheckKind, CheckOptions, CheckSpec, DEFAULT_TIMEOUT, HttpCheck, MIN_INTERVAL,
    TcpCheck, USER_AGENT, UnsupportedCheck, UnsupportedKind, service_check_definitions,
};
pub use error::{AddCheckError, CheckDefinitionError, NoTtlError};
pub use id::CheckId;
pub use probe::{Probe, ProbeKind, ProbeResult, ProbeTls};
pub use scheduler::{CheckScheduler, CheckStatus, SchedulerConfig, StatusChange};

#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod scheduler_tests;
