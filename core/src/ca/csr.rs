//! The requester's side of a leaf: a P-256 key and a CSR carrying only the SPIFFE ID
//! (agents build these; tests and benchmarks use them too).

use rand_chacha::ChaCha8Rng;
use rcgen::{CertificateParams, DistinguishedName};

use super::CaError;
use super::key::{KeyType, PrivateKey};
use crate::ids::SpiffeId;

/// A fresh leaf key: always P-256, whatever the CA's own key type.
pub fn generate_leaf_key(rng: &mut ChaCha8Rng) -> Result<PrivateKey, CaError> {
    PrivateKey::generate(KeyType::EcP256, rng)
}

/// A CSR (DER) with an empty subject, the SPIFFE ID as its only URI SAN, and `dns_names`.
pub fn leaf_csr(id: &SpiffeId, key: &PrivateKey, dns_names: &[String]) -> Result<Vec<u8>, CaError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![rcgen::SanType::URI(id.to_string().as_str().try_into()?)];
    for d in dns_names {
        params.subject_alt_names.push(rcgen::SanType::DnsName(d.as_str().try_into()?));
    }
    Ok(params.serialize_request(key)?.der().to_vec())
}
