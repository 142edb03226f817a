//! The certificate authority of one datacenter: the primary's self-signed root, or a
//! secondary's intermediate signed by the primary; root rotation with cross-signing.
//!
//! ```text
//!  primary:    root(A) ──signs──► leaves            after rotation:  root(B) ──► leaves
//!                 └──signs──► intermediate(dc2) ──► dc2 leaves       root(A) ──cross-signs──► B'
//! ```
//! Leaves carry `leaf + IntermediateCerts of the active root`, so a peer that still trusts
//! only A verifies a B leaf through B' (B's key, signed by A), and a peer that already has
//! the bundle {A, B} verifies both. A leaves the bundle once every leaf it signed expired.

use rand_chacha::ChaCha8Rng;
use rcgen::{CertificateParams, Issuer};
use rustls_pki_types::CertificateDer;

use super::certs::{BACKDATE_SECS, ca_common_name, ca_params, serial};
use super::key::{PrivateKey, SignerFactory};
use super::root::{CaRoot, RootsResponse, colon_hex, pem_encode, root_id};
use super::{CaConfig, CaError};
use crate::config::GoDuration;
use crate::ids::{Datacenter, SpiffeId, TrustDomain};
use crate::rng::uuid;
use crate::time::UnixTime;

/// Which role this datacenter's CA plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Owns the root keys and signs intermediates.
    Primary,
    /// Signs leaves with an intermediate from the primary.
    Secondary,
}

/// What signs leaves here: the active root (primary) or our intermediate (secondary).
pub(crate) struct Signer {
    pub(crate) issuer: Issuer<'static, PrivateKey>,
    /// The signing certificate, to rebuild the issuer when the signer backend changes.
    pub(crate) cert_der: Vec<u8>,
    /// Certificates sent after the leaf: the active root's `IntermediateCerts`.
    pub(crate) chain_pem: Vec<String>,
    /// The root this signer chains to.
    pub(crate) root_id: String,
}

/// The primary's active root: its certificate (DER) and private key. Issuers are rebuilt
/// from the certificate, so a CA restored from stored state signs exactly as the original.
pub(crate) struct RootKey {
    pub(crate) cert_der: Vec<u8>,
    pub(crate) key: PrivateKey,
}

impl RootKey {
    /// An issuer over this root, as its certificate names it (subject, key id, usages).
    pub(crate) fn issuer(&self) -> Result<Issuer<'static, &PrivateKey>, CaError> {
        Issuer::from_ca_cert_der(&CertificateDer::from(self.cert_der.as_slice()), &self.key)
            .map_err(|e| CaError::Encoding(e.to_string()))
    }
}

/// One datacenter's CA. All inputs (time, randomness) are arguments or the seeded stream
/// it was built with.
pub struct CertificateAuthority {
    pub(crate) config: CaConfig,
    pub(crate) trust_domain: TrustDomain,
    pub(crate) datacenter: Datacenter,
    pub(crate) role: Role,
    pub(crate) roots: Vec<CaRoot>,
    /// Primary: the active root's certificate and key, for intermediates and cross-signing.
    pub(crate) root_issuer: Option<RootKey>,
    pub(crate) signer: Option<Signer>,
    /// Secondary: the key its intermediate will certify.
    pub(crate) pending_key: Option<PrivateKey>,
    pub(crate) signer_factory: Option<std::sync::Arc<dyn SignerFactory>>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) serial_counter: u64,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("trust_domain", &self.trust_domain)
            .field("datacenter", &self.datacenter)
            .field("role", &self.role)
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

fn ttl_secs(d: GoDuration) -> i64 {
    d.as_nanos() / 1_000_000_000
}

impl CertificateAuthority {
    /// Creates the primary datacenter's CA: draws the cluster id (so the trust domain) and
    /// a root key from `rng`, and self-signs the root, valid from `now`.
    pub fn new_primary(
        config: CaConfig,
        datacenter: Datacenter,
        mut rng: ChaCha8Rng,
        now: UnixTime,
    ) -> Result<Self, CaError> {
        config.validate()?;
        let trust_domain = TrustDomain::for_cluster(&uuid(&mut rng))
            .map_err(|e| CaError::Key(format!("cluster id: {e}")))?;
        let mut ca = CertificateAuthority {
            config,
            trust_domain,
            datacenter,
            role: Role::Primary,
            roots: Vec::new(),
            root_issuer: None,
            signer: None,
            pending_key: None,
            signer_factory: None,
            rng,
            serial_counter: 0,
        };
        ca.install_new_root(now, None)?;
        Ok(ca)
    }

