//! The core's xDS model ([`proconsul_core::xds::model`]) into envoy-types messages, one
//! to one: every model field maps to exactly one protobuf field, and anything the model
//! does not carry stays at Envoy's default. No decisions are taken here.
//!
//! ```text
//!  Resource ─┬─ Listener ─────────────► config.listener.v3.Listener          (listener.rs)
//!            │    filters' typed_config: tcp_proxy, network/http rbac (rbac.rs),
//!            │    sni_cluster, http_connection_manager, router, grpc_stats,
//!            │    grpc_http1_bridge, tls_inspector, DownstreamTlsContext (tls.rs)
//!            ├─ Cluster ──────────────► config.cluster.v3.Cluster            (cluster.rs)
//!            │    aggregate ClusterConfig, upstreams.http HttpProtocolOptions,
//!            │    UpstreamTlsContext (tls.rs)
//!            ├─ RouteConfiguration ───► config.route.v3.RouteConfiguration   (route.rs)
//!            ├─ ClusterLoadAssignment ► config.endpoint.v3.ClusterLoadAssignment (endpoint.rs)
//!            └─ Secret ───────────────► extensions.transport_sockets.tls.v3.Secret (tls.rs)
//! ```
//!
//! Versions never come from these bytes: prost maps (RBAC policies, typed extension
//! protocol options) encode in random order, so the core hashes its ordered model instead
//! (STACK.md §2).

mod cluster;
mod endpoint;
mod listener;
mod rbac;
mod route;
mod tls;

#[cfg(test)]
mod tests;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration, UInt32Value};
use envoy_types::util::pack_any;
use proconsul_core::config::GoDuration;
use proconsul_core::xds::model::{Resource, SocketAddress, StringMatcher};

use crate::EncodeResource;

pub(crate) use cluster::cluster;
pub(crate) use endpoint::cluster_load_assignment;
pub(crate) use listener::listener;
pub(crate) use route::route_configuration;
pub(crate) use tls::secret;

/// Each resource is packed as its own v3 type, whose URL is the resource's
/// [`TypeUrl`](proconsul_core::xds::TypeUrl).
impl EncodeResource for Resource {
    fn encode_any(&self) -> Any {
        match self {
            Resource::Listener(l) => pack_any(listener(l)),
            Resource::Cluster(c) => pack_any(cluster(c)),
            Resource::RouteConfiguration(r) => pack_any(route_configuration(r)),
            Resource::ClusterLoadAssignment(c) => pack_any(cluster_load_assignment(c)),
            Resource::Secret(s) => pack_any(secret(s)),
        }
    }
}

/// `google.protobuf.Duration` (envoy-types' own copy, not prost-types').
fn duration(d: GoDuration) -> Duration {
    let ns = d.as_nanos();
    // Both parts carry the same sign, as the protobuf spec requires.
    Duration { seconds: ns / 1_000_000_000, nanos: (ns % 1_000_000_000) as i32 }
}

fn u32_value(value: u32) -> UInt32Value {
    UInt32Value { value }
}

fn bool_value(value: bool) -> BoolValue {
    BoolValue { value }
}

/// A TCP `SocketAddress` inside an `Address`.
fn address(a: &SocketAddress) -> core_v3::Address {
    core_v3::Address {
        address: Some(core_v3::address::Address::SocketAddress(core_v3::SocketAddress {
            address: a.address.clone(),
            port_specifier: Some(core_v3::socket_address::PortSpecifier::PortValue(u32::from(
                a.port,
            ))),
            ..Default::default()
        })),
    }
}

/// `{ads: {}, resource_api_version: V3}`: fetch over the same ADS stream.
fn ads_config_source() -> core_v3::ConfigSource {
    core_v3::ConfigSource {
        resource_api_version: core_v3::ApiVersion::V3 as i32,
        config_source_specifier: Some(core_v3::config_source::ConfigSourceSpecifier::Ads(
            core_v3::AggregatedConfigSource {},
        )),
        ..Default::default()
    }
}

/// A RE2 regex matcher (Envoy's default engine; `google_re2` is deprecated).
fn regex(regex: &str) -> matcher_v3::RegexMatcher {
    matcher_v3::RegexMatcher { regex: regex.to_owned(), engine_type: None }
}

fn string_matcher(m: &StringMatcher) -> matcher_v3::StringMatcher {
    use matcher_v3::string_matcher::MatchPattern;
    let pattern = match m {
        StringMatcher::Exact(s) => MatchPattern::Exact(s.clone()),
        StringMatcher::Prefix(s) => MatchPattern::Prefix(s.clone()),
        StringMatcher::Suffix(s) => MatchPattern::Suffix(s.clone()),
        StringMatcher::SafeRegex(s) => MatchPattern::SafeRegex(regex(s)),
    };
    matcher_v3::StringMatcher { match_pattern: Some(pattern), ignore_case: false }
}
