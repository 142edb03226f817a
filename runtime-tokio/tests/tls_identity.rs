//! The identity side of verification, certificate by certificate: which SANs make a
//! SPIFFE identity, how non-conforming and malformed certificates are refused (typed, never
//! a panic), and how bundles and identities refuse bad inputs.
//!
//! Non-conforming leaves (no URI, two URIs, a non-SPIFFE URI) cannot come from the Connect
//! CA, which refuses such CSRs, so a throwaway rcgen CA signs them here, with seeded keys.

mod tls_support;

use std::sync::Arc;

use proconsul_core::ca::{KeyType, PrivateKey, pem_encode};
use proconsul_core::rng::Seed;
use proconsul_runtime_tokio::tls::{
    BundleError, ConfigError, PeerIdentityError, PeerPolicy, SpiffeClientVerifier,
    SpiffeServerVerifier, TlsIdentity, TrustBundle, spiffe_id_of,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, SanType, date_time_ymd,
};
use rustls::CertificateError;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use tls_support::*;

const TD: &str = "11111111-2222-3333-4444-555555555555.consul";

/// A throwaway CA (not the Connect CA) that signs whatever SANs a test asks for.
struct TestCa {
    issuer: Issuer<'static, PrivateKey>,
    root_der: Vec<u8>,
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::generate(KeyType::EcP256, &mut Seed(5).stream(name)).unwrap()
}

fn test_ca() -> TestCa {
    let root_key = key("root");
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "test root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2026, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    let root_der = params.self_signed(&root_key).unwrap().der().to_vec();
    TestCa { issuer: Issuer::new(params, root_key), root_der }
}

impl TestCa {
    /// A leaf valid around `NOW` with exactly these SANs; returns (leaf DER, its key).
    fn leaf(&self, sans: &[&str]) -> (CertificateDer<'static>, PrivateKey) {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = sans
            .iter()
            .map(|s| match s.strip_prefix("dns:") {
                Some(dns) => SanType::DnsName((*dns).try_into().unwrap()),
                None => SanType::URI((*s).try_into().unwrap()),
            })
            .collect();
        params.is_ca = IsCa::ExplicitNoCa;
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2026, 6, 1);
        params.not_after = date_time_ymd(2028, 1, 1);
        let leaf_key = key(&sans.join(","));
        let der = params.signed_by(&leaf_key, &self.issuer).unwrap().der().clone();
        (der, leaf_key)
    }

    fn bundle(&self) -> TrustBundle {
        TrustBundle::from_ders([&self.root_der]).unwrap()
    }
}

fn web_uri() -> String {
    format!("spiffe://{TD}/ns/default/dc/dc1/svc/web")
}

fn verifiers(bundle: &TrustBundle) -> (SpiffeServerVerifier, SpiffeClientVerifier) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let anyone = PeerPolicy::predicate(|_| true);
    (
        SpiffeServerVerifier::new(bundle.clone(), anyone.clone(), &provider),
        SpiffeClientVerifier::new(bundle.clone(), anyone, provider),
    )
}

/// Both verifiers' verdicts on a lone leaf at `NOW`, as identity refusals.
fn identity_refusals(
    bundle: &TrustBundle,
    leaf: &CertificateDer<'_>,
) -> (Option<PeerIdentityError>, Option<PeerIdentityError>) {
    let (server_side, client_side) = verifiers(bundle);
    let t = pki_time(NOW);
    let as_identity = |r: Result<_, rustls::Error>| {
        let e = r.expect_err("refused");
        PeerIdentityError::from_rustls(&e).cloned()
    };
    (
        as_identity(server_side.verify_peer(leaf, &[], t)),
        as_identity(client_side.verify_peer(leaf, &[], t)),
    )
}

#[test]
fn the_one_uri_san_is_the_identity_and_dns_names_are_ignored() {
    let ca = test_ca();
    let (leaf, _) = ca.leaf(&["dns:web.example.com", &web_uri(), "dns:web"]);
    let id = spiffe_id_of(&leaf).unwrap();
    assert_eq!(id.to_string(), web_uri());
    let (server_side, client_side) = verifiers(&ca.bundle());
    assert_eq!(server_side.verify_peer(&leaf, &[], pki_time(NOW)).unwrap(), id);
    assert_eq!(client_side.verify_peer(&leaf, &[], pki_time(NOW)).unwrap(), id);
}

