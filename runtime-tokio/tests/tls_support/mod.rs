//! Shared pieces of the mTLS tests (`tests/tls_*.rs`): a CA at a fixed time, leaves as
//! `TlsIdentity`s, a pinned `TimeProvider`, and an in-memory handshake that shuttles TLS
//! bytes between a `ClientConnection` and a `ServerConnection` (no sockets, no tokio).
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{Read, Write};
use std::sync::Arc;

use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr};
use proconsul_core::ids::{Datacenter, SpiffeId};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_runtime_tokio::tls::{MeshTls, PeerPolicy, TlsIdentity, TrustBundle};
use rustls::pki_types::ServerName;
use rustls::time_provider::TimeProvider;
use rustls::{
    ClientConfig, ClientConnection, CommonState, ConnectionCommon, ServerConfig, ServerConnection,
};

/// When the test CAs are created and the first leaves issued.
pub const NOW: UnixTime = UnixTime(1_800_000_000);
pub const HOUR: i64 = 3600;

/// A wall clock stuck at one instant: certificates are issued at fixed `UnixTime`s, so
/// the verifiers must judge validity at a known time, not the machine's.
#[derive(Debug)]
pub struct FixedTime(pub rustls::pki_types::UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        Some(self.0)
    }
}

pub fn pki_time(t: UnixTime) -> rustls::pki_types::UnixTime {
    let secs = u64::try_from(t.secs()).expect("test times are after 1970");
    rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs))
}

pub fn clock_at(t: UnixTime) -> Arc<dyn TimeProvider> {
    Arc::new(FixedTime(pki_time(t)))
}

pub fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).expect("valid datacenter")
}

/// A primary CA for `dc1`, created at [`NOW`]; another `seed` is another, unrelated CA.
pub fn primary(seed: u64) -> CertificateAuthority {
    CertificateAuthority::new_primary(CaConfig::default(), dc("dc1"), Seed(seed).stream("ca"), NOW)
        .expect("primary CA")
}

/// A secondary CA for `dc_name` with an intermediate signed by `primary` at `at`.
pub fn secondary(
    primary: &mut CertificateAuthority,
    dc_name: &str,
    seed: u64,
    at: UnixTime,
) -> CertificateAuthority {
    let roots = primary.roots();
    let mut sec = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc(dc_name),
        &roots,
        Seed(seed).stream("secondary"),
    )
    .expect("secondary CA");
    refresh_intermediate(primary, &mut sec, at);
    sec
}

/// The secondary asks for and installs an intermediate under the primary's active root.
pub fn refresh_intermediate(
    primary: &mut CertificateAuthority,
    sec: &mut CertificateAuthority,
    at: UnixTime,
) {
    let csr = sec.intermediate_csr().expect("intermediate CSR");
    let pem = primary.sign_intermediate(&csr, at).expect("primary signs the intermediate");
    sec.install_intermediate(&pem, &primary.roots()).expect("secondary installs it");
}

pub fn service_id(ca: &CertificateAuthority, svc: &str) -> SpiffeId {
    SpiffeId::service(ca.trust_domain().clone(), ca.datacenter().clone(), svc.parse().unwrap())
}

/// A leaf for `svc` in the CA's datacenter, issued at `at`, with a key drawn from
/// `(key_seed, svc)`.
pub fn issue(ca: &mut CertificateAuthority, svc: &str, key_seed: u64, at: UnixTime) -> TlsIdentity {
    let id = service_id(ca, svc);
    let key = generate_leaf_key(&mut Seed(key_seed).stream(svc)).expect("leaf key");
    let csr = leaf_csr(&id, &key, &[]).expect("CSR");
    let issued = ca.sign_leaf(&csr, &Requester::Any, at).expect("CA signs the leaf");
    TlsIdentity::from_pem(&issued.cert_pem, &key.to_pkcs8_der()).expect("identity")
}

/// The bundle an agent of `ca` holds: every root in its roots response.
pub fn bundle_of(ca: &CertificateAuthority) -> TrustBundle {
    TrustBundle::from_ders(ca.trust_bundle()).expect("bundle")
}

/// Configs for `identity` trusting `bundle`, judging validity at `at`.
pub fn mesh(identity: &TlsIdentity, bundle: &TrustBundle, at: UnixTime) -> MeshTls {
    MeshTls::new(identity.clone(), bundle.clone()).with_time_provider(clock_at(at))
}

pub fn server(mesh: &MeshTls, clients: PeerPolicy) -> ServerConfig {
    mesh.server_config(clients).expect("server config")
}

