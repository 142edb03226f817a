//! The CA's private state as it is replicated through raft, so that whichever server leads
//! rebuilds the exact signer the previous leader had (Consul keeps its built-in provider's
//! keys in the state store for the same reason).
//!
//! ```text
//!  leader:  CertificateAuthority ──stored_state()──► CaProviderState ──raft──► every server
//!  new leader:  CaProviderState + CaConfig + rng ──restore()──► CertificateAuthority (same keys,
//!               same roots, same serial counter; leaves verify against the same roots)
//! ```
//!
//! The state holds private keys: it MUST only travel through raft and snapshots, never out of
//! an endpoint. Its `Debug` output leaves the keys out. The public part, the roots, is what
//! `/v1/connect/ca/roots` serves ([`CaProviderState::roots_response`]).

use rand_chacha::ChaCha8Rng;
use rcgen::{Issuer, PublicKeyData};
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::authority::{CertificateAuthority, Role, RootKey, Signer};
use super::key::PrivateKey;
use super::root::{CaRoot, RootsResponse, pem_decode_all, pem_encode, root_id};
use super::{CaConfig, CaError};
use crate::ids::{Datacenter, TrustDomain};

/// Everything a CA needs besides its configuration, datacenter and randomness.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CaProviderState {
    /// `<cluster id>.consul`.
    pub trust_domain: String,
    /// Primary (owns the roots) or secondary (signs with an intermediate).
    pub role: Role,
    /// Every root still trusted, with `RotatedOutAt` on inactive ones.
    pub roots: Vec<CaRoot>,
    /// The key that signs leaves (PKCS#8 PEM): the active root's key on a primary, which
    /// also signs intermediates and cross-signs the next root; the intermediate's key on a
    /// secondary. Absent on a secondary that has no intermediate yet.
    #[serde(rename = "SigningKeyPEM", default, skip_serializing_if = "Option::is_none")]
    pub signing_key_pem: Option<String>,
    /// The certificate of that key: the active root, or the secondary's intermediate.
    #[serde(rename = "SigningCertPEM", default, skip_serializing_if = "Option::is_none")]
    pub signing_cert_pem: Option<String>,
    /// Certificates sent after each leaf (the active root's `IntermediateCerts`).
    #[serde(rename = "SigningChainPEM", default)]
    pub signing_chain_pem: Vec<String>,
    /// The root the signing certificate chains to.
    #[serde(rename = "SigningRootID", default)]
    pub signing_root_id: String,
    /// Secondary: a key drawn for an intermediate CSR the primary has not signed yet.
    #[serde(rename = "PendingKeyPEM", default, skip_serializing_if = "Option::is_none")]
    pub pending_key_pem: Option<String>,
    /// Serials issued so far (serials are random bytes then this counter).
    pub serial_counter: u64,
}

impl std::fmt::Debug for CaProviderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Private keys never reach logs.
        f.debug_struct("CaProviderState")
            .field("trust_domain", &self.trust_domain)
            .field("role", &self.role)
            .field("roots", &self.roots.iter().map(|r| &r.id).collect::<Vec<_>>())
            .field("signing_root_id", &self.signing_root_id)
            .field("serial_counter", &self.serial_counter)
            .finish_non_exhaustive()
    }
}

/// The published roots record: active root first, as `/v1/connect/ca/roots` lists them.
pub(crate) fn roots_response(trust_domain: &str, roots: &[CaRoot]) -> RootsResponse {
    let mut roots = roots.to_vec();
    roots.sort_by_key(|r| !r.active);
    RootsResponse {
        active_root_id: roots.iter().find(|r| r.active).map(|r| r.id.clone()).unwrap_or_default(),
        trust_domain: trust_domain.to_owned(),
        roots,
    }
}

fn invalid(message: impl Into<String>) -> CaError {
    CaError::StoredState(message.into())
}

fn one_der(pem: &str, what: &str) -> Result<Vec<u8>, CaError> {
    let mut blocks = pem_decode_all(pem).map_err(|e| invalid(format!("{what}: {e}")))?;
    match blocks.len() {
        1 => Ok(blocks.remove(0)),
        n => Err(invalid(format!("{what}: expected one PEM block, found {n}"))),
    }
}

fn key_from_pem(pem: &str, what: &str) -> Result<PrivateKey, CaError> {
    PrivateKey::from_pkcs8_der(&one_der(pem, what)?).map_err(|e| invalid(format!("{what}: {e}")))
}

/// The signing certificate and key, checked to belong together.
struct SigningPair {
    cert_der: Vec<u8>,
    key: PrivateKey,
}

impl CaProviderState {
    /// The roots as `/v1/connect/ca/roots` publishes them (no private material).
    pub fn roots_response(&self) -> RootsResponse {
        roots_response(&self.trust_domain, &self.roots)
    }

    /// Checks that the state can rebuild a CA: a valid trust domain, at most one active
    /// root, keys that parse and match their certificates, and on a primary a signer that
    /// is the active root. Deterministic, so the state machine runs it again in apply.
    pub fn validate(&self) -> Result<(), CaError> {
        self.checked().map(drop)
    }

