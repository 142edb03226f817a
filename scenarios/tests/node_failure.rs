//! A client node crash, over a sweep of seeds.

#[test]
fn node_failure_seeds_1_to_25() {
    proconsul_scenarios::sweep("node-failure", 1..26);
}

#[test]
fn node_failure_seeds_26_to_50() {
    proconsul_scenarios::sweep("node-failure", 26..51);
}
