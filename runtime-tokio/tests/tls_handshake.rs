//! Mesh mTLS handshakes, in memory: who is accepted, who is refused and why, and what each
//! side learns about the other. Leaves come from the real Connect CA (no DNS SAN, only the
//! SPIFFE URI); validity is judged at pinned times around `NOW`.

mod tls_support;

use proconsul_runtime_tokio::tls::{PeerIdentityError, PeerPolicy, TrustBundle, peer_spiffe_id};
use rustls::{AlertDescription, CertificateError, ProtocolVersion};
use tls_support::*;

fn is_expired(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        )
    )
}

fn is_not_yet_valid(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        )
    )
}

const UNKNOWN_ISSUER: rustls::Error =
    rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);

fn alert(d: AlertDescription) -> Option<rustls::Error> {
    Some(rustls::Error::AlertReceived(d))
}

#[test]
fn web_and_db_complete_mtls_and_each_side_learns_the_peer_spiffe_id() {
    let mut ca = primary(1);
    let (web, db) = (issue(&mut ca, "web", 1, NOW), issue(&mut ca, "db", 1, NOW));
    assert!(web.chain().len() == 1 && db.chain().len() == 1, "primary leaves chain to the root");
    let bundle = bundle_of(&ca);
    let web_id = service_id(&ca, "web");
    let db_id = service_id(&ca, "db");

    let client_cfg = client(&mesh(&web, &bundle, NOW), PeerPolicy::Exact(db_id.clone()));
    let server_cfg = server(&mesh(&db, &bundle, NOW), PeerPolicy::Exact(web_id.clone()));
    let (mut c, mut s) = handshake(client_cfg, server_cfg).expect("mTLS between web and db");

    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(peer_spiffe_id(&c), Some(db_id));
    assert_eq!(peer_spiffe_id(&s), Some(web_id));
    exchange(&mut c, &mut s, b"GET /users", b"200 OK");
}

#[test]
fn tls12_handshake_verifies_both_identities_too() {
    let mut ca = primary(1);
    let (web, db) = (issue(&mut ca, "web", 1, NOW), issue(&mut ca, "db", 1, NOW));
    let bundle = bundle_of(&ca);
    static TLS12_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    let tls12 = &TLS12_ONLY[..];
    let client_cfg = client(
        &mesh(&web, &bundle, NOW).with_protocol_versions(tls12),
        PeerPolicy::Exact(service_id(&ca, "db")),
    );
    let server_cfg = server(
        &mesh(&db, &bundle, NOW).with_protocol_versions(tls12),
        PeerPolicy::Exact(service_id(&ca, "web")),
    );
    let (mut c, mut s) = handshake(client_cfg, server_cfg).expect("TLS 1.2 mTLS");
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(peer_spiffe_id(&c), Some(service_id(&ca, "db")));
    assert_eq!(peer_spiffe_id(&s), Some(service_id(&ca, "web")));
    exchange(&mut c, &mut s, b"ping", b"pong");
}

#[test]
fn peer_spiffe_id_is_none_before_the_handshake() {
    let mut ca = primary(1);
    let web = issue(&mut ca, "web", 1, NOW);
    let cfg = client(&mesh(&web, &bundle_of(&ca), NOW), PeerPolicy::Exact(service_id(&ca, "db")));
    let name = rustls::pki_types::ServerName::try_from("db.example").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    assert_eq!(peer_spiffe_id(&conn), None);
}

#[test]
fn server_refuses_a_client_whose_service_the_policy_does_not_allow() {
    let mut ca = primary(1);
    let (api, db) = (issue(&mut ca, "api", 1, NOW), issue(&mut ca, "db", 1, NOW));
    let bundle = bundle_of(&ca);
    let web_id = service_id(&ca, "web");
    let only_web = PeerPolicy::predicate(move |id| *id == web_id);

    let r = refusal(
        client(&mesh(&api, &bundle, NOW), PeerPolicy::Exact(service_id(&ca, "db"))),
        server(&mesh(&db, &bundle, NOW), only_web),
    );
    assert_eq!(r.by, Side::Server);
    assert_eq!(
        PeerIdentityError::from_rustls(&r.error),
        Some(&PeerIdentityError::NotAllowed(service_id(&ca, "api"))),
        "{}",
        r.error
    );
    assert!(r.error.to_string().contains("/svc/api"), "the reason names the identity: {}", r.error);
    assert_eq!(r.peer_saw, alert(AlertDescription::CertificateUnknown));
}

