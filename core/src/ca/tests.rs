//! The CA: roots, leaves, refusals, intermediates, rotation, renewal, determinism.

use std::collections::BTreeSet;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;
use crate::ids::{Datacenter, SpiffeId, TrustDomain};
use crate::rng::Seed;
use crate::time::UnixTime;

pub(super) const NOW: UnixTime = UnixTime(1_800_000_000);
const HOUR: i64 = 3600;

pub(super) fn dc(name: &str) -> Datacenter {
    Datacenter::new(name).unwrap()
}

pub(super) fn primary(seed: u64) -> CertificateAuthority {
    CertificateAuthority::new_primary(CaConfig::default(), dc("dc1"), Seed(seed).stream("ca"), NOW)
        .unwrap()
}

pub(super) fn service_id(ca: &CertificateAuthority, dc_name: &str, svc: &str) -> SpiffeId {
    SpiffeId::service(ca.trust_domain().clone(), dc(dc_name), svc.parse().unwrap())
}

pub(super) fn csr_for(id: &SpiffeId, seed: u64) -> Vec<u8> {
    let key = generate_leaf_key(&mut Seed(seed).stream("leaf")).unwrap();
    leaf_csr(id, &key, &[]).unwrap()
}

fn first_der(pem: &str) -> Vec<u8> {
    pem_decode_all(pem).unwrap().remove(0)
}

fn uris(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else { return vec![] };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some((*u).to_owned()),
            _ => None,
        })
        .collect()
}

fn key_ids(cert: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            _ => {}
        }
    }
    (ski, aki)
}

#[test]
fn primary_draws_its_trust_domain_and_self_signs_a_spiffe_root() {
    let ca = primary(1);
    let td = ca.trust_domain().as_str();
    assert!(td.ends_with(".consul") && td.len() == 36 + 7, "{td}");
    assert_eq!(primary(1).trust_domain(), ca.trust_domain(), "seeded");
    assert_ne!(primary(2).trust_domain(), ca.trust_domain());
    let roots = ca.roots();
    assert_eq!(roots.roots.len(), 1);
    let root = &roots.roots[0];
    assert!(root.active);
    assert_eq!(roots.active_root_id, root.id);
    assert_eq!(roots.trust_domain, td);
    assert_eq!((root.private_key_type.as_str(), root.private_key_bits), ("ec", 256));
    assert!(root.root_cert.ends_with("-----END CERTIFICATE-----\n"));
    let der = first_der(&root.root_cert);
    assert_eq!(root.id, root_id(&der));
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(cert.is_ca());
    assert_eq!(cert.subject(), cert.issuer());
    assert_eq!(uris(&cert), [format!("spiffe://{td}")]);
    let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_owned();
    assert!(
        cn.starts_with("pri-") && cn.ends_with(&format!(".consul.ca.{}.consul", &td[..8])),
        "{cn}"
    );
    assert_eq!(cert.validity().not_before.timestamp(), NOW.secs());
    assert_eq!(cert.validity().not_after.timestamp(), NOW.secs() + 87600 * HOUR);
    let (ski, _) = key_ids(&cert);
    assert_eq!(colon_hex(&ski.unwrap()), root.signing_key_id);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
}

#[test]
fn leaf_from_csr_carries_the_spiffe_id_validity_and_usages() {
    let mut ca = primary(1);
    let id = service_id(&ca, "dc1", "web");
    let issued = ca.sign_leaf(&csr_for(&id, 10), &Requester::Any, NOW).unwrap();
    assert_eq!(issued.uri, id.to_string());
    assert_eq!(issued.service, "web");
    assert_eq!(issued.valid_after, NOW.plus_secs(-60));
    assert_eq!(issued.valid_before, NOW.plus_secs(72 * HOUR));
    assert_eq!(issued.root_id, ca.roots().active_root_id);
    let chain = pem_decode_all(&issued.cert_pem).unwrap();
    assert_eq!(chain.len(), 1, "a primary's leaves chain straight to the root");
    let (_, cert) = X509Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(uris(&cert), [id.to_string()]);
    assert!(cert.subject().as_raw().len() <= 2, "empty subject");
    assert!(
        cert.subject_alternative_name().unwrap().unwrap().critical,
        "SAN critical with empty subject"
    );
    assert!(!cert.is_ca());
    assert_eq!(cert.validity().not_before.timestamp(), NOW.secs() - 60);
    assert_eq!(cert.validity().not_after.timestamp(), NOW.secs() + 72 * HOUR);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment() && ku.key_agreement());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    let (ski, aki) = key_ids(&cert);
    assert!(ski.is_some());
    assert_eq!(colon_hex(&aki.unwrap()), ca.roots().roots[0].signing_key_id);
    assert_eq!(issued.serial_number, colon_hex(cert.raw_serial()));
}

