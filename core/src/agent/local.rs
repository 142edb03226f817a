//! The agent's own services and checks, and anti-entropy: the commands that make the
//! catalog's view of this node equal to the agent's (Consul's `local.State` and `ae`).
//!
//! The agent is the source of truth for what runs on its node; the catalog is a replica the
//! agent keeps in sync. [`LocalState::sync_commands`] compares the two and returns the writes
//! that close the gap, so both the write-through after an API call and the periodic full sync
//! are the same pure comparison. Checks the servers own (`serfHealth`) are never touched.
//! Check results (including alias checks) come from the check scheduler (`crate::checks`).

use std::collections::BTreeMap;

use crate::state::{Check, Command, HealthStatus, Node, Service};

/// The servers' gossip health check on every node; owned by the servers, not the agent.
pub const SERF_HEALTH: &str = "serfHealth";
/// Check id of node maintenance mode.
pub const NODE_MAINTENANCE: &str = "_node_maintenance";
/// Prefix of a service's maintenance-mode check id.
pub const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";

/// One local service instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalService {
    /// The row as registered (indexes zero).
    pub service: Service,
    /// For a sidecar registered through its parent's `sidecar_service`: the parent's id
    /// (deregistering the parent deregisters it too).
    pub sidecar_of: Option<String>,
    /// Agent-only settings the catalog row does not carry.
    pub extra: LocalExtra,
}

/// What an agent remembers of a registration beyond the catalog row, to show it back in
/// `/v1/agent/services`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalExtra {
    /// `EnableTagOverride` as registered.
    pub enable_tag_override: bool,
    /// `Locality` (`{"Region", "Zone"}`) as registered.
    pub locality: Option<serde_json::Value>,
}

/// Why a local change was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// A check names a service this agent does not have.
    #[error("ServiceID {0:?} does not exist")]
    NoSuchService(String),
    /// No such check.
    #[error("Unknown check ID {0:?}. Ensure that the check ID is passed, not the check name.")]
    NoSuchCheck(String),
}

/// What this agent runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalState {
    node: Node,
    services: BTreeMap<String, LocalService>,
    checks: BTreeMap<String, Check>,
}

impl LocalState {
    /// An agent for `node` with nothing registered.
    pub fn new(node: Node) -> Self {
        LocalState { node, services: BTreeMap::new(), checks: BTreeMap::new() }
    }

    /// The node row the agent registers.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Local instances by id.
    pub fn services(&self) -> &BTreeMap<String, LocalService> {
        &self.services
    }

    /// Local checks by id.
    pub fn checks(&self) -> &BTreeMap<String, Check> {
        &self.checks
    }

