//! Reconciliation of LAN members into the catalog, applied through the state machine.

use std::collections::BTreeMap;

use super::*;
use crate::ids::{Datacenter, NodeName};
use crate::state::{Check, Command, HealthStatus, Node, Service, StateMachine};

fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).unwrap()
}

fn member(name: &str, ip: &str, status: MemberStatus) -> Member {
    Member {
        name: NodeName::new(name).unwrap(),
        datacenter: dc("dc1"),
        addr: format!("{ip}:8301").parse().unwrap(),
        status,
        tags: BTreeMap::from([(tags::ROLE.to_owned(), tags::ROLE_CLIENT.to_owned())]),
        incarnation: 0,
    }
}

fn server(name: &str, ip: &str) -> Member {
    let mut m = member(name, ip, MemberStatus::Alive);
    m.tags.insert(tags::ROLE.to_owned(), tags::ROLE_SERVER.to_owned());
    m.tags.insert(tags::RPC_ADDR.to_owned(), format!("{ip}:8300"));
    m
}

fn leader() -> NodeName {
    NodeName::new("leader").unwrap()
}

struct Catalog {
    sm: StateMachine,
    index: u64,
}

impl Catalog {
    fn new() -> Self {
        Catalog { sm: StateMachine::new(dc("dc1")), index: 0 }
    }

    fn apply(&mut self, commands: &[Command]) {
        for c in commands {
            self.index += 1;
            let r = self.sm.apply(self.index, c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert!(r.succeeded);
        }
    }

    /// Reconciles, applies, and checks a second pass has nothing left to do.
    fn reconcile(&mut self, members: &[Member]) -> Vec<Command> {
        let commands = reconcile(members, &self.sm, &leader());
        self.apply(&commands);
        assert_eq!(reconcile(members, &self.sm, &leader()), vec![], "not idempotent");
        commands
    }

    /// The agent's own anti-entropy: node with tagged addresses and meta, one `web`
    /// instance.
    fn register_web(&mut self, node: &str, ip: &str) {
        let row = Node {
            id: "11111111-2222-3333-4444-555555555555".into(),
            node: node.into(),
            address: ip.into(),
            tagged_addresses: BTreeMap::from([("lan".into(), ip.into())]),
            meta: BTreeMap::from([("rack".into(), "r1".into())]),
            ..Node::default()
        };
        let web =
            Service { id: "web1".into(), service: "web".into(), port: 8080, ..Service::default() };
        self.apply(&[Command::Register { node: row, service: Some(web), checks: vec![] }]);
    }

    fn serf_check(&self, node: &str) -> Option<Check> {
        self.sm.node_checks(node).find(|c| c.check_id == SERF_CHECK_ID).cloned()
    }

    fn passing_web_nodes(&self) -> Vec<String> {
        self.sm.health_service("web", true).into_iter().map(|h| h.node.node).collect()
    }
}

#[test]
fn alive_member_is_registered_with_a_passing_serf_check() {
    let mut cat = Catalog::new();
    let commands = cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Alive)]);
    assert_eq!(commands.len(), 1);
    let node = cat.sm.node("a").unwrap();
    assert_eq!(node.address, "10.0.0.5");
    assert_eq!(node.datacenter, "dc1");
    let check = cat.serf_check("a").unwrap();
    assert_eq!(check.name, "Serf Health Status");
    assert_eq!(check.status, HealthStatus::Passing);
    assert_eq!(check.output, "Agent alive and reachable");
    assert_eq!(check.service_id, "");
    assert_eq!(cat.sm.node_services("a").count(), 0, "clients get no consul service");
}

#[test]
fn suspect_member_counts_as_alive() {
    let mut cat = Catalog::new();
    cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Suspect)]);
    assert_eq!(cat.serf_check("a").unwrap().status, HealthStatus::Passing);
}

#[test]
fn servers_are_registered_as_the_consul_service_on_their_rpc_port() {
    let mut cat = Catalog::new();
    cat.reconcile(&[server("s1", "10.0.0.1")]);
    let svc = cat.sm.service("s1", SERVER_SERVICE).unwrap();
    assert_eq!((svc.service.as_str(), svc.port), ("consul", 8300));
    assert!(cat.sm.catalog_services().contains_key("consul"));
    let mut no_rpc = server("s2", "10.0.0.2");
    no_rpc.tags.remove(tags::RPC_ADDR);
    cat.reconcile(&[server("s1", "10.0.0.1"), no_rpc]);
    assert!(cat.sm.service("s2", SERVER_SERVICE).is_none());
}

