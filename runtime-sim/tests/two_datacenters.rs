//! Two datacenters whose private networks use the same addresses run side by side: each
//! forms its own cluster and pool, none sees the other.

use std::time::Duration;

use proconsul_runtime_sim::{Role, SimConfig, Topology, World};

#[test]
fn two_datacenters_with_identical_private_addresses_form_separate_clusters() {
    let topo = Topology::new().datacenter("dc1", 3, 1).datacenter("dc2", 3, 1);
    let same_addresses = topo.hosts().iter().filter(|h| h.dc == "dc1").all(|a| {
        topo.hosts().iter().any(|b| b.dc == "dc2" && b.logical == a.logical && b.ip != a.ip)
    });
    assert!(same_addresses, "every dc1 host has a dc2 twin at the same private address");

    let mut world = World::new(&topo, SimConfig::new(11)).expect("world");
    let leaders_of = |w: &World, dc: &str| -> Vec<Option<String>> {
        let servers: Vec<String> = w
            .hosts()
            .filter(|h| h.dc == dc && h.role == Role::Server)
            .map(|h| h.name.clone())
            .collect();
        let views = w.leaders();
        servers.iter().map(|s| views.get(s).and_then(|(_, l)| l.clone())).collect()
    };
    let both = world
        .run_until(Duration::from_secs(60), |w| {
            ["dc1", "dc2"].iter().all(|dc| {
                let l = leaders_of(w, dc);
                l.iter().all(|x| x.is_some()) && l.windows(2).all(|p| p[0] == p[1])
            })
        })
        .expect("run");
    assert!(both, "each datacenter elects a leader:\n{}", world.trace().tail(30));
    for dc in ["dc1", "dc2"] {
        let leader = leaders_of(&world, dc)[0].clone().expect("leader");
        assert!(leader.starts_with(dc), "{dc}'s servers follow {leader}");
    }
    world.run_for(Duration::from_secs(5)).expect("run");
    for host in world.hosts().cloned().collect::<Vec<_>>() {
        let agent = world.agent(&host.name).expect("running");
        let members = agent.members();
        assert_eq!(members.len(), 4, "{} sees {members:?}", host.name);
        assert!(
            members.iter().all(|m| m.name.as_str().starts_with(&host.dc)),
            "{} sees {members:?}",
            host.name
        );
    }
}
