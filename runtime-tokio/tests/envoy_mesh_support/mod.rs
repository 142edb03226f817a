//! What the real-traffic mesh tests share, on top of `envoy_support` (the Envoy process):
//! a PKI with a primary (dc1) and, on demand, a secondary (dc2) CA; sidecar snapshots; one
//! loopback ADS server serving every proxy; small HTTP/1.1 apps that answer with who they
//! are, the path they received and the caller's `x-forwarded-client-cert`; and a blocking
//! keep-alive HTTP/1.1 client.
//!
//! ```text
//!  test ──HTTP/1.1──► Envoy (upstream listener) ──mTLS──► … ──► Envoy (public_listener) ──► app
//!                       ▲ ADS (delta)                               ▲ ADS (delta)
//!                       └──────────── Mesh::snapshots ──────────────┘
//! ```

#![allow(dead_code, reason = "each test file uses part of the support")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use crate::envoy_support::{Envoy, bootstrap, serve_ads, wall_clock};
use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr};
use proconsul_core::config::{ConfigEntries, ConfigEntry, GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::{CompiledChain, compile};
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, SpiffeId, TrustDomain};
use proconsul_core::intentions::{DefaultPolicy, Intention};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_core::xds::ads::Protocol as AdsProtocol;
use proconsul_core::xds::model::Resource;
use proconsul_core::xds::snapshot::{
    GatewayEndpoints, HostPort, LeafCert, Protocol, ProxySnapshot,
};
use proconsul_runtime_tokio::xds::{AdsServer, Snapshots};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// How long Envoy gets to connect, fetch everything, warm up and pass traffic.
pub const READY: Duration = Duration::from_secs(20);

pub fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).unwrap()
}

pub fn svc(name: &str) -> ServiceName {
    ServiceName::new(name).unwrap()
}

pub fn entries(texts: &[&str]) -> ConfigEntries {
    texts.iter().map(|text| ConfigEntry::from_hcl(text).unwrap()).collect()
}

/// The compiled chain of `service` as seen from `datacenter`.
pub fn chain(
    entries: &ConfigEntries,
    service: &str,
    datacenter: &str,
    td: &TrustDomain,
) -> CompiledChain {
    compile(entries, &svc(service), &Namespace::default(), &dc(datacenter), td).unwrap()
}

/// `service-intentions` for `destination`: `source` gets `action`; default deny does the rest.
pub fn intentions(destination: &str, source: &str, action: &str) -> Vec<Intention> {
    let entry = ConfigEntry::from_value(serde_json::json!({
        "Kind": "service-intentions", "Name": destination,
        "Sources": [{"Name": source, "Action": action}]
    }))
    .unwrap();
    Intention::all(&[entry].into_iter().collect())
}

/// The federation's CAs: dc1 is the primary; other datacenters get a secondary CA with an
/// intermediate signed by the primary, as in Consul.
pub struct Pki {
    primary: CertificateAuthority,
    secondaries: BTreeMap<String, CertificateAuthority>,
    now: UnixTime,
}

impl Pki {
    pub fn new() -> Self {
        let now = wall_clock();
        let primary = CertificateAuthority::new_primary(
            CaConfig::default(),
            dc("dc1"),
            Seed(1).stream("ca"),
            now,
        )
        .unwrap();
        Pki { primary, secondaries: BTreeMap::new(), now }
    }

    pub fn td(&self) -> TrustDomain {
        self.primary.trust_domain().clone()
    }

    /// Every trusted root (the primary's), as sidecars carry them.
    pub fn roots(&self) -> Vec<Arc<str>> {
        self.primary.roots().roots.iter().map(|r| Arc::from(r.root_cert.as_str())).collect()
    }