    /// One instance.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id).map(|s| &s.service)
    }

    /// The ports local sidecars listen on.
    pub fn sidecar_port_taken(&self, port: u16) -> bool {
        self.services.values().any(|s| s.service.port == port && s.service.proxy.is_some())
    }

    /// Adds or replaces an instance. Its checks are replaced only when `replace_checks`
    /// (Consul's `replace-existing-checks`); checks are added with [`Self::add_check`].
    pub fn add_service(
        &mut self,
        service: Service,
        sidecar_of: Option<String>,
        replace_checks: bool,
    ) {
        self.add_service_with(service, sidecar_of, replace_checks, LocalExtra::default());
    }

    /// [`Self::add_service`] with the agent-only settings.
    pub fn add_service_with(
        &mut self,
        service: Service,
        sidecar_of: Option<String>,
        replace_checks: bool,
        extra: LocalExtra,
    ) {
        if replace_checks {
            let id = service.id.clone();
            self.remove_checks_where(|c| c.service_id == id);
        }
        let name = service.service.clone();
        let id = service.id.clone();
        self.services.insert(id.clone(), LocalService { service, sidecar_of, extra });
        for check in self.checks.values_mut().filter(|c| c.service_id == id) {
            check.service_name = name.clone();
        }
    }

    /// Removes an instance, the sidecars registered with it and all their checks; returns
    /// the removed instance ids and check ids (empty when `id` is unknown).
    pub fn remove_service(&mut self, id: &str) -> (Vec<String>, Vec<String>) {
        if !self.services.contains_key(id) {
            return (Vec::new(), Vec::new());
        }
        let mut ids: Vec<String> = vec![id.to_owned()];
        ids.extend(
            self.services
                .iter()
                .filter(|(_, s)| s.sidecar_of.as_deref() == Some(id))
                .map(|(k, _)| k.clone()),
        );
        for sid in &ids {
            self.services.remove(sid);
        }
        let checks = self.remove_checks_where(|c| ids.contains(&c.service_id));
        (ids, checks)
    }

    fn remove_checks_where(&mut self, pred: impl Fn(&Check) -> bool) -> Vec<String> {
        let gone: Vec<String> =
            self.checks.iter().filter(|(_, c)| pred(c)).map(|(k, _)| k.clone()).collect();
        for id in &gone {
            self.checks.remove(id);
        }
        gone
    }

    /// Adds or replaces a check. A new check keeps the status it was defined with; a
    /// re-registered one keeps its current status and output.
    pub fn add_check(&mut self, mut check: Check) -> Result<(), LocalError> {
        check.node = self.node.node.clone();
        check.create_index = 0;
        check.modify_index = 0;
        if !check.service_id.is_empty() {
            let svc = self
                .services
                .get(&check.service_id)
                .ok_or_else(|| LocalError::NoSuchService(check.service_id.clone()))?;
            check.service_name = svc.service.service.clone();
        } else {
            check.service_name.clear();
        }
        if let Some(old) = self.checks.get(&check.check_id) {
            check.status = old.status;
            check.output = old.output.clone();
        }
        self.checks.insert(check.check_id.clone(), check);
        Ok(())
    }

    /// Removes a check; false when unknown.
    pub fn remove_check(&mut self, id: &str) -> bool {
        self.checks.remove(id).is_some()
    }

    /// Sets a check's status and output; returns whether anything changed.
    pub fn update_check(
        &mut self,
        id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<bool, LocalError> {
        let check = self.checks.get_mut(id).ok_or_else(|| LocalError::NoSuchCheck(id.into()))?;
        let changed = check.status != status || check.output != output;
        check.status = status;
        check.output = output.to_owned();
        Ok(changed)
    }

    fn node_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.values().filter(|c| c.service_id.is_empty())
    }

    /// Turns a service's maintenance mode on (a critical `_service_maintenance:<id>` check)
    /// or off.
    pub fn set_service_maintenance(
        &mut self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), LocalError> {
        if !self.services.contains_key(id) {
            return Err(LocalError::NoSuchService(id.to_owned()));
        }
        let check_id = format!("{SERVICE_MAINTENANCE_PREFIX}{id}");
        if enable {
            self.put_maintenance(&check_id, "Service Maintenance Mode", id, reason);
        } else {
            self.remove_check(&check_id);
        }
        Ok(())
    }

    /// Turns node maintenance mode on or off.
    pub fn set_node_maintenance(&mut self, enable: bool, reason: &str) {
        if enable {
            self.put_maintenance(NODE_MAINTENANCE, "Node Maintenance Mode", "", reason);
        } else {
            self.remove_check(NODE_MAINTENANCE);
        }
    }

    fn put_maintenance(&mut self, check_id: &str, name: &str, service_id: &str, reason: &str) {
        let notes = if reason.is_empty() {
            "Maintenance mode is enabled for this service, but no reason was provided. This is a \
             default message."
                .to_owned()
        } else {
            reason.to_owned()
        };
        let service_name =
            self.services.get(service_id).map(|s| s.service.service.clone()).unwrap_or_default();
        self.checks.insert(
            check_id.to_owned(),
            Check {
                node: self.node.node.clone(),
                check_id: check_id.to_owned(),
                name: name.to_owned(),
                status: HealthStatus::Critical,
                notes,
                service_id: service_id.to_owned(),
                service_name,
                ..Check::default()
            },
        );
    }

    /// The writes that make the catalog's rows for this node (`catalog_node`, its
    /// `catalog_services` and `catalog_checks`) equal to the local state. Empty when in sync.
    /// Order: the node, then each instance with its checks, then node checks, then removals.
    pub fn sync_commands(
        &self,
        catalog_node: Option<&Node>,
        catalog_services: &[Service],
        catalog_checks: &[Check],
    ) -> Vec<Command> {
        let mut out = Vec::new();
        let node_in_sync = catalog_node.is_some_and(|n| n.same_as(&self.node));
        let find_svc = |id: &str| catalog_services.iter().find(|s| s.id == id);
        let find_check = |id: &str| catalog_checks.iter().find(|c| c.check_id == id);
        if !node_in_sync {
            out.push(Command::Register { node: self.node.clone(), service: None, checks: vec![] });
        }
        for (id, local) in &self.services {
            let checks: Vec<&Check> =
                self.checks.values().filter(|c| c.service_id == *id).collect();
            let svc_in_sync = find_svc(id).is_some_and(|s| s.same_as(&local.service));
            let stale_checks: Vec<Check> = checks
                .iter()
                .filter(|c| !find_check(&c.check_id).is_some_and(|cc| cc.same_as(c)))
                .map(|c| (*c).clone())
                .collect();
            if !svc_in_sync || !stale_checks.is_empty() {
                out.push(Command::Register {
                    node: self.node.clone(),
                    service: Some(local.service.clone()),
                    checks: stale_checks,
                });
            }
        }
        let stale_node_checks: Vec<Check> = self
            .node_checks()
            .filter(|c| !find_check(&c.check_id).is_some_and(|cc| cc.same_as(c)))
            .cloned()
            .collect();
        if !stale_node_checks.is_empty() {
            out.push(Command::Register {
                node: self.node.clone(),
                service: None,
                checks: stale_node_checks,
            });
        }
        let name = &self.node.node;
        for svc in catalog_services {
            if !self.services.contains_key(&svc.id) {
                out.push(Command::DeregisterService {
                    node: name.clone(),
                    service_id: svc.id.clone(),
                });
            }
        }
        for check in catalog_checks {
            let owned_by_removed_service =
                !check.service_id.is_empty() && !self.services.contains_key(&check.service_id);
            if check.check_id != SERF_HEALTH
                && !owned_by_removed_service
                && !self.checks.contains_key(&check.check_id)
            {
                out.push(Command::DeregisterCheck {
                    node: name.clone(),
                    check_id: check.check_id.clone(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Datacenter;
    use crate::state::StateMachine;

    fn node() -> Node {
        Node {
            node: "n1".into(),
            address: "127.0.0.1".into(),
            datacenter: "dc1".into(),
            ..Node::default()
        }
    }

    fn svc(id: &str, name: &str) -> Service {
        Service { id: id.into(), service: name.into(), port: 80, ..Service::default() }
    }

    fn check(id: &str, service_id: &str, status: HealthStatus) -> Check {
        Check {
            check_id: id.into(),
            name: id.into(),
            service_id: service_id.into(),
            status,
            ..Check::default()
        }
    }

    /// Applies the sync commands to a state machine and returns it, with the next index.
    fn sync(local: &LocalState, sm: &mut StateMachine, mut index: u64) -> (usize, u64) {
        let name = &local.node().node;
        let services: Vec<Service> = sm.node_services(name).cloned().collect();
        let checks: Vec<Check> = sm.node_checks(name).cloned().collect();
        let cmds = local.sync_commands(sm.node(name), &services, &checks);
        for c in &cmds {
            index += 1;
            assert!(sm.apply(index, c).unwrap().succeeded);
        }
        (cmds.len(), index)
    }

    #[test]
    fn sync_converges_and_is_then_quiet() {
        let mut local = LocalState::new(node());
        local.add_service(svc("web-1", "web"), None, false);
        local.add_check(check("c1", "web-1", HealthStatus::Passing)).unwrap();
        local.add_check(check("nodecheck", "", HealthStatus::Warning)).unwrap();
        let mut sm = StateMachine::new(Datacenter::new("dc1").unwrap());
        let (n, idx) = sync(&local, &mut sm, 0);
        assert!(n > 0);
        assert_eq!(sync(&local, &mut sm, idx).0, 0, "second sync writes nothing");
        assert_eq!(sm.health_service("web", true).len(), 0, "node check warns, not passing");
        local.update_check("nodecheck", HealthStatus::Passing, "ok").unwrap();
        let (n, idx) = sync(&local, &mut sm, idx);
        assert_eq!(n, 1);
        assert_eq!(sm.health_service("web", true).len(), 1);
        local.remove_service("web-1");
        sync(&local, &mut sm, idx);
        assert!(sm.health_service("web", false).is_empty());
        assert!(sm.node_checks("n1").all(|c| c.check_id != "c1"));
    }

    #[test]
    fn sync_keeps_serf_health_and_drops_foreign_rows() {
        let local = LocalState::new(node());
        let mut sm = StateMachine::new(Datacenter::new("dc1").unwrap());
        let reg = Command::Register {
            node: node(),
            service: Some(svc("ghost", "ghost")),
            checks: vec![
                check(SERF_HEALTH, "", HealthStatus::Passing),
                check("old", "", HealthStatus::Passing),
            ],
        };
        assert!(sm.apply(1, &reg).unwrap().succeeded);
        sync(&local, &mut sm, 1);
        let ids: Vec<String> = sm.node_checks("n1").map(|c| c.check_id.clone()).collect();
        assert_eq!(ids, vec![SERF_HEALTH.to_owned()]);
        assert_eq!(sm.node_services("n1").count(), 0);
    }

    #[test]
    fn check_for_unknown_service_is_refused() {
        let mut local = LocalState::new(node());
        let err = local.add_check(check("c", "nope", HealthStatus::Passing)).unwrap_err();
        assert_eq!(err.to_string(), "ServiceID \"nope\" does not exist");
        assert!(local.update_check("c", HealthStatus::Passing, "").is_err());
    }

    #[test]
    fn sidecar_goes_with_parent() {
        let mut local = LocalState::new(node());
        local.add_service(svc("web", "web"), None, false);
        local.add_service(svc("web-sidecar-proxy", "web-sidecar-proxy"), Some("web".into()), false);
        local.add_check(check("web-check", "web", HealthStatus::Critical)).unwrap();
        local.add_check(check("side", "web-sidecar-proxy", HealthStatus::Critical)).unwrap();
        let (ids, checks) = local.remove_service("web");
        assert_eq!(ids, vec!["web", "web-sidecar-proxy"]);
        assert_eq!(checks.len(), 2);
        assert!(local.services().is_empty() && local.checks().is_empty());
    }

    #[test]
    fn maintenance_adds_and_removes_a_critical_check() {
        let mut local = LocalState::new(node());
        local.add_service(svc("web", "web"), None, false);
        local.set_service_maintenance("web", true, "upgrade").unwrap();
        let c = &local.checks()["_service_maintenance:web"];
        assert_eq!((c.status, c.notes.as_str()), (HealthStatus::Critical, "upgrade"));
        local.set_service_maintenance("web", false, "").unwrap();
        assert!(local.checks().is_empty());
        assert!(local.set_service_maintenance("nope", true, "").is_err());
        local.set_node_maintenance(true, "");
        assert_eq!(local.checks()[NODE_MAINTENANCE].service_id, "");
    }
}
