//! Config entries: the seven kinds Proconsul understands, read from Consul API JSON (CamelCase
//! or snake_case) or HCL files, normalized and validated with Consul's own messages, and
//! written back as Consul API JSON.

mod common;
mod de;
mod duration;
mod entries;
mod entry;
mod graph;
pub mod hcl1;
mod http_match;
mod ingress_gateway;
mod intentions;
mod proxy_defaults;
mod resolver;
mod router;
mod service_defaults;
mod splitter;

pub use common::{
    HttpHeaderModifiers, MeshGatewayConfig, MeshGatewayMode, PROTOCOLS, is_http_like,
};
pub use de::DecodeError;
pub(crate) use de::from_value as decode_value;
pub use duration::{DurationError, GoDuration};
pub use entries::ConfigEntries;
pub use entry::{ConfigEntry, ConfigError, Kind};
pub use graph::{GraphError, validate_delete, validate_graph, validate_write};
pub use ingress_gateway::{IngressGateway, IngressListener, IngressService};
pub use intentions::{
    IntentionHttpPermission, IntentionPermission, ServiceIntentions, SourceIntention, precedence,
};
pub use proxy_defaults::{PROXY_DEFAULTS_NAME, ProxyDefaults};
pub use resolver::{
    FailoverPolicy, FailoverTarget, LoadBalancer, ResolverFailover, ResolverRedirect,
    ResolverSubset, ServiceResolver, is_valid_subset_name,
};
pub use router::{
    HttpHeaderMatch, HttpQueryMatch, ServiceRoute, ServiceRouteDestination, ServiceRouteHttpMatch,
    ServiceRouteMatch, ServiceRouter,
};
pub use service_defaults::{ServiceDefaults, UpstreamConfig, UpstreamConfiguration};
pub(crate) use splitter::serialize_weight;
pub use splitter::{ServiceSplit, ServiceSplitter, weight_hundredths};

#[cfg(test)]
mod tests;
