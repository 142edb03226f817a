//! The ring signer the runtime injects produces leaves that verify under the CA's root, for
//! every CA key type, and survives rotation and secondaries.

use std::sync::Arc;

use proconsul_core::ca::{
    CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr, pem_decode_all,
};
use proconsul_core::ids::{Datacenter, SpiffeId};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_runtime_tokio::ca_signer::RingSignerFactory;
use x509_parser::prelude::{FromDer, X509Certificate};

const NOW: UnixTime = UnixTime(1_800_000_000);

fn issue(ca: &mut CertificateAuthority, dc: &str) -> Vec<Vec<u8>> {
    let id = SpiffeId::service(
        ca.trust_domain().clone(),
        Datacenter::new(dc).unwrap(),
        "web".parse().unwrap(),
    );
    let key = generate_leaf_key(&mut Seed(3).stream("leaf")).unwrap();
    let csr = leaf_csr(&id, &key, &[]).unwrap();
    pem_decode_all(&ca.sign_leaf(&csr, &Requester::Any, NOW).unwrap().cert_pem).unwrap()
}

fn assert_signed_by(child: &[u8], parent: &[u8]) {
    let (_, child) = X509Certificate::from_der(child).unwrap();
    let (_, parent) = X509Certificate::from_der(parent).unwrap();
    child.verify_signature(Some(parent.public_key())).expect("signature verifies under the issuer");
}

#[test]
fn ring_signed_leaves_verify_for_every_key_type() {
    for (kind, bits) in [("ec", 256), ("ec", 384), ("rsa", 2048)] {
        let mut cfg = CaConfig::default();
        cfg.config.private_key_type = kind.into();
        cfg.config.private_key_bits = bits;
        let mut ca = CertificateAuthority::new_primary(
            cfg,
            Datacenter::new("dc1").unwrap(),
            Seed(1).stream("ca"),
            NOW,
        )
        .unwrap();
        let deterministic = issue(&mut ca, "dc1");
        ca.set_signer_factory(Arc::new(RingSignerFactory)).unwrap();
        let root = ca.trust_bundle().remove(0);
        let first = issue(&mut ca, "dc1");
        let second = issue(&mut ca, "dc1");
        assert_signed_by(&first[0], &root);
        assert_signed_by(&deterministic[0], &root);
        if kind == "ec" {
            // ring's ECDSA nonces are random, so two signatures over the same fields differ;
            // the deterministic signer's would not.
            let (_, a) = X509Certificate::from_der(&first[0]).unwrap();
            let (_, b) = X509Certificate::from_der(&second[0]).unwrap();
            assert_ne!(a.signature_value.data, b.signature_value.data, "{kind}{bits}");
        }
    }
}

#[test]
fn the_factory_follows_rotation_and_secondary_intermediates() {
    let dc1 = Datacenter::new("dc1").unwrap();
    let mut pri =
        CertificateAuthority::new_primary(CaConfig::default(), dc1, Seed(1).stream("ca"), NOW)
            .unwrap();
    pri.set_signer_factory(Arc::new(RingSignerFactory)).unwrap();
    pri.update_config(CaConfig::default(), true, NOW).unwrap();
    let new_root = pri
        .trust_bundle()
        .into_iter()
        .find(|r| pri.roots().roots[0].root_cert.contains(&pem_tail(r)))
        .unwrap();
    assert_signed_by(&issue(&mut pri, "dc1")[0], &new_root);

    let mut sec = CertificateAuthority::new_secondary(
        CaConfig::default(),
        Datacenter::new("dc2").unwrap(),
        &pri.roots(),
        Seed(2).stream("ca"),
    )
    .unwrap();
    sec.set_signer_factory(Arc::new(RingSignerFactory)).unwrap();
    let csr = sec.intermediate_csr().unwrap();
    let pem = pri.sign_intermediate(&csr, NOW).unwrap();
    sec.install_intermediate(&pem, &pri.roots()).unwrap();
    let chain = issue(&mut sec, "dc2");
    let intermediate = chain.last().unwrap();
    assert_signed_by(&chain[0], intermediate);
}

/// A distinctive slice of a certificate's PEM body, to find it among the roots.
fn pem_tail(der: &[u8]) -> String {
    let pem = proconsul_core::ca::pem_encode("CERTIFICATE", der);
    pem.lines().nth(3).unwrap_or_default().to_owned()
}