    fn checked(&self) -> Result<(TrustDomain, Option<SigningPair>), CaError> {
        let td = TrustDomain::new(&self.trust_domain)
            .map_err(|e| invalid(format!("TrustDomain: {e}")))?;
        let active: Vec<&CaRoot> = self.roots.iter().filter(|r| r.active).collect();
        if active.len() > 1 || (active.is_empty() && !self.roots.is_empty()) {
            return Err(invalid(format!(
                "Roots: exactly one root must be active, found {}",
                active.len()
            )));
        }
        let signing = match (&self.signing_key_pem, &self.signing_cert_pem) {
            (Some(key), Some(cert)) => Some(self.signing_pair(key, cert)?),
            (None, None) => None,
            _ => return Err(invalid("SigningKeyPEM and SigningCertPEM come together")),
        };
        if let Some(pending) = &self.pending_key_pem {
            key_from_pem(pending, "PendingKeyPEM")?;
        }
        if self.role == Role::Primary {
            let pair = signing.as_ref().ok_or_else(|| invalid("a primary needs its root key"))?;
            let active = active.first().ok_or_else(|| invalid("a primary needs an active root"))?;
            if root_id(&pair.cert_der) != active.id || self.signing_root_id != active.id {
                return Err(invalid("a primary signs with its active root"));
            }
        }
        Ok((td, signing))
    }

    fn signing_pair(&self, key_pem: &str, cert_pem: &str) -> Result<SigningPair, CaError> {
        let key = key_from_pem(key_pem, "SigningKeyPEM")?;
        let cert_der = one_der(cert_pem, "SigningCertPEM")?;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| invalid(format!("SigningCertPEM: {e}")))?;
        if !cert.is_ca() {
            return Err(invalid("SigningCertPEM: not a CA certificate"));
        }
        if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            return Err(invalid("SigningKeyPEM does not belong to SigningCertPEM"));
        }
        Ok(SigningPair { cert_der, key })
    }
}

impl CertificateAuthority {
    /// Rebuilds a CA from its replicated state: same trust domain, roots, keys, signer and
    /// serial counter, so its leaves verify against the roots already published.
    ///
    /// `rng` feeds future serials, names and keys. It MUST differ from the stream the CA
    /// used before (derive it from the raft term, say): serials are random bytes followed by
    /// the counter, and a replayed stream would repeat the serials issued since the state
    /// was stored. Call [`CertificateAuthority::set_signer_factory`] afterwards for fast
    /// signing, as after [`CertificateAuthority::new_primary`].
    pub fn restore(
        config: CaConfig,
        datacenter: Datacenter,
        stored: &CaProviderState,
        rng: ChaCha8Rng,
    ) -> Result<Self, CaError> {
        config.validate()?;
        let (trust_domain, signing) = stored.checked()?;
        let pending_key = stored
            .pending_key_pem
            .as_deref()
            .map(|p| key_from_pem(p, "PendingKeyPEM"))
            .transpose()?;
        let mut root_issuer = None;
        let signer = match signing {
            None => None,
            Some(SigningPair { cert_der, key }) => {
                let issuer = Issuer::from_ca_cert_der(
                    &CertificateDer::from(cert_der.as_slice()),
                    key.duplicate()?,
                )
                .map_err(|e| invalid(format!("SigningCertPEM: {e}")))?;
                if stored.role == Role::Primary {
                    root_issuer = Some(RootKey { cert_der: cert_der.clone(), key });
                }
                Some(Signer {
                    issuer,
                    cert_der,
                    chain_pem: stored.signing_chain_pem.clone(),
                    root_id: stored.signing_root_id.clone(),
                })
            }
        };
        Ok(CertificateAuthority {
            config,
            trust_domain,
            datacenter,
            role: stored.role,
            roots: stored.roots.clone(),
            root_issuer,
            signer,
            pending_key,
            signer_factory: None,
            rng,
            serial_counter: stored.serial_counter,
        })
    }

    /// The state to replicate after any change (creation, rotation, pruning, a new
    /// intermediate), for [`CertificateAuthority::restore`] on the next leader.
    pub fn stored_state(&self) -> CaProviderState {
        let signer = self.signer.as_ref();
        CaProviderState {
            trust_domain: self.trust_domain.to_string(),
            role: self.role,
            roots: self.roots.clone(),
            signing_key_pem: signer.map(|s| s.issuer.key().to_pkcs8_pem()),
            signing_cert_pem: signer.map(|s| pem_encode("CERTIFICATE", &s.cert_der)),
            signing_chain_pem: signer.map(|s| s.chain_pem.clone()).unwrap_or_default(),
            signing_root_id: signer.map(|s| s.root_id.clone()).unwrap_or_default(),
            pending_key_pem: self.pending_key.as_ref().map(PrivateKey::to_pkcs8_pem),
            serial_counter: self.serial_counter,
        }
    }
}