#[test]
fn serials_are_unique() {
    let mut ca = primary(1);
    let id = service_id(&ca, "dc1", "web");
    let serials: BTreeSet<String> = (0..20)
        .map(|i| ca.sign_leaf(&csr_for(&id, i), &Requester::Any, NOW).unwrap().serial_number)
        .collect();
    assert_eq!(serials.len(), 20);
}

#[test]
fn a_seed_reproduces_every_certificate_byte() {
    let issue = || {
        let mut ca = primary(7);
        let id = service_id(&ca, "dc1", "web");
        let leaf = ca.sign_leaf(&csr_for(&id, 3), &Requester::Any, NOW).unwrap();
        (ca.roots().roots[0].root_cert.clone(), leaf.cert_pem)
    };
    assert_eq!(issue(), issue());
}

fn refusal(ca: &mut CertificateAuthority, csr: &[u8], who: &Requester) -> CaError {
    let before = ca.roots();
    let err = ca.sign_leaf(csr, who, NOW).unwrap_err();
    assert_eq!(ca.roots(), before, "a refusal changes nothing");
    err
}

#[test]
fn leaf_refusals_are_typed_with_clear_messages() {
    let mut ca = primary(1);
    let other_td = SpiffeId::service(
        TrustDomain::new("22222222-2222-2222-2222-222222222222.consul").unwrap(),
        dc("dc1"),
        "web".parse().unwrap(),
    );
    let err = refusal(&mut ca, &csr_for(&other_td, 1), &Requester::Any);
    assert!(matches!(err, CaError::TrustDomain { .. }), "{err}");
    assert!(
        err.to_string().starts_with("SPIFFE ID in CSR from a different trust domain: 22222222")
    );

    let other_dc = service_id(&ca, "dc2", "web");
    let err = refusal(&mut ca, &csr_for(&other_dc, 1), &Requester::Any);
    assert_eq!(err.to_string(), "SPIFFE ID in CSR from a different datacenter: dc2, we are dc1");

    let web = service_id(&ca, "dc1", "web");
    let only_db = Requester::Services(BTreeSet::from(["db".to_owned()]));
    let err = refusal(&mut ca, &csr_for(&web, 1), &only_db);
    assert_eq!(err, CaError::NotPermitted(web.to_string()));
    let web_ok = Requester::Services(BTreeSet::from(["web".to_owned()]));
    ca.sign_leaf(&csr_for(&web, 1), &web_ok, NOW).unwrap();

    let key = generate_leaf_key(&mut Seed(1).stream("k")).unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["web.service.consul".to_owned()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    let dns_only = p.serialize_request(&key).unwrap().der().to_vec();
    assert_eq!(refusal(&mut ca, &dns_only, &Requester::Any), CaError::UriCount(0));

    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![
        rcgen::SanType::URI(web.to_string().as_str().try_into().unwrap()),
        rcgen::SanType::URI(service_id(&ca, "dc1", "db").to_string().as_str().try_into().unwrap()),
    ];
    let two = p.serialize_request(&key).unwrap().der().to_vec();
    let err = refusal(&mut ca, &two, &Requester::Any);
    assert_eq!(err.to_string(), "CSR SAN contains an invalid number of URIs: 2");

    let mut tampered = csr_for(&web, 1);
    let n = tampered.len();
    tampered[n - 10] ^= 0x55;
    assert!(matches!(refusal(&mut ca, &tampered, &Requester::Any), CaError::BadCsr(_)));
    assert!(matches!(refusal(&mut ca, b"not a csr", &Requester::Any), CaError::BadCsr(_)));

    let signing = csr_for(&ca.signing_id(), 1);
    assert_eq!(refusal(&mut ca, &signing, &Requester::Any), CaError::IdentityKind);
    let server =
        SpiffeId::Server { trust_domain: ca.trust_domain().clone(), datacenter: dc("dc1") };
    assert_eq!(refusal(&mut ca, &csr_for(&server, 1), &Requester::Any), CaError::IdentityKind);
}

#[test]
fn agents_may_get_their_own_agent_identity_only() {
    let mut ca = primary(1);
    let agent = SpiffeId::Agent {
        trust_domain: ca.trust_domain().clone(),
        partition: Default::default(),
        datacenter: dc("dc1"),
        node_id: "node-1".into(),
    };
    ca.sign_leaf(&csr_for(&agent, 1), &Requester::Agent("node-1".into()), NOW).unwrap();
    let err =
        ca.sign_leaf(&csr_for(&agent, 1), &Requester::Agent("node-2".into()), NOW).unwrap_err();
    assert!(matches!(err, CaError::NotPermitted(_)));
}

pub(super) fn secondary_of(
    primary: &mut CertificateAuthority,
    name: &str,
    seed: u64,
) -> CertificateAuthority {
    let mut sec = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc(name),
        &primary.roots(),
        Seed(seed).stream("ca"),
    )
    .unwrap();
    let csr = sec.intermediate_csr().unwrap();
    let pem = primary.sign_intermediate(&csr, NOW).unwrap();
    sec.install_intermediate(&pem, &primary.roots()).unwrap();
    sec
}

