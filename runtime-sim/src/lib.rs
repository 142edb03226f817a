//! The deterministic simulation runtime.
//!
//! This crate will run the same drivers as `runtime-tokio` over turmoil's simulated network
//! and virtual time: a multi-datacenter topology builder that maps each `(network, addr)` to
//! its own sim host, seeded fault plans (partitions, crashes, bounces), a durable-disk model
//! that survives crashes, and trace recording and hashing so one seed replays exactly.
//!
//! It is empty until the simulation work lands; nothing here pretends to work yet.
#![forbid(unsafe_code)]

// Without `--cfg tokio_unstable` turmoil cannot seed each host's tokio RNG, and a simulation
// would silently lose determinism (STACK.md §7.5). `.cargo/config.toml` sets it; an exported
// `RUSTFLAGS` replaces that setting, so fail loudly instead.
#[cfg(not(tokio_unstable))]
compile_error!(
    "proconsul-runtime-sim must be built with `--cfg tokio_unstable` (see .cargo/config.toml)"
);