pub fn client(mesh: &MeshTls, server: PeerPolicy) -> ClientConfig {
    mesh.client_config(server).expect("client config")
}

/// Which end of the connection refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A failed handshake: who refused, why, and what the other side then saw.
#[derive(Debug)]
pub struct Refused {
    pub by: Side,
    pub error: rustls::Error,
    pub peer_saw: Option<rustls::Error>,
}

/// One end of an in-memory connection, whichever side it is.
trait TlsEnd {
    fn wants_write(&self) -> bool;
    fn write_tls(&mut self, out: &mut dyn Write) -> std::io::Result<usize>;
    fn read_tls(&mut self, input: &mut dyn Read) -> std::io::Result<usize>;
    fn process_new_packets(&mut self) -> Result<(), rustls::Error>;
    fn is_handshaking(&self) -> bool;
}

impl<D> TlsEnd for ConnectionCommon<D> {
    fn wants_write(&self) -> bool {
        CommonState::wants_write(self)
    }
    fn write_tls(&mut self, out: &mut dyn Write) -> std::io::Result<usize> {
        ConnectionCommon::write_tls(self, out)
    }
    fn read_tls(&mut self, input: &mut dyn Read) -> std::io::Result<usize> {
        ConnectionCommon::read_tls(self, input)
    }
    fn process_new_packets(&mut self) -> Result<(), rustls::Error> {
        ConnectionCommon::process_new_packets(self).map(|_| ())
    }
    fn is_handshaking(&self) -> bool {
        CommonState::is_handshaking(self)
    }
}

/// Moves every TLS byte `from` wants to send into `to`. `Ok(true)` if bytes moved; `Err`
/// when `to` refused what it got.
fn transfer(from: &mut dyn TlsEnd, to: &mut dyn TlsEnd) -> Result<bool, rustls::Error> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).expect("writing TLS into a Vec cannot fail");
    }
    let mut rest: &[u8] = &buf;
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("reading TLS from memory");
        to.process_new_packets()?;
    }
    Ok(!buf.is_empty())
}

/// Records a refusal, after delivering the refuser's alert so the other side's view of it
/// can be asserted too.
fn refused(
    by: Side,
    error: rustls::Error,
    refuser: &mut dyn TlsEnd,
    other: &mut dyn TlsEnd,
) -> Box<Refused> {
    let peer_saw = transfer(refuser, other).err();
    Box::new(Refused { by, error, peer_saw })
}

/// Runs a handshake between fresh connections of the two configs. The SNI is a Connect
/// upstream name, which no leaf carries as a DNS SAN.
pub fn handshake(
    client_config: ClientConfig,
    server_config: ServerConfig,
) -> Result<(ClientConnection, ServerConnection), Box<Refused>> {
    let name = ServerName::try_from("db.default.dc1.internal.example.consul").unwrap();
    let mut c = ClientConnection::new(Arc::new(client_config), name).expect("client connection");
    let mut s = ServerConnection::new(Arc::new(server_config)).expect("server connection");
    for _ in 0..16 {
        let to_server = match transfer(&mut *c, &mut *s) {
            Ok(moved) => moved,
            Err(e) => return Err(refused(Side::Server, e, &mut *s, &mut *c)),
        };
        let to_client = match transfer(&mut *s, &mut *c) {
            Ok(moved) => moved,
            Err(e) => return Err(refused(Side::Client, e, &mut *c, &mut *s)),
        };
        if !to_server && !to_client && !c.is_handshaking() && !s.is_handshaking() {
            return Ok((c, s));
        }
    }
    panic!("handshake did not finish in 16 flights");
}

/// The handshake must fail; returns the refusal.
pub fn refusal(client_config: ClientConfig, server_config: ServerConfig) -> Refused {
    match handshake(client_config, server_config) {
        Ok(_) => panic!("handshake succeeded but should have been refused"),
        Err(r) => *r,
    }
}

/// Sends `ping` client to server and `pong` back over an established pair.
pub fn exchange(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
    ping: &[u8],
    pong: &[u8],
) {
    client.writer().write_all(ping).unwrap();
    transfer(&mut **client, &mut **server).expect("server accepts application data");
    assert_eq!(read_all(&mut server.reader()), ping);
    server.writer().write_all(pong).unwrap();
    transfer(&mut **server, &mut **client).expect("client accepts application data");
    assert_eq!(read_all(&mut client.reader()), pong);
}

fn read_all(reader: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}
