//! A client node with an `api` instance crashes.
//!
//! Checks: the leader marks its `serfHealth` critical within the gossip bound, and the
//! `web` proxy (on another node) drops its endpoint within the stated bound; after the node
//! restarts, the endpoint comes back.

use std::time::Duration;

use proconsul_runtime_sim::{Fault, SimConfig, Topology, World};

use crate::leader_crash::elect;
use crate::{invariants, mesh};

/// From the crash to `serfHealth` critical in the catalog: SWIM needs a missed probe
/// (1 s interval, 500 ms timeout), an indirect probe round and the suspicion timeout
/// (about 4-6 s for a small LAN pool), then the leader's reconcile.
pub const GOSSIP_BOUND: Duration = Duration::from_secs(15);

/// From the crash to no proxy holding the endpoint: the gossip bound plus a blocking-query
/// round trip to the client agent's cache and one xDS push.
pub const PROXY_BOUND: Duration = Duration::from_secs(20);

const VICTIM: &str = "dc1-client3";

/// web on client1 calls api; api runs on client2 and client3.
pub fn topology() -> Topology {
    Topology::new()
        .datacenter("dc1", 3, 3)
        .service("dc1-client1", "web", 8080, &[("api", 9191)])
        .service("dc1-client2", "api", 8081, &[])
        .service("dc1-client3", "api", 8081, &[])
}

/// One run.
pub fn run(seed: u64) -> crate::Run {
    let mut world = World::new(&topology(), SimConfig::new(seed))?;
    let result = body(&mut world);
    Ok((world, result))
}

fn serf_health(world: &World, node: &str) -> Option<String> {
    let leader = world.agreed_leader()?;
    let digest = invariants::state_digest(world, &leader)?;
    let prefix = format!("check {node} serfHealth ");
    digest.lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

fn body(world: &mut World) -> Result<(), String> {
    elect(world)?;
    let victim_ip = mesh::ip(world, VICTIM).ok_or("no victim host")?;
    let both = world.run_until(Duration::from_secs(90), |w| {
        mesh::upstream_endpoints(w, "dc1-client1", "web-sidecar-proxy", "api")
            .is_some_and(|e| e.len() == 2)
    })?;
    if !both {
        let held = mesh::upstream_endpoints(world, "dc1-client1", "web-sidecar-proxy", "api");
        return Err(format!("web's proxy never held both api endpoints (holds {held:?})"));
    }
    world.apply(&Fault::Crash(VICTIM.into()))?;
    let crashed = world.now();
    let critical =
        world.run_until(GOSSIP_BOUND, |w| serf_health(w, VICTIM).as_deref() == Some("Critical"))?;
    if !critical {
        return Err(format!(
            "{VICTIM}'s serfHealth is {:?} {GOSSIP_BOUND:?} after the crash",
            serf_health(world, VICTIM)
        ));
    }
    let detected = world.now() - crashed;
    let gone = world.run_until(PROXY_BOUND.saturating_sub(detected), |w| {
        mesh::upstream_endpoints(w, "dc1-client1", "web-sidecar-proxy", "api")
            .is_some_and(|e| e.iter().all(|a| a.ip() != victim_ip) && !e.is_empty())
    })?;
    if !gone {
        return Err(format!(
            "web's proxy still routes to {VICTIM} {PROXY_BOUND:?} after the crash: {:?}",
            mesh::upstream_endpoints(world, "dc1-client1", "web-sidecar-proxy", "api")
        ));
    }
    world.apply(&Fault::Restart(VICTIM.into()))?;
    let back = world.run_until(Duration::from_secs(60), |w| {
        mesh::upstream_endpoints(w, "dc1-client1", "web-sidecar-proxy", "api")
            .is_some_and(|e| e.len() == 2)
    })?;
    if !back {
        return Err(format!("{VICTIM}'s endpoint did not come back within 60 s of its restart"));
    }
    invariants::one_leader_per_term(world.trace())
}
