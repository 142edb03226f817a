//! Properties every scenario checks on the world or its trace.

use std::collections::{BTreeMap, BTreeSet};

use proconsul_runtime_sim::{Event, Trace, World};

/// Raft's election safety: no term ever saw two different leaders.
pub fn one_leader_per_term(trace: &Trace) -> Result<(), String> {
    let mut leaders: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for line in trace.lines() {
        if let Event::Leader { term, leader: Some(leader) } = &line.event {
            leaders.entry(*term).or_default().insert(leader.clone());
        }
    }
    match leaders.iter().find(|(_, l)| l.len() > 1) {
        Some((term, l)) => Err(format!("term {term} had leaders {l:?}")),
        None => Ok(()),
    }
}

/// What a server's replicated state holds, in a comparable form: every KV entry, node,
/// service and check. Two servers that applied the same log give the same digest.
pub fn state_digest(world: &World, server: &str) -> Option<String> {
    let agent = world.agent(server)?;
    let raft = agent.raft()?;
    let state = raft.state().read();
    let sm = &state.machine;
    let mut out = String::new();
    for e in sm.kv_list("") {
        out.push_str(&format!("kv {} {:?} {}\n", e.key, e.value, e.modify_index));
    }
    for node in sm.nodes() {
        out.push_str(&format!("node {} {}\n", node.node, node.address));
        for check in sm.node_checks(&node.node) {
            out.push_str(&format!("check {} {} {:?}\n", node.node, check.check_id, check.status));
        }
    }
    Some(out)
}

/// Whether every running server in `servers` holds the same state (and at least one runs).
pub fn converged(world: &World, servers: &[String]) -> bool {
    let digests: Vec<String> = servers.iter().filter_map(|s| state_digest(world, s)).collect();
    !digests.is_empty() && digests.windows(2).all(|w| w[0] == w[1])
}

/// The keys of `acked` that `server`'s state does not hold.
pub fn missing(
    world: &World,
    server: &str,
    acked: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let Some(agent) = world.agent(server) else { return Vec::new() };
    let Some(raft) = agent.raft() else { return Vec::new() };
    let state = raft.state().read();
    acked.into_iter().filter(|k| state.machine.kv_get(k).is_none()).collect()
}