    /// A leaf for `service` in `datacenter`, signed by that datacenter's CA (its chain then
    /// carries the intermediate).
    pub fn leaf(&mut self, service: &str, datacenter: &str) -> LeafCert {
        let id = SpiffeId::service(self.td(), dc(datacenter), svc(service));
        let key =
            generate_leaf_key(&mut Seed(7).stream(&format!("{service}/{datacenter}"))).unwrap();
        let csr = leaf_csr(&id, &key, &[]).unwrap();
        let now = self.now;
        let ca = if datacenter == "dc1" {
            &mut self.primary
        } else {
            if !self.secondaries.contains_key(datacenter) {
                let mut sec = CertificateAuthority::new_secondary(
                    CaConfig::default(),
                    dc(datacenter),
                    &self.primary.roots(),
                    Seed(2).stream(datacenter),
                )
                .unwrap();
                let pem =
                    self.primary.sign_intermediate(&sec.intermediate_csr().unwrap(), now).unwrap();
                sec.install_intermediate(&pem, &self.primary.roots()).unwrap();
                self.secondaries.insert(datacenter.to_owned(), sec);
            }
            self.secondaries.get_mut(datacenter).unwrap()
        };
        let issued = ca.sign_leaf(&csr, &Requester::Any, now).unwrap();
        LeafCert {
            cert_chain_pem: Arc::from(issued.cert_pem.as_str()),
            private_key_pem: Arc::from(key.to_pkcs8_pem().as_str()),
        }
    }

    /// A sidecar of `service` in `datacenter` on loopback: default deny, no intentions and
    /// no upstreams yet.
    pub fn sidecar(
        &mut self,
        service: &str,
        datacenter: &str,
        protocol: Protocol,
        public_port: u16,
        app_port: u16,
    ) -> ProxySnapshot {
        ProxySnapshot {
            proxy_id: format!("{service}-sidecar-proxy"),
            service: svc(service),
            service_id: service.to_owned(),
            datacenter: dc(datacenter),
            trust_domain: self.td(),
            public_listener: HostPort::new("127.0.0.1", public_port),
            local_app: HostPort::new("127.0.0.1", app_port),
            local_connect_timeout: GoDuration::from_secs(5),
            protocol,
            upstreams: Vec::new(),
            gateways: GatewayEndpoints::default(),
            mesh_gateway_mode: MeshGatewayMode::Default,
            leaf: self.leaf(service, datacenter),
            roots: self.roots(),
            intentions: Vec::new(),
            default_policy: DefaultPolicy::Deny,
        }
    }
}

/// The ADS server every Envoy of a test talks to, and the apps behind the sidecars, on a
/// runtime of their own (the test itself blocks: Envoy and the HTTP client are blocking).
pub struct Mesh {
    pub snapshots: Arc<Snapshots<Resource>>,
    ads_port: u16,
    runtime: tokio::runtime::Runtime,
}

impl Mesh {
    pub fn start() -> Mesh {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let snapshots: Arc<Snapshots<Resource>> = Arc::new(Snapshots::new());
        let server = AdsServer::new(snapshots.clone(), BTreeSet::new());
        let ads_port = serve_ads(runtime.handle(), server);
        Mesh { snapshots, ads_port, runtime }
    }

    /// Starts an Envoy for `proxy_id` (node cluster `cluster`) over delta ADS.
    pub fn envoy(
        &self,
        binary: &std::path::Path,
        proxy_id: &str,
        cluster: &str,
        datacenter: &str,
    ) -> Envoy {
        Envoy::start(
            binary,
            bootstrap(proxy_id, cluster, self.ads_port, AdsProtocol::Delta, datacenter),
        )
    }

    /// Starts an HTTP/1.1 app named `name` on a free loopback port; every response is the
    /// JSON `{"app", "path", "xfcc"}` of the request it answers.
    pub fn app(&self, name: &str) -> u16 {
        let listener = self.runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let name: Arc<str> = Arc::from(name);
        self.runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                #[allow(clippy::disallowed_methods, reason = "one task per app connection")]
                tokio::spawn(serve_http(stream, name.clone()));
            }
        });
        port
    }
}