#[test]
fn secondary_signs_leaves_with_an_intermediate_from_the_primary() {
    let mut pri = primary(1);
    let mut sec = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc("dc2"),
        &pri.roots(),
        Seed(2).stream("ca"),
    )
    .unwrap();
    assert_eq!(sec.trust_domain(), pri.trust_domain());
    let id = service_id(&sec, "dc2", "api");
    assert_eq!(
        sec.sign_leaf(&csr_for(&id, 1), &Requester::Any, NOW).unwrap_err(),
        CaError::NoSigningCert
    );
    assert!(sec.needs_intermediate(&pri.roots()));
    let csr = sec.intermediate_csr().unwrap();
    let int_pem = pri.sign_intermediate(&csr, NOW).unwrap();
    let int_der = first_der(&int_pem);
    let (_, int) = X509Certificate::from_der(&int_der).unwrap();
    assert!(int.is_ca());
    let bc = int.basic_constraints().unwrap().unwrap().value;
    assert_eq!(bc.path_len_constraint, Some(0));
    assert_eq!(uris(&int), [pri.signing_id().to_string()]);
    assert!(int.subject().to_string().contains("sec-"));
    assert_eq!(int.validity().not_before.timestamp(), NOW.secs() - 60);
    assert_eq!(int.validity().not_after.timestamp(), NOW.secs() + 8760 * HOUR);

    sec.install_intermediate(&int_pem, &pri.roots()).unwrap();
    assert!(!sec.needs_intermediate(&pri.roots()));
    let active = sec.roots().roots.into_iter().find(|r| r.active).unwrap();
    assert_eq!(active.intermediate_certs, std::slice::from_ref(&int_pem));
    let issued = sec.sign_leaf(&csr_for(&id, 1), &Requester::Any, NOW).unwrap();
    let chain = pem_decode_all(&issued.cert_pem).unwrap();
    assert_eq!(chain.len(), 2, "leaf then intermediate");
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(leaf.issuer(), int.subject());
    // The primary refuses identities of the secondary's datacenter and vice versa.
    assert!(matches!(
        pri.sign_leaf(&csr_for(&id, 1), &Requester::Any, NOW),
        Err(CaError::Datacenter { .. })
    ));
}

