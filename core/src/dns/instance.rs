//! The catalog facts an answer is chosen from, in the small shape any catalog (the servers'
//! state, a client agent's cache) can supply.

use crate::state::{HealthStatus, ServiceHealth, Weights};

/// One service instance (or Connect endpoint) as DNS needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Node name: SRV targets are `<node>.node.<dc>.<domain>`.
    pub node: String,
    /// The node's address, used when the instance has none.
    pub node_address: String,
    /// The instance's own `Address`; empty means the node's.
    pub address: String,
    /// The instance's port.
    pub port: u16,
    /// Tags, for `<tag>.<service>.service` lookups.
    pub tags: Vec<String>,
    /// SRV weights by health.
    pub weights: Weights,
    /// Worst status of the node's and the instance's checks; passing with no checks.
    pub health: HealthStatus,
}

impl Instance {
    /// The row of `/v1/health/service/<name>` (or `/v1/health/connect/<name>`) as DNS sees it.
    pub fn from_health(row: &ServiceHealth) -> Self {
        Instance {
            node: row.node.node.clone(),
            node_address: row.node.address.clone(),
            address: row.service.address.clone(),
            port: row.service.port,
            tags: row.service.tags.clone(),
            weights: row.service.weights,
            health: row.checks.iter().map(|c| c.status).max().unwrap_or(HealthStatus::Passing),
        }
    }

    /// The address clients should dial: the instance's, else its node's.
    pub fn effective_address(&self) -> &str {
        if self.address.is_empty() { &self.node_address } else { &self.address }
    }

    /// Consul's filter: critical instances never; warning ones unless `only_passing`.
    pub(crate) fn is_served(&self, only_passing: bool) -> bool {
        match self.health {
            HealthStatus::Passing => true,
            HealthStatus::Warning => !only_passing,
            HealthStatus::Critical => false,
        }
    }

    /// Tags compare case-insensitively, as Consul's tag filter does.
    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }

    /// The SRV weight for the instance's health (Consul's `findWeight`), saturated to the
    /// 16 bits SRV carries.
    pub(crate) fn srv_weight(&self) -> u16 {
        let weight = match self.health {
            HealthStatus::Warning => self.weights.warning,
            HealthStatus::Passing => self.weights.passing,
            HealthStatus::Critical => 1,
        };
        u16::try_from(weight).unwrap_or(u16::MAX)
    }
}

/// A node as DNS needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    /// Node name.
    pub node: String,
    /// Its address: an IP, or a hostname answered with a CNAME.
    pub address: String,
}
