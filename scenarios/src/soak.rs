//! The W8 world (PERF.md): three servers, twenty client agents and fifty proxies (25
//! services of two instances, each calling the next), under random faults drawn from the
//! seed: partitions, crashes with restarts, slow hosts and latency bursts, one at a time.
//!
//! Checks, once everything is healed and has settled: one leader per term, every server
//! holds the same state, and every proxy holds both endpoints of its upstream.

use std::time::Duration;

use proconsul_runtime_sim::{FaultPlan, SimConfig, Topology, World};

use crate::leader_crash::{elect, servers};
use crate::{invariants, mesh};

/// Services, each with two instances (so twice as many proxies).
const SERVICES: usize = 25;
/// Client agents.
const CLIENTS: usize = 20;
/// After the last heal, time for gossip, the catalog and xDS to settle.
const SETTLE: Duration = Duration::from_secs(90);

fn name(i: usize) -> String {
    format!("s{:02}", i % SERVICES)
}

/// The W8 topology.
pub fn topology() -> Topology {
    let mut t = Topology::new().datacenter("dc1", 3, CLIENTS as u8);
    for i in 0..SERVICES {
        for k in 0..2 {
            let host = format!("dc1-client{}", (2 * i + k) % CLIENTS + 1);
            let upstream = name(i + 1);
            t = t.service(&host, &name(i), 8000 + i as u16, &[(upstream.as_str(), 9000)]);
        }
    }
    t
}

/// Ten simulated minutes of faults.
pub fn run(seed: u64) -> crate::Run {
    run_for(seed, Duration::from_secs(600))
}

/// Two simulated minutes of faults (the test suite's sweep).
pub fn run_short(seed: u64) -> crate::Run {
    run_for(seed, Duration::from_secs(120))
}

/// `duration` of faults, then the settle time.
pub fn run_for(seed: u64, duration: Duration) -> crate::Run {
    // 20 ms steps: the timers that matter here (raft heartbeats, gossip probes, blocking
    // queries) are 100 ms and up, and each step runs every one of the 23 hosts.
    let config = SimConfig { tick: Duration::from_millis(20), ..SimConfig::new(seed) };
    let mut world = World::new(&topology(), config)?;
    let result = body(&mut world, seed, duration);
    Ok((world, result))
}

/// Every proxy's upstream endpoints, as (host/proxy, count).
fn upstream_counts(world: &World) -> Vec<(String, usize)> {
    world
        .proxies()
        .into_iter()
        .map(|(host, id, _)| {
            let service: usize = id[1..3].parse().unwrap_or(0);
            let upstream = name(service + 1);
            let n = mesh::upstream_endpoints(world, &host, &id, &upstream).map_or(0, |e| e.len());
            (format!("{host}/{id}"), n)
        })
        .collect()
}

fn body(world: &mut World, seed: u64, duration: Duration) -> Result<(), String> {
    let servers = servers(world);
    elect(world)?;
    let hosts: Vec<String> = world.hosts().map(|h| h.name.clone()).collect();
    let mut plan = FaultPlan::random(seed, &hosts, duration);
    let start = world.now();
    while world.now() < start + duration {
        for fault in plan.due(world.now() - start) {
            world.apply(&fault)?;
        }
        world.step()?;
    }
    let settled = world.run_until(SETTLE, |w| {
        invariants::converged(w, &servers) && upstream_counts(w).iter().all(|(_, n)| *n == 2)
    })?;
    if !settled {
        let short: Vec<(String, usize)> =
            upstream_counts(world).into_iter().filter(|(_, n)| *n != 2).collect();
        return Err(format!(
            "{SETTLE:?} after the last heal: servers converged {}, proxies without both upstream endpoints {short:?}",
            invariants::converged(world, &servers)
        ));
    }
    invariants::one_leader_per_term(world.trace())
}
