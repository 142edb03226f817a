//! `config.cluster.v3.Cluster`: how a proxy reaches a group of endpoints.

use super::endpoint::ClusterLoadAssignment;
use super::tls::UpstreamTlsContext;
use crate::config::GoDuration;

/// A cluster (CDS resource).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Cluster {
    /// Name: `local_app`, a target's SNI (possibly `<hash>~`-prefixed),
    /// `failover-target~<i>~<base>`, or a gateway's `<dc>.internal.<td>`.
    pub name: String,
    /// `alt_stat_name` (Consul sets it to the name on upstream clusters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_stat_name: Option<String>,
    /// How endpoints are found.
    pub discovery: DiscoveryType,
    /// TCP connect timeout.
    pub connect_timeout: GoDuration,
    /// Load balancing.
    #[serde(skip_serializing_if = "LbPolicy::is_round_robin")]
    pub lb_policy: LbPolicy,
    /// `circuit_breakers` (present and empty on upstreams: Envoy's default thresholds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breakers: Option<CircuitBreakers>,
    /// `outlier_detection` (present and empty: Envoy's defaults, as Consul without
    /// `passive_health_check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// `common_lb_config.healthy_panic_threshold` in percent. Consul sets 0 on upstreams:
    /// never spray traffic over unhealthy endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_panic_threshold: Option<u32>,
    /// Speak HTTP/2 upstream (`http2_protocol_options {}`; http2 and grpc).
    pub http2: bool,
    /// TLS originated to the endpoints (mesh mTLS). Gateways never set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<UpstreamTlsContext>,
}

/// The `cluster_discovery_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryType {
    /// `EDS` with `eds_config {ads {}, resource_api_version: V3}`: the endpoints arrive as
    /// a ClusterLoadAssignment named like the cluster.
    Eds,
    /// `STATIC` with an inline load assignment (`local_app`).
    Static(ClusterLoadAssignment),
    /// `LOGICAL_DNS` with an inline load assignment (gateways known by hostname).
    LogicalDns {
        /// The hostname endpoint.
        load_assignment: ClusterLoadAssignment,
        /// `dns_refresh_rate`.
        dns_refresh_rate: GoDuration,
        /// `dns_lookup_family`.
        dns_lookup_family: DnsLookupFamily,
    },
    /// `envoy.clusters.aggregate`: try these clusters in order (failover).
    Aggregate {
        /// Cluster names in priority order.
        clusters: Vec<String>,
    },
}

/// `Cluster.DnsLookupFamily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DnsLookupFamily {
    /// A records only (Consul's choice for gateway hostnames).
    V4Only,
    /// Envoy's default.
    Auto,
}

/// `Cluster.LbPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LbPolicy {
    /// Envoy's default.
    #[default]
    RoundRobin,
    /// Least requests.
    LeastRequest,
    /// Random.
    Random,
    /// Consistent hashing on a ring.
    RingHash,
    /// Maglev consistent hashing.
    Maglev,
    /// The cluster type decides (aggregate clusters).
    ClusterProvided,
}

impl LbPolicy {
    /// True for the default.
    pub fn is_round_robin(&self) -> bool {
        *self == LbPolicy::RoundRobin
    }

    /// From a resolver's `LoadBalancer.Policy` (`""` and unknown values: round robin).
    pub fn from_consul(policy: &str) -> Self {
        match policy {
            "least_request" => LbPolicy::LeastRequest,
            "random" => LbPolicy::Random,
            "ring_hash" => LbPolicy::RingHash,
            "maglev" => LbPolicy::Maglev,
            _ => LbPolicy::RoundRobin,
        }
    }
}

/// `CircuitBreakers` without thresholds (Envoy's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct CircuitBreakers {}

/// `OutlierDetection` with Envoy's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct OutlierDetection {}