/// Answers keep-alive HTTP/1.1 GETs (no request bodies) until the peer closes.
async fn serve_http(stream: tokio::net::TcpStream, name: Arc<str>) {
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    loop {
        let mut request_line = String::new();
        if r.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut xfcc = None;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("x-forwarded-client-cert")
            {
                xfcc = Some(v.trim().to_owned());
            }
        }
        let path = request_line.split(' ').nth(1).unwrap_or_default();
        let body = serde_json::json!({"app": &*name, "path": path, "xfcc": xfcc}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if w.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// One HTTP response as the client saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// A field of an app's JSON answer (`app`, `path`, `xfcc`); `None` when Envoy answered.
    pub fn field(&self, name: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        v.get(name)?.as_str().map(str::to_owned)
    }
}

/// A keep-alive HTTP/1.1 connection to a loopback port.
pub struct HttpClient {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
}

impl HttpClient {
    pub fn new(port: u16) -> Self {
        HttpClient { port, conn: None }
    }

    /// GET `path`; `None` on any connection or protocol error (the connection is then
    /// dropped and the next call reconnects).
    pub fn get(&mut self, path: &str) -> Option<Reply> {
        let reply = self.try_get(path);
        if reply.is_none() {
            self.conn = None;
        }
        reply
    }

    fn try_get(&mut self, path: &str) -> Option<Reply> {
        if self.conn.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            s.set_nodelay(true).ok()?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut()?;
        write!(conn.get_mut(), "GET {path} HTTP/1.1\r\nhost: mesh\r\n\r\n").ok()?;
        let mut status_line = String::new();
        conn.read_line(&mut status_line).ok()?;
        let status = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
        let (mut length, mut close) = (None, false);
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':')?;
            let (k, v) = (k.to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse::<usize>().ok(),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                // Our apps and Envoy's local replies always send a length.
                "transfer-encoding" => return None,
                _ => {}
            }
        }
        let mut body = vec![0; length?];
        conn.read_exact(&mut body).ok()?;
        if close {
            self.conn = None;
        }
        Some(Reply { status, body: String::from_utf8(body).ok()? })
    }
}

/// Every `update_rejected` counter of `envoy` (LDS, CDS, each RDS and EDS subscription).
pub fn rejected(envoy: &Envoy) -> BTreeMap<String, u64> {
    envoy
        .admin("/stats?filter=update_rejected$")
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(name, v)| (name.to_owned(), v.trim().parse().unwrap()))
        .collect()
}

/// Envoy ACKed everything it was sent: the LDS and CDS counters exist and every
/// `update_rejected` counter is 0.
pub fn assert_nothing_rejected(name: &str, envoy: &Envoy) {
    assert_eq!(
        envoy.stat("listener_manager.lds.update_rejected"),
        Some(0),
        "{name}: {}",
        envoy.log()
    );
    assert_eq!(
        envoy.stat("cluster_manager.cds.update_rejected"),
        Some(0),
        "{name}: {}",
        envoy.log()
    );
    assert_no_rejection(name, envoy);
}

/// Fails with Envoy's log if any subscription has rejected an update so far.
pub fn assert_no_rejection(name: &str, envoy: &Envoy) {
    let nacked: Vec<_> = rejected(envoy).into_iter().filter(|(_, v)| *v != 0).collect();
    assert!(nacked.is_empty(), "{name} rejected updates: {nacked:?}\nenvoy log:\n{}", envoy.log());
}

/// Waits until `envoy` says it is `LIVE` (initial listeners and clusters warmed), failing
/// early with Envoy's reason if it rejects anything.
pub fn wait_live(name: &str, envoy: &Envoy) {
    envoy.wait_until(READY, &format!("{name} LIVE"), |e| {
        assert_no_rejection(name, e);
        e.admin("/ready").trim() == "LIVE"
    });
}
