//! The leader crashes in the middle of a stream of writes.
//!
//! Checks: the surviving servers agree on a new leader within the election bound; after
//! the old leader restarts from its disk and the stream ends, every server holds every
//! write the cluster acknowledged; no term ever had two leaders.

use std::time::Duration;

use proconsul_runtime_sim::{Fault, Role, SimConfig, Topology, World};

use crate::{invariants, writer};

/// From the crash to a leader every surviving server agrees on: an election timeout of at
/// most 1 s, a round of votes, and the first heartbeats, with room for a split vote.
pub const ELECTION_BOUND: Duration = Duration::from_secs(5);

/// Writes in the stream.
const WRITES: u32 = 120;

/// The world: one datacenter, three servers, one client agent.
pub fn topology() -> Topology {
    Topology::new().datacenter("dc1", 3, 1)
}

/// Server names of the topology.
pub fn servers(world: &World) -> Vec<String> {
    world.hosts().filter(|h| h.role == Role::Server).map(|h| h.name.clone()).collect()
}

/// The servers' HTTP addresses.
pub fn server_http(world: &World) -> Vec<String> {
    servers(world).iter().filter_map(|s| world.http_addr(s)).collect()
}

/// Waits (up to a minute) until every server agrees on a leader.
pub fn elect(world: &mut World) -> Result<String, String> {
    let ok = world.run_until(Duration::from_secs(60), |w| w.agreed_leader().is_some())?;
    match (ok, world.agreed_leader()) {
        (true, Some(leader)) => Ok(leader),
        _ => Err(format!("no leader after {:?}", world.now())),
    }
}

/// One run.
pub fn run(seed: u64) -> crate::Run {
    let mut world = World::new(&topology(), SimConfig::new(seed))?;
    let result = body(&mut world);
    Ok((world, result))
}

fn body(world: &mut World) -> Result<(), String> {
    let servers = servers(world);
    let leader = elect(world)?;
    let log = writer::start(world, server_http(world), WRITES, Duration::from_millis(25));
    // Crash the leader once a third of the stream is acknowledged.
    let third = world.run_until(Duration::from_secs(60), |_| {
        writer::snapshot(&log).acked.len() >= (WRITES / 3) as usize
    })?;
    if !third {
        return Err("the first third of the writes was never acknowledged".into());
    }
    world.apply(&Fault::Crash(leader.clone()))?;
    let crashed_at = world.now();
    let survivors: Vec<String> = servers.iter().filter(|s| **s != leader).cloned().collect();
    let elected = world.run_until(ELECTION_BOUND, |w| {
        w.agreed_leader().is_some_and(|l| l != leader)
            && survivors.iter().all(|s| w.leaders().contains_key(s))
    })?;
    if !elected {
        return Err(format!(
            "no new leader within {ELECTION_BOUND:?} of crashing {leader} at {crashed_at:?}"
        ));
    }
    world.run_for(Duration::from_secs(3))?;
    world.apply(&Fault::Restart(leader.clone()))?;
    let finished = world.run_until(Duration::from_secs(120), |_| writer::snapshot(&log).done)?;
    if !finished {
        return Err(format!("the write stream did not finish: {:?}", writer::snapshot(&log)));
    }
    let all_converged = world.run_until(Duration::from_secs(30), |w| {
        servers.iter().all(|s| w.agent(s).is_some()) && invariants::converged(w, &servers)
    })?;
    if !all_converged {
        return Err("the servers did not converge after the restart".into());
    }
    let acked = writer::snapshot(&log).acked;
    for server in &servers {
        let lost = invariants::missing(world, server, acked.iter().map(|i| writer::key(*i)));
        if !lost.is_empty() {
            return Err(format!("{server} lost {} acknowledged writes: {:?}", lost.len(), lost));
        }
    }
    invariants::one_leader_per_term(world.trace())
}
