//! `config.endpoint.v3.ClusterLoadAssignment`: the endpoints of one EDS cluster.

use super::common::{HealthStatus, SocketAddress};

/// Overprovisioning factor Consul sets when a load assignment has several priorities: so
/// large that traffic moves to the next priority only when none is healthy.
pub const FAILOVER_OVERPROVISIONING_FACTOR: u32 = 100_000;

/// A load assignment (EDS resource, or inline in STATIC/LOGICAL_DNS clusters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ClusterLoadAssignment {
    /// The cluster this assigns endpoints to (the resource name).
    pub cluster_name: String,
    /// Endpoint groups by priority.
    pub endpoints: Vec<LocalityLbEndpoints>,
    /// `policy.overprovisioning_factor`, set with several priorities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overprovisioning_factor: Option<u32>,
}

/// `LocalityLbEndpoints`: one priority group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LocalityLbEndpoints {
    /// Priority (0 is tried first).
    pub priority: u32,
    /// Locality weight, for locality-weighted balancing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancing_weight: Option<u32>,
    /// The endpoints.
    pub lb_endpoints: Vec<LbEndpoint>,
}

/// `LbEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LbEndpoint {
    /// Where to connect.
    pub address: SocketAddress,
    /// Health as the control plane sees it.
    #[serde(skip_serializing_if = "is_unknown")]
    pub health_status: HealthStatus,
    /// Weight 1..=128 (Consul's clamp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancing_weight: Option<u32>,
}

fn is_unknown(h: &HealthStatus) -> bool {
    *h == HealthStatus::Unknown
}
