//! What Consul's leader does with LAN membership (`agent/consul/leader.go`: reconcileMember,
//! handleAliveMember, handleFailedMember, handleLeftMember, reconcileReaped): make the
//! catalog's `serfHealth` node checks agree with gossip.
//!
//! | member status      | catalog outcome                                                   |
//! |--------------------|-------------------------------------------------------------------|
//! | alive, suspect     | node registered at the gossip IP, `serfHealth` passing; servers also get the `consul` service on their RPC port |
//! | failed             | `serfHealth` critical, if the node is in the catalog at all        |
//! | left               | node deregistered (with its services and checks)                   |
//! | not in the pool    | node deregistered if it has a `serfHealth` check (it was reaped)   |
//!
//! A critical node check fails every instance on the node, so a failed agent's instances
//! leave `?passing` health results and every proxy's endpoints. The leader never
//! deregisters itself (the next leader does). Members of other datacenters are ignored.
//! The function is pure and idempotent: once its commands are applied it returns nothing.

use std::collections::BTreeMap;

use crate::ids::NodeName;
use crate::state::{Check, Command, HealthStatus, Node, Service, StateMachine};

use super::member::{Member, MemberStatus};

/// Check id of the gossip health check on every node.
pub const SERF_CHECK_ID: &str = "serfHealth";
/// Its name.
pub const SERF_CHECK_NAME: &str = "Serf Health Status";
/// Its output while the member is alive.
pub const SERF_CHECK_ALIVE_OUTPUT: &str = "Agent alive and reachable";
/// Its output once the member failed.
pub const SERF_CHECK_FAILED_OUTPUT: &str = "Agent not live or unreachable";
/// Service (name and id) registered for each server at its RPC port.
pub const SERVER_SERVICE: &str = "consul";

/// The commands that make `catalog` agree with the LAN `members` (one entry per node name,
/// as [`super::Pool::members`] returns them), ordered by node name. `leader` is the node
/// running the reconciliation.
pub fn reconcile(members: &[Member], catalog: &StateMachine, leader: &NodeName) -> Vec<Command> {
    let dc = catalog.datacenter().as_str();
    let local: BTreeMap<&str, &Member> = members
        .iter()
        .filter(|m| m.datacenter.as_str() == dc)
        .map(|m| (m.name.as_str(), m))
        .collect();
    let mut out = Vec::new();
    for (name, member) in &local {
        let command = match member.status {
            MemberStatus::Alive | MemberStatus::Suspect => alive(member, catalog),
            MemberStatus::Failed => failed(member, catalog),
            MemberStatus::Left => deregister(name, catalog, leader),
        };
        out.extend(command);
    }
    let reaped = catalog
        .nodes()
        .filter(|n| !local.contains_key(n.node.as_str()))
        .filter(|n| serf_check(catalog, &n.node).is_some())
        .filter_map(|n| deregister(&n.node, catalog, leader));
    out.extend(reaped);
    out
}

fn serf_check<'a>(catalog: &'a StateMachine, node: &str) -> Option<&'a Check> {
    catalog.node_checks(node).find(|c| c.check_id == SERF_CHECK_ID && c.service_id.is_empty())
}

fn alive(member: &Member, catalog: &StateMachine) -> Option<Command> {
    let name = member.name.as_str();
    let address = member.addr.ip().to_string();
    let service = server_service(member);
    let node_ok = catalog.node(name).is_some_and(|n| n.address == address);
    let service_ok = service.as_ref().is_none_or(|want| {
        catalog.service(name, SERVER_SERVICE).is_some_and(|have| have.same_as(want))
    });
    match serf_check(catalog, name) {
        Some(c) if node_ok && service_ok && c.status == HealthStatus::Passing => None,
        Some(_) if node_ok && service_ok => Some(Command::UpdateCheckStatus {
            node: name.to_owned(),
            check_id: SERF_CHECK_ID.to_owned(),
            status: HealthStatus::Passing,
            output: SERF_CHECK_ALIVE_OUTPUT.to_owned(),
        }),
        _ => Some(Command::Register {
            node: node_row(member, catalog, address),
            service,
            checks: vec![serf_check_row(name, HealthStatus::Passing, SERF_CHECK_ALIVE_OUTPUT)],
        }),
    }
}

fn failed(member: &Member, catalog: &StateMachine) -> Option<Command> {
    let name = member.name.as_str();
    let address = member.addr.ip().to_string();
    // Consul ignores failures of nodes it never registered.
    let node = catalog.node(name)?;
    let node_ok = node.address == address;
    match serf_check(catalog, name) {
        Some(c) if node_ok && c.status == HealthStatus::Critical => None,
        Some(_) if node_ok => Some(Command::UpdateCheckStatus {
            node: name.to_owned(),
            check_id: SERF_CHECK_ID.to_owned(),
            status: HealthStatus::Critical,
            output: SERF_CHECK_FAILED_OUTPUT.to_owned(),
        }),
        _ => Some(Command::Register {
            node: node_row(member, catalog, address),
            service: None,
            checks: vec![serf_check_row(name, HealthStatus::Critical, SERF_CHECK_FAILED_OUTPUT)],
        }),
    }
}

fn deregister(name: &str, catalog: &StateMachine, leader: &NodeName) -> Option<Command> {
    if name == leader.as_str() || catalog.node(name).is_none() {
        return None;
    }
    Some(Command::DeregisterNode { node: name.to_owned() })
}

/// The node row to register: the gossip IP as address, the `id` tag as node id, and what
/// the agent's own registration put there (tagged addresses, meta) kept, because a
/// registration replaces the whole row.
fn node_row(member: &Member, catalog: &StateMachine, address: String) -> Node {
    let existing = catalog.node(member.name.as_str());
    let id = member
        .tags
        .get(super::tags::NODE_ID)
        .cloned()
        .or_else(|| existing.map(|n| n.id.clone()))
        .unwrap_or_default();
    Node {
        id,
        node: member.name.as_str().to_owned(),
        address,
        datacenter: member.datacenter.as_str().to_owned(),
        tagged_addresses: existing.map(|n| n.tagged_addresses.clone()).unwrap_or_default(),
        meta: existing.map(|n| n.meta.clone()).unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    }
}

fn serf_check_row(node: &str, status: HealthStatus, output: &str) -> Check {
    Check {
        node: node.to_owned(),
        check_id: SERF_CHECK_ID.to_owned(),
        name: SERF_CHECK_NAME.to_owned(),
        status,
        output: output.to_owned(),
        ..Check::default()
    }
}

/// Consul registers each server as an instance of `consul` at its RPC port, which is how
/// `consul.service.consul` finds servers. A server without a usable `rpc_addr` tag is not
/// registered as one (Consul's `IsConsulServer` refuses it too).
fn server_service(member: &Member) -> Option<Service> {
    if !member.is_server() {
        return None;
    }
    let rpc = member.rpc_addr()?;
    Some(Service {
        id: SERVER_SERVICE.to_owned(),
        service: SERVER_SERVICE.to_owned(),
        port: rpc.port(),
        ..Service::default()
    })
}
