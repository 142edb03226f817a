//! Private keys of CAs and leaves, derived from seeded randomness and signing
//! deterministically, plugged into rcgen as its `SigningKey`.
//!
//! ECDSA here follows RFC 6979 and RSA uses PKCS#1 v1.5, so one seed reproduces every key
//! and every certificate byte; nothing reads the OS random source.

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::signature::{SignatureEncoding, Signer};

use super::CaError;
use crate::rng::Rng06;

/// Key algorithms a CA may use. Leaves are always P-256, whatever the CA uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    /// ECDSA P-256 with SHA-256 (the default).
    EcP256,
    /// ECDSA P-384 with SHA-384.
    EcP384,
    /// RSA 2048 with SHA-256.
    Rsa2048,
    /// RSA 4096 with SHA-256.
    Rsa4096,
}

impl KeyType {
    /// `(PrivateKeyType, PrivateKeyBits)` as Consul reports them.
    pub fn consul_type_and_bits(self) -> (&'static str, u32) {
        match self {
            KeyType::EcP256 => ("ec", 256),
            KeyType::EcP384 => ("ec", 384),
            KeyType::Rsa2048 => ("rsa", 2048),
            KeyType::Rsa4096 => ("rsa", 4096),
        }
    }
}

enum Inner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>>),
}

/// Signs with a CA key outside the core, for speed: ring signs P-256 about ten times faster
/// than the deterministic RustCrypto signer, but draws its ECDSA nonces from the OS, which
/// the core never does. The production runtime injects one through
/// [`super::CertificateAuthority::set_signer_factory`]; the simulation leaves it unset and
/// keeps byte-for-byte determinism.
pub trait ExternalSigner: Send + Sync {
    /// Signs `msg` in the encoding rcgen expects for the key's algorithm (ASN.1 DER ECDSA,
    /// or PKCS#1 v1.5 for RSA).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String>;
}

/// Loads [`ExternalSigner`]s for the CA's leaf-signing keys.
pub trait SignerFactory: Send + Sync {
    /// A signer for the key in `pkcs8` (of kind `key_type`), or `None` to keep the
    /// built-in deterministic signer.
    fn load(&self, key_type: KeyType, pkcs8: &[u8]) -> Option<std::sync::Arc<dyn ExternalSigner>>;
}

/// A private key with its public half cached in the form rcgen wants.
pub struct PrivateKey {
    inner: Inner,
    /// EC: the uncompressed point; RSA: the PKCS#1 `RSAPublicKey` DER.
    public: Vec<u8>,
    external: Option<std::sync::Arc<dyn ExternalSigner>>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey").field("type", &self.key_type()).finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Draws a new key of `kind` from `rng`.
    pub fn generate(kind: KeyType, rng: &mut ChaCha8Rng) -> Result<Self, CaError> {
        match kind {
            KeyType::EcP256 => loop {
                let mut bytes = [0u8; 32];
                rng.fill_bytes(&mut bytes);
                // A draw outside the curve order (probability ~2^-32) is simply redrawn.
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                    return Ok(Self::from_p256(k));
                }
            },
            KeyType::EcP384 => loop {
                let mut bytes = [0u8; 48];
                rng.fill_bytes(&mut bytes);
                if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&bytes) {
                    return Ok(Self::from_p384(k));
                }
            },
            KeyType::Rsa2048 | KeyType::Rsa4096 => {
                let bits = if kind == KeyType::Rsa2048 { 2048 } else { 4096 };
                let key = rsa::RsaPrivateKey::new(&mut Rng06(rng), bits)
                    .map_err(|e| CaError::Key(e.to_string()))?;
                Self::from_rsa(key)
            }
        }
    }

    fn from_p256(k: p256::ecdsa::SigningKey) -> Self {
        let public = k.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        PrivateKey { inner: Inner::P256(k), public, external: None }
    }

    fn from_p384(k: p384::ecdsa::SigningKey) -> Self {
        let public = k.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        PrivateKey { inner: Inner::P384(k), public, external: None }
    }

    fn from_rsa(key: rsa::RsaPrivateKey) -> Result<Self, CaError> {
        let public = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| CaError::Key(e.to_string()))?
            .as_bytes()
            .to_vec();
        let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
        Ok(PrivateKey { inner: Inner::Rsa(Box::new(signer)), public, external: None })
    }

    /// Loads a PKCS#8 DER key (as [`PrivateKey::to_pkcs8_der`] writes it).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CaError> {
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::from_p256(k.into()));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::from_p384(k.into()));
        }
        let k = rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|_| CaError::Key("not a PKCS#8 P-256, P-384 or RSA private key".into()))?;
        Self::from_rsa(k)
    }

    /// The key as PKCS#8 DER (EC keys include their public point, as ring requires).
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        let doc = match &self.inner {
            Inner::P256(k) => p256::SecretKey::from(k).to_pkcs8_der(),
            Inner::P384(k) => p384::SecretKey::from(k).to_pkcs8_der(),
            Inner::Rsa(k) => AsRef::<rsa::RsaPrivateKey>::as_ref(k.as_ref()).to_pkcs8_der(),
        };
        // Encoding a key we hold cannot fail: the structures are fixed-size or already valid.
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The same key, signing through `signer` (which must hold this very key).
    pub fn with_external_signer(mut self, signer: std::sync::Arc<dyn ExternalSigner>) -> Self {
        self.external = Some(signer);
        self
    }

    /// A second handle on this key (PKCS#8 round trip), without any external signer.
    pub fn duplicate(&self) -> Result<Self, CaError> {
        Self::from_pkcs8_der(&self.to_pkcs8_der())
    }

    /// The key as a PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> String {
        super::pem_encode("PRIVATE KEY", &self.to_pkcs8_der())
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            Inner::P256(_) => KeyType::EcP256,
            Inner::P384(_) => KeyType::EcP384,
            Inner::Rsa(k) => {
                let key: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                if rsa::traits::PublicKeyParts::size(key) * 8 >= 4096 {
                    KeyType::Rsa4096
                } else {
                    KeyType::Rsa2048
                }
            }
        }
    }
}

impl PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match &self.inner {
            Inner::P256(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            Inner::P384(_) => &rcgen::PKCS_ECDSA_P384_SHA384,
            Inner::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for PrivateKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        if let Some(external) = &self.external {
            return external.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError);
        }
        Ok(match &self.inner {
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            Inner::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            Inner::Rsa(signer) => signer.sign(msg).to_vec(),
        })
    }
}
