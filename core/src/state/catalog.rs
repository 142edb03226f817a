//! Catalog writes: register, deregister and check status, with Consul's validation and its
//! rule that an identical re-registration (the agent's anti-entropy) moves no index.
//!
//! Every handler validates everything first and mutates after, so an `Err` leaves the state
//! untouched. Health reads depend on a service's instances, their checks and their nodes, so
//! a change to any of those touches [`WatchKey::ServiceName`] (and
//! [`WatchKey::ConnectService`] for sidecars and native instances) of each affected instance.

use super::model::{Check, HealthStatus, Node, Service, ServiceKind};
use super::{Changes, StateError, StateMachine, WatchKey};

/// The per-service watch keys an instance's health rows are read under.
fn service_keys(s: &Service) -> Vec<WatchKey> {
    let mut keys = vec![WatchKey::ServiceName(s.service.clone())];
    if let Some(dest) = s.proxy_destination() {
        keys.push(WatchKey::ConnectService(dest.to_owned()));
    }
    if s.connect.native {
        keys.push(WatchKey::ConnectService(s.service.clone()));
    }
    keys
}

/// Consul's `NodeService.Validate`, after defaulting the id to the name.
fn normalize_service(service: &Service) -> Result<Service, StateError> {
    let mut s = service.clone();
    if s.service.is_empty() {
        return Err(StateError::MissingServiceName);
    }
    if s.id.is_empty() {
        s.id = s.service.clone();
    }
    let invalid = |message| StateError::InvalidService { service_id: s.id.clone(), message };
    let destination = s.proxy.as_ref().map_or("", |p| p.destination_service_name.as_str());
    match s.kind {
        ServiceKind::ConnectProxy => {
            if destination.is_empty() {
                return Err(invalid(
                    "Proxy.DestinationServiceName must be non-empty for Connect proxy services",
                ));
            }
            if s.port == 0 {
                return Err(invalid("Port must be non-zero for a Connect proxy service"));
            }
            if s.connect.native {
                return Err(invalid(
                    "A Proxy cannot also be Connect Native, only typical services",
                ));
            }
        }
        ServiceKind::MeshGateway => {
            if s.port == 0 {
                return Err(invalid("Port must be non-zero for a Mesh Gateway service"));
            }
            if !destination.is_empty() {
                return Err(invalid(
                    "The Proxy.DestinationServiceName configuration is invalid for Mesh Gateways",
                ));
            }
        }
        ServiceKind::IngressGateway => {
            if !destination.is_empty() {
                return Err(invalid(
                    "The Proxy.DestinationServiceName configuration is invalid for Ingress Gateways",
                ));
            }
        }
        ServiceKind::Typical => {}
    }
    Ok(s)
}

