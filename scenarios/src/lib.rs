//! Scenario suites on the deterministic simulation (runtime-sim): the production agents in
//! seeded worlds with faults, each scenario ending in `pass` or `fail: <reason>` with the
//! trace hash that proves a replay is the same run.
//!
//! `cargo test -p proconsul-scenarios` sweeps seeds over every family (`tests/`, one file
//! per family); `proconsul-sim run SCENARIO --seed N` replays one run and prints its trace.
#![forbid(unsafe_code)]

pub mod client_partition;
pub mod http;
pub mod invariants;
pub mod leader_crash;
pub mod mesh;
pub mod minority_partition;
pub mod node_failure;
pub mod soak;
pub mod writer;

use std::time::{Duration, Instant};

use proconsul_runtime_sim::World;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `Ok` or the reason it failed.
    pub result: Result<(), String>,
    /// The hash of the trace.
    pub trace_hash: String,
    /// Simulated time covered.
    pub simulated: Duration,
    /// Wall time taken.
    pub wall: Duration,
    /// The last lines of the trace (printed on failure).
    pub tail: String,
    /// Trace lines in total.
    pub events: usize,
    /// The whole trace, one line per event.
    pub trace: String,
}

/// What a scenario body returns: the world it ran (for its trace and clock) and whether
/// its checks held; `Err` when the world could not even be built.
pub type Run = Result<(World, Result<(), String>), String>;

/// A named scenario.
pub struct Scenario {
    /// The name `proconsul-sim run` takes.
    pub name: &'static str,
    /// One line on what it checks.
    pub about: &'static str,
    /// Builds and runs the world for one seed.
    pub body: fn(u64) -> Run,
}

/// Every scenario.
pub fn all() -> &'static [Scenario] {
    &[
        Scenario {
            name: "leader-crash",
            about: "the leader crashes during a stream of writes: a new leader within the \
                    election bound, no acknowledged write lost, one leader per term",
            body: leader_crash::run,
        },
        Scenario {
            name: "minority-partition",
            about: "one server is cut off: the majority keeps writing, the minority refuses, \
                    all converge after the heal",
            body: minority_partition::run,
        },
        Scenario {
            name: "client-partition",
            about: "a client agent cut off from the servers keeps authorizing from its cache \
                    and its proxies converge after the heal",
            body: client_partition::run,
        },
        Scenario {
            name: "node-failure",
            about: "a client node crashes: serfHealth critical within the gossip bound and \
                    its endpoints leave every proxy",
            body: node_failure::run,
        },
        Scenario {
            name: "soak-short",
            about: "the soak world with two simulated minutes of random faults (the CI sweep)",
            body: soak::run_short,
        },
        Scenario {
            name: "soak",
            about: "3 servers, 20 clients, 50 proxies, 10 simulated minutes of random faults \
                    (PERF.md W8)",
            body: soak::run,
        },
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.name == name)
}

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Outcome {
    #[allow(clippy::disallowed_methods, reason = "wall time of the run, reported, never an input")]
    let started = Instant::now();
    let (world, result) = match (scenario.body)(seed) {
        Ok((world, result)) => (Some(world), result),
        Err(e) => (None, Err(e)),
    };
    let wall = started.elapsed();
    match world {
        Some(w) => Outcome {
            result,
            trace_hash: w.trace().hash(),
            simulated: w.now(),
            wall,
            tail: w.trace().tail(40),
            events: w.trace().lines().len(),
            trace: w.trace().tail(usize::MAX),
        },
        None => Outcome {
            result,
            trace_hash: String::new(),
            simulated: Duration::ZERO,
            wall,
            tail: String::new(),
            events: 0,
            trace: String::new(),
        },
    }
}

/// The lines `proconsul-sim run` prints for one run.
pub fn report(scenario: &Scenario, seed: u64, outcome: &Outcome) -> String {
    let mut out = String::new();
    match &outcome.result {
        Ok(()) => out.push_str("outcome: pass\n"),
        Err(reason) => out.push_str(&format!("fail: {reason}\n")),
    }
    out.push_str(&format!("trace: {}\n", outcome.trace_hash));
    out.push_str(&format!("simulated: {:.3}\n", outcome.simulated.as_secs_f64()));
    out.push_str(&format!("wall: {:.3}\n", outcome.wall.as_secs_f64()));
    if outcome.result.is_err() {
        out.push_str(&format!("trace tail:\n{}", outcome.tail));
        out.push_str(&format!("replay: {}\n", replay_command(scenario.name, seed)));
    }
    out
}

/// The command that replays one run.
pub fn replay_command(name: &str, seed: u64) -> String {
    format!(
        "cargo run --release -p proconsul-scenarios --bin proconsul-sim -- run {name} --seed {seed}"
    )
}

/// Runs `name` over `seeds` and panics naming every failing seed with its replay command
/// (what the test suites call).
pub fn sweep(name: &str, seeds: std::ops::Range<u64>) -> Vec<Outcome> {
    let scenario = find(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for seed in seeds {
        let outcome = run(scenario, seed);
        if outcome.result.is_err() {
            failures.push(format!("seed {seed}:\n{}", report(scenario, seed, &outcome)));
        }
        outcomes.push(outcome);
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );
    outcomes
}
