//! Write-time checks over the whole entry graph (CONSUL-FACTS.md §3.6).
//!
//! An entry that is valid on its own can still break a chain it takes part in: a splitter on
//! a `tcp` service, a redirect that closes a loop, a `service-defaults` that turns a routed
//! service back to `tcp`. Before a write (or delete) is accepted, every chain the entry set
//! defines is recompiled with the change overlaid. This is one pure function of the existing
//! entries plus the change, so servers can run it before proposing and again in apply.

use std::collections::BTreeSet;

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
    validate_graph(&next, datacenter)
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
    validate_graph(&next, datacenter)
}

/// Checks a whole entry set: every chain it defines compiles, and L7 intentions sit only on
/// HTTP services.
pub fn validate_graph(entries: &ConfigEntries, datacenter: &Datacenter) -> Result<(), ConfigError> {
    // SNI names do not influence whether a chain compiles; any valid trust domain will do.
    let td = TrustDomain::new("graph-check.consul").expect("a constant, valid trust domain");
    for service in chain_services(entries) {
        let Ok(name) = ServiceName::new(service.as_str()) else { continue };
        discovery_chain::compile(entries, &name, &Namespace::default(), datacenter, &td)
            .map_err(|e| ConfigError::Graph(e.into()))?;
    }
    for ixn in entries.all_intentions() {
        if ixn.has_l7_permissions() && ixn.name != "*" {
            let protocol = entries.protocol_of(&ixn.name);
            if !is_http_like(&protocol) {
                return Err(ConfigError::Graph(GraphError::L7IntentionsProtocol {
                    service: ixn.name.clone(),
                    protocol,
                }));
            }
        }
    }
    Ok(())
}

/// Every service a chain could start at or pass through: entry names and every service they
/// reference. Sorted, so the first reported error is deterministic.
fn chain_services(entries: &ConfigEntries) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: &str| {
        if !s.is_empty() && s != "*" {
            out.insert(s.to_owned());
        }
    };
    for entry in entries.iter() {
        match entry {
            ConfigEntry::ServiceDefaults(e) => add(&e.name),
            ConfigEntry::ProxyDefaults(_) | ConfigEntry::ServiceIntentions(_) => {}
            ConfigEntry::ServiceRouter(e) => {
                add(&e.name);
                for r in &e.routes {
                    if let Some(d) = &r.destination {
                        add(&d.service);
                    }
                }
            }
            ConfigEntry::ServiceSplitter(e) => {
                add(&e.name);
                for s in &e.splits {
                    add(&s.service);
                }
            }
            ConfigEntry::ServiceResolver(e) => {
                add(&e.name);
                if let Some(r) = &e.redirect {
                    add(&r.service);
                }
                for f in e.failover.values() {
                    add(&f.service);
                    for t in &f.targets {
                        add(&t.service);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
