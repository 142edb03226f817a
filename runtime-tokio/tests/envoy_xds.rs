//! Real Envoy 1.40 against our ADS server: the resources generated for the seed `counting`
//! sidecar, a tcp sidecar (intentions, default chain, grpc upstream) and a mesh gateway are
//! served over delta and over state-of-the-world ADS, and Envoy ACKs every one of them:
//! every `update_rejected` counter it has stays 0. An endpoint change reaches Envoy as one
//! EDS response carrying only the changed load assignment.
//!
//! ```text
//!  generate(snapshot) ──► Snapshots ──► AdsServer ──(counted)──► loopback gRPC ──► envoy
//!                                                                  admin: /ready /listeners
//!                                                                  /clusters /config_dump /stats
//! ```

mod envoy_support;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envoy_support::{Envoy, bootstrap, envoy_binary, free_port, serve_ads, wall_clock};
use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr};
use proconsul_core::config::{ConfigEntries, ConfigEntry, GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::compile;
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, SpiffeId, TrustDomain};
use proconsul_core::intentions::{DefaultPolicy, Intention};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_core::xds::ads::Protocol as AdsProtocol;
use proconsul_core::xds::generate::{generate, generate_mesh_gateway};
use proconsul_core::xds::model::{NetworkFilter, Resource, RouteSpecifier};
use proconsul_core::xds::snapshot::{
    Endpoint, GatewayEndpoints, GatewayService, GatewaySubset, HostPort, LeafCert,
    MeshGatewaySnapshot, Protocol, ProxySnapshot, UpstreamSnapshot,
};
use proconsul_core::xds::{ResourceSet, TypeUrl};
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use proconsul_runtime_tokio::xds::{AdsServer, Snapshots};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// How long Envoy gets to connect, fetch everything and warm its listeners.
const READY: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Snapshots, with real certificates and free loopback ports.
// ---------------------------------------------------------------------------------------

/// A CA valid from now, and what every sidecar of it shares.
struct Pki {
    ca: CertificateAuthority,
    now: UnixTime,
}

impl Pki {
    fn new() -> Self {
        let now = wall_clock();
        let ca = CertificateAuthority::new_primary(
            CaConfig::default(),
            dc("dc1"),
            Seed(1).stream("ca"),
            now,
        )
        .unwrap();
        Pki { ca, now }
    }

    fn td(&self) -> TrustDomain {
        self.ca.trust_domain().clone()
    }

    fn leaf(&mut self, service: &str) -> LeafCert {
        let id = SpiffeId::service(self.td(), dc("dc1"), service.parse().unwrap());
        let key = generate_leaf_key(&mut Seed(7).stream(service)).unwrap();
        let csr = leaf_csr(&id, &key, &[]).unwrap();
        let issued = self.ca.sign_leaf(&csr, &Requester::Any, self.now).unwrap();
        LeafCert {
            cert_chain_pem: Arc::from(issued.cert_pem.as_str()),
            private_key_pem: Arc::from(key.to_pkcs8_pem().as_str()),
        }
    }

    fn roots(&self) -> Vec<Arc<str>> {
        self.ca.roots().roots.iter().map(|r| Arc::from(r.root_cert.as_str())).collect()
    }

    fn sidecar(&mut self, service: &str, protocol: Protocol) -> ProxySnapshot {
        ProxySnapshot {
            proxy_id: format!("{service}-sidecar-proxy"),
            service: svc(service),
            service_id: service.to_owned(),
            datacenter: dc("dc1"),
            trust_domain: self.td(),
            public_listener: HostPort::new("127.0.0.1", free_port()),
            local_app: HostPort::new("127.0.0.1", free_port()),
            local_connect_timeout: GoDuration::from_secs(5),
            protocol,
            upstreams: Vec::new(),
            gateways: GatewayEndpoints::default(),
            mesh_gateway_mode: MeshGatewayMode::Default,
            leaf: self.leaf(service),
            roots: self.roots(),
            intentions: Vec::new(),
            default_policy: DefaultPolicy::Deny,
        }
    }