#[test]
fn failed_member_turns_serf_health_critical_and_its_instances_stop_passing() {
    let mut cat = Catalog::new();
    cat.register_web("a", "10.0.0.5");
    cat.register_web("b", "10.0.0.6");
    let alive = [
        member("a", "10.0.0.5", MemberStatus::Alive),
        member("b", "10.0.0.6", MemberStatus::Alive),
    ];
    cat.reconcile(&alive);
    assert_eq!(cat.passing_web_nodes(), ["a", "b"]);

    let one_failed = [alive[0].clone(), member("b", "10.0.0.6", MemberStatus::Failed)];
    let commands = cat.reconcile(&one_failed);
    assert_eq!(
        commands,
        [Command::UpdateCheckStatus {
            node: "b".into(),
            check_id: "serfHealth".into(),
            status: HealthStatus::Critical,
            output: "Agent not live or unreachable".into(),
        }]
    );
    assert_eq!(cat.passing_web_nodes(), ["a"]);
    let all = cat.sm.health_service("web", false);
    let b = all.iter().find(|h| h.node.node == "b").unwrap();
    assert!(
        b.checks.iter().any(|c| c.check_id == SERF_CHECK_ID && c.status == HealthStatus::Critical)
    );

    // Back alive: passing again, and the instance returns.
    cat.reconcile(&alive);
    assert_eq!(cat.passing_web_nodes(), ["a", "b"]);
    assert_eq!(cat.serf_check("b").unwrap().output, SERF_CHECK_ALIVE_OUTPUT);
}

#[test]
fn registration_keeps_what_the_agent_put_on_the_node() {
    let mut cat = Catalog::new();
    cat.register_web("a", "10.0.0.5");
    cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Alive)]);
    let node = cat.sm.node("a").unwrap();
    assert_eq!(node.id, "11111111-2222-3333-4444-555555555555");
    assert_eq!(node.meta.get("rack").map(String::as_str), Some("r1"));
    assert_eq!(node.tagged_addresses.get("lan").map(String::as_str), Some("10.0.0.5"));
    assert_eq!(cat.sm.node_services("a").count(), 1);
}

#[test]
fn a_moved_node_is_registered_again_at_its_new_gossip_ip() {
    let mut cat = Catalog::new();
    cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Alive)]);
    let commands = cat.reconcile(&[member("a", "10.0.0.7", MemberStatus::Alive)]);
    assert!(matches!(commands.as_slice(), [Command::Register { .. }]));
    assert_eq!(cat.sm.node("a").unwrap().address, "10.0.0.7");
    cat.reconcile(&[member("a", "10.0.0.8", MemberStatus::Failed)]);
    assert_eq!(cat.sm.node("a").unwrap().address, "10.0.0.8");
    assert_eq!(cat.serf_check("a").unwrap().status, HealthStatus::Critical);
}

#[test]
fn failure_of_a_node_never_registered_is_ignored() {
    let cat = Catalog::new();
    let members = [member("ghost", "10.0.0.9", MemberStatus::Failed)];
    assert_eq!(reconcile(&members, &cat.sm, &leader()), vec![]);
}

#[test]
fn left_member_is_deregistered_but_never_the_leader_itself() {
    let mut cat = Catalog::new();
    cat.register_web("a", "10.0.0.5");
    let mut me = server("leader", "10.0.0.1");
    cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Alive), me.clone()]);
    me.status = MemberStatus::Left;
    let commands = cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Left), me]);
    assert_eq!(commands, [Command::DeregisterNode { node: "a".into() }]);
    assert!(cat.sm.node("a").is_none());
    assert!(cat.sm.node("leader").is_some());
    assert!(cat.passing_web_nodes().is_empty());
}

#[test]
fn nodes_gone_from_the_pool_are_reaped_only_if_gossip_registered_them() {
    let mut cat = Catalog::new();
    cat.reconcile(&[member("a", "10.0.0.5", MemberStatus::Alive), server("leader", "10.0.0.1")]);
    // An external node registered through the catalog API has no serfHealth check.
    cat.register_web("external", "192.0.2.1");
    let commands = cat.reconcile(&[]);
    assert_eq!(commands, [Command::DeregisterNode { node: "a".into() }]);
    assert!(cat.sm.node("external").is_some());
    assert!(cat.sm.node("leader").is_some());
}

#[test]
fn members_of_other_datacenters_are_ignored() {
    let cat = Catalog::new();
    let mut foreign = member("x", "10.1.0.5", MemberStatus::Alive);
    foreign.datacenter = dc("dc2");
    assert_eq!(reconcile(&[foreign], &cat.sm, &leader()), vec![]);
}

#[test]
fn commands_come_out_in_node_name_order() {
    let cat = Catalog::new();
    let members = [
        member("c", "10.0.0.3", MemberStatus::Alive),
        member("a", "10.0.0.1", MemberStatus::Alive),
        member("b", "10.0.0.2", MemberStatus::Alive),
    ];
    let names: Vec<String> = reconcile(&members, &cat.sm, &leader())
        .into_iter()
        .map(|c| match c {
            Command::Register { node, .. } => node.node,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}
