//! Proconsul's agents inside turmoil: the production agent (runtime-tokio) over simulated
//! sockets, a simulated wall clock and a crash-aware disk, in seeded multi-datacenter
//! worlds with scripted or random faults and a hashed trace of what happened.
//!
//! - [`topology`]: datacenters, servers, client agents, services with sidecars.
//! - [`world`]: the running simulation: step it, apply faults, read any live agent.
//! - [`faults`]: partitions, crashes, latency, loss; scripted or drawn from the seed.
//! - [`trace`]: the events that matter and their hash.
//! - [`proxy`]: a simulated Envoy (delta ADS client that ACKs and records what it holds).
//! - [`net`], [`clock`], [`disk`]: the `Net`, `Clock` and raft disk of a simulated host.
#![forbid(unsafe_code)]

#[cfg(not(tokio_unstable))]
compile_error!(
    "runtime-sim needs `--cfg tokio_unstable` (set in .cargo/config.toml; a RUSTFLAGS \
     environment variable replaces it) so every host's tokio scheduler is seeded"
);

pub mod clock;
pub mod disk;
pub mod faults;
pub mod net;
pub mod proxy;
pub mod topology;
pub mod trace;
pub mod world;

pub use faults::{Fault, FaultPlan};
pub use topology::{Role, Topology};
pub use trace::{Event, Trace};
pub use world::{SimConfig, World};