impl StateMachine {
    pub(super) fn register(
        &mut self,
        tx: &mut Changes,
        node: &Node,
        service: Option<&Service>,
        checks: &[Check],
    ) -> Result<bool, StateError> {
        if node.node.is_empty() {
            return Err(StateError::MissingNode);
        }
        if node.address.is_empty() {
            return Err(StateError::MissingAddress);
        }
        let service = service.map(normalize_service).transpose()?;
        let checks = checks
            .iter()
            .map(|c| self.normalize_check(&node.node, service.as_ref(), c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut node = node.clone();
        if node.datacenter.is_empty() {
            node.datacenter = self.datacenter.to_string();
        }
        let name = node.node.clone();
        self.put_node(tx, node);
        if let Some(s) = service {
            self.put_service(tx, &name, s);
        }
        for c in checks {
            self.put_check(tx, c);
        }
        Ok(true)
    }

    /// Fills the node and service name, and checks the instance exists (on the node or in
    /// the same registration).
    fn normalize_check(
        &self,
        node: &str,
        registering: Option<&Service>,
        check: &Check,
    ) -> Result<Check, StateError> {
        if check.check_id.is_empty() {
            return Err(StateError::MissingCheckId);
        }
        let mut c = check.clone();
        c.node = node.to_owned();
        c.service_name.clear();
        if !c.service_id.is_empty() {
            let name = match registering.filter(|s| s.id == c.service_id) {
                Some(s) => Some(s.service.clone()),
                None => self.service(node, &c.service_id).map(|s| s.service.clone()),
            };
            c.service_name = name.ok_or_else(|| StateError::UnknownServiceForCheck {
                node: node.to_owned(),
                check_id: c.check_id.clone(),
                service_id: c.service_id.clone(),
            })?;
        }
        Ok(c)
    }

    fn put_node(&mut self, tx: &mut Changes, mut node: Node) {
        let existing = self.nodes.get(&node.node);
        if existing.is_some_and(|e| e.same_as(&node)) {
            return;
        }
        node.create_index = existing.map_or(tx.index, |e| e.create_index);
        node.modify_index = tx.index;
        tx.touch(WatchKey::Nodes);
        self.touch_node_services(tx, &node.node);
        self.nodes.insert(node.node.clone(), node);
    }

    fn put_service(&mut self, tx: &mut Changes, node: &str, mut service: Service) {
        let existing = self.service(node, &service.id).cloned();
        if existing.as_ref().is_some_and(|e| e.same_as(&service)) {
            return;
        }
        service.create_index = existing.as_ref().map_or(tx.index, |e| e.create_index);
        service.modify_index = tx.index;
        tx.touch(WatchKey::Services);
        if let Some(old) = &existing {
            service_keys(old).into_iter().for_each(|k| tx.touch(k));
            self.unindex_service(node, old);
            if old.service != service.service {
                self.rename_service_checks(tx, node, &service);
            }
        }
        service_keys(&service).into_iter().for_each(|k| tx.touch(k));
        self.index_service(node, &service);
        self.services
            .entry(node.to_owned())
            .or_default()
            .insert(service.id.clone(), Box::new(service));
    }

    /// A check names its instance's service; keep that true when an id changes name.
    fn rename_service_checks(&mut self, tx: &mut Changes, node: &str, service: &Service) {
        let Some(checks) = self.checks.get_mut(node) else { return };
        for c in checks.values_mut().filter(|c| c.service_id == service.id) {
            c.service_name = service.service.clone();
            c.modify_index = tx.index;
            tx.touch(WatchKey::Checks);
        }
    }

    fn put_check(&mut self, tx: &mut Changes, mut check: Check) {
        let existing = self.checks.get(&check.node).and_then(|m| m.get(&check.check_id));
        if existing.is_some_and(|e| e.same_as(&check)) {
            return;
        }
        check.create_index = existing.map_or(tx.index, |e| e.create_index);
        check.modify_index = tx.index;
        if let Some(old) = existing.cloned() {
            self.touch_check_services(tx, &old);
        }
        self.touch_check_services(tx, &check);
        let node = check.node.clone();
        self.checks.entry(node).or_default().insert(check.check_id.clone(), Box::new(check));
    }

    pub(super) fn deregister_node(&mut self, tx: &mut Changes, node: &str) -> bool {
        if self.nodes.remove(node).is_none() {
            return true;
        }
        tx.touch(WatchKey::Nodes);
        self.touch_node_services(tx, node);
        if let Some(services) = self.services.remove(node) {
            tx.touch(WatchKey::Services);
            for s in services.values() {
                self.unindex_service(node, s);
            }
        }
        if self.checks.remove(node).is_some() {
            tx.touch(WatchKey::Checks);
        }
        self.drop_node_coordinates(tx, node);
        true
    }

    pub(super) fn deregister_service(&mut self, tx: &mut Changes, node: &str, id: &str) -> bool {
        let Some(by_id) = self.services.get_mut(node) else { return true };
        let Some(old) = by_id.remove(id) else { return true };
        if by_id.is_empty() {
            self.services.remove(node);
        }
        tx.touch(WatchKey::Services);
        service_keys(&old).into_iter().for_each(|k| tx.touch(k));
        self.unindex_service(node, &old);
        if let Some(checks) = self.checks.get_mut(node) {
            let before = checks.len();
            checks.retain(|_, c| c.service_id != id);
            if checks.len() != before {
                tx.touch(WatchKey::Checks);
            }
            if checks.is_empty() {
                self.checks.remove(node);
            }
        }
        true
    }

    pub(super) fn deregister_check(
        &mut self,
        tx: &mut Changes,
        node: &str,
        check_id: &str,
    ) -> bool {
        let Some(checks) = self.checks.get_mut(node) else { return true };
        let Some(old) = checks.remove(check_id) else { return true };
        if checks.is_empty() {
            self.checks.remove(node);
        }
        self.touch_check_services(tx, &old);
        true
    }

    pub(super) fn update_check_status(
        &mut self,
        tx: &mut Changes,
        node: &str,
        check_id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<bool, StateError> {
        let existing = self.checks.get(node).and_then(|m| m.get(check_id)).ok_or_else(|| {
            StateError::UnknownCheck { node: node.to_owned(), check_id: check_id.to_owned() }
        })?;
        let mut check = Check::clone(existing);
        check.status = status;
        check.output = output.to_owned();
        self.put_check(tx, check);
        Ok(true)
    }

    /// Touches `Checks` and the health keys the check feeds: its instance's, or every
    /// instance on the node for a node check.
    fn touch_check_services(&self, tx: &mut Changes, check: &Check) {
        tx.touch(WatchKey::Checks);
        if check.service_id.is_empty() {
            self.touch_node_services(tx, &check.node);
        } else if let Some(s) = self.service(&check.node, &check.service_id) {
            service_keys(s).into_iter().for_each(|k| tx.touch(k));
        }
    }

    fn touch_node_services(&self, tx: &mut Changes, node: &str) {
        for s in self.services.get(node).into_iter().flat_map(|m| m.values()) {
            service_keys(s).into_iter().for_each(|k| tx.touch(k));
        }
    }

    fn index_service(&mut self, node: &str, s: &Service) {
        let at = (node.to_owned(), s.id.clone());
        self.by_name.entry(s.service.clone()).or_default().insert(at.clone());
        if let Some(name) = connect_name(s) {
            self.by_connect.entry(name.to_owned()).or_default().insert(at);
        }
    }

    fn unindex_service(&mut self, node: &str, s: &Service) {
        let at = (node.to_owned(), s.id.clone());
        remove_ref(&mut self.by_name, &s.service, &at);
        if let Some(name) = connect_name(s) {
            remove_ref(&mut self.by_connect, name, &at);
        }
    }

    /// Rebuilds the derived instance indexes from the tables (after a restore).
    pub(super) fn reindex(&mut self) {
        self.by_name.clear();
        self.by_connect.clear();
        let all: Vec<(String, Service)> = self
            .services
            .iter()
            .flat_map(|(n, m)| m.values().map(move |s| (n.clone(), Service::clone(s))))
            .collect();
        for (node, s) in &all {
            self.index_service(node, s);
        }
    }
}

/// The name under which an instance is Connect-capable: a sidecar's destination, or a
/// native instance's own name.
fn connect_name(s: &Service) -> Option<&str> {
    s.proxy_destination().or(s.connect.native.then_some(s.service.as_str()))
}

fn remove_ref(
    map: &mut super::Table<String, std::collections::BTreeSet<super::InstanceRef>>,
    name: &str,
    at: &super::InstanceRef,
) {
    if let Some(set) = map.get_mut(name) {
        set.remove(at);
        if set.is_empty() {
            map.remove(name);
        }
    }
}
