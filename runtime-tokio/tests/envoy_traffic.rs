//! Real traffic through two real Envoys configured by our ADS server:
//! client → Envoy sidecar of `web` (upstream `api`) → mTLS → Envoy sidecar of `api`
//! (public listener, RBAC from intentions) → echo app. A deny intention makes `api`'s
//! sidecar reset the connection and count `connect_authz.rbac.denied`; allowing again lets
//! traffic through without restarting anything.

mod envoy_support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use envoy_support::{Envoy, bootstrap, envoy_binary, free_port, serve_ads, wall_clock};
use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr};
use proconsul_core::config::{ConfigEntries, ConfigEntry, GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::compile;
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, SpiffeId};
use proconsul_core::intentions::{DefaultPolicy, Intention};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_core::xds::ads::Protocol as AdsProtocol;
use proconsul_core::xds::generate::generate;
use proconsul_core::xds::model::Resource;
use proconsul_core::xds::snapshot::{
    Endpoint, GatewayEndpoints, HostPort, LeafCert, Protocol, ProxySnapshot, UpstreamSnapshot,
};
use proconsul_runtime_tokio::xds::{AdsServer, Snapshots};

fn leaf(ca: &mut CertificateAuthority, svc: &str, now: UnixTime) -> LeafCert {
    let id = SpiffeId::service(
        ca.trust_domain().clone(),
        Datacenter::new("dc1").unwrap(),
        svc.parse().unwrap(),
    );
    let key = generate_leaf_key(&mut Seed(7).stream(svc)).unwrap();
    let issued = ca.sign_leaf(&leaf_csr(&id, &key, &[]).unwrap(), &Requester::Any, now).unwrap();
    LeafCert {
        cert_chain_pem: Arc::from(issued.cert_pem.as_str()),
        private_key_pem: Arc::from(key.to_pkcs8_pem().as_str()),
    }
}

struct Mesh {
    ca: CertificateAuthority,
    web_leaf: LeafCert,
    api_leaf: LeafCert,
    web_upstream_port: u16,
    api_public_port: u16,
    app_port: u16,
}

fn intentions(action: &str) -> Vec<Intention> {
    let entries: ConfigEntries = [ConfigEntry::from_value(serde_json::json!({
        "Kind": "service-intentions", "Name": "api", "Sources": [{"Name": "web", "Action": action}]
    }))
    .unwrap()]
    .into_iter()
    .collect();
    Intention::all(&entries)
}

fn base(mesh: &Mesh, service: &str, public_port: u16, leaf: &LeafCert) -> ProxySnapshot {
    ProxySnapshot {
        proxy_id: format!("{service}-sidecar-proxy"),
        service: ServiceName::new(service).unwrap(),
        service_id: service.into(),
        datacenter: Datacenter::new("dc1").unwrap(),
        trust_domain: mesh.ca.trust_domain().clone(),
        public_listener: HostPort::new("127.0.0.1", public_port),
        local_app: HostPort::new("127.0.0.1", mesh.app_port),
        local_connect_timeout: GoDuration::from_secs(5),
        protocol: Protocol::Tcp,
        upstreams: Vec::new(),
        gateways: GatewayEndpoints::default(),
        mesh_gateway_mode: MeshGatewayMode::Default,
        leaf: leaf.clone(),
        roots: mesh.ca.roots().roots.iter().map(|r| Arc::from(r.root_cert.as_str())).collect(),
        intentions: Vec::new(),
        default_policy: DefaultPolicy::Deny,
    }
}

fn web_snapshot(mesh: &Mesh) -> ProxySnapshot {
    let mut snap = base(mesh, "web", free_port(), &mesh.web_leaf);
    let api = ServiceName::new("api").unwrap();
    let chain = compile(
        &ConfigEntries::new(),
        &api,
        &Namespace::default(),
        &Datacenter::new("dc1").unwrap(),
        mesh.ca.trust_domain(),
    )
    .unwrap();
    let endpoints = chain
        .targets
        .keys()
        .map(|t| (t.clone(), vec![Endpoint::new("127.0.0.1", mesh.api_public_port)]))
        .collect();
    snap.upstreams.push(UpstreamSnapshot {
        destination: api,
        datacenter: None,
        local_bind: HostPort::new("127.0.0.1", mesh.web_upstream_port),
        mesh_gateway_mode: MeshGatewayMode::Default,
        chain: Arc::new(chain),
        endpoints,
    });
    snap
}

