//! `config.cluster.v3.Cluster`, with aggregate clusters as the `envoy.clusters.aggregate`
//! custom type and HTTP/2 as `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`
//! (the cluster-level `http2_protocol_options` field is deprecated).

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3 as aggregate_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::util::pack_any;
use proconsul_core::xds::model::{Cluster, DiscoveryType, DnsLookupFamily, LbPolicy};

use super::{ads_config_source, cluster_load_assignment, duration, tls};

/// The custom cluster type of failover clusters.
const AGGREGATE_CLUSTER: &str = "envoy.clusters.aggregate";

/// The `typed_extension_protocol_options` key (and type) for upstream HTTP settings.
const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// A cluster (CDS resource).
pub(crate) fn cluster(c: &Cluster) -> cluster_v3::Cluster {
    let mut out = cluster_v3::Cluster {
        name: c.name.clone(),
        alt_stat_name: c.alt_stat_name.clone().unwrap_or_default(),
        connect_timeout: Some(duration(c.connect_timeout)),
        lb_policy: lb_policy(c.lb_policy) as i32,
        circuit_breakers: c
            .circuit_breakers
            .as_ref()
            .map(|_| cluster_v3::CircuitBreakers::default()),
        outlier_detection: c
            .outlier_detection
            .as_ref()
            .map(|_| cluster_v3::OutlierDetection::default()),
        common_lb_config: c.healthy_panic_threshold.map(|percent| {
            cluster_v3::cluster::CommonLbConfig {
                healthy_panic_threshold: Some(Percent { value: f64::from(percent) }),
                ..Default::default()
            }
        }),
        transport_socket: c.transport_socket.as_ref().map(tls::upstream_socket),
        ..Default::default()
    };
    if c.http2 {
        out.typed_extension_protocol_options =
            [(HTTP_PROTOCOL_OPTIONS.to_owned(), pack_any(http2_options()))].into_iter().collect();
    }
    discovery(&mut out, &c.discovery);
    out
}

/// `LOGICAL_DNS` keeps Consul's shape; its cluster-level `dns_refresh_rate` is deprecated
/// in favour of the `envoy.clusters.dns` extension but still accepted by Envoy 1.40.
#[allow(deprecated, reason = "Consul's LOGICAL_DNS shape, accepted by Envoy 1.40")]
fn discovery(out: &mut cluster_v3::Cluster, d: &DiscoveryType) {
    use cluster_v3::cluster::{ClusterDiscoveryType, CustomClusterType, DiscoveryType as Type};
    let kind = |t: Type| Some(ClusterDiscoveryType::Type(t as i32));
    match d {
        DiscoveryType::Eds => {
            out.cluster_discovery_type = kind(Type::Eds);
            out.eds_cluster_config = Some(cluster_v3::cluster::EdsClusterConfig {
                eds_config: Some(ads_config_source()),
                service_name: String::new(),
            });
        }
        DiscoveryType::Static(cla) => {
            out.cluster_discovery_type = kind(Type::Static);
            out.load_assignment = Some(cluster_load_assignment(cla));
        }
        DiscoveryType::LogicalDns { load_assignment, dns_refresh_rate, dns_lookup_family } => {
            out.cluster_discovery_type = kind(Type::LogicalDns);
            out.load_assignment = Some(cluster_load_assignment(load_assignment));
            out.dns_refresh_rate = Some(duration(*dns_refresh_rate));
            out.dns_lookup_family = match dns_lookup_family {
                DnsLookupFamily::V4Only => cluster_v3::cluster::DnsLookupFamily::V4Only,
                DnsLookupFamily::Auto => cluster_v3::cluster::DnsLookupFamily::Auto,
            } as i32;
        }
        DiscoveryType::Aggregate { clusters } => {
            let config = aggregate_v3::ClusterConfig { clusters: clusters.clone() };
            out.cluster_discovery_type =
                Some(ClusterDiscoveryType::ClusterType(CustomClusterType {
                    name: AGGREGATE_CLUSTER.to_owned(),
                    typed_config: Some(pack_any(config)),
                }));
        }
    }
}

fn lb_policy(p: LbPolicy) -> cluster_v3::cluster::LbPolicy {
    use cluster_v3::cluster::LbPolicy as Envoy;
    match p {
        LbPolicy::RoundRobin => Envoy::RoundRobin,
        LbPolicy::LeastRequest => Envoy::LeastRequest,
        LbPolicy::Random => Envoy::Random,
        LbPolicy::RingHash => Envoy::RingHash,
        LbPolicy::Maglev => Envoy::Maglev,
        LbPolicy::ClusterProvided => Envoy::ClusterProvided,
    }
}

/// `explicit_http_config {http2_protocol_options {}}`: always HTTP/2 upstream.
fn http2_options() -> upstream_http_v3::HttpProtocolOptions {
    use upstream_http_v3::http_protocol_options::{
        ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    upstream_http_v3::HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                    core_v3::Http2ProtocolOptions::default(),
                )),
            },
        )),
        ..Default::default()
    }
}