    /// Creates a secondary datacenter's CA from the primary's roots. It cannot sign leaves
    /// until [`CertificateAuthority::install_intermediate`] gets the primary's signature on
    /// [`CertificateAuthority::intermediate_csr`].
    pub fn new_secondary(
        config: CaConfig,
        datacenter: Datacenter,
        primary_roots: &RootsResponse,
        mut rng: ChaCha8Rng,
    ) -> Result<Self, CaError> {
        config.validate()?;
        let trust_domain = TrustDomain::new(&primary_roots.trust_domain)
            .map_err(|e| CaError::BadIntermediate(e.to_string()))?;
        let key = PrivateKey::generate(config.key_type()?, &mut rng)?;
        Ok(CertificateAuthority {
            config,
            trust_domain,
            datacenter,
            role: Role::Secondary,
            roots: primary_roots.roots.clone(),
            root_issuer: None,
            signer: None,
            pending_key: Some(key),
            signer_factory: None,
            rng,
            serial_counter: 0,
        })
    }

    /// The federation's trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// This CA's datacenter.
    pub fn datacenter(&self) -> &Datacenter {
        &self.datacenter
    }

    /// Primary or secondary.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// The CA's own identity, `spiffe://<cluster id>.consul`.
    pub fn signing_id(&self) -> SpiffeId {
        SpiffeId::Signing { trust_domain: self.trust_domain.clone() }
    }

    /// The roots response (`/v1/connect/ca/roots`), active root first.
    pub fn roots(&self) -> RootsResponse {
        super::stored::roots_response(self.trust_domain.as_str(), &self.roots)
    }

    /// The active root record.
    pub fn active_root(&self) -> Option<&CaRoot> {
        self.roots.iter().find(|r| r.active)
    }

    /// DER of every trusted root: what verifiers load as trust anchors.
    pub fn trust_bundle(&self) -> Vec<Vec<u8>> {
        self.roots
            .iter()
            .filter_map(|r| super::root::pem_decode_all(&r.root_cert).ok())
            .flatten()
            .collect()
    }

    pub(crate) fn next_serial(&mut self) -> rcgen::SerialNumber {
        self.serial_counter += 1;
        serial(&mut self.rng, self.serial_counter)
    }

    /// Generates a root, cross-signs it with the previous one if there is one, and makes
    /// it the active root and leaf signer.
    fn install_new_root(
        &mut self,
        now: UnixTime,
        previous: Option<&RootKey>,
    ) -> Result<(), CaError> {
        let key = PrivateKey::generate(self.config.key_type()?, &mut self.rng)?;
        let cn = ca_common_name("pri", &mut self.rng, &self.trust_domain);
        let not_after = now.plus_secs(ttl_secs(self.config.config.root_cert_ttl));
        let signing_id = self.signing_id().to_string();
        let serial = self.next_serial();
        let params = ca_params(&cn, &signing_id, now, not_after, serial, None)?;
        let cert = params.self_signed(&key)?;
        let mut intermediate_certs = Vec::new();
        if let Some(old) = previous {
            intermediate_certs.push(self.cross_sign(&params, &key, old, now)?);
        }
        let (key_type, bits) = key.key_type().consul_type_and_bits();
        let root = CaRoot {
            id: root_id(cert.der()),
            name: "Consul CA Primary Cert".into(),
            serial_number: colon_hex(params.serial_number.as_ref().map_or(&[][..], |s| s.as_ref())),
            signing_key_id: colon_hex(&params.key_identifier(&key)),
            external_trust_domain: self.trust_domain.cluster_id().to_owned(),
            not_before: now,
            not_after,
            root_cert: pem_encode("CERTIFICATE", cert.der()),
            intermediate_certs: intermediate_certs.clone(),
            active: true,
            private_key_type: key_type.into(),
            private_key_bits: bits,
            rotated_out_at: None,
        };
        for r in &mut self.roots {
            if r.active {
                r.active = false;
                r.rotated_out_at = Some(now);
            }
        }
        self.roots.push(root);
        let signer_key = self.attach_factory(key.duplicate()?);
        self.signer = Some(Signer {
            issuer: Issuer::new(params.clone(), signer_key),
            cert_der: cert.der().to_vec(),
            chain_pem: intermediate_certs,
            root_id: root_id(cert.der()),
        });
        self.root_issuer = Some(RootKey { cert_der: cert.der().to_vec(), key });
        Ok(())
    }

