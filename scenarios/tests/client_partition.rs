//! A client agent cut off from the servers, over a sweep of seeds.

#[test]
fn client_partition_seeds_1_to_25() {
    proconsul_scenarios::sweep("client-partition", 1..26);
}

#[test]
fn client_partition_seeds_26_to_50() {
    proconsul_scenarios::sweep("client-partition", 26..51);
}
