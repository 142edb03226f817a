//! Why a discovery chain did not compile. Messages are Consul's, so operators recognise them.

use crate::ids::NameError;

/// A chain that cannot be compiled. Compilation is pure: nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A router or splitter on a chain whose protocol is not `http`, `http2` or `grpc`.
    #[error(
        "discovery chain {chain:?} uses a protocol {protocol:?} that does not permit advanced routing or splitting behavior"
    )]
    AdvancedRoutingNotPermitted {
        /// The chain's service.
        chain: String,
        /// Its protocol.
        protocol: String,
    },
    /// A service reached by the chain speaks another protocol than the chain's service.
    #[error(
        "discovery chain {chain:?} uses inconsistent protocols; service {service:?} has {protocol:?} which is not {expected:?}"
    )]
    InconsistentProtocols {
        /// The chain's service.
        chain: String,
        /// The service that differs.
        service: String,
        /// Its protocol.
        protocol: String,
        /// The chain's protocol.
        expected: String,
    },
    /// Splitters that reference each other in a loop.
    #[error("detected circular reference: [{}]", .0.join(" -> "))]
    CircularReference(Vec<String>),
    /// Resolver redirects that loop.
    #[error("detected circular resolver redirect: [{}]", .0.join(" -> "))]
    CircularRedirect(Vec<String>),
    /// A route, split, redirect or failover names a subset the service's resolver lacks.
    #[error("service {service:?} does not have a subset named {subset:?}")]
    MissingSubset {
        /// The service.
        service: String,
        /// The missing subset.
        subset: String,
    },
    /// External services (`ExternalSNI`) cannot have redirects, subsets or failover.
    #[error(
        "service {service:?} has an external SNI set; cannot define {what} for external services"
    )]
    ExternalSni {
        /// The service.
        service: String,
        /// `redirects`, `subsets` or `failover`.
        what: &'static str,
    },
    /// A name reached through routes, splits, redirects or failover is not a valid name.
    #[error("invalid name in discovery chain: {0}")]
    InvalidName(#[from] NameError),
}
