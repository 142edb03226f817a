//! Proconsul's production runtime: the drivers that feed sockets, timers and disk into the
//! core and carry its effects out. No protocol decisions live here.
//!
//! - `cli`: the `proconsul` command (offline config/intention checks, `connect envoy`).
//! - `xds`: the tonic ADS server driving the core's per-stream session.
//! - `tls`: rustls SPIFFE verifiers over a swappable trust bundle.
//! - `ca_signer`: ring-backed signing injected into the core CA.
//! - `raft`: openraft hosting of the core state machine with a redb log and snapshots.
//!
//! Still to come: server RPC and write forwarding, the HTTP API, gossip, agents.
#![forbid(unsafe_code)]

pub mod ca_signer;
pub mod cli;
pub mod http;
pub mod raft;
pub mod tls;
pub mod xds;