#[test]
fn intermediate_signing_checks_the_csr_and_who_asks() {
    let mut pri = primary(1);
    let svc = service_id(&pri, "dc1", "web");
    let err = pri.sign_intermediate(&csr_for(&svc, 1), NOW).unwrap_err();
    assert!(matches!(err, CaError::IntermediateIdentity { .. }), "{err}");
    let mut sec = secondary_of(&mut pri, "dc2", 2);
    let csr = sec.intermediate_csr().unwrap();
    assert_eq!(
        sec.sign_intermediate(&csr, NOW).unwrap_err(),
        CaError::NotPrimary("sign intermediates")
    );
    // An intermediate for someone else's key is refused and the pending key kept.
    let mut other = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc("dc3"),
        &pri.roots(),
        Seed(3).stream("ca"),
    )
    .unwrap();
    let foreign = pri.sign_intermediate(&other.intermediate_csr().unwrap(), NOW).unwrap();
    let mut fresh = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc("dc4"),
        &pri.roots(),
        Seed(4).stream("ca"),
    )
    .unwrap();
    fresh.intermediate_csr().unwrap();
    assert!(matches!(
        fresh.install_intermediate(&foreign, &pri.roots()),
        Err(CaError::BadIntermediate(_))
    ));
    let mine = pri.sign_intermediate(&fresh.intermediate_csr().unwrap(), NOW).unwrap();
    fresh.install_intermediate(&mine, &pri.roots()).unwrap();
}

#[test]
fn rotation_cross_signs_the_new_root_and_keeps_the_old_until_its_leaves_expire() {
    let mut ca = primary(1);
    let old = ca.roots().roots[0].clone();
    let t = NOW.plus_secs(HOUR);
    assert!(
        !ca.update_config(CaConfig::default(), false, t).unwrap(),
        "same key type: config only"
    );
    assert!(ca.update_config(CaConfig::default(), true, t).unwrap());
    let roots = ca.roots();
    assert_eq!(roots.roots.len(), 2);
    let new = &roots.roots[0];
    assert!(new.active && new.id != old.id && roots.active_root_id == new.id);
    let old_now = &roots.roots[1];
    assert!(!old_now.active);
    assert_eq!(old_now.rotated_out_at, Some(t));
    assert_eq!(new.intermediate_certs.len(), 1);
    let cross_der = first_der(&new.intermediate_certs[0]);
    let (_, cross) = X509Certificate::from_der(&cross_der).unwrap();
    let new_cert_der = first_der(&new.root_cert);
    let (_, new_cert) = X509Certificate::from_der(&new_cert_der).unwrap();
    let old_cert_der = first_der(&old.root_cert);
    let (_, old_cert) = X509Certificate::from_der(&old_cert_der).unwrap();
    assert_eq!(cross.subject(), new_cert.subject());
    assert_eq!(cross.issuer(), old_cert.subject());
    assert_eq!(cross.public_key().raw, new_cert.public_key().raw);
    assert_eq!(colon_hex(&key_ids(&cross).1.unwrap()), old.signing_key_id);
    // New leaves chain to the new root and carry the cross-signed copy.
    let id = service_id(&ca, "dc1", "web");
    let issued = ca.sign_leaf(&csr_for(&id, 1), &Requester::Any, t).unwrap();
    assert_eq!(issued.root_id, new.id);
    assert_eq!(pem_decode_all(&issued.cert_pem).unwrap().len(), 2);
    // The old root stays while any leaf it signed can be valid.
    let leaf_end = t.secs() + 72 * HOUR + 60;
    assert_eq!(ca.prune_roots(UnixTime(leaf_end - 1)), 0);
    assert_eq!(ca.prune_roots(UnixTime(leaf_end)), 1);
    assert_eq!(ca.roots().roots.len(), 1);
}

#[test]
fn changing_the_key_type_rotates_and_secondaries_notice() {
    let mut pri = primary(1);
    let sec = secondary_of(&mut pri, "dc2", 2);
    let mut p384 = CaConfig::default();
    p384.config.private_key_bits = 384;
    assert!(pri.update_config(p384, false, NOW).unwrap());
    assert_eq!(pri.roots().roots[0].private_key_bits, 384);
    assert!(sec.needs_intermediate(&pri.roots()));
    let mut sec = sec;
    let err = sec.update_config(CaConfig::default(), true, NOW).unwrap_err();
    assert_eq!(err, CaError::NotPrimary("rotate the root"));
}

#[test]
fn rsa_roots_sign_p256_leaves() {
    let mut cfg = CaConfig::default();
    cfg.config.private_key_type = "rsa".into();
    cfg.config.private_key_bits = 2048;
    let mut ca =
        CertificateAuthority::new_primary(cfg, dc("dc1"), Seed(5).stream("ca"), NOW).unwrap();
    assert_eq!(ca.roots().roots[0].private_key_type, "rsa");
    let id = service_id(&ca, "dc1", "web");
    let issued = ca.sign_leaf(&csr_for(&id, 1), &Requester::Any, NOW).unwrap();
    let leaf_der = first_der(&issued.cert_pem);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(leaf.signature_algorithm.algorithm.to_id_string(), "1.2.840.113549.1.1.11");
}

