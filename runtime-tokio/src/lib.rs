//! Proconsul's production runtime.
//!
//! Today it holds the `proconsul` command's offline subcommands, which need no cluster:
//! validating config entries, compiling discovery chains and checking intentions. The
//! drivers that feed sockets, timers and disk into the core (Raft hosting, HTTP API, xDS
//! server, built-in proxy) arrive with later work.
#![forbid(unsafe_code)]

pub mod ca_signer;
pub mod cli;
pub mod raft;
pub mod tls;
pub mod xds;
