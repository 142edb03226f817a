//! Proconsul's production runtime: the drivers that feed sockets, timers and disk into the
//! core and carry its effects out. No protocol decisions live here.
//!
//! - `cli`: the `proconsul` command (offline config/intention checks, `connect envoy`, and
//!   consul's HTTP-API commands: `kv`, `config`, `intention`, `members`, ...).
//! - `api_client`: a Consul HTTP API client (CLI to agent, client agent to server).
//! - `xds`: the tonic ADS server driving the core's per-stream session.
//! - `tls`: rustls SPIFFE verifiers over a swappable trust bundle.
//! - `ca_signer`: ring-backed signing injected into the core CA.
//! - `ca_manager`: the servers' Connect CA (created once, rebuilt on every new leader from
//!   the replicated provider state, leaf signing, rotation), followers forwarding to the leader.
//! - `raft`: openraft hosting of the core state machine with a redb log and snapshots, the
//!   server RPC (tonic, one port) and write forwarding.
//! - `http`: Consul's HTTP API on a server (catalog, health, KV with sessions and locks,
//!   config entries, intentions, discovery chain, connect CA, status, operator, coordinates,
//!   events, transactions, prepared queries, snapshots), with blocking queries.
//! - `dns`: Consul's DNS interface (UDP and TCP) over the core's DNS decisions.
//! - `gossip`: the UDP driver of the core's SWIM pool (foca).
//! - `checks`: the check runner (HTTP, TCP, TTL probes) around the core's scheduler.
//! - `agent`: `proconsul agent` itself: server and/or client, `/v1/agent/*`, anti-entropy,
//!   the leaf cache, the client's cache of the servers, and the proxy manager feeding `xds`.
//! - `env`: the `Net` + `Clock` seam (and the raft disk) that lets runtime-sim run these same
//!   drivers over turmoil.
#![forbid(unsafe_code)]

pub mod agent;
pub mod api_client;
pub mod ca_manager;
pub mod ca_signer;
pub mod checks;
pub mod cli;
pub mod dns;
pub mod env;
pub mod gossip;
pub mod http;
pub mod raft;
pub mod tls;
pub mod xds;
