//! Catalog rows as Consul's API shapes them (CONSUL-FACTS.md §8): nodes, service instances
//! with their Connect proxy settings, and health checks.
//!
//! The same structs are the registration payload inside [`super::Command::Register`], the
//! stored rows and the JSON the HTTP API returns, so one serde shape serves all three.
//! Indexes are assigned by apply and ignored when comparing a re-registration with the stored
//! row ([`Node::same_as`] and friends), so idempotent anti-entropy writes move no index.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::MeshGatewayConfig;

/// A node (an agent's machine) in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    /// Node ID (a UUID in Consul); may be empty.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name, the catalog key.
    pub node: String,
    /// Address the node is reached at.
    pub address: String,
    /// Datacenter of the node.
    pub datacenter: String,
    /// `lan`, `wan`, ... addresses.
    pub tagged_addresses: BTreeMap<String, String>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Raft index that created the row.
    pub create_index: u64,
    /// Raft index of the last change to the row.
    pub modify_index: u64,
}

impl Node {
    /// Equal apart from indexes.
    pub fn same_as(&self, other: &Node) -> bool {
        Node { create_index: 0, modify_index: 0, ..self.clone() }
            == Node { create_index: 0, modify_index: 0, ..other.clone() }
    }
}

/// What a service instance is: Consul's `Kind` (empty for a typical service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum ServiceKind {
    /// An ordinary service (`""`).
    #[default]
    Typical,
    /// `connect-proxy`: a sidecar in front of one destination service.
    ConnectProxy,
    /// `mesh-gateway`.
    MeshGateway,
    /// `ingress-gateway`: exposes mesh services to the outside (see its config entry).
    IngressGateway,
}

impl ServiceKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Typical => "",
            ServiceKind::ConnectProxy => "connect-proxy",
            ServiceKind::MeshGateway => "mesh-gateway",
            ServiceKind::IngressGateway => "ingress-gateway",
        }
    }

    fn is_typical(&self) -> bool {
        *self == ServiceKind::Typical
    }
}

impl serde::Serialize for ServiceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ServiceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "" | "typical" => Ok(ServiceKind::Typical),
            "connect-proxy" => Ok(ServiceKind::ConnectProxy),
            "mesh-gateway" => Ok(ServiceKind::MeshGateway),
            "ingress-gateway" => Ok(ServiceKind::IngressGateway),
            other => Err(serde::de::Error::custom(format!(
                "invalid service kind {other:?} (known: \"\", \"connect-proxy\", \"mesh-gateway\", \"ingress-gateway\")"
            ))),
        }
    }
}

/// `{"Address", "Port"}` in a service's `TaggedAddresses`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceAddress {
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// `{"Passing": 1, "Warning": 1}`: DNS SRV weights by health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Weights {
    /// Weight while passing.
    pub passing: u32,
    /// Weight while warning.
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { passing: 1, warning: 1 }
    }
}

/// One upstream of a Connect proxy, in Consul's registration shape.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Upstream {
    /// `service` (empty means service) or `prepared_query`.
    pub destination_type: String,
    /// The upstream service (or query) name.
    pub destination_name: String,
    /// Datacenter to reach it in; empty is the local one.
    pub datacenter: String,
    /// Local listener address.
    pub local_bind_address: String,
    /// Local listener port.
    pub local_bind_port: u16,
    /// Opaque proxy settings (`connect_timeout_ms`, `protocol`, ...), kept as written.
    pub config: Map<String, Value>,
    /// Mesh gateway mode for this upstream.
    pub mesh_gateway: MeshGatewayConfig,
}

/// A proxy's `Proxy` block.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProxyConfig {
    /// The service this sidecar fronts.
    pub destination_service_name: String,
    /// The instance this sidecar fronts.
    #[serde(rename = "DestinationServiceID")]
    pub destination_service_id: String,
    /// Where the local app listens.
    pub local_service_address: String,
    /// Port of the local app.
    pub local_service_port: u16,
    /// `""`, `direct` or `transparent`.
    pub mode: String,
    /// Opaque proxy settings (`protocol`, ...), kept as written.
    pub config: Map<String, Value>,
    /// Upstreams the proxy listens for.
    pub upstreams: Vec<Upstream>,
    /// Default mesh gateway mode.
    pub mesh_gateway: MeshGatewayConfig,
    /// `Expose` paths, kept opaque: only the agent's xDS generation reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<Value>,
}

/// A service's `Connect` block.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceConnect {
    /// The app speaks mTLS itself (Connect-native).
    pub native: bool,
}

/// A service instance on a node (Consul's `NodeService`).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    /// `""`, `connect-proxy` or `mesh-gateway`.
    #[serde(skip_serializing_if = "ServiceKind::is_typical")]
    pub kind: ServiceKind,
    /// Instance id, unique on its node; defaults to the name.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address; empty means the node's.
    pub address: String,
    /// `lan`, `wan`, ... addresses.
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// DNS weights.
    pub weights: Weights,
    /// Proxy settings, for `connect-proxy` and `mesh-gateway`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyConfig>,
    /// Connect settings of a typical service.
    pub connect: ServiceConnect,
    /// Raft index that created the row.
    pub create_index: u64,
    /// Raft index of the last change to the row.
    pub modify_index: u64,
}

impl Service {
    /// Equal apart from indexes.
    pub fn same_as(&self, other: &Service) -> bool {
        Service { create_index: 0, modify_index: 0, ..self.clone() }
            == Service { create_index: 0, modify_index: 0, ..other.clone() }
    }

    /// The service a `connect-proxy` fronts.
    pub fn proxy_destination(&self) -> Option<&str> {
        match (&self.kind, &self.proxy) {
            (ServiceKind::ConnectProxy, Some(p)) if !p.destination_service_name.is_empty() => {
                Some(&p.destination_service_name)
            }
            _ => None,
        }
    }
}

/// A check's state.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// `passing`.
    Passing,
    /// `warning`.
    Warning,
    /// `critical`: Consul's default for a new check.
    #[default]
    Critical,
}

impl HealthStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Passing => "passing",
            HealthStatus::Warning => "warning",
            HealthStatus::Critical => "critical",
        }
    }
}

/// A health check: on the node when `service_id` is empty, else on that instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Check {
    /// Node the check runs on (filled by apply from the registration).
    pub node: String,
    /// Check id, unique on its node.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Human name.
    pub name: String,
    /// Current state.
    pub status: HealthStatus,
    /// Free text.
    pub notes: String,
    /// Last output of the check.
    pub output: String,
    /// Instance the check belongs to; empty for a node check.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Name of that instance's service (filled by apply).
    pub service_name: String,
    /// Raft index that created the row.
    pub create_index: u64,
    /// Raft index of the last change to the row.
    pub modify_index: u64,
}

impl Check {
    /// Equal apart from indexes.
    pub fn same_as(&self, other: &Check) -> bool {
        Check { create_index: 0, modify_index: 0, ..self.clone() }
            == Check { create_index: 0, modify_index: 0, ..other.clone() }
    }
}

/// One row of `/v1/health/service/<name>`: `{"Node", "Service", "Checks"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceHealth {
    /// The instance's node.
    pub node: Node,
    /// The instance.
    pub service: Service,
    /// Node checks and the instance's checks, by check id.
    pub checks: Vec<Check>,
}