    /// The old root's key signs a copy of the new root (new serial, issuer = old root),
    /// valid from a minute ago until the old root's leaves can no longer be in use.
    fn cross_sign(
        &mut self,
        new_params: &CertificateParams,
        new_key: &PrivateKey,
        old: &RootKey,
        now: UnixTime,
    ) -> Result<String, CaError> {
        let leaf_ttl = ttl_secs(self.config.config.leaf_cert_ttl);
        let mut copy = new_params.clone();
        copy.serial_number = Some(self.next_serial());
        copy.not_before = super::root::to_offset(now.plus_secs(-BACKDATE_SECS));
        // Old-bundle holders need it while any leaf of either root may meet them: at least
        // a week, as Consul, and two leaf lifetimes for long TTLs.
        copy.not_after = super::root::to_offset(now.plus_secs((2 * leaf_ttl).max(7 * 24 * 3600)));
        copy.use_authority_key_identifier_extension = true;
        let issuer = old.issuer()?;
        Ok(pem_encode("CERTIFICATE", copy.signed_by(new_key, &issuer)?.der()))
    }

    /// Applies a new configuration. A different key type or size, or `force_new_root`,
    /// rotates the root (primary only): the old root cross-signs the new one and stays in
    /// the bundle, inactive. Other changes only replace the settings.
    pub fn update_config(
        &mut self,
        config: CaConfig,
        force_new_root: bool,
        now: UnixTime,
    ) -> Result<bool, CaError> {
        config.validate()?;
        let new_key_type = config.key_type()?;
        let current = self.config.key_type()?;
        if new_key_type == current && !force_new_root {
            self.config = config;
            return Ok(false);
        }
        if self.role != Role::Primary {
            return Err(CaError::NotPrimary("rotate the root"));
        }
        let previous = self.root_issuer.take();
        let old_config = std::mem::replace(&mut self.config, config);
        if let Err(e) = self.install_new_root(now, previous.as_ref()) {
            self.config = old_config;
            self.root_issuer = previous;
            return Err(e);
        }
        Ok(true)
    }

    /// Drops inactive roots once every leaf they signed has expired: leaves live at most
    /// `LeafCertTTL` (plus the one-minute backdate) after the root was rotated out.
    pub fn prune_roots(&mut self, now: UnixTime) -> usize {
        let ttl = ttl_secs(self.config.config.leaf_cert_ttl) + BACKDATE_SECS;
        let before = self.roots.len();
        self.roots
            .retain(|r| r.active || r.rotated_out_at.is_none_or(|t| now.secs() < t.secs() + ttl));
        before - self.roots.len()
    }

    /// Routes leaf signing through keys loaded by `factory` (see [`SignerFactory`]); the
    /// current signer is rebuilt at once and future ones (rotation, new intermediates) too.
    pub fn set_signer_factory(
        &mut self,
        factory: std::sync::Arc<dyn SignerFactory>,
    ) -> Result<(), CaError> {
        self.signer_factory = Some(factory);
        if let Some(signer) = self.signer.take() {
            let key = self.attach_factory(signer.issuer.key().duplicate()?);
            let issuer = Issuer::from_ca_cert_der(&signer.cert_der.as_slice().into(), key)
                .map_err(|e| CaError::Encoding(e.to_string()))?;
            self.signer = Some(Signer { issuer, ..signer });
        }
        Ok(())
    }

    pub(crate) fn attach_factory(&self, key: PrivateKey) -> PrivateKey {
        let loaded =
            self.signer_factory.as_ref().and_then(|f| f.load(key.key_type(), &key.to_pkcs8_der()));
        match loaded {
            Some(external) => key.with_external_signer(external),
            None => key,
        }
    }

    pub(crate) fn root_issuer(&self) -> Option<&RootKey> {
        self.root_issuer.as_ref()
    }

    pub(crate) fn take_pending_key(&mut self) -> Option<PrivateKey> {
        self.pending_key.take()
    }

    pub(crate) fn pending_key(&self) -> Option<&PrivateKey> {
        self.pending_key.as_ref()
    }

    pub(crate) fn restore_pending_key(&mut self, key: PrivateKey) {
        self.pending_key = Some(key);
    }

    /// Replaces the roots with the primary's (a secondary follows them).
    pub fn set_roots(&mut self, primary_roots: &RootsResponse) {
        if self.role == Role::Secondary {
            self.roots = primary_roots.roots.clone();
        }
    }
}
