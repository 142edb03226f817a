//! The W8 world (3 servers, 20 clients, 50 proxies) under two minutes of random faults;
//! the full ten-minute run is `proconsul-sim run soak` (see README).

#[test]
fn soak_short_settles_after_random_faults() {
    let outcomes = proconsul_scenarios::sweep("soak-short", 1..3);
    for o in &outcomes {
        assert!(o.simulated.as_secs() >= 120, "ran {:?}", o.simulated);
    }
}
