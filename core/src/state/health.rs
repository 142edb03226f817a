//! Catalog and health reads in the shapes the HTTP API returns (CONSUL-FACTS.md §8).
//!
//! Results are ordered by node name then service id (the derived indexes are ordered sets),
//! so two servers answer byte-for-byte alike. Pair each read with
//! [`StateMachine::index_of`] of the key named in its doc for `X-Consul-Index`.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Check, HealthStatus, Node, Service, ServiceHealth};
use super::{InstanceRef, StateMachine};

impl StateMachine {
    /// One node ([`super::WatchKey::Nodes`]).
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Every node, by name ([`super::WatchKey::Nodes`]).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// One instance.
    pub fn service(&self, node: &str, id: &str) -> Option<&Service> {
        self.services.get(node)?.get(id).map(|s| &**s)
    }

    /// The instances on a node, by id ([`super::WatchKey::Services`]).
    pub fn node_services(&self, node: &str) -> impl Iterator<Item = &Service> {
        self.services.get(node).into_iter().flat_map(|m| m.values().map(|s| &**s))
    }

    /// The checks on a node (node and service checks), by check id
    /// ([`super::WatchKey::Checks`]).
    pub fn node_checks(&self, node: &str) -> impl Iterator<Item = &Check> {
        self.checks.get(node).into_iter().flat_map(|m| m.values().map(|c| &**c))
    }

    /// `/v1/catalog/services`: service name → union of its instances' tags, sorted
    /// ([`super::WatchKey::Services`]).
    pub fn catalog_services(&self) -> BTreeMap<String, Vec<String>> {
        self.by_name
            .iter()
            .map(|(name, refs)| {
                let tags: BTreeSet<&String> = refs
                    .iter()
                    .filter_map(|(n, id)| self.service(n, id))
                    .flat_map(|s| s.tags.iter())
                    .collect();
                (name.clone(), tags.into_iter().cloned().collect())
            })
            .collect()
    }

    /// `/v1/health/service/<name>` ([`super::WatchKey::ServiceName`]). With `passing_only`,
    /// an instance is dropped if ANY of its node or service checks is not `passing`.
    pub fn health_service(&self, name: &str, passing_only: bool) -> Vec<ServiceHealth> {
        self.health_of(self.by_name.get(name), passing_only)
    }

    /// The instances of kind `kind` with their health, by service name: only names with
    /// such an instance are looked at (mesh gateways are a handful among many services, and
    /// every client agent's cache asks for them on every change).
    pub fn health_of_kind(&self, kind: &super::model::ServiceKind) -> Vec<ServiceHealth> {
        let mut out = Vec::new();
        for refs in self.by_name.values() {
            let any =
                refs.iter().any(|(n, id)| self.service(n, id).is_some_and(|s| &s.kind == kind));
            if any {
                out.extend(
                    self.health_of(Some(refs), false)
                        .into_iter()
                        .filter(|h| &h.service.kind == kind),
                );
            }
        }
        out
    }

    /// `/v1/health/connect/<name>`: the sidecars fronting `name` and its Connect-native
    /// instances ([`super::WatchKey::ConnectService`]), filtered like
    /// [`Self::health_service`].
    pub fn health_connect(&self, name: &str, passing_only: bool) -> Vec<ServiceHealth> {
        self.health_of(self.by_connect.get(name), passing_only)
    }

    fn health_of(
        &self,
        refs: Option<&BTreeSet<InstanceRef>>,
        passing_only: bool,
    ) -> Vec<ServiceHealth> {
        let mut out = Vec::new();
        for (node_name, id) in refs.into_iter().flatten() {
            let (Some(node), Some(service)) =
                (self.nodes.get(node_name), self.service(node_name, id))
            else {
                debug_assert!(false, "derived index names a missing row {node_name}/{id}");
                continue;
            };
            let checks: Vec<Check> = self
                .node_checks(node_name)
                .filter(|c| c.service_id.is_empty() || c.service_id == *id)
                .cloned()
                .collect();
            if passing_only && checks.iter().any(|c| c.status != HealthStatus::Passing) {
                continue;
            }
            out.push(ServiceHealth { node: node.clone(), service: service.clone(), checks });
        }
        out
    }
}
