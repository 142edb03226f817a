//! The simulation replays: one seed run twice gives the same trace, another seed another.

use proconsul_scenarios::{find, run};

fn hashes(name: &str, seeds: &[u64]) -> Vec<String> {
    let scenario = find(name).expect("scenario");
    seeds
        .iter()
        .map(|&seed| {
            let outcome = run(scenario, seed);
            assert!(outcome.result.is_ok(), "{name} seed {seed}: {:?}", outcome.result);
            assert!(outcome.events > 50, "{name} seed {seed}: only {} events", outcome.events);
            outcome.trace_hash
        })
        .collect()
}

#[test]
fn same_seed_same_trace_other_seed_other_trace_leader_crash() {
    let h = hashes("leader-crash", &[7, 7, 8]);
    assert_eq!(h[0], h[1], "seed 7 twice");
    assert_ne!(h[0], h[2], "seeds 7 and 8");
}

#[test]
fn same_seed_same_trace_other_seed_other_trace_node_failure() {
    let h = hashes("node-failure", &[3, 3, 4]);
    assert_eq!(h[0], h[1], "seed 3 twice");
    assert_ne!(h[0], h[2], "seeds 3 and 4");
}