    fn upstream(&self, entries: &ConfigEntries, destination: &str) -> UpstreamSnapshot {
        let chain =
            compile(entries, &svc(destination), &Namespace::default(), &dc("dc1"), &self.td())
                .unwrap();
        UpstreamSnapshot {
            destination: svc(destination),
            datacenter: None,
            local_bind: HostPort::new("127.0.0.1", free_port()),
            mesh_gateway_mode: MeshGatewayMode::Default,
            chain: Arc::new(chain),
            endpoints: BTreeMap::new(),
        }
    }
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

fn local(port: u16) -> Vec<Endpoint> {
    vec![Endpoint::new("127.0.0.1", port)]
}

/// The seed scenario: `dashboard` (http) with upstream `counting`, whose chain routes
/// `/admin` to an 80/20 split of `counting-admin` subsets failing over to dc-aws and dc-gcp.
fn counting_sidecar(pki: &mut Pki) -> ProxySnapshot {
    let counting = entries(&[
        include_str!("../../core/src/discovery_chain/testdata/counting/admin-defaults.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/defaults.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/resolver.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/router.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/splitter.hcl"),
    ]);
    let mut snap = pki.sidecar("dashboard", Protocol::Http);
    let mut up = pki.upstream(&counting, "counting");
    for target in [
        "counting.default.default.dc1",
        "v1.counting-admin.default.default.dc1",
        "v2.counting-admin.default.default.dc1",
        "v1.counting-admin.default.default.dc-aws",
        "v2.counting-admin.default.default.dc-gcp",
    ] {
        up.endpoints.insert(target.into(), local(free_port()));
    }
    snap.upstreams.push(up);
    snap
}

/// `db` (tcp): intentions allow everyone but `web` (RBAC policies with `and_ids`/`not_id`),
/// a default-chain tcp upstream `cache` and a grpc upstream `billing` (HTTP/2, gRPC filters).
fn tcp_sidecar(pki: &mut Pki) -> ProxySnapshot {
    let config = entries(&[
        "Kind = \"service-defaults\"\nName = \"billing\"\nProtocol = \"grpc\"\n",
        "Kind = \"service-intentions\"\nName = \"db\"\nSources = [\n  { Name = \"*\", Action = \"allow\" },\n  { Name = \"web\", Action = \"deny\" },\n]\n",
    ]);
    let mut snap = pki.sidecar("db", Protocol::Tcp);
    snap.intentions = Intention::all(&config);
    for (name, target) in
        [("cache", "cache.default.default.dc1"), ("billing", "billing.default.default.dc1")]
    {
        let mut up = pki.upstream(&config, name);
        up.endpoints.insert(target.into(), local(free_port()));
        snap.upstreams.push(up);
    }
    snap
}

/// A dc1 gateway: local `foo` and `bar` (with subsets), remote dc2 behind IP gateways and
/// dc4 behind a hostname gateway (LOGICAL_DNS; `localhost` so no outside DNS is needed).
fn mesh_gateway(pki: &Pki) -> MeshGatewaySnapshot {
    let service = |endpoints: Vec<Endpoint>| GatewayService {
        connect_timeout: GoDuration::from_secs(5),
        endpoints,
        ..Default::default()
    };
    let (v1, v2) = (free_port(), free_port());
    let mut bar = service([local(v1), local(v2)].concat());
    for (name, port) in [("v1", v1), ("v2", v2)] {
        bar.subsets
            .insert(name.into(), GatewaySubset { only_passing: false, endpoints: local(port) });
    }
    let wan = |host: &str| Endpoint::new("10.0.0.9", 8443).with_wan(host, free_port());
    MeshGatewaySnapshot {
        datacenter: dc("dc1"),
        trust_domain: pki.td(),
        listener_name: "default".into(),
        listener: HostPort::new("127.0.0.1", free_port()),
        connect_timeout: GoDuration::from_secs(5),
        services: BTreeMap::from([(svc("foo"), service(local(free_port()))), (svc("bar"), bar)]),
        remote_datacenters: BTreeMap::from([
            (dc("dc2"), vec![wan("127.0.0.2"), wan("127.0.0.3")]),
            (dc("dc4"), vec![wan("localhost")]),
        ]),
    }
}

// ---------------------------------------------------------------------------------------
// The ADS server, counting what it sends.
// ---------------------------------------------------------------------------------------

/// One response the server sent: its type and the names it carried (SotW: how many).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    type_url: String,
    names: Vec<String>,
    removed: Vec<String>,
}

type Log = Arc<Mutex<Vec<Sent>>>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Our [`AdsServer`] with every response it sends recorded.
struct Counted {
    inner: AdsServer<Resource>,
    log: Log,
}

