//! Snapshots: everything that determines one proxy's Envoy configuration, gathered by the
//! agent (Consul's `proxycfg.ConfigSnapshot`) and turned into resources by
//! [`crate::xds::generate`].
//!
//! A snapshot is plain data. Generation reads nothing else: two equal snapshots give the
//! same resources with the same versions, in any process. Addresses are given per network:
//! an [`Endpoint`] carries its LAN address and, for instances that have one, its WAN
//! address; generation picks the WAN address only for endpoints in another datacenter, so a
//! proxy never dials another datacenter's private address.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{GoDuration, MeshGatewayMode};
use crate::discovery_chain::CompiledChain;
use crate::ids::{Datacenter, ServiceName, TrustDomain};
use crate::intentions::{DefaultPolicy, Intention};

/// Connect timeout to the local app when the service sets none (Consul's
/// `local_connect_timeout_ms` default).
pub const DEFAULT_LOCAL_CONNECT_TIMEOUT: GoDuration = GoDuration::from_millis(5000);

/// Connect timeout of mesh gateway clusters when nothing sets one.
pub const DEFAULT_GATEWAY_CONNECT_TIMEOUT: GoDuration = GoDuration::from_secs(5);

/// A host (IP literal, or a hostname for some gateways) and a port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPort {
    /// IP address or hostname.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl HostPort {
    /// A host and port.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort { host: host.into(), port }
    }
}

/// The protocol a service (or a chain) speaks, as service-defaults/proxy-defaults say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protocol {
    /// Opaque TCP (the default): L4 intentions, `tcp_proxy`.
    #[default]
    Tcp,
    /// HTTP/1.1.
    Http,
    /// HTTP/2.
    Http2,
    /// gRPC.
    Grpc,
}

impl Protocol {
    /// From Consul's spelling; anything unknown is `tcp`, as Consul treats it.
    pub fn parse(protocol: &str) -> Self {
        match protocol.to_ascii_lowercase().as_str() {
            "http" => Protocol::Http,
            "http2" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            _ => Protocol::Tcp,
        }
    }

    /// `http`, `http2` or `grpc`: served through an HTTP connection manager.
    pub fn is_http_like(self) -> bool {
        !matches!(self, Protocol::Tcp)
    }

    /// `http2` or `grpc`: clusters and listeners need HTTP/2 options.
    pub fn is_http2(self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc)
    }
}

/// Health of a service instance: the worst of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum CheckHealth {
    /// Every check passes.
    #[default]
    Passing,
    /// Some check warns (still receives traffic, unless the subset is `OnlyPassing`).
    Warning,
    /// Some check is critical (receives no traffic).
    Critical,
}

/// One service instance (or gateway) a proxy may connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address on its datacenter's LAN (for sidecar-fronted services: the sidecar's public
    /// listener address and port).
    pub address: HostPort,
    /// WAN address, for instances reachable from other datacenters (gateways, or services
    /// dialled directly across datacenters in mesh gateway mode `none`).
    pub wan_address: Option<HostPort>,
    /// Health of the instance.
    pub health: CheckHealth,
    /// `Weights.Passing` (or `Weights.Warning` while warning); 0 makes it unhealthy.
    pub weight: u32,
}

impl Endpoint {
    /// A passing instance with weight 1 and no WAN address.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            address: HostPort::new(host, port),
            wan_address: None,
            health: CheckHealth::Passing,
            weight: 1,
        }
    }

    /// With a WAN address.
    pub fn with_wan(mut self, host: impl Into<String>, port: u16) -> Self {
        self.wan_address = Some(HostPort::new(host, port));
        self
    }

    /// With a health.
    pub fn with_health(mut self, health: CheckHealth) -> Self {
        self.health = health;
        self
    }

    /// Consul's `BestAddress(wan)`: the WAN address when dialled from another datacenter
    /// and the instance has one, the LAN address otherwise.
    pub fn best_address(&self, from_other_dc: bool) -> &HostPort {
        match (&self.wan_address, from_other_dc) {
            (Some(wan), true) => wan,
            _ => &self.address,
        }
    }
}

/// The proxy's own certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeafCert {
    /// The leaf followed by its intermediates (PEM).
    pub cert_chain_pem: Arc<str>,
    /// The leaf's private key (PEM).
    pub private_key_pem: Arc<str>,
}

/// Mesh gateways a sidecar may route cross-datacenter traffic through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayEndpoints {
    /// This datacenter's gateways (dialled at their LAN address, mode `local`).
    pub local: Vec<Endpoint>,
    /// Other datacenters' gateways (dialled at their WAN address, mode `remote`).
    pub remote: BTreeMap<Datacenter, Vec<Endpoint>>,
}