#[test]
fn config_limits_name_the_field() {
    let bad = |f: &dyn Fn(&mut CaConfig)| {
        let mut c = CaConfig::default();
        f(&mut c);
        c.validate().unwrap_err().to_string()
    };
    use crate::config::GoDuration;
    assert_eq!(
        bad(&|c| c.config.leaf_cert_ttl = GoDuration::from_secs(60)),
        "Config.LeafCertTTL: leaf cert TTL must be greater or equal than 1h0m0s"
    );
    assert_eq!(
        bad(&|c| c.config.leaf_cert_ttl = GoDuration::from_secs(8760 * HOUR)),
        "Config.LeafCertTTL: leaf cert TTL must be less than 8760h0m0s"
    );
    assert!(bad(&|c| c.config.intermediate_cert_ttl = GoDuration::from_secs(100 * HOUR))
        .starts_with("Config.IntermediateCertTTL: Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=216h0m0s)"));
    assert!(
        bad(&|c| c.config.root_cert_ttl = GoDuration::from_secs(8760 * HOUR))
            .starts_with("Config.RootCertTTL: ")
    );
    assert_eq!(
        bad(&|c| c.config.private_key_type = "dsa".into()),
        "Config.PrivateKeyType: private key type must be either 'ec' or 'rsa', not \"dsa\""
    );
    assert_eq!(
        bad(&|c| c.config.private_key_bits = 521),
        "Config.PrivateKeyBits: EC key length must be 256 or 384 bits, not 521"
    );
    assert_eq!(
        bad(&|c| {
            c.config.private_key_type = "rsa".into();
            c.config.private_key_bits = 1024
        }),
        "Config.PrivateKeyBits: RSA key length must be 2048 or 4096 bits, not 1024"
    );
    assert!(bad(&|c| c.provider = "vault".into()).starts_with("Provider: "));
    assert!(bad(&|c| c.config.csr_max_per_second = -1.0).starts_with("Config.CSRMaxPerSecond"));
    let parsed = CaConfig::from_value(serde_json::json!({"Provider": "consul",
        "Config": {"LeafCertTTL": "24h", "PrivateKeyType": "ec", "PrivateKeyBits": 384}}))
    .unwrap();
    assert_eq!(parsed.config.leaf_cert_ttl, GoDuration::from_secs(24 * HOUR));
    assert_eq!(parsed.key_type().unwrap(), KeyType::EcP384);
    let err = CaConfig::from_value(serde_json::json!({"Config": {"LeafTTL": "24h"}})).unwrap_err();
    assert!(err.to_string().contains("invalid config key \"Config.LeafTTL\""), "{err}");
    assert!(matches!(
        CertificateAuthority::new_primary(
            CaConfig { provider: "x".into(), ..CaConfig::default() },
            dc("dc1"),
            Seed(1).stream("ca"),
            NOW
        ),
        Err(CaError::Config(_))
    ));
}

#[test]
fn renewal_happens_between_60_and_90_percent_of_the_lifetime() {
    let mut rng = Seed(9).stream("renewal");
    let (va, vb) = (NOW, NOW.plus_secs(72 * HOUR));
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        let d = renewal_deadline(va, vb, NOW, &mut rng).secs() - va.secs();
        assert!((72 * HOUR * 6 / 10..=72 * HOUR * 9 / 10).contains(&d), "{d}");
        seen.insert(d / HOUR);
    }
    assert!(seen.len() > 15, "spread over the window: {seen:?}");
    let late = NOW.plus_secs(60 * HOUR);
    assert!(renewal_deadline(va, vb, late, &mut rng) >= late);
    assert_eq!(
        renewal_deadline(va, NOW.plus_secs(300), NOW, &mut rng),
        NOW,
        "short leaves renew now"
    );
    for _ in 0..100 {
        let d = root_change_deadline(NOW, &mut rng).secs() - NOW.secs();
        assert!((0..ROOT_CHANGE_JITTER_SECS).contains(&d));
    }
}
