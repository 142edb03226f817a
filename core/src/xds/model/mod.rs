//! Our own model of the Envoy resources Proconsul emits: exactly the fields we set, in
//! ordered collections (`Vec`, `BTreeMap`), no floats, `Hash` derived everywhere.
//!
//! Why not envoy-types directly: the core must not depend on prost/tonic (DESIGN.md §1),
//! prost maps iterate in random order, and encoded bytes are not a stable content hash. The
//! `proto` crate encodes these values into envoy-types messages one to one; names of types
//! and fields follow Envoy's v3 API so that mapping is mechanical. Anything not modelled is
//! left at Envoy's default.
//!
//! ```text
//!  Resource ─┬─ Listener ── FilterChain* ── NetworkFilter* (rbac | tcp_proxy | sni_cluster | HCM)
//!            ├─ Cluster (EDS | STATIC | LOGICAL_DNS | aggregate) ── UpstreamTlsContext
//!            ├─ RouteConfiguration ── VirtualHost ── Route* (match → cluster | weighted)
//!            ├─ ClusterLoadAssignment ── LocalityLbEndpoints* ── LbEndpoint*
//!            └─ Secret
//! ```

mod children;
mod cluster;
mod common;
mod endpoint;
mod listener;
mod rbac;
mod route;
mod tls;

pub use cluster::{
    CircuitBreakers, Cluster, DiscoveryType, DnsLookupFamily, LbPolicy, OutlierDetection,
};
pub use common::{
    HeaderMutations, HeaderValueOption, HealthStatus, Pem, SocketAddress, StringMatcher,
};
pub use endpoint::{
    ClusterLoadAssignment, FAILOVER_OVERPROVISIONING_FACTOR, LbEndpoint, LocalityLbEndpoints,
};
pub use listener::{
    FilterChain, FilterChainMatch, ForwardClientCert, HttpConnectionManager, HttpFilter, Listener,
    ListenerFilter, NetworkFilter, RouteSpecifier, TcpProxy, Tracing, TrafficDirection,
};
pub use rbac::{NetworkRbac, Permission, Principal, Rbac, RbacAction, RbacPolicy};
pub use route::{
    ClusterSpecifier, ClusterWeight, HeaderMatch, HeaderMatcher, PathMatch, QueryMatch,
    QueryParameterMatcher, RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch,
    TOTAL_WEIGHT, VirtualHost,
};
pub use tls::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SanMatcher, SanType,
    Secret, SecretKind, TlsCertificate, UpstreamTlsContext,
};

use super::TypeUrl;
use super::Versioned;
use super::hash::content_hash;

/// Any resource we serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// LDS.
    Listener(Listener),
    /// CDS.
    Cluster(Cluster),
    /// RDS.
    RouteConfiguration(RouteConfiguration),
    /// EDS.
    ClusterLoadAssignment(ClusterLoadAssignment),
    /// SDS.
    Secret(Secret),
}

impl Resource {
    /// The xDS type this resource is served as.
    pub fn type_url(&self) -> TypeUrl {
        match self {
            Resource::Listener(_) => TypeUrl::Listener,
            Resource::Cluster(_) => TypeUrl::Cluster,
            Resource::RouteConfiguration(_) => TypeUrl::RouteConfiguration,
            Resource::ClusterLoadAssignment(_) => TypeUrl::ClusterLoadAssignment,
            Resource::Secret(_) => TypeUrl::Secret,
        }
    }

    /// The resource name Envoy subscribes to (for load assignments, the cluster name).
    pub fn name(&self) -> &str {
        match self {
            Resource::Listener(r) => &r.name,
            Resource::Cluster(r) => &r.name,
            Resource::RouteConfiguration(r) => &r.name,
            Resource::ClusterLoadAssignment(r) => &r.cluster_name,
            Resource::Secret(r) => &r.name,
        }
    }

    /// Wraps the resource with its version: the hex content hash of the model value
    /// (32 hex digits, see [`crate::xds::hash`]).
    pub fn into_versioned(self) -> Versioned<Resource> {
        Versioned { version: content_hash(&self).to_hex(), resource: std::sync::Arc::new(self) }
    }
}