fn record<T: Send + 'static>(
    stream: impl Stream<Item = Result<T, Status>> + Send + 'static,
    log: Log,
    sent: fn(&T) -> Sent,
) -> BoxStream<T> {
    Box::pin(stream.map(move |r| {
        if let Ok(response) = &r {
            log.lock().unwrap().push(sent(response));
        }
        r
    }))
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Counted {
    type StreamAggregatedResourcesStream = BoxStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = BoxStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let inner = self.inner.stream_aggregated_resources(request).await?.into_inner();
        Ok(Response::new(record(inner, self.log.clone(), |r| Sent {
            type_url: r.type_url.clone(),
            names: vec![format!("{} resources", r.resources.len())],
            removed: Vec::new(),
        })))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let inner = self.inner.delta_aggregated_resources(request).await?.into_inner();
        Ok(Response::new(record(inner, self.log.clone(), |r| Sent {
            type_url: r.type_url.clone(),
            names: r.resources.iter().map(|x| x.name.clone()).collect(),
            removed: r.removed_resources.clone(),
        })))
    }
}

/// A loopback ADS server on its own runtime, serving one proxy's resources.
struct Server {
    snapshots: Arc<Snapshots<Resource>>,
    log: Log,
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let snapshots: Arc<Snapshots<Resource>> = Arc::new(Snapshots::new());
        let log = Log::default();
        let service =
            Counted { inner: AdsServer::new(snapshots.clone(), BTreeSet::new()), log: log.clone() };
        let port = serve_ads(runtime.handle(), service);
        Server { snapshots, log, port, _runtime: runtime }
    }

    /// Starts an Envoy for `proxy_id` speaking `protocol` to this server.
    fn envoy(&self, binary: &std::path::Path, proxy_id: &str, protocol: AdsProtocol) -> Envoy {
        Envoy::start(
            binary,
            bootstrap(
                proxy_id,
                proxy_id.trim_end_matches("-sidecar-proxy"),
                self.port,
                protocol,
                "dc1",
            ),
        )
    }

    fn sent(&self) -> Vec<Sent> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until nothing has been sent for a while (Envoy ACKed, the session is idle)
    /// and returns how many responses were sent so far.
    fn settle(&self, envoy: &Envoy) -> usize {
        // (responses seen, consecutive polls without a new one); polls are 100 ms apart.
        let seen = std::cell::Cell::new((self.sent().len(), 0u32));
        envoy.wait_until(READY, "the ADS stream to go quiet", |_| {
            let n = self.sent().len();
            let (last, quiet) = seen.get();
            seen.set(if n == last { (n, quiet + 1) } else { (n, 0) });
            seen.get().1 >= 8
        });
        self.sent().len()
    }
}

// ---------------------------------------------------------------------------------------
// What Envoy accepted.
// ---------------------------------------------------------------------------------------

fn names(set: &ResourceSet<Resource>, t: TypeUrl) -> Vec<String> {
    set.get(&t).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Waits until Envoy is live with every listener, cluster and route configuration of `set`;
/// fails at once, with Envoy's reason, if it rejects anything on the way.
fn wait_accepted(envoy: &Envoy, set: &ResourceSet<Resource>) {
    let listeners = names(set, TypeUrl::Listener);
    let clusters = names(set, TypeUrl::Cluster);
    let routes = names(set, TypeUrl::RouteConfiguration);
    let what = format!(
        "/ready LIVE with listeners {listeners:?}, clusters {clusters:?}, routes {routes:?}"
    );
    envoy.wait_until(READY, &what, |e| {
        assert_no_rejection(e);
        if e.admin("/ready").trim() != "LIVE" {
            return false;
        }
        let have = e.admin("/listeners");
        if !listeners.iter().all(|l| have.lines().any(|line| line.starts_with(&format!("{l}::")))) {
            return false;
        }
        let have = e.admin("/clusters");
        if !clusters.iter().all(|c| have.lines().any(|line| line.starts_with(&format!("{c}::")))) {
            return false;
        }
        let dump = e.admin("/config_dump?resource=dynamic_route_configs");
        routes.iter().all(|r| dump.contains(&format!("\"name\": \"{r}\"")))
    });
}

/// Fails with Envoy's log if any subscription has rejected an update.
fn assert_no_rejection(envoy: &Envoy) {
    let counters = rejected(envoy);
    let nacked: Vec<_> = counters.iter().filter(|(_, v)| **v != 0).collect();
    assert!(nacked.is_empty(), "Envoy rejected updates: {nacked:?}\nenvoy log:\n{}", envoy.log());
}

/// The stats prefix of every RDS subscription: `http.<hcm stat_prefix>.rds.<route>`.
fn rds_subscriptions(set: &ResourceSet<Resource>) -> impl Iterator<Item = String> + '_ {
    set.get(&TypeUrl::Listener).into_iter().flat_map(|m| m.values()).flat_map(|v| {
        let Resource::Listener(l) = &*v.resource else { return Vec::new() };
        l.filter_chains
            .iter()
            .flat_map(|c| &c.filters)
            .filter_map(|f| match f {
                NetworkFilter::HttpConnectionManager(h) => match &h.route_specifier {
                    RouteSpecifier::Rds { route_config_name } => {
                        Some(format!("http.{}.rds.{route_config_name}", h.stat_prefix))
                    }
                    RouteSpecifier::RouteConfig(_) => None,
                },
                _ => None,
            })
            .collect()
    })
}

