//! Snapshot builders and resource accessors shared by the generation tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConfigEntries, ConfigEntry, MeshGatewayMode};
use crate::discovery_chain::{CompiledChain, compile};
use crate::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
use crate::intentions::DefaultPolicy;
use crate::xds::model::{
    Cluster, ClusterLoadAssignment, Listener, NetworkFilter, Resource, RouteConfiguration,
    SocketAddress,
};
use crate::xds::snapshot::{
    Endpoint, GatewayEndpoints, HostPort, LeafCert, Protocol, ProxySnapshot, UpstreamSnapshot,
};
use crate::xds::{ResourceSet, TypeUrl};

/// Consul's test trust domain (`connect.TestClusterID + ".consul"`).
pub(super) const TD: &str = "11111111-2222-3333-4444-555555555555.consul";

pub(super) const LEAF_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nTEST-LEAF\n-----END CERTIFICATE-----\n";
pub(super) const KEY_PEM: &str =
    "-----BEGIN EC PRIVATE KEY-----\nTEST-KEY\n-----END EC PRIVATE KEY-----\n";
pub(super) const ROOT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nTEST-ROOT\n-----END CERTIFICATE-----\n";

pub(super) fn td() -> TrustDomain {
    TrustDomain::new(TD).unwrap()
}

pub(super) fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).unwrap()
}

pub(super) fn svc(name: &str) -> ServiceName {
    ServiceName::new(name).unwrap()
}

/// Config entries from Consul API JSON.
pub(super) fn entries(list: Value) -> ConfigEntries {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| ConfigEntry::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}")))
        .collect()
}

/// The chain of `service` compiled in `datacenter`.
pub(super) fn chain(
    entries: &ConfigEntries,
    service: &str,
    datacenter: &str,
) -> Arc<CompiledChain> {
    Arc::new(
        compile(entries, &svc(service), &Namespace::default(), &dc(datacenter), &td()).unwrap(),
    )
}

/// The seed `counting` entries (`discovery_chain/testdata/counting/*.hcl`).
pub(super) fn counting_entries() -> ConfigEntries {
    [
        include_str!("../../../discovery_chain/testdata/counting/admin-defaults.hcl"),
        include_str!("../../../discovery_chain/testdata/counting/defaults.hcl"),
        include_str!("../../../discovery_chain/testdata/counting/resolver.hcl"),
        include_str!("../../../discovery_chain/testdata/counting/router.hcl"),
        include_str!("../../../discovery_chain/testdata/counting/splitter.hcl"),
    ]
    .into_iter()
    .map(|text| ConfigEntry::from_hcl(text).unwrap())
    .collect()
}

/// A sidecar for `service` in dc1 like Consul's test proxy: public listener 0.0.0.0:9999,
/// app 127.0.0.1:8080, default deny, no upstreams.
pub(super) fn sidecar(service: &str, protocol: Protocol) -> ProxySnapshot {
    ProxySnapshot {
        proxy_id: format!("{service}-sidecar-proxy"),
        service: svc(service),
        service_id: service.to_owned(),
        datacenter: dc("dc1"),
        trust_domain: td(),
        public_listener: HostPort::new("0.0.0.0", 9999),
        local_app: HostPort::new("127.0.0.1", 8080),
        local_connect_timeout: crate::xds::snapshot::DEFAULT_LOCAL_CONNECT_TIMEOUT,
        protocol,
        upstreams: Vec::new(),
        gateways: GatewayEndpoints::default(),
        mesh_gateway_mode: MeshGatewayMode::Default,
        leaf: LeafCert { cert_chain_pem: LEAF_PEM.into(), private_key_pem: KEY_PEM.into() },
        roots: vec![ROOT_PEM.into()],
        intentions: Vec::new(),
        default_policy: DefaultPolicy::Deny,
    }
}

/// An upstream on 127.0.0.1:`port` with no endpoints yet.
pub(super) fn upstream(
    destination: &str,
    chain: Arc<CompiledChain>,
    port: u16,
) -> UpstreamSnapshot {
    UpstreamSnapshot {
        destination: svc(destination),
        datacenter: None,
        local_bind: HostPort::new("127.0.0.1", port),
        mesh_gateway_mode: MeshGatewayMode::Default,
        chain,
        endpoints: BTreeMap::new(),
    }
}

/// Passing endpoints at `addrs` (`ip:port`).
pub(super) fn eps(addrs: &[&str]) -> Vec<Endpoint> {
    addrs
        .iter()
        .map(|a| {
            let (host, port) = a.rsplit_once(':').unwrap();
            Endpoint::new(host, port.parse().unwrap())
        })
        .collect()
}

pub(super) fn names(set: &ResourceSet<Resource>, t: TypeUrl) -> Vec<&str> {
    set.get(&t).map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

fn get<'a>(set: &'a ResourceSet<Resource>, t: TypeUrl, name: &str) -> &'a Resource {
    let r = set.get(&t).and_then(|m| m.get(name));
    &r.unwrap_or_else(|| panic!("no {t:?} {name}; have {:?}", names(set, t))).resource
}

pub(super) fn listener<'a>(set: &'a ResourceSet<Resource>, name: &str) -> &'a Listener {
    match get(set, TypeUrl::Listener, name) {
        Resource::Listener(l) => l,
        r => panic!("not a listener: {r:?}"),
    }
}

pub(super) fn cluster<'a>(set: &'a ResourceSet<Resource>, name: &str) -> &'a Cluster {
    match get(set, TypeUrl::Cluster, name) {
        Resource::Cluster(c) => c,
        r => panic!("not a cluster: {r:?}"),
    }
}

pub(super) fn cla<'a>(set: &'a ResourceSet<Resource>, name: &str) -> &'a ClusterLoadAssignment {
    match get(set, TypeUrl::ClusterLoadAssignment, name) {
        Resource::ClusterLoadAssignment(c) => c,
        r => panic!("not a load assignment: {r:?}"),
    }
}

pub(super) fn route<'a>(set: &'a ResourceSet<Resource>, name: &str) -> &'a RouteConfiguration {
    match get(set, TypeUrl::RouteConfiguration, name) {
        Resource::RouteConfiguration(r) => r,
        r => panic!("not a route configuration: {r:?}"),
    }
}

/// Addresses (`ip:port`) of a load assignment's endpoints, in order.
pub(super) fn addrs(cla: &ClusterLoadAssignment) -> Vec<String> {
    cla.endpoints
        .iter()
        .flat_map(|g| &g.lb_endpoints)
        .map(|e| SocketAddress::to_string(&e.address))
        .collect()
}

/// Envoy names of a filter chain's network filters.
pub(super) fn filter_names(filters: &[NetworkFilter]) -> Vec<&'static str> {
    filters.iter().map(NetworkFilter::name).collect()
}
