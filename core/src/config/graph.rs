//! Write-time checks over the whole entry graph (CONSUL-FACTS.md §3.6).
//!
//! An entry that is valid on its own can still break a chain it takes part in: a splitter on
//! a `tcp` service, a redirect that closes a loop, a `service-defaults` that turns a routed
//! service back to `tcp`. Before a write (or delete) is accepted, every chain that can reach
//! the changed entry is recompiled with the change overlaid. This is one pure function of the existing
//! entries plus the change, so servers can run it before proposing and again in apply.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConfigEntries, ConfigEntry, ConfigError, Kind, is_http_like};
use crate::discovery_chain::{self, ChainError};
use crate::ids::{Datacenter, Namespace, ServiceName, TrustDomain};

/// Why a change was refused by the graph checks. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A chain no longer compiles.
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// L7 intentions on a destination that does not speak HTTP.
    #[error(
        "service {service:?} has protocol {protocol:?}, which is incompatible with L7 intentions permissions"
    )]
    L7IntentionsProtocol {
        /// Destination service.
        service: String,
        /// Its protocol.
        protocol: String,
    },
}

/// Checks that writing `proposed` keeps every chain compilable. `proposed` must already be
/// normalized and valid on its own ([`ConfigEntry::from_value`] does both).
pub fn validate_write(
    existing: &ConfigEntries,
    proposed: &ConfigEntry,
    datacenter: &Datacenter,
) -> Result<(), ConfigError> {
    proposed.validate()?;
    let mut next = existing.clone();
    next.insert(proposed.clone());
    validate_change(&next, proposed.kind(), proposed.name(), datacenter)
}

/// Checks that deleting an entry keeps every chain compilable.
pub fn validate_delete(
    existing: &ConfigEntries,
    kind: Kind,
    name: &str,
    datacenter: &Datacenter,
) -> Result<(), ConfigError> {
    let mut next = existing.clone();
    next.remove(kind, name);
    validate_change(&next, kind, name, datacenter)
}

/// Checks a whole entry set: every chain it defines compiles, and L7 intentions sit only on
/// HTTP services.
pub fn validate_graph(entries: &ConfigEntries, datacenter: &Datacenter) -> Result<(), ConfigError> {
    compile_all(entries, chain_services(entries), datacenter)?;
    entries.all_intentions().try_for_each(|ixn| check_l7(entries, &ixn.name))
}

/// Re-checks only what a change to `(kind, name)` can affect: the chains of every service
/// whose chain can reach `name` (edges into `name` come from other entries, so the graph
/// after the change finds them for writes and deletes alike). `proxy-defaults` touches every
/// chain. This keeps a write proportional to its blast radius instead of the whole set.
fn validate_change(
    next: &ConfigEntries,
    kind: Kind,
    name: &str,
    datacenter: &Datacenter,
) -> Result<(), ConfigError> {
    match kind {
        Kind::ProxyDefaults => validate_graph(next, datacenter),
        Kind::ServiceIntentions => check_l7(next, name),
        // A gateway's listeners are not part of any discovery chain.
        Kind::IngressGateway => Ok(()),
        Kind::ServiceDefaults
        | Kind::ServiceRouter
        | Kind::ServiceSplitter
        | Kind::ServiceResolver => {
            compile_all(next, services_reaching(next, name), datacenter)?;
            check_l7(next, name)
        }
    }
}

fn compile_all(
    entries: &ConfigEntries,
    services: BTreeSet<String>,
    datacenter: &Datacenter,
) -> Result<(), ConfigError> {
    // SNI names do not influence whether a chain compiles; any valid trust domain will do.
    let td = TrustDomain::new("graph-check.consul").expect("a constant, valid trust domain");
    for service in services {
        let name = ServiceName::new(service.as_str())
            .map_err(|e| ConfigError::Graph(ChainError::from(e).into()))?;
        discovery_chain::compile(entries, &name, &Namespace::default(), datacenter, &td)
            .map_err(|e| ConfigError::Graph(e.into()))?;
    }
    Ok(())
}

/// L7 intentions towards `destination` need it to speak HTTP.
fn check_l7(entries: &ConfigEntries, destination: &str) -> Result<(), ConfigError> {
    let Some(ixn) = entries.intentions(destination) else { return Ok(()) };
    if !ixn.has_l7_permissions() || ixn.name == "*" {
        return Ok(());
    }
    let protocol = entries.protocol_of(&ixn.name);
    if is_http_like(&protocol) {
        return Ok(());
    }
    Err(ConfigError::Graph(GraphError::L7IntentionsProtocol {
        service: ixn.name.clone(),
        protocol,
    }))
}

/// Services an entry's chain can continue into: route, split, redirect and failover
/// destinations.
pub(crate) fn references(entry: &ConfigEntry) -> Vec<&str> {
    let mut out = Vec::new();
    match entry {
        ConfigEntry::ServiceDefaults(_)
        | ConfigEntry::ProxyDefaults(_)
        | ConfigEntry::ServiceIntentions(_)
        | ConfigEntry::IngressGateway(_) => {}
        ConfigEntry::ServiceRouter(e) => {
            out.extend(
                e.routes.iter().filter_map(|r| r.destination.as_ref()).map(|d| d.service.as_str()),
            );
        }
        ConfigEntry::ServiceSplitter(e) => out.extend(e.splits.iter().map(|s| s.service.as_str())),
        ConfigEntry::ServiceResolver(e) => {
            out.extend(e.redirect.iter().map(|r| r.service.as_str()));
            for f in e.failover.values() {
                out.push(&f.service);
                out.extend(f.targets.iter().map(|t| t.service.as_str()));
            }
        }
    }
    out.retain(|s| !s.is_empty() && *s != "*");
    out
}

/// Every service a chain could start at or pass through: entry names and every service they
/// reference. Sorted, so the first reported error is deterministic.
fn chain_services(entries: &ConfigEntries) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in entries.iter() {
        if !matches!(
            entry,
            ConfigEntry::ProxyDefaults(_)
                | ConfigEntry::ServiceIntentions(_)
                | ConfigEntry::IngressGateway(_)
        ) {
            out.insert(entry.name().to_owned());
        }
        out.extend(references(entry).into_iter().map(str::to_owned));
    }
    out
}

/// `target` and every service whose chain can reach it, by walking references backwards.
fn services_reaching(entries: &ConfigEntries, target: &str) -> BTreeSet<String> {
    let mut reverse: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for entry in entries.iter() {
        for referenced in references(entry) {
            reverse.entry(referenced).or_default().insert(entry.name());
        }
    }
    let mut seen = BTreeSet::from([target.to_owned()]);
    let mut queue = vec![target.to_owned()];
    while let Some(service) = queue.pop() {
        for from in reverse.get(service.as_str()).into_iter().flatten() {
            if seen.insert((*from).to_owned()) {
                queue.push((*from).to_owned());
            }
        }
    }
    seen
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