#[test]
fn client_refuses_a_server_presenting_another_identity_than_expected() {
    let mut ca = primary(1);
    let (web, cache) = (issue(&mut ca, "web", 1, NOW), issue(&mut ca, "cache", 1, NOW));
    let bundle = bundle_of(&ca);
    let r = refusal(
        client(&mesh(&web, &bundle, NOW), PeerPolicy::Exact(service_id(&ca, "db"))),
        server(&mesh(&cache, &bundle, NOW), PeerPolicy::TrustDomain(ca.trust_domain().clone())),
    );
    assert_eq!(r.by, Side::Client);
    assert_eq!(
        PeerIdentityError::from_rustls(&r.error),
        Some(&PeerIdentityError::NotAllowed(service_id(&ca, "cache")))
    );
    assert_eq!(r.peer_saw, alert(AlertDescription::CertificateUnknown));
}

#[test]
fn a_leaf_from_a_foreign_ca_is_refused_as_unknown_issuer_both_ways() {
    let mut ours = primary(1);
    let mut foreign = primary(99);
    let bundle = bundle_of(&ours);
    // The impostor trusts both CAs (roots are public); only its own leaf is foreign.
    let impostor_bundle =
        TrustBundle::from_ders(ours.trust_bundle().into_iter().chain(foreign.trust_bundle()))
            .unwrap();
    let db = issue(&mut ours, "db", 1, NOW);
    let web = issue(&mut ours, "web", 1, NOW);
    // Same service name, same key even: only the issuing CA differs.
    let evil_web = issue(&mut foreign, "web", 1, NOW);
    let evil_db = issue(&mut foreign, "db", 1, NOW);
    let any = |ca: &proconsul_core::ca::CertificateAuthority| {
        PeerPolicy::predicate({
            let td = ca.trust_domain().clone();
            move |id| *id.trust_domain() == td
        })
    };

    let r = refusal(
        client(&mesh(&evil_web, &impostor_bundle, NOW), PeerPolicy::predicate(|_| true)),
        server(&mesh(&db, &bundle, NOW), any(&ours)),
    );
    assert_eq!((r.by, &r.error), (Side::Server, &UNKNOWN_ISSUER));
    assert_eq!(r.peer_saw, alert(AlertDescription::UnknownCA));

    let r = refusal(
        client(&mesh(&web, &bundle, NOW), any(&ours)),
        server(&mesh(&evil_db, &impostor_bundle, NOW), PeerPolicy::predicate(|_| true)),
    );
    assert_eq!((r.by, &r.error), (Side::Client, &UNKNOWN_ISSUER));
}

#[test]
fn an_expired_leaf_is_refused_with_an_expiry_error() {
    let mut ca = primary(1);
    let bundle = bundle_of(&ca);
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    let old_web = issue(&mut ca, "web", 1, NOW);
    // Issued 72 h later, so it is fresh when `old_web` (72 h TTL) has just expired.
    let later = NOW.plus_secs(72 * HOUR);
    let fresh_db = issue(&mut ca, "db", 1, later);
    let fresh_web = issue(&mut ca, "web", 2, later);
    let old_db = issue(&mut ca, "db", 2, NOW);
    let t = later.plus_secs(HOUR);

    let r = refusal(
        client(&mesh(&old_web, &bundle, t), td.clone()),
        server(&mesh(&fresh_db, &bundle, t), td.clone()),
    );
    assert_eq!(r.by, Side::Server);
    assert!(is_expired(&r.error), "{:?}", r.error);
    assert_eq!(r.peer_saw, alert(AlertDescription::CertificateExpired));

    let r = refusal(
        client(&mesh(&fresh_web, &bundle, t), td.clone()),
        server(&mesh(&old_db, &bundle, t), td.clone()),
    );
    assert_eq!(r.by, Side::Client);
    assert!(is_expired(&r.error), "{:?}", r.error);

    // One second before the end of validity, the same pair still works.
    let edge = NOW.plus_secs(72 * HOUR - 1);
    handshake(
        client(&mesh(&old_web, &bundle, edge), td.clone()),
        server(&mesh(&fresh_db, &bundle, edge), td),
    )
    .expect("valid until its NotAfter");
}