fn api_snapshot(mesh: &Mesh, action: &str) -> ProxySnapshot {
    let mut snap = base(mesh, "api", mesh.api_public_port, &mesh.api_leaf);
    snap.intentions = intentions(action);
    snap
}

/// Sends a line through web's upstream listener; true when the echo comes back.
fn round_trip() -> impl Fn(u16) -> bool {
    |port| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
        if s.write_all(b"ping\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).is_ok() && &buf == b"ping\n"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intentions_allow_then_deny_then_allow_real_mtls_traffic_without_restarts() {
    let Some(binary) = envoy_binary() else { return };
    let now = wall_clock();
    let mut ca = CertificateAuthority::new_primary(
        CaConfig::default(),
        Datacenter::new("dc1").unwrap(),
        Seed(1).stream("ca"),
        now,
    )
    .unwrap();
    let web_leaf = leaf(&mut ca, "web", now);
    let api_leaf = leaf(&mut ca, "api", now);
    // The echo app behind api's sidecar.
    let app = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_port = app.local_addr().unwrap().port();
    #[allow(clippy::disallowed_methods, reason = "the test hosts the echo app")]
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = app.accept().await else { return };
            #[allow(clippy::disallowed_methods, reason = "one task per echo connection")]
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let mesh = Mesh {
        ca,
        web_leaf,
        api_leaf,
        web_upstream_port: free_port(),
        api_public_port: free_port(),
        app_port,
    };
    let snapshots: Arc<Snapshots<Resource>> = Arc::new(Snapshots::new());
    snapshots.set("web-sidecar-proxy", generate(&web_snapshot(&mesh)));
    snapshots.set("api-sidecar-proxy", generate(&api_snapshot(&mesh, "allow")));
    let server = AdsServer::new(snapshots.clone(), BTreeSet::new());
    let ads_port = serve_ads(&tokio::runtime::Handle::current(), server);
    let (web_env, api_env) = tokio::task::block_in_place(|| {
        let web = Envoy::start(
            &binary,
            bootstrap("web-sidecar-proxy", "web", ads_port, AdsProtocol::Delta, "dc1"),
        );
        let api = Envoy::start(
            &binary,
            bootstrap("api-sidecar-proxy", "api", ads_port, AdsProtocol::Delta, "dc1"),
        );
        (web, api)
    });
    let port = mesh.web_upstream_port;
    let ping = round_trip();
    tokio::task::block_in_place(|| {
        web_env
            .wait_until(Duration::from_secs(30), "traffic through both sidecars", |_| ping(port));
        assert_eq!(
            api_env.stat("connect_authz.rbac.denied"),
            Some(0),
            "the stat exists and nothing was denied yet"
        );
    });

    snapshots.set("api-sidecar-proxy", generate(&api_snapshot(&mesh, "deny")));
    tokio::task::block_in_place(|| {
        api_env.wait_until(Duration::from_secs(20), "the deny intention to take effect", |e| {
            !ping(port) && e.stat("connect_authz.rbac.denied").unwrap_or(0) > 0
        });
    });

    snapshots.set("api-sidecar-proxy", generate(&api_snapshot(&mesh, "allow")));
    tokio::task::block_in_place(|| {
        web_env.wait_until(Duration::from_secs(20), "traffic again after allowing", |_| ping(port));
        for e in [&web_env, &api_env] {
            assert_eq!(e.stat("listener_manager.lds.update_rejected"), Some(0), "{}", e.log());
            assert_eq!(e.stat("cluster_manager.cds.update_rejected"), Some(0), "{}", e.log());
        }
    });
}