/// Envoy's `update_rejected` counters (LDS, CDS, every RDS and EDS subscription).
fn rejected(envoy: &Envoy) -> BTreeMap<String, u64> {
    envoy
        .admin("/stats?filter=update_rejected$")
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(name, v)| (name.to_owned(), v.trim().parse().unwrap()))
        .collect()
}

/// Every resource was ACKed: no subscription ever rejected an update, and the ones we
/// expect exist (so a missing counter cannot pass as zero).
fn assert_nothing_rejected(envoy: &Envoy, set: &ResourceSet<Resource>) {
    let counters = rejected(envoy);
    let mut expected = vec![
        "listener_manager.lds.update_rejected".to_owned(),
        "cluster_manager.cds.update_rejected".to_owned(),
    ];
    expected.extend(
        names(set, TypeUrl::ClusterLoadAssignment)
            .iter()
            .map(|c| format!("cluster.{c}.update_rejected")),
    );
    expected.extend(rds_subscriptions(set).map(|s| format!("{s}.update_rejected")));
    for name in &expected {
        assert!(counters.contains_key(name), "no counter {name} in {counters:?}");
    }
    assert_no_rejection(envoy);
    for stat in ["listener_manager.lds.update_success", "cluster_manager.cds.update_success"] {
        assert!(envoy.stat(stat).unwrap_or(0) >= 1, "{stat} never counted an update");
    }
}

/// Serves `set` to a fresh Envoy over `protocol` and checks it took all of it.
fn serve_and_accept(
    binary: &std::path::Path,
    proxy_id: &str,
    set: ResourceSet<Resource>,
    protocol: AdsProtocol,
) -> (Server, Envoy) {
    let server = Server::start();
    server.snapshots.set(proxy_id, set.clone());
    let envoy = server.envoy(binary, proxy_id, protocol);
    wait_accepted(&envoy, &set);
    assert_nothing_rejected(&envoy, &set);
    (server, envoy)
}

fn eds_stat(envoy: &Envoy, cluster: &str, what: &str) -> u64 {
    envoy.stat(&format!("cluster.{cluster}.{what}")).unwrap_or(0)
}

const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// ---------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------