#[test]
fn a_not_yet_valid_leaf_is_refused() {
    let mut ca = primary(1);
    let bundle = bundle_of(&ca);
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    let web = issue(&mut ca, "web", 1, NOW);
    let db = issue(&mut ca, "db", 1, NOW);
    // Leaves are backdated one minute; two minutes before issuance they are not valid yet.
    let early = NOW.plus_secs(-120);
    let r = refusal(
        client(&mesh(&web, &bundle, early), td.clone()),
        server(&mesh(&db, &bundle, early), td.clone()),
    );
    assert_eq!(r.by, Side::Client, "the client verifies the server's leaf first");
    assert!(is_not_yet_valid(&r.error), "{:?}", r.error);

    // A server whose clock is behind refuses the client the same way.
    let r = refusal(
        client(&mesh(&web, &bundle, NOW), td.clone()),
        server(&mesh(&db, &bundle, early), td.clone()),
    );
    assert_eq!(r.by, Side::Server);
    assert!(is_not_yet_valid(&r.error), "{:?}", r.error);

    // Within the backdate window they are valid.
    handshake(
        client(&mesh(&web, &bundle, NOW.plus_secs(-59)), td.clone()),
        server(&mesh(&db, &bundle, NOW.plus_secs(-59)), td),
    )
    .expect("valid from one minute before issuance");
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let mut ca = primary(1);
    let db = issue(&mut ca, "db", 1, NOW);
    let bundle = bundle_of(&ca);
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = proconsul_runtime_tokio::tls::SpiffeServerVerifier::new(
        bundle.clone(),
        PeerPolicy::Exact(service_id(&ca, "db")),
        &provider,
    );
    let anonymous = rustls::ClientConfig::builder_with_details(provider, clock_at(NOW))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    let r = refusal(anonymous, server(&mesh(&db, &bundle, NOW), PeerPolicy::predicate(|_| true)));
    assert_eq!(r.by, Side::Server);
    assert_eq!(r.error, rustls::Error::NoCertificatesPresented);
    assert_eq!(r.peer_saw, alert(AlertDescription::CertificateRequired));
}

#[test]
fn a_secondary_datacenter_leaf_verifies_against_the_primary_roots() {
    let mut pri = primary(1);
    let mut sec = secondary(&mut pri, "dc2", 2, NOW);
    let web2 = issue(&mut sec, "web", 1, NOW);
    assert_eq!(web2.chain().len(), 2, "leaf + dc2 intermediate");
    let db1 = issue(&mut pri, "db", 1, NOW);
    // Agents in either datacenter hold the primary's roots; the secondary has no root.
    let (bundle1, bundle2) = (bundle_of(&pri), bundle_of(&sec));
    assert_eq!(bundle1.snapshot().roots(), bundle2.snapshot().roots());

    let web2_id = service_id(&sec, "web");
    let db1_id = service_id(&pri, "db");
    let (c, s) = handshake(
        client(&mesh(&web2, &bundle2, NOW), PeerPolicy::Exact(db1_id.clone())),
        server(&mesh(&db1, &bundle1, NOW), PeerPolicy::Exact(web2_id.clone())),
    )
    .expect("dc2 web dials dc1 db");
    assert_eq!(peer_spiffe_id(&s), Some(web2_id.clone()));
    assert_eq!(peer_spiffe_id(&c), Some(db1_id.clone()));

    // And the other way round: dc1 dials a dc2 server.
    let web1 = issue(&mut pri, "web", 1, NOW);
    let db2 = issue(&mut sec, "db", 1, NOW);
    let (c, _) = handshake(
        client(&mesh(&web1, &bundle1, NOW), PeerPolicy::Exact(service_id(&sec, "db"))),
        server(&mesh(&db2, &bundle2, NOW), PeerPolicy::Exact(service_id(&pri, "web"))),
    )
    .expect("dc1 web dials dc2 db");
    assert_eq!(peer_spiffe_id(&c), Some(service_id(&sec, "db")));
}

#[test]
fn a_secondary_leaf_without_its_intermediate_is_refused() {
    let mut pri = primary(1);
    let mut sec = secondary(&mut pri, "dc2", 2, NOW);
    let web2 = issue(&mut sec, "web", 1, NOW);
    let db1 = issue(&mut pri, "db", 1, NOW);
    let bundle = bundle_of(&pri);
    // Present the bare leaf: nothing links it to the root.
    let key =
        proconsul_core::ca::generate_leaf_key(&mut proconsul_core::rng::Seed(1).stream("web"))
            .unwrap();
    let leaf_pem = proconsul_core::ca::pem_encode("CERTIFICATE", web2.chain()[0].as_ref());
    let bare = proconsul_runtime_tokio::tls::TlsIdentity::from_pem(&leaf_pem, &key.to_pkcs8_der())
        .unwrap();
    let td = PeerPolicy::TrustDomain(pri.trust_domain().clone());
    let r = refusal(
        client(&mesh(&bare, &bundle, NOW), td.clone()),
        server(&mesh(&db1, &bundle, NOW), td),
    );
    assert_eq!((r.by, &r.error), (Side::Server, &UNKNOWN_ISSUER));
}

