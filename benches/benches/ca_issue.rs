//! PERF.md W5: leaf issuance from a CSR (CSR signature check, SPIFFE and permission
//! checks, signing, DER/PEM encoding) on one core, beside raw P-256 signing in the same run
//! so the ratio shows what issuance costs on top of the signature itself. Both signers are
//! measured: ring (production) and the deterministic RFC 6979 one (simulation).

use std::collections::BTreeSet;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer;
use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr};
use proconsul_core::ids::{Datacenter, SpiffeId};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_runtime_tokio::ca_signer::RingSignerFactory;

fn bench(c: &mut Criterion) {
    let now = UnixTime(1_800_000_000);
    let dc = Datacenter::new("dc1").expect("valid");
    let mut ca = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc.clone(),
        Seed(1).stream("ca"),
        now,
    )
    .expect("CA");
    let id = SpiffeId::service(ca.trust_domain().clone(), dc, "web".parse().expect("valid"));
    let key = generate_leaf_key(&mut Seed(2).stream("leaf")).expect("key");
    let csr = leaf_csr(&id, &key, &[]).expect("csr");
    let requester = Requester::Services(BTreeSet::from(["web".to_owned()]));
    // A message the size of a leaf's to-be-signed part.
    let tbs = vec![0x5au8; 420];

    let mut group = c.benchmark_group("ca_issue");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_leaf_from_csr_deterministic", |b| {
        b.iter(|| ca.sign_leaf(&csr, &requester, now).expect("issued"))
    });
    // Production: the runtime injects ring for the leaf-signing key.
    ca.set_signer_factory(Arc::new(RingSignerFactory)).expect("signer");
    group.bench_function("sign_leaf_from_csr_ring", |b| {
        b.iter(|| ca.sign_leaf(&csr, &requester, now).expect("issued"))
    });
    let p256_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("scalar");
    group.bench_function("raw_p256_sign_rfc6979", |b| {
        b.iter(|| {
            let sig: p256::ecdsa::Signature = p256_key.sign(&tbs);
            sig
        })
    });
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .expect("pkcs8");
    let ring_key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .expect("key");
    group.bench_function("raw_p256_sign_ring", |b| {
        b.iter(|| ring_key.sign(&rng, &tbs).expect("signature"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