#[test]
fn the_server_name_the_client_dialed_is_not_matched_against_the_leaf() {
    let mut ca = primary(1);
    let db = issue(&mut ca, "db", 1, NOW);
    let provider = rustls::crypto::ring::default_provider();
    let v = SpiffeServerVerifier::new(
        bundle_of(&ca),
        PeerPolicy::Exact(service_id(&ca, "db")),
        &provider,
    );
    for name in ["db.default.dc1.internal.example.consul", "10.0.0.7", "unrelated.example"] {
        let name = ServerName::try_from(name).unwrap();
        v.verify_server_cert(&db.chain()[0], &[], &name, &[], pki_time(NOW))
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    }
}

#[test]
fn a_leaf_without_exactly_one_uri_san_is_refused_by_both_verifiers() {
    let ca = test_ca();
    let bundle = ca.bundle();
    let other = format!("spiffe://{TD}/ns/default/dc/dc1/svc/api");
    for (sans, count) in
        [(vec!["dns:web.example.com"], 0), (vec![web_uri().as_str(), other.as_str()], 2)]
    {
        let (leaf, _) = ca.leaf(&sans);
        let want = PeerIdentityError::UriSanCount(count);
        assert_eq!(spiffe_id_of(&leaf), Err(want.clone()));
        assert_eq!(identity_refusals(&bundle, &leaf), (Some(want.clone()), Some(want)));
    }
}

#[test]
fn a_leaf_with_no_san_extension_at_all_is_refused() {
    let ca = test_ca();
    let (leaf, _) = ca.leaf(&[]);
    assert_eq!(spiffe_id_of(&leaf), Err(PeerIdentityError::UriSanCount(0)));
}

#[test]
fn a_uri_that_is_not_a_consul_spiffe_id_is_refused_and_named() {
    let ca = test_ca();
    let bundle = ca.bundle();
    let bad_path = format!("spiffe://{TD}/workload/web");
    for uri in ["https://web.example.com/", bad_path.as_str(), "spiffe://"] {
        let (leaf, _) = ca.leaf(&[uri]);
        let err = spiffe_id_of(&leaf).unwrap_err();
        assert!(
            matches!(&err, PeerIdentityError::NotSpiffe { uri: got, .. } if got == uri),
            "{uri}: {err}"
        );
        let (s, c) = identity_refusals(&bundle, &leaf);
        assert_eq!((s.as_ref(), c.as_ref()), (Some(&err), Some(&err)));
    }
}

#[test]
fn identity_refusals_read_clearly_through_rustls() {
    let ca = test_ca();
    let (leaf, _) = ca.leaf(&["https://web.example.com/"]);
    let (server_side, _) = verifiers(&ca.bundle());
    let err = server_side.verify_peer(&leaf, &[], pki_time(NOW)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"https://web.example.com/\" is not a Consul SPIFFE ID"), "{text}");
}

#[test]
fn malformed_certificates_are_refused_as_bad_encoding_without_panicking() {
    let mut ca = primary(1);
    let web = issue(&mut ca, "web", 1, NOW);
    let (server_side, client_side) = verifiers(&bundle_of(&ca));
    let good = web.chain()[0].as_ref().to_vec();
    let bad_encoding = rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    for bytes in
        [vec![], vec![0x30], good[..good.len() / 2].to_vec(), b"not a certificate".to_vec()]
    {
        let der = CertificateDer::from(bytes.clone());
        assert!(matches!(spiffe_id_of(&bytes), Err(PeerIdentityError::Malformed(_))), "{bytes:?}");
        assert_eq!(server_side.verify_peer(&der, &[], pki_time(NOW)), Err(bad_encoding.clone()));
        assert_eq!(client_side.verify_peer(&der, &[], pki_time(NOW)), Err(bad_encoding.clone()));
    }
}

#[test]
fn the_client_verifier_demands_a_certificate_and_sends_no_root_hints() {
    let ca = test_ca();
    let (_, client_side) = verifiers(&ca.bundle());
    assert!(client_side.offer_client_auth());
    assert!(client_side.client_auth_mandatory());
    assert!(client_side.root_hint_subjects().is_empty());
}

#[test]
fn policies_match_exactly_by_trust_domain_or_by_predicate() {
    let mut ca = primary(1);
    let web = service_id(&ca, "web");
    let api = service_id(&ca, "api");
    let foreign = service_id(&primary(2), "web");
    let exact = PeerPolicy::Exact(web.clone());
    assert!(exact.allows(&web) && !exact.allows(&api) && !exact.allows(&foreign));
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    assert!(td.allows(&web) && td.allows(&api) && !td.allows(&foreign));
    let pred =
        PeerPolicy::predicate(|id| id.as_service().is_some_and(|(_, s, _)| s.as_str() != "api"));
    assert!(pred.allows(&web) && !pred.allows(&api) && pred.allows(&foreign));
    assert_eq!(format!("{pred:?}"), "Predicate(..)");
    assert!(format!("{exact:?}").contains("/svc/web"));
    let _ = issue(&mut ca, "web", 1, NOW);
}

