//! Leader crash during a stream of writes, over a sweep of seeds (two halves, so the test
//! harness runs them on both cores).

#[test]
fn leader_crash_seeds_1_to_25() {
    proconsul_scenarios::sweep("leader-crash", 1..26);
}

#[test]
fn leader_crash_seeds_26_to_50() {
    proconsul_scenarios::sweep("leader-crash", 26..51);
}
