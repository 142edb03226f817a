//! The vocabulary shared by generation, diffing and the ADS protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The resource types Proconsul serves, in the order Envoy must receive them when several
/// change at once (Envoy's "eventual consistency considerations"; Consul's order):
/// secrets, clusters, endpoints, listeners, routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeUrl {
    /// SDS `Secret`.
    Secret,
    /// CDS `Cluster`.
    Cluster,
    /// EDS `ClusterLoadAssignment`.
    ClusterLoadAssignment,
    /// LDS `Listener`.
    Listener,
    /// RDS `RouteConfiguration`.
    RouteConfiguration,
}

impl TypeUrl {
    /// Every type, in push order.
    pub const ALL: [TypeUrl; 5] = [
        TypeUrl::Secret,
        TypeUrl::Cluster,
        TypeUrl::ClusterLoadAssignment,
        TypeUrl::Listener,
        TypeUrl::RouteConfiguration,
    ];

    /// The v3 type URL.
    pub fn as_str(self) -> &'static str {
        match self {
            TypeUrl::Secret => {
                "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
            }
            TypeUrl::Cluster => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            TypeUrl::ClusterLoadAssignment => {
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            }
            TypeUrl::Listener => "type.googleapis.com/envoy.config.listener.v3.Listener",
            TypeUrl::RouteConfiguration => {
                "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
            }
        }
    }

    /// Parses a v3 type URL.
    pub fn parse(url: &str) -> Option<TypeUrl> {
        TypeUrl::ALL.into_iter().find(|t| t.as_str() == url)
    }

    /// Types Envoy subscribes to with a wildcard (all resources) rather than by name.
    pub fn is_wildcard_by_default(self) -> bool {
        matches!(self, TypeUrl::Cluster | TypeUrl::Listener)
    }
}

impl fmt::Display for TypeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource with its version: a hex content hash of the model value.
#[derive(Debug, PartialEq, Eq)]
pub struct Versioned<R> {
    /// Content hash; equal versions mean equal resources.
    pub version: String,
    /// The resource.
    pub resource: Arc<R>,
}

/// All resources of one proxy, by type and name.
pub type ResourceSet<R> = BTreeMap<TypeUrl, BTreeMap<String, Versioned<R>>>;

/// Cloning shares the resource (an `Arc`), whatever `R` is.
impl<R> Clone for Versioned<R> {
    fn clone(&self) -> Self {
        Versioned { version: self.version.clone(), resource: Arc::clone(&self.resource) }
    }
}
