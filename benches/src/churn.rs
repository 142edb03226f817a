//! PERF.md W3 workload: 10,000 services with 3 instances each and 1,000 sidecars with 10 to
//! 50 upstreams each (30 on average), default discovery chains, built deterministically.
//! Every sidecar is also subscribed to one shared [`EndpointTable`] fed with the same
//! instances, so the shared path and the per-snapshot path run over the same data.

use std::collections::BTreeMap;
use std::sync::Arc;

use proconsul_core::config::{ConfigEntries, GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::{CompiledChain, compile};
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
use proconsul_core::intentions::DefaultPolicy;
use proconsul_core::xds::ResourceSet;
use proconsul_core::xds::generate::{EndpointTable, generate};
use proconsul_core::xds::model::Resource;
use proconsul_core::xds::snapshot::{
    Endpoint, GatewayEndpoints, HostPort, LeafCert, Protocol, ProxySnapshot, UpstreamSnapshot,
};
use proconsul_core::xds::subscribers::SubscriberIndex;

/// The mesh the churn benchmarks run against.
pub struct ChurnFixture {
    /// Every sidecar's snapshot.
    pub snapshots: Vec<ProxySnapshot>,
    /// Every sidecar's current resources.
    pub resources: Vec<ResourceSet<Resource>>,
    /// Service → the sidecar upstreams that target it.
    pub index: SubscriberIndex,
    /// Proxy id → position in `snapshots`.
    pub position: BTreeMap<String, usize>,
    /// One chain per service.
    pub chains: Vec<Arc<CompiledChain>>,
    /// Every sidecar's load assignments, shared: equal to those in `resources`.
    pub table: EndpointTable,
}

fn service_name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// The instances of service `s`, with `bump` changing the first one's port.
pub fn instances(s: usize, bump: u16) -> Vec<Endpoint> {
    (0..3u16)
        .map(|k| {
            let port = if k == 0 { 8080 + bump } else { 8080 };
            Endpoint::new(format!("10.{}.{}.{}", s / 250 % 250, s % 250, k + 1), port)
        })
        .collect()
}

/// A sidecar snapshot with upstreams to `services`.
pub fn sidecar(id: usize, services: &[usize], chains: &[Arc<CompiledChain>]) -> ProxySnapshot {
    let td = TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").expect("valid");
    let dc = Datacenter::new("dc1").expect("valid");
    let upstreams = services
        .iter()
        .enumerate()
        .map(|(j, &s)| {
            let chain = chains[s].clone();
            let endpoints = chain.targets.keys().map(|t| (t.clone(), instances(s, 0))).collect();
            UpstreamSnapshot {
                destination: ServiceName::new(service_name(s)).expect("valid"),
                datacenter: None,
                local_bind: HostPort::new("127.0.0.1", 10_000 + j as u16),
                mesh_gateway_mode: MeshGatewayMode::Default,
                chain,
                endpoints,
            }
        })
        .collect();
    ProxySnapshot {
        proxy_id: format!("proxy-{id:04}-sidecar-proxy"),
        service: ServiceName::new(format!("proxy-{id:04}")).expect("valid"),
        service_id: format!("proxy-{id:04}"),
        datacenter: dc,
        trust_domain: td,
        public_listener: HostPort::new("0.0.0.0", 21000),
        local_app: HostPort::new("127.0.0.1", 8080),
        local_connect_timeout: GoDuration::from_secs(5),
        protocol: Protocol::parse("tcp"),
        upstreams,
        gateways: GatewayEndpoints::default(),
        mesh_gateway_mode: MeshGatewayMode::Default,
        leaf: LeafCert {
            cert_chain_pem: Arc::from(
                "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n",
            ),
            private_key_pem: Arc::from(
                "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n",
            ),
        },
        roots: vec![Arc::from("-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n")],
        intentions: Vec::new(),
        default_policy: DefaultPolicy::Allow,
    }
}

/// Default chains for `n` services.
pub fn chains(n: usize) -> Vec<Arc<CompiledChain>> {
    let entries = ConfigEntries::new();
    let td = TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").expect("valid");
    let dc = Datacenter::new("dc1").expect("valid");
    (0..n)
        .map(|s| {
            let name = ServiceName::new(service_name(s)).expect("valid");
            Arc::new(compile(&entries, &name, &Namespace::default(), &dc, &td).expect("compiles"))
        })
        .collect()
}

/// The W3 mesh: `services` services, `sidecars` sidecars with 10..=50 upstreams each.
pub fn churn_fixture(services: usize, sidecars: usize) -> ChurnFixture {
    let chains = chains(services);
    // Upstreams are dealt out round-robin, so every service has subscribers (about three:
    // 1,000 sidecars × 30 upstreams on average over 10,000 services).
    let mut snapshots = Vec::with_capacity(sidecars);
    let mut next = 0;
    for i in 0..sidecars {
        let count = 10 + i % 41;
        let ups: Vec<usize> = (0..count).map(|j| (next + j) % services).collect();
        next += count;
        snapshots.push(sidecar(i, &ups, &chains));
    }
    let resources = snapshots.iter().map(generate).collect();
    let mut index = SubscriberIndex::new();
    for s in &snapshots {
        index.insert(s);
    }
    let position = snapshots.iter().enumerate().map(|(i, s)| (s.proxy_id.clone(), i)).collect();
    let table = endpoint_table(&snapshots, &chains);
    ChurnFixture { snapshots, resources, index, position, chains, table }
}

/// The shared table of the fixture: each service's instances set once (the catalog), then
/// every sidecar subscribed.
fn endpoint_table(snapshots: &[ProxySnapshot], chains: &[Arc<CompiledChain>]) -> EndpointTable {
    let mut table = EndpointTable::new();
    for (s, chain) in chains.iter().enumerate() {
        for target in chain.targets.keys() {
            table.set_instances(target, instances(s, 0));
        }
    }
    for snap in snapshots {
        table.subscribe(snap);
    }
    table
}
