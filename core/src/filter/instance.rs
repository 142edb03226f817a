//! The data a filter is evaluated against: one service instance as Consul's health endpoint
//! returns it (`CheckServiceNode`: node, service, checks).
//!
//! Plain owned values so the catalog can build them from whatever it stores and tests can
//! write them literally. Field docs give the selector each field answers to; see
//! the `filter` module docs for the whole table. Maps are `BTreeMap` so nothing about a
//! filter's result can depend on hash order.

use std::collections::BTreeMap;

/// One service instance with the node it runs on and the health checks that cover it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceInstance {
    /// `Node.*`
    pub node: NodeInfo,
    /// `Service.*`
    pub service: ServiceInfo,
    /// `Checks`, and `Checks.*` (true when any check matches).
    pub checks: Vec<CheckInfo>,
}

/// The catalog node (Consul `structs.Node`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// `Node.ID`: the node's UUID, as text.
    pub id: String,
    /// `Node.Node`: the node name.
    pub node: String,
    /// `Node.Address`
    pub address: String,
    /// `Node.Datacenter`
    pub datacenter: String,
    /// `Node.Partition` (empty outside Enterprise).
    pub partition: String,
    /// `Node.TaggedAddresses`, e.g. `lan`, `wan`, `lan_ipv4`.
    pub tagged_addresses: BTreeMap<String, String>,
    /// `Node.Meta`
    pub meta: BTreeMap<String, String>,
}

/// The service registration (Consul `structs.NodeService`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `Service.ID`
    pub id: String,
    /// `Service.Service`: the service name.
    pub service: String,
    /// `Service.Tags`, in registration order.
    pub tags: Vec<String>,
    /// `Service.Address` (empty means "use the node's address").
    pub address: String,
    /// `Service.Port`
    pub port: u16,
    /// `Service.Meta`
    pub meta: BTreeMap<String, String>,
    /// `Service.Kind`: empty for a typical service, else e.g. `connect-proxy`, `mesh-gateway`.
    pub kind: String,
    /// `Service.TaggedAddresses`
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// `Service.Namespace` (empty outside Enterprise).
    pub namespace: String,
    /// `Service.Partition` (empty outside Enterprise).
    pub partition: String,
    /// `Service.Weights`
    pub weights: Weights,
    /// `Service.Connect`
    pub connect: ConnectInfo,
    /// `Service.Proxy`, meaningful for `connect-proxy` services.
    pub proxy: ProxyInfo,
}

/// One tagged address of a service (Consul `structs.ServiceAddress`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAddress {
    /// `Service.TaggedAddresses.<key>.Address`
    pub address: String,
    /// `Service.TaggedAddresses.<key>.Port`
    pub port: u16,
}

/// DNS/load-balancing weights (Consul `structs.Weights`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights {
    /// `Service.Weights.Passing`
    pub passing: u32,
    /// `Service.Weights.Warning`
    pub warning: u32,
}

/// Consul gives a registration without weights `{Passing: 1, Warning: 1}`, so a default
/// instance filters the way an unconfigured one does in Consul.
impl Default for Weights {
    fn default() -> Self {
        Weights { passing: 1, warning: 1 }
    }
}

/// Connect settings of a service (Consul `structs.ServiceConnect`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectInfo {
    /// `Service.Connect.Native`
    pub native: bool,
}

/// Proxy settings of a `connect-proxy` service (Consul `structs.ConnectProxyConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyInfo {
    /// `Service.Proxy.DestinationServiceName`
    pub destination_service_name: String,
}

/// One health check (Consul `structs.HealthCheck`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckInfo {
    /// `Checks.CheckID`
    pub check_id: String,
    /// `Checks.Name`
    pub name: String,
    /// `Checks.Status`: `passing`, `warning`, `critical` or `maintenance`.
    pub status: String,
    /// `Checks.ServiceID` (empty for a node-level check).
    pub service_id: String,
    /// `Checks.ServiceName` (empty for a node-level check).
    pub service_name: String,
}
