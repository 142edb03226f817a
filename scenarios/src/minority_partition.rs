//! One server is cut off from the other two (the seed picks which, the leader included).
//!
//! Checks: writes through the majority keep being acknowledged; writes sent to the cut-off
//! server are refused and never applied anywhere, even after the heal; once healed, every
//! server converges to the same state; no term had two leaders.

use std::time::Duration;

use proconsul_runtime_sim::{Fault, SimConfig, World};

use crate::leader_crash::{elect, servers, topology};
use crate::{invariants, writer};

/// How long the partition lasts.
const CUT: Duration = Duration::from_secs(20);

/// One run.
pub fn run(seed: u64) -> crate::Run {
    let mut world = World::new(&topology(), SimConfig::new(seed))?;
    let result = body(&mut world, seed);
    Ok((world, result))
}

fn body(world: &mut World, seed: u64) -> Result<(), String> {
    let servers = servers(world);
    elect(world)?;
    let index = usize::try_from(seed % servers.len() as u64).unwrap_or(0);
    let minority = servers[index].clone();
    let majority: Vec<String> = servers.iter().filter(|s| **s != minority).cloned().collect();
    let others: Vec<String> =
        world.hosts().map(|h| h.name.clone()).filter(|n| *n != minority).collect();
    world.apply(&Fault::Partition(vec![minority.clone()], others.clone()))?;
    // Let the majority notice (a cut-off leader loses its lease, the rest elect).
    let led = world.run_until(Duration::from_secs(10), |w| {
        let l = w.leaders();
        majority
            .iter()
            .all(|s| l.get(s).and_then(|(_, x)| x.as_ref()).is_some_and(|x| majority.contains(x)))
    })?;
    if !led {
        return Err(format!("the majority {majority:?} has no leader of its own after the cut"));
    }
    let majority_http: Vec<String> = majority.iter().filter_map(|s| world.http_addr(s)).collect();
    let minority_http: Vec<String> = world.http_addr(&minority).into_iter().collect();
    let good =
        writer::start_with(world, "majority", majority_http, 40, Duration::from_millis(50), 20);
    let bad =
        writer::start_with(world, "minority", minority_http, 5, Duration::from_millis(200), 1);
    world.run_for(CUT)?;
    let (good_log, bad_log) = (writer::snapshot(&good), writer::snapshot(&bad));
    if !good_log.done || good_log.acked.len() != 40 {
        return Err(format!(
            "the majority acknowledged {} of 40 writes during the cut",
            good_log.acked.len()
        ));
    }
    if !bad_log.acked.is_empty() {
        return Err(format!("the cut-off {minority} acknowledged writes {:?}", bad_log.acked));
    }
    world.apply(&Fault::Heal(vec![minority.clone()], others))?;
    let healed = world.run_until(Duration::from_secs(30), |w| {
        invariants::converged(w, &servers) && servers.iter().all(|s| w.agent(s).is_some())
    })?;
    if !healed {
        return Err("the servers did not converge within 30 s of the heal".into());
    }
    // Convergence compares whole states; also check the specific writes.
    for server in &servers {
        let lost = invariants::missing(
            world,
            server,
            good_log.acked.iter().map(|i| writer::keyed("majority", *i)),
        );
        if !lost.is_empty() {
            return Err(format!("{server} lacks acknowledged writes {lost:?}"));
        }
        let leaked = (0..5).map(|i| writer::keyed("minority", i));
        let present: Vec<String> =
            leaked.filter(|k| invariants::missing(world, server, [k.clone()]).is_empty()).collect();
        if !present.is_empty() {
            return Err(format!("{server} applied writes the minority refused: {present:?}"));
        }
    }
    invariants::one_leader_per_term(world.trace())
}
