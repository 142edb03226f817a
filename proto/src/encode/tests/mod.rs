//! Round trips: generate a snapshot's resources with the core, encode them, decode the
//! bytes with prost as Envoy would, and check the fields Envoy acts on (names, SNI, SAN
//! matchers, weights, cluster types, filter order, typed configs).

mod fixtures;
mod gateway;
mod sidecar;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::{Address, TransportSocket, address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{Filter, Listener, filter};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::google::protobuf::Any;
use proconsul_core::xds::model::Resource;
use proconsul_core::xds::{ResourceSet, TypeUrl};
use prost::{Message, Name};

use crate::EncodeResource;

/// Decodes an `Any`, checking it carries exactly `M`.
pub(super) fn unpack<M: Message + Name + Default>(any: &Any) -> M {
    assert_eq!(any.type_url, M::type_url(), "packed type");
    M::decode(any.value.as_slice()).unwrap_or_else(|e| panic!("{}: {e}", M::full_name()))
}

/// The encoded form of the resource `name` of type `t`.
fn encoded(set: &ResourceSet<Resource>, t: TypeUrl, name: &str) -> Any {
    let v = set.get(&t).and_then(|m| m.get(name)).unwrap_or_else(|| panic!("no {t:?} {name}"));
    v.resource.encode_any()
}

pub(super) fn listener(set: &ResourceSet<Resource>, name: &str) -> Listener {
    unpack(&encoded(set, TypeUrl::Listener, name))
}

pub(super) fn cluster(set: &ResourceSet<Resource>, name: &str) -> Cluster {
    unpack(&encoded(set, TypeUrl::Cluster, name))
}

pub(super) fn route(set: &ResourceSet<Resource>, name: &str) -> RouteConfiguration {
    unpack(&encoded(set, TypeUrl::RouteConfiguration, name))
}

pub(super) fn cla(set: &ResourceSet<Resource>, name: &str) -> ClusterLoadAssignment {
    unpack(&encoded(set, TypeUrl::ClusterLoadAssignment, name))
}

/// Every resource packs as the v3 type its type URL names, and decodes to its own name.
pub(super) fn assert_all_round_trip(set: &ResourceSet<Resource>) {
    for (t, resources) in set {
        for (name, v) in resources {
            let any = v.resource.encode_any();
            assert_eq!(any.type_url, t.as_str(), "{name}");
            let decoded = match t {
                TypeUrl::Listener => unpack::<Listener>(&any).name,
                TypeUrl::Cluster => unpack::<Cluster>(&any).name,
                TypeUrl::RouteConfiguration => unpack::<RouteConfiguration>(&any).name,
                TypeUrl::ClusterLoadAssignment => {
                    unpack::<ClusterLoadAssignment>(&any).cluster_name
                }
                TypeUrl::Secret => unpack::<
                    envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret,
                >(&any)
                .name,
            };
            assert_eq!(&decoded, name);
        }
    }
}

/// `ip:port` of an address.
pub(super) fn addr(a: Option<&Address>) -> String {
    let Some(address::Address::SocketAddress(s)) = a.and_then(|a| a.address.as_ref()) else {
        panic!("not a socket address: {a:?}")
    };
    let Some(socket_address::PortSpecifier::PortValue(port)) = s.port_specifier else {
        panic!("no port: {s:?}")
    };
    format!("{}:{port}", s.address)
}

/// The typed config of a network filter.
pub(super) fn typed(f: &Filter) -> &Any {
    let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
        panic!("{} has no typed_config", f.name)
    };
    any
}

/// The typed config of a transport socket.
pub(super) fn socket_config(t: Option<&TransportSocket>) -> &Any {
    let t = t.expect("a transport socket");
    assert_eq!(t.name, "envoy.transport_sockets.tls");
    let Some(envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType::TypedConfig(
        any,
    )) = &t.config_type
    else {
        panic!("no typed_config")
    };
    any
}

/// A tcp_proxy's `(stat_prefix, cluster)`; the cluster oneof must be set, even empty.
pub(super) fn tcp_proxy(f: &Filter) -> (String, String) {
    assert_eq!(f.name, "envoy.filters.network.tcp_proxy");
    let t: TcpProxy = unpack(typed(f));
    let Some(tcp_proxy::ClusterSpecifier::Cluster(c)) = t.cluster_specifier else {
        panic!("cluster_specifier unset: Envoy refuses this tcp_proxy")
    };
    (t.stat_prefix, c)
}

#[test]
fn durations_split_into_seconds_and_nanos() {
    use proconsul_core::config::GoDuration;
    let d = super::duration(GoDuration::from_millis(1500));
    assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
    let d = super::duration(GoDuration::from_secs(5));
    assert_eq!((d.seconds, d.nanos), (5, 0));
}
