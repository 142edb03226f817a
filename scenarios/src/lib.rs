//! Scenario suites on the deterministic simulation.
//!
//! This crate will hold one `tests/*.rs` file per scenario family (DC failover, partitions,
//! WAN federation, CA rotation), a harness over `proconsul-runtime-sim`, and invariant
//! checks run after every step. Every failing scenario prints its seed and the command that
//! replays it.
//!
//! It is empty until the simulation work lands; nothing here pretends to work yet.
#![forbid(unsafe_code)]
