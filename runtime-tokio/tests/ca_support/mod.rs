//! Shared by the CA suites: a fixed certificate clock, CSRs for SPIFFE identities, and chain
//! verification with the same rustls/webpki verifier the mesh uses.

#![allow(dead_code, reason = "each CA test file uses a different subset")]

use std::sync::Arc;
use std::time::Duration;

use proconsul_core::ca::{CaConfig, RootsResponse, generate_leaf_key, leaf_csr, pem_decode_all};
use proconsul_core::ids::{Datacenter, SpiffeId, TrustDomain};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_runtime_tokio::ca_manager::{CaManager, CaManagerConfig};
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::tls::{PeerPolicy, SpiffeClientVerifier, TrustBundle};
use rustls::pki_types::CertificateDer;

/// The certificate clock of every CA test: leaves and roots are stamped with this.
pub const NOW: UnixTime = UnixTime(1_800_000_000);

pub fn dc1() -> Datacenter {
    Datacenter::new("dc1").expect("valid datacenter")
}

/// The manager settings of these tests: the fixed clock, the server seed `seed`, and
/// `initial` for a new CA.
pub fn manager_config(seed: u64, initial: Option<CaConfig>) -> CaManagerConfig {
    let mut config = CaManagerConfig::new(dc1(), Seed(seed));
    config.clock = Arc::new(|| NOW);
    config.initial_config = initial;
    config
}

/// A manager for `node` with [`manager_config`] and Consul's default CA settings.
pub fn manager(node: Arc<RaftNode>, seed: u64) -> CaManager {
    CaManager::new(node, manager_config(seed, None))
}

pub fn service_id(trust_domain: &str, dc: &str, service: &str) -> SpiffeId {
    SpiffeId::service(
        TrustDomain::new(trust_domain).expect("trust domain"),
        Datacenter::new(dc).expect("datacenter"),
        service.parse().expect("service name"),
    )
}

pub fn agent_id(trust_domain: &str, node_id: &str) -> SpiffeId {
    SpiffeId::Agent {
        trust_domain: TrustDomain::new(trust_domain).expect("trust domain"),
        partition: Default::default(),
        datacenter: dc1(),
        node_id: node_id.into(),
    }
}

/// A CSR (DER) for `id` with a fresh key drawn from `seed`.
pub fn csr(id: &SpiffeId, seed: u64) -> Vec<u8> {
    let key = generate_leaf_key(&mut Seed(seed).stream("test-leaf")).expect("leaf key");
    leaf_csr(id, &key, &[]).expect("csr")
}

/// Verifies `chain_pem` (leaf, then intermediates) as a client certificate against a bundle
/// of `roots` at `at`, returning the SPIFFE ID it proves.
pub fn verify(chain_pem: &str, roots: &[Vec<u8>], at: UnixTime) -> Result<SpiffeId, String> {
    let bundle = TrustBundle::from_ders(roots).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = SpiffeClientVerifier::new(bundle, PeerPolicy::predicate(|_| true), provider);
    let chain: Vec<CertificateDer<'static>> = pem_decode_all(chain_pem)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let (leaf, intermediates) = chain.split_first().ok_or("empty chain")?;
    let secs = u64::try_from(at.secs()).map_err(|e| e.to_string())?;
    let now = rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(secs));
    verifier.verify_peer(leaf, intermediates, now).map_err(|e| e.to_string())
}

/// The DER of every root certificate in a roots response.
pub fn root_ders(roots: &RootsResponse) -> Vec<Vec<u8>> {
    roots.roots.iter().flat_map(|r| pem_decode_all(&r.root_cert).expect("root PEM")).collect()
}

/// The DER of the root with `id`.
pub fn root_der(roots: &RootsResponse, id: &str) -> Vec<u8> {
    let root = roots.roots.iter().find(|r| r.id == id).expect("root listed");
    pem_decode_all(&root.root_cert).expect("root PEM").remove(0)
}
