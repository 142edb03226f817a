//! Minority partition, over a sweep of seeds (the seed also picks the cut-off server).

#[test]
fn minority_partition_seeds_1_to_25() {
    proconsul_scenarios::sweep("minority-partition", 1..26);
}

#[test]
fn minority_partition_seeds_26_to_50() {
    proconsul_scenarios::sweep("minority-partition", 26..51);
}