#[test]
fn bundles_refuse_empty_sets_and_unusable_roots() {
    let ca = test_ca();
    assert_eq!(TrustBundle::from_ders(Vec::<Vec<u8>>::new()).unwrap_err(), BundleError::Empty);
    let err = TrustBundle::from_ders([ca.root_der.clone(), b"junk".to_vec()]).unwrap_err();
    assert!(matches!(err, BundleError::BadRoot { index: 1, .. }), "{err}");
    let bundle = ca.bundle();
    assert!(bundle.replace([b"junk".to_vec()]).is_err());
    assert_eq!(bundle.snapshot().roots()[0].as_ref(), ca.root_der.as_slice(), "unchanged");
}

#[test]
fn a_bundle_from_the_roots_response_trusts_every_listed_root() {
    let mut ca = primary(1);
    ca.update_config(proconsul_core::ca::CaConfig::default(), true, NOW.plus_secs(HOUR)).unwrap();
    let response = ca.roots();
    assert_eq!(response.roots.len(), 2, "old and new root during rotation");
    let from_response = TrustBundle::from_roots_response(&response).unwrap();
    let mut want: Vec<Vec<u8>> =
        from_response.snapshot().roots().iter().map(|c| c.as_ref().to_vec()).collect();
    let mut got = ca.trust_bundle();
    want.sort();
    got.sort();
    assert_eq!(want, got);
    // A root record whose PEM is garbage is refused with its position.
    let mut broken = response.clone();
    broken.roots[1].root_cert = "-----BEGIN CERTIFICATE-----\nnope\n".into();
    let err = from_response.replace_from_roots_response(&broken).unwrap_err();
    assert!(matches!(err, BundleError::BadRoot { index: 1, .. }), "{err}");
}

#[test]
fn identities_refuse_chains_without_a_spiffe_leaf() {
    let key_der = key("k").to_pkcs8_der();
    assert!(matches!(TlsIdentity::from_pem("", &key_der), Err(ConfigError::ChainPem(_))));
    let ca = test_ca();
    let (leaf, leaf_key) = ca.leaf(&["dns:web.example.com"]);
    let pem = pem_encode("CERTIFICATE", &leaf);
    assert_eq!(
        TlsIdentity::from_pem(&pem, &leaf_key.to_pkcs8_der()).unwrap_err(),
        ConfigError::OwnIdentity(PeerIdentityError::UriSanCount(0))
    );
}

fn proptest_config(cases: u32) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0x5052_4f43_4f4e_5355_u64);
    eprintln!(
        "seed={seed} reproduce: PROPTEST_RNG_SEED={seed} cargo test -p proconsul-runtime-tokio --test tls_identity"
    );
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// Corrupting any bytes of a real leaf (as a hostile peer could) gives a typed refusal
    /// from both verifiers, or, if the change happens to keep the signature valid, the same
    /// identity: never a panic, never another identity.
    #[test]
    fn corrupted_leaves_are_refused_or_unchanged_never_a_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        thread_local! {
            static FIXTURE: (Vec<u8>, TrustBundle, proconsul_core::ids::SpiffeId) = {
                let mut ca = primary(1);
                let web = issue(&mut ca, "web", 1, NOW);
                (web.chain()[0].as_ref().to_vec(), bundle_of(&ca), service_id(&ca, "web"))
            };
        }
        FIXTURE.with(|(good, bundle, id)| {
            let mut bytes = good.clone();
            for (at, xor) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= xor;
            }
            if let Some(at) = cut {
                bytes.truncate(at.index(bytes.len()));
            }
            // Unverified bytes may read as any identity (a flip in the SAN): only the
            // verifiers vouch for one. Reading must merely not panic.
            let _ = spiffe_id_of(&bytes);
            let (server_side, client_side) = verifiers(bundle);
            let der = CertificateDer::from(bytes);
            let s = server_side.verify_peer(&der, &[], pki_time(NOW));
            let c = client_side.verify_peer(&der, &[], pki_time(NOW));
            // The CA's signature covers every byte but the signature itself, so a corrupted
            // leaf is refused unless only the signature's DER padding could have changed.
            prop_assert_eq!(s.is_ok(), c.is_ok());
            if let Ok(got) = s {
                prop_assert_eq!(&got, id);
            }
            Ok(())
        })?;
    }
}