#[test]
fn replacing_the_bundle_reaches_configs_already_built() {
    let mut ours = primary(1);
    let mut other = primary(2);
    let bundle = bundle_of(&ours);
    let db = issue(&mut ours, "db", 1, NOW);
    let stranger = issue(&mut other, "web", 1, NOW);
    let anyone = PeerPolicy::predicate(|_| true);
    let server_cfg = std::sync::Arc::new(server(&mesh(&db, &bundle, NOW), anyone.clone()));
    // The stranger already trusts both CAs; only the server's bundle changes below.
    let stranger_bundle =
        TrustBundle::from_ders(ours.trust_bundle().into_iter().chain(other.trust_bundle()))
            .unwrap();
    let stranger_cfg =
        std::sync::Arc::new(client(&mesh(&stranger, &stranger_bundle, NOW), anyone.clone()));
    let attempt = || handshake((*stranger_cfg).clone(), (*server_cfg).clone());

    let r = attempt().expect_err("unknown CA at first");
    assert_eq!(r.error, UNKNOWN_ISSUER);

    let mut both = ours.trust_bundle();
    both.extend(other.trust_bundle());
    bundle.replace(&both).unwrap();
    let (_, s) = attempt().expect("trusted after the bundle gained the other root");
    assert_eq!(peer_spiffe_id(&s), Some(service_id(&other, "web")));

    bundle.replace(ours.trust_bundle()).unwrap();
    assert_eq!(attempt().expect_err("untrusted again").error, UNKNOWN_ISSUER);

    // A refused replacement leaves the bundle as it was.
    assert!(bundle.replace(Vec::<Vec<u8>>::new()).is_err());
    assert_eq!(bundle.snapshot().roots().len(), 1);
    assert_eq!(attempt().expect_err("still untrusted").error, UNKNOWN_ISSUER);
}

#[test]
fn a_trust_domain_policy_admits_any_service_and_leaves_authorization_to_the_caller() {
    let mut ca = primary(1);
    let bundle = bundle_of(&ca);
    let db = issue(&mut ca, "db", 1, NOW);
    let server_cfg =
        server(&mesh(&db, &bundle, NOW), PeerPolicy::TrustDomain(ca.trust_domain().clone()));
    for svc in ["web", "api", "billing"] {
        let leaf = issue(&mut ca, svc, 3, NOW);
        let (_, s) = handshake(
            client(&mesh(&leaf, &bundle, NOW), PeerPolicy::Exact(service_id(&ca, "db"))),
            server_cfg.clone(),
        )
        .expect("same trust domain");
        let peer = peer_spiffe_id(&s).expect("verified peer");
        // What the built-in proxy's intentions check would be fed.
        let (_, service, _) = peer.as_service().expect("a service identity");
        assert_eq!(service.as_str(), svc);
    }
}

#[test]
fn a_key_that_does_not_match_the_leaf_cannot_make_a_config() {
    let mut ca = primary(1);
    let web = issue(&mut ca, "web", 1, NOW);
    let other_key =
        proconsul_core::ca::generate_leaf_key(&mut proconsul_core::rng::Seed(7).stream("x"))
            .unwrap();
    let pem: String = web
        .chain()
        .iter()
        .map(|c| proconsul_core::ca::pem_encode("CERTIFICATE", c.as_ref()))
        .collect();
    let wrong =
        proconsul_runtime_tokio::tls::TlsIdentity::from_pem(&pem, &other_key.to_pkcs8_der())
            .unwrap();
    let m = mesh(&wrong, &bundle_of(&ca), NOW);
    let err = m.server_config(PeerPolicy::predicate(|_| true)).expect_err("mismatched key");
    assert!(matches!(err, proconsul_runtime_tokio::tls::ConfigError::Rustls(_)), "{err}");
    assert!(m.client_config(PeerPolicy::predicate(|_| true)).is_err());
}
