//! Proconsul's sans-IO, deterministic core.
//!
//! Everything here is plain data and pure functions (or small `handle_*`/`poll_*` state
//! machines in later modules): no sockets, no clocks, no OS randomness, no threads. The
//! runtimes (`runtime-tokio` in production, `runtime-sim` under turmoil) feed bytes, time and
//! seeds in and carry effects out, so the same code runs in both worlds and replays exactly.
//!
//! ```text
//!  config files / API bodies ──► config::parse ──► ConfigEntry ──► config::validate_write
//!                                                        │
//!                               discovery_chain::compile ◄┘──► CompiledChain (JSON as Consul)
//!  SPIFFE ID of a caller ──► intentions::authorize ──► Decision + Consul's reason string
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod agent;
pub mod ca;
pub mod checks;
pub mod config;
pub mod discovery_chain;
pub mod dns;
pub mod filter;
pub mod gossip;
pub mod hash;
pub mod ids;
pub mod intentions;
pub mod rng;
pub mod state;
pub mod time;
pub mod xds;