#[test]
fn counting_sidecar_is_acked_over_delta_and_an_endpoint_change_is_one_push() {
    let Some(binary) = envoy_binary() else { return };
    let mut pki = Pki::new();
    let mut snap = counting_sidecar(&mut pki);
    let set = generate(&snap);
    assert!(!names(&set, TypeUrl::RouteConfiguration).is_empty(), "the chain needs RDS");
    let (server, envoy) =
        serve_and_accept(&binary, "dashboard-sidecar-proxy", set, AdsProtocol::Delta);
    let rds = "http.upstream.counting.default.default.dc1.rds.counting";
    assert_eq!(rds_subscriptions(&generate(&snap)).collect::<Vec<_>>(), [rds]);
    assert!(envoy.stat(&format!("{rds}.update_success")).unwrap_or(0) >= 1, "RDS accepted");
    let dump = envoy.admin("/config_dump?resource=dynamic_route_configs");
    assert!(
        dump.contains("\"prefix_rewrite\": \"/\"") && dump.contains("\"weight\": 8000"),
        "{dump}"
    );

    let cluster = names(&generate(&snap), TypeUrl::Cluster)
        .into_iter()
        .find(|c| c.starts_with("counting.default.dc1."))
        .unwrap();
    let before = server.settle(&envoy);
    let (lds, cds) = (
        envoy.stat("listener_manager.lds.update_success"),
        envoy.stat("cluster_manager.cds.update_success"),
    );
    let eds_before = eds_stat(&envoy, &cluster, "update_success");
    let new_port = free_port();
    snap.upstreams[0]
        .endpoints
        .get_mut("counting.default.default.dc1")
        .unwrap()
        .push(Endpoint::new("127.0.0.1", new_port));
    server.snapshots.set("dashboard-sidecar-proxy", generate(&snap));
    let host = format!("{cluster}::127.0.0.1:{new_port}::health_flags::healthy");
    envoy.wait_until(READY, &host, |e| e.admin("/clusters").contains(&host));
    server.settle(&envoy);
    assert_eq!(
        server.sent()[before..],
        [Sent { type_url: EDS.into(), names: vec![cluster.clone()], removed: vec![] }],
        "one delta response carrying only the changed load assignment"
    );
    assert_eq!(eds_stat(&envoy, &cluster, "update_success"), eds_before + 1);
    assert_eq!(envoy.stat("listener_manager.lds.update_success"), lds, "no listener resent");
    assert_eq!(envoy.stat("cluster_manager.cds.update_success"), cds, "no cluster resent");
    assert_nothing_rejected(&envoy, &generate(&snap));
}

#[test]
fn counting_sidecar_is_acked_over_sotw_and_an_endpoint_change_is_one_eds_response() {
    let Some(binary) = envoy_binary() else { return };
    let mut pki = Pki::new();
    let mut snap = counting_sidecar(&mut pki);
    let (server, envoy) = serve_and_accept(
        &binary,
        "dashboard-sidecar-proxy",
        generate(&snap),
        AdsProtocol::StateOfTheWorld,
    );
    let before = server.settle(&envoy);
    let new_port = free_port();
    snap.upstreams[0]
        .endpoints
        .get_mut("v2.counting-admin.default.default.dc-gcp")
        .unwrap()
        .push(Endpoint::new("127.0.0.1", new_port));
    let set = generate(&snap);
    server.snapshots.set("dashboard-sidecar-proxy", set.clone());
    let host = format!("::127.0.0.1:{new_port}::health_flags::healthy");
    envoy.wait_until(READY, &host, |e| e.admin("/clusters").contains(&host));
    server.settle(&envoy);
    // State of the world: the one EDS response carries every load assignment Envoy wants.
    let eds = names(&set, TypeUrl::ClusterLoadAssignment).len();
    assert_eq!(
        server.sent()[before..],
        [Sent { type_url: EDS.into(), names: vec![format!("{eds} resources")], removed: vec![] }]
    );
    assert_nothing_rejected(&envoy, &set);
}

#[test]
fn tcp_sidecar_with_intentions_and_grpc_upstream_is_acked_over_delta_and_sotw() {
    let Some(binary) = envoy_binary() else { return };
    let mut pki = Pki::new();
    for protocol in [AdsProtocol::Delta, AdsProtocol::StateOfTheWorld] {
        let set = generate(&tcp_sidecar(&mut pki));
        let (_server, envoy) = serve_and_accept(&binary, "db-sidecar-proxy", set, protocol);
        let dump = envoy.admin("/config_dump");
        for shape in
            ["consul-intentions-layer4", "envoy.filters.http.grpc_stats", "http2_protocol_options"]
        {
            assert!(dump.contains(shape), "{protocol:?}: {shape} missing from config_dump");
        }
    }
}

#[test]
fn mesh_gateway_is_acked_over_delta_and_sotw() {
    let Some(binary) = envoy_binary() else { return };
    let pki = Pki::new();
    for protocol in [AdsProtocol::Delta, AdsProtocol::StateOfTheWorld] {
        let snap = mesh_gateway(&pki);
        let set = generate_mesh_gateway(&snap);
        let (_server, envoy) = serve_and_accept(&binary, "mesh-gateway", set, protocol);
        let dump = envoy.admin("/config_dump");
        assert!(dump.contains("envoy.filters.network.sni_cluster"), "{protocol:?}");
        assert!(dump.contains(&format!("*.dc2.internal.{}", pki.td())), "{protocol:?}");
        assert!(dump.contains("LOGICAL_DNS"), "{protocol:?}");
    }
}
