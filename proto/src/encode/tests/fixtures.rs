//! Snapshots as the core's generation tests build them (the same builders, not shared
//! code): the seed `counting` sidecar, a tcp sidecar and Consul's mesh gateway scenario.

use std::collections::BTreeMap;
use std::sync::Arc;

use proconsul_core::config::{ConfigEntries, ConfigEntry, GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::{CompiledChain, compile};
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
use proconsul_core::intentions::{DefaultPolicy, Intention};
use proconsul_core::xds::snapshot::{
    CheckHealth, DEFAULT_LOCAL_CONNECT_TIMEOUT, Endpoint, GatewayEndpoints, GatewayService,
    HostPort, LeafCert, MeshGatewaySnapshot, Protocol, ProxySnapshot, UpstreamSnapshot,
};

pub(super) const TD: &str = "11111111-2222-3333-4444-555555555555.consul";
pub(super) const LEAF_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nTEST-LEAF\n-----END CERTIFICATE-----\n";
pub(super) const KEY_PEM: &str =
    "-----BEGIN EC PRIVATE KEY-----\nTEST-KEY\n-----END EC PRIVATE KEY-----\n";
pub(super) const ROOT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nTEST-ROOT\n-----END CERTIFICATE-----\n";

/// `<prefix>.internal.<TD>`.
pub(super) fn sni(prefix: &str) -> String {
    format!("{prefix}.internal.{TD}")
}

fn td() -> TrustDomain {
    TrustDomain::new(TD).unwrap()
}

fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).unwrap()
}

fn svc(name: &str) -> ServiceName {
    ServiceName::new(name).unwrap()
}

fn entries(hcl: &[&str]) -> ConfigEntries {
    hcl.iter().map(|text| ConfigEntry::from_hcl(text).unwrap()).collect()
}

fn chain(entries: &ConfigEntries, service: &str) -> Arc<CompiledChain> {
    Arc::new(compile(entries, &svc(service), &Namespace::default(), &dc("dc1"), &td()).unwrap())
}

fn eps(addrs: &[&str]) -> Vec<Endpoint> {
    addrs
        .iter()
        .map(|a| {
            let (host, port) = a.rsplit_once(':').unwrap();
            Endpoint::new(host, port.parse().unwrap())
        })
        .collect()
}

fn upstream(destination: &str, chain: Arc<CompiledChain>, port: u16) -> UpstreamSnapshot {
    UpstreamSnapshot {
        destination: svc(destination),
        datacenter: None,
        local_bind: HostPort::new("127.0.0.1", port),
        mesh_gateway_mode: MeshGatewayMode::Default,
        chain,
        endpoints: BTreeMap::new(),
    }
}

fn sidecar(service: &str, protocol: Protocol) -> ProxySnapshot {
    ProxySnapshot {
        proxy_id: format!("{service}-sidecar-proxy"),
        service: svc(service),
        service_id: service.to_owned(),
        datacenter: dc("dc1"),
        trust_domain: td(),
        public_listener: HostPort::new("0.0.0.0", 9999),
        local_app: HostPort::new("127.0.0.1", 8080),
        local_connect_timeout: DEFAULT_LOCAL_CONNECT_TIMEOUT,
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

/// The seed scenario: `dashboard` (http) with upstream `counting` on 127.0.0.1:9001,
/// whose chain routes `/admin` to an 80/20 split of `counting-admin` subsets that fail
/// over to dc-aws and dc-gcp.
pub(super) fn counting_sidecar() -> ProxySnapshot {
    let counting = entries(&[
        include_str!("../../../../core/src/discovery_chain/testdata/counting/admin-defaults.hcl"),
        include_str!("../../../../core/src/discovery_chain/testdata/counting/defaults.hcl"),
        include_str!("../../../../core/src/discovery_chain/testdata/counting/resolver.hcl"),
        include_str!("../../../../core/src/discovery_chain/testdata/counting/router.hcl"),
        include_str!("../../../../core/src/discovery_chain/testdata/counting/splitter.hcl"),
    ]);
    let mut snap = sidecar("dashboard", Protocol::Http);
    let mut up = upstream("counting", chain(&counting, "counting"), 9001);
    for (target, addr) in [
        ("counting.default.default.dc1", "10.0.1.10:21000"),
        ("v1.counting-admin.default.default.dc1", "10.0.1.11:21000"),
        ("v2.counting-admin.default.default.dc1", "10.0.1.12:21000"),
        ("v1.counting-admin.default.default.dc-aws", "10.1.1.11:21000"),
        ("v2.counting-admin.default.default.dc-gcp", "10.2.1.12:21000"),
    ] {
        up.endpoints.insert(target.into(), eps(&[addr]));
    }
    snap.upstreams.push(up);
    snap
}

/// `db` (tcp, default deny; allow everyone but `web`) with a default-chain upstream `cache`
/// and a grpc upstream `billing`.
pub(super) fn tcp_sidecar() -> ProxySnapshot {
    let config = entries(&[
        "Kind = \"service-defaults\"\nName = \"billing\"\nProtocol = \"grpc\"\n",
        "Kind = \"service-intentions\"\nName = \"db\"\nSources = [\n  { Name = \"*\", Action = \"allow\" },\n  { Name = \"web\", Action = \"deny\" },\n]\n",
    ]);
    let mut snap = sidecar("db", Protocol::Tcp);
    snap.intentions = Intention::all(&config);
    let mut cache = upstream("cache", chain(&config, "cache"), 9191);
    cache.endpoints.insert("cache.default.default.dc1".into(), eps(&["10.0.2.1:21000"]));
    let mut billing = upstream("billing", chain(&config, "billing"), 9192);
    billing.endpoints.insert("billing.default.default.dc1".into(), eps(&["10.0.3.1:21000"]));
    snap.upstreams.extend([cache, billing]);
    snap
}

/// Consul's `mesh-gateway` scenario: dc1 gateway at 1.2.3.4:8443, local foo and bar (bar
/// with subsets v1 and v2), remote dc2 (IP gateways) and dc4 (a hostname gateway).
pub(super) fn mesh_gateway() -> MeshGatewaySnapshot {
    let service = |addrs: &[&str]| GatewayService {
        connect_timeout: GoDuration::from_secs(5),
        endpoints: eps(addrs),
        ..Default::default()
    };
    let wan = |host: &str| Endpoint::new("10.0.0.9", 8443).with_wan(host, 443);
    let mut bar = service(&["172.16.1.8:2222", "172.16.1.9:2222"]);
    for (name, addr) in [("v1", "172.16.1.8:2222"), ("v2", "172.16.1.9:2222")] {
        bar.subsets.insert(
            name.into(),
            proconsul_core::xds::snapshot::GatewaySubset {
                only_passing: false,
                endpoints: eps(&[addr]),
            },
        );
    }
    MeshGatewaySnapshot {
        datacenter: dc("dc1"),
        trust_domain: td(),
        listener_name: "default".into(),
        listener: HostPort::new("1.2.3.4", 8443),
        connect_timeout: GoDuration::from_secs(5),
        services: BTreeMap::from([
            (svc("foo"), service(&["172.16.1.6:2222", "172.16.1.7:2222"])),
            (svc("bar"), bar),
        ]),
        remote_datacenters: BTreeMap::from([
            (
                dc("dc2"),
                vec![wan("198.18.1.1"), wan("198.18.1.2").with_health(CheckHealth::Critical)],
            ),
            (dc("dc4"), vec![wan("123.us-west-2.elb.notaws.com")]),
        ]),
    }
}
