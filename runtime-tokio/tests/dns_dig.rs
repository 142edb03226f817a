//! The DNS interface over a single-node raft, queried with the real `dig` over UDP and TCP:
//! healthy instances only, tags (both name forms), the datacenter label, Connect sidecars,
//! nodes, NXDOMAIN with SOA, REFUSED outside the domain, truncation and TCP fallback, and
//! junk packets that get FORMERR or silence without hurting the server.
//!
//! `dig` comes from `dnsutils` (`.ci/run` installs it). In CI (`CI=true`) a missing `dig`
//! fails the test; elsewhere the test says how to install it and returns early.

mod raft_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use proconsul_core::dns::{DnsConfig, Domain};
use proconsul_core::state::{
    Check, Command, HealthStatus, Node, ProxyConfig, Service, ServiceKind,
};
use proconsul_runtime_tokio::dns::{DnsCatalog, serve};
use proconsul_runtime_tokio::env;
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use raft_support::{WAIT, dc, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// A raft server with a DNS server in front of it on a free loopback port.
struct Dns {
    port: u16,
    node: Arc<RaftNode>,
    server: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Dns {
    async fn start() -> Dns {
        let dir = tempfile::tempdir().unwrap();
        let node = start(1, &dir.path().join("raft.redb"), &MemRouter::new()).await;
        let members = BTreeMap::from([(node.id(), BasicNode::default())]);
        node.raft().initialize(members).await.expect("initialize");
        node.raft().wait(Some(WAIT)).current_leader(node.id(), "self-elected").await.unwrap();
        let node = Arc::new(node);
        let (udp, tcp) = bind_pair().await;
        let port = udp.local_addr().unwrap().port();
        let catalog: Arc<dyn DnsCatalog> = Arc::new(node.clone());
        let config = DnsConfig::new(Domain::consul(), dc());
        let (udp, tcp) = (env::tokio_udp(udp), env::tokio_listener(tcp));
        let server = spawn(serve(udp, tcp, catalog, config));
        Dns { port, node, server, _dir: dir }
    }

    async fn register(
        &self,
        node: &str,
        addr: &str,
        service: Option<Service>,
        status: HealthStatus,
    ) {
        let node = Node { node: node.into(), address: addr.into(), ..Node::default() };
        let checks = match &service {
            Some(s) => vec![Check {
                check_id: format!("{}-alive", s.id),
                name: "alive".into(),
                status,
                service_id: s.id.clone(),
                ..Check::default()
            }],
            None => vec![],
        };
        let r = self.node.write(Command::Register { node, service, checks }).await;
        r.expect("register");
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    async fn stop(self) {
        assert!(!self.server.is_finished(), "the DNS server stopped: {:?}", self.server.await);
        self.server.abort();
        self.node.shutdown().await.unwrap();
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the DNS server runs beside the test, as in production"
)]
fn spawn<F: Future + Send + 'static>(f: F) -> JoinHandle<F::Output>
where
    F::Output: Send + 'static,
{
    tokio::spawn(f)
}

/// UDP and TCP on the same free loopback port, as Consul binds 8600.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

fn service(id: &str, name: &str, port: u16, tags: &[&str], address: &str) -> Service {
    Service {
        id: id.into(),
        service: name.into(),
        port,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        address: address.into(),
        ..Service::default()
    }
}

/// web on node1 (passing, v1) with a sidecar, on node2 (critical, v2), on node3 (passing, v2,
/// its own address); db on an IPv6 node.
async fn populate(dns: &Dns) {
    let passing = HealthStatus::Passing;
    dns.register("node1", "10.0.0.1", Some(service("web1", "web", 8080, &["v1"], "")), passing)
        .await;
    let sidecar = Service {
        kind: ServiceKind::ConnectProxy,
        proxy: Some(ProxyConfig {
            destination_service_name: "web".into(),
            destination_service_id: "web1".into(),
            ..ProxyConfig::default()
        }),
        ..service("web1-sidecar-proxy", "web-sidecar-proxy", 21000, &[], "")
    };
    dns.register("node1", "10.0.0.1", Some(sidecar), passing).await;
    let critical = HealthStatus::Critical;
    dns.register("node2", "10.0.0.2", Some(service("web2", "web", 8080, &["v2"], "")), critical)
        .await;
    let web3 = service("web3", "web", 9090, &["v2"], "10.0.1.3");
    dns.register("node3", "10.0.0.3", Some(web3), passing).await;
    dns.register("node4", "2001:db8::4", Some(service("db1", "db", 5432, &[], "")), passing).await;
}

/// `dig`, or `None` outside CI when it is not installed.
fn dig_installed() -> bool {
    if std::process::Command::new("dig").arg("-v").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    let how = "apt-get install -y dnsutils";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("dig is required in CI and was not found; .ci/run installs it with: {how}");
    }
    eprintln!("SKIPPED: dig not installed; install with: {how}");
    false
}

/// Runs `dig @127.0.0.1 -p PORT args...` and returns its standard output.
async fn dig(port: u16, args: &[&str]) -> String {
    let out = tokio::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .await
        .expect("run dig");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dig {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `dig +short` lines, sorted.
async fn short(port: u16, name: &str, qtype: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![name, qtype, "+short"];
    args.extend_from_slice(extra);
    let mut lines: Vec<String> = dig(port, &args).await.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// The status word from dig's header comment (`status: NXDOMAIN`).
fn status(output: &str) -> &str {
    let at = output.find("status: ").unwrap_or_else(|| panic!("no status in {output}"));
    output[at + 8..].split(',').next().unwrap()
}

const WEB_SRV: [&str; 2] =
    ["1 1 8080 node1.node.dc1.consul.", "1 1 9090 0a000103.addr.dc1.consul."];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_gets_consul_answers_over_udp_and_tcp() {
    if !dig_installed() {
        return;
    }
    let dns = Dns::start().await;
    populate(&dns).await;
    let p = dns.port;

    for transport in [&[][..], &["+tcp"][..]] {
        // Healthy instances only: node2's critical web2 never appears.
        assert_eq!(
            short(p, "web.service.consul", "SRV", transport).await,
            WEB_SRV,
            "{transport:?}"
        );
        assert_eq!(short(p, "web.service.consul", "A", transport).await, ["10.0.0.1", "10.0.1.3"]);
        assert_eq!(short(p, "_web._tcp.service.consul", "SRV", transport).await, WEB_SRV);
    }
    assert_eq!(short(p, "web.service.dc1.consul", "A", &[]).await, ["10.0.0.1", "10.0.1.3"]);
    assert_eq!(short(p, "WEB.Service.CONSUL", "A", &[]).await, ["10.0.0.1", "10.0.1.3"]);
    // Tags, in both forms: v2 matches only the healthy web3.
    assert_eq!(short(p, "v1.web.service.consul", "A", &[]).await, ["10.0.0.1"]);
    assert_eq!(short(p, "v2.web.service.consul", "SRV", &[]).await, [WEB_SRV[1]]);
    assert_eq!(short(p, "_web._v2.service.consul", "SRV", &["+tcp"]).await, [WEB_SRV[1]]);
    // Connect: the sidecar's port on its node.
    assert_eq!(
        short(p, "web.connect.consul", "SRV", &[]).await,
        ["1 1 21000 node1.node.dc1.consul."]
    );
    assert_eq!(short(p, "node1.node.consul", "A", &[]).await, ["10.0.0.1"]);
    assert_eq!(short(p, "node4.node.dc1.consul", "AAAA", &["+tcp"]).await, ["2001:db8::4"]);
    assert_eq!(short(p, "db.service.consul", "AAAA", &[]).await, ["2001:db8::4"]);
    // The SRV targets resolve, and arrive as additional records with TTL 0.
    assert_eq!(short(p, "0a000103.addr.dc1.consul", "A", &[]).await, ["10.0.1.3"]);
    let full =
        dig(p, &["web.service.consul", "SRV", "+noall", "+comments", "+answer", "+additional"])
            .await;
    assert_eq!(status(&full), "NOERROR");
    assert!(full.contains(" aa"), "authoritative: {full}");
    assert!(full.contains("node1.node.dc1.consul.\t0\tIN\tA\t10.0.0.1"), "{full}");
    assert!(full.contains("0a000103.addr.dc1.consul. 0\tIN\tA\t10.0.1.3"), "{full}");

    // Unknown names under the domain: NXDOMAIN with the SOA; other datacenters too.
    for name in ["nope.service.consul", "web.service.dc2.consul", "node9.node.consul", "x.consul"] {
        let out = dig(p, &[name, "A", "+noall", "+comments", "+authority"]).await;
        assert_eq!(status(&out), "NXDOMAIN", "{name}: {out}");
        assert!(
            out.contains("consul.\t\t\t0\tIN\tSOA\tns.consul. hostmaster.consul."),
            "{name}: {out}"
        );
    }
    // A known name without records of the type: NODATA, SOA too.
    let out = dig(p, &["node1.node.consul", "AAAA", "+noall", "+comments", "+authority"]).await;
    assert_eq!(status(&out), "NOERROR");
    assert!(out.contains("IN\tSOA\tns.consul."), "{out}");
    // Outside the domain: refused, no recursion.
    let out = dig(p, &["example.com", "A", "+noall", "+comments"]).await;
    assert_eq!(status(&out), "REFUSED", "{out}");
    let out = dig(p, &["example.com", "A", "+noall", "+comments", "+tcp"]).await;
    assert_eq!(status(&out), "REFUSED", "{out}");
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_udp_answers_truncate_and_complete_over_tcp() {
    if !dig_installed() {
        return;
    }
    let dns = Dns::start().await;
    for i in 0..60u8 {
        let svc = service(&format!("big{i}"), "big", 8000, &[], "");
        dns.register(&format!("n{i:02}"), &format!("10.1.0.{i}"), Some(svc), HealthStatus::Passing)
            .await;
    }
    let p = dns.port;
    // 60 SRV records exceed 512 bytes: without EDNS the UDP reply comes back truncated...
    let cut =
        dig(p, &["big.service.consul", "SRV", "+noedns", "+ignore", "+noall", "+comments"]).await;
    assert!(cut.contains(" tc"), "TC flag expected: {cut}");
    // ...and dig's automatic retry over TCP gets every record.
    assert_eq!(short(p, "big.service.consul", "SRV", &["+noedns"]).await.len(), 60);
    // With EDNS's 4096 bytes the A records fit in one datagram.
    let whole = dig(
        p,
        &["big.service.consul", "A", "+ignore", "+bufsize=4096", "+noall", "+comments", "+answer"],
    )
    .await;
    assert!(!whole.contains(" tc"), "{whole}");
    assert_eq!(whole.matches("\tIN\tA\t").count(), 60, "{whole}");
    dns.stop().await;
}

/// A header for a query with id `id` that claims one question.
fn header(id: u16) -> Vec<u8> {
    let mut h = id.to_be_bytes().to_vec();
    h.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    h
}

async fn udp_exchange(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

fn assert_formerr(reply: &[u8], id: u16) {
    assert!(reply.len() >= 12, "{reply:?}");
    assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), id);
    assert_eq!(reply[2] & 0x80, 0x80, "QR set");
    assert_eq!(reply[3] & 0x0f, 1, "RCODE FORMERR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_get_formerr_or_silence_and_the_server_keeps_answering() {
    let dns = Dns::start().await;
    dns.register(
        "node1",
        "10.0.0.1",
        Some(service("web1", "web", 80, &[], "")),
        HealthStatus::Passing,
    )
    .await;
    let server = dns.addr();

    // Too short for a header: dropped.
    assert_eq!(udp_exchange(server, &[1, 2, 3, 4, 5]).await, None);
    assert_eq!(udp_exchange(server, &[]).await, None);
    // A header whose question is cut off: FORMERR with the same id.
    let mut cut = header(0xbeef);
    cut.extend_from_slice(&[3, b'w', b'e']);
    assert_formerr(&udp_exchange(server, &cut).await.expect("FORMERR reply"), 0xbeef);
    // A label pointer loop: FORMERR, no hang.
    let mut looped = header(0x1234);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_formerr(&udp_exchange(server, &looped).await.expect("FORMERR reply"), 0x1234);
    // A response (QR set) is never answered.
    let mut response = header(7);
    response[2] |= 0x80;
    assert_eq!(udp_exchange(server, &response).await, None);
    // No question at all: FORMERR.
    let mut empty = header(9);
    empty[5] = 0;
    assert_formerr(&udp_exchange(server, &empty).await.expect("FORMERR reply"), 9);

    // Over TCP: a junk frame gets FORMERR on the same connection.
    let mut tcp = TcpStream::connect(server).await.unwrap();
    let mut frame = (cut.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&cut);
    tcp.write_all(&frame).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut len)).await.unwrap().unwrap();
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut reply).await.unwrap();
    assert_formerr(&reply, 0xbeef);
    // A frame that promises more than it sends, then a hang-up: the server drops it quietly.
    let mut tcp = TcpStream::connect(server).await.unwrap();
    tcp.write_all(&[0x01, 0x00, 0xde, 0xad]).await.unwrap();
    drop(tcp);

    // Still serving, over both transports.
    let query = valid_query(0x4242, "web.service.consul");
    let reply = udp_exchange(server, &query).await.expect("answer after junk");
    assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), 0x4242);
    assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
    assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 1, "one answer");
    if dig_installed() {
        assert_eq!(short(dns.port, "web.service.consul", "A", &["+tcp"]).await, ["10.0.0.1"]);
    }
    dns.stop().await;
}

/// A plain A query for `name`, built by hand so this test needs no DNS library.
fn valid_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = header(id);
    for label in name.split('.') {
        q.push(u8::try_from(label.len()).unwrap());
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}
