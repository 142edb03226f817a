//! Fast CA signatures for production: ring signs P-256 roughly ten times faster than the
//! core's deterministic signer (see `benches/benches/ca_issue.rs`), at the price of ECDSA
//! nonces drawn from the OS. That price is fine outside the simulation, and the core never
//! pays it: the runtime injects this factory into the CA.

use std::sync::Arc;

use proconsul_core::ca::{ExternalSigner, KeyType, SignerFactory};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};

/// Loads CA keys into ring.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingSignerFactory;

enum RingKey {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

struct RingSigner {
    key: RingKey,
    rng: SystemRandom,
}

impl ExternalSigner for RingSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        match &self.key {
            RingKey::Ecdsa(k) => {
                k.sign(&self.rng, msg).map(|s| s.as_ref().to_vec()).map_err(|e| e.to_string())
            }
            RingKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|e| e.to_string())?;
                Ok(sig)
            }
        }
    }
}

impl SignerFactory for RingSignerFactory {
    fn load(&self, key_type: KeyType, pkcs8: &[u8]) -> Option<Arc<dyn ExternalSigner>> {
        let rng = SystemRandom::new();
        let key = match key_type {
            KeyType::EcP256 => RingKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
                    .ok()?,
            ),
            KeyType::EcP384 => RingKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8, &rng)
                    .ok()?,
            ),
            KeyType::Rsa2048 | KeyType::Rsa4096 => {
                RingKey::Rsa(RsaKeyPair::from_pkcs8(pkcs8).ok()?)
            }
        };
        Some(Arc::new(RingSigner { key, rng }))
    }
}