/// One explicit upstream of a sidecar.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSnapshot {
    /// The destination service.
    pub destination: ServiceName,
    /// Explicit datacenter of the upstream definition; names the listener `db?dc=dc2`.
    pub datacenter: Option<Datacenter>,
    /// Local bind address and port (Consul's default address is `127.0.0.1`).
    pub local_bind: HostPort,
    /// The upstream's own `mesh_gateway.mode`; when not `Default` it overrides the proxy's
    /// and the chain targets' modes. (The chain should have been compiled with the same
    /// override so cluster names carry its customization hash, as Consul does.)
    pub mesh_gateway_mode: MeshGatewayMode,
    /// The compiled discovery chain of the destination.
    pub chain: Arc<CompiledChain>,
    /// Instances per chain target id (`v1.counting-admin.default.default.dc1`), already
    /// filtered by subset. A target without an entry has no instances.
    pub endpoints: BTreeMap<String, Vec<Endpoint>>,
}

impl UpstreamSnapshot {
    /// Consul's `UpstreamID.EnvoyID()`: `<name>`, or `<name>?dc=<dc>` when the upstream
    /// names a datacenter. It names the listener and the route configuration.
    pub fn envoy_id(&self) -> String {
        match &self.datacenter {
            Some(dc) => format!("{}?dc={dc}", self.destination),
            None => self.destination.to_string(),
        }
    }
}

/// Everything that determines a sidecar proxy's resources.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySnapshot {
    /// The proxy's service id (node id in Envoy's bootstrap).
    pub proxy_id: String,
    /// The proxied service.
    pub service: ServiceName,
    /// The proxied service instance's id.
    pub service_id: String,
    /// Datacenter of the proxy.
    pub datacenter: Datacenter,
    /// Trust domain of the federation (`<cluster id>.consul`).
    pub trust_domain: TrustDomain,
    /// Where `public_listener` binds (Consul's default address is `0.0.0.0`).
    pub public_listener: HostPort,
    /// Where the app listens.
    pub local_app: HostPort,
    /// Connect timeout to the app.
    pub local_connect_timeout: GoDuration,
    /// The service's protocol; decides L4 or L7 on `public_listener`.
    pub protocol: Protocol,
    /// Explicit upstreams, in registration order.
    pub upstreams: Vec<UpstreamSnapshot>,
    /// Mesh gateways for cross-datacenter targets.
    pub gateways: GatewayEndpoints,
    /// The proxy's `mesh_gateway.mode`, applied to upstreams that set none (overrides the
    /// chain targets' modes when not `Default`).
    pub mesh_gateway_mode: MeshGatewayMode,
    /// The proxy's leaf certificate and key.
    pub leaf: LeafCert,
    /// Every trusted CA root (PEM), active first.
    pub roots: Vec<Arc<str>>,
    /// Intentions whose destination is this service, in evaluation order
    /// ([`Intention::all`]); others are ignored.
    pub intentions: Vec<Intention>,
    /// What happens when no intention matches.
    pub default_policy: DefaultPolicy,
}

/// One local service behind a mesh gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayService {
    /// Connect timeout (its resolver's, or 5s).
    pub connect_timeout: GoDuration,
    /// Load balancer policy of its resolver (`""` for Envoy's default).
    pub lb_policy: String,
    /// Its sidecars (LAN address: public listener address and port).
    pub endpoints: Vec<Endpoint>,
    /// Resolver subsets by name, with the sidecars each selects.
    pub subsets: BTreeMap<String, GatewaySubset>,
}

/// One resolver subset of a service behind a mesh gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewaySubset {
    /// `OnlyPassing`: warning instances are unhealthy.
    pub only_passing: bool,
    /// The sidecars of the instances the subset filter selects.
    pub endpoints: Vec<Endpoint>,
}

/// Everything that determines a mesh gateway's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshGatewaySnapshot {
    /// Datacenter of the gateway.
    pub datacenter: Datacenter,
    /// Trust domain of the federation.
    pub trust_domain: TrustDomain,
    /// Listener address name (`default`, or a tagged address key such as `lan`/`wan`).
    pub listener_name: String,
    /// Where the listener binds.
    pub listener: HostPort,
    /// Connect timeout of remote-datacenter clusters.
    pub connect_timeout: GoDuration,
    /// Mesh services in this datacenter, by name.
    pub services: BTreeMap<ServiceName, GatewayService>,
    /// Gateways of every other datacenter (their WAN addresses).
    pub remote_datacenters: BTreeMap<Datacenter, Vec<Endpoint>>,
}
