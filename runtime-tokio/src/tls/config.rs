//! rustls configs for mesh mTLS: our leaf, the shared trust bundle, and a policy for the
//! peer's SPIFFE identity.
//!
//! Every config is built with the ring provider passed explicitly, never the process
//! default: if aws-lc-rs ever entered the dependency graph too, `ServerConfig::builder()`
//! would panic for want of a default (STACK.md §6).
//!
//! Session resumption is off on both sides. rustls does not verify certificates again
//! on a resumed TLS 1.3 session; it trusts what the first handshake saw. A resumed session
//! would then skip the current bundle (a pruned root, a replaced bundle) and the expiry
//! check at the new time. A full handshake costs a few signatures, which the built-in
//! proxy's long-lived connections can afford.

use std::fmt;
use std::sync::Arc;

use proconsul_core::ca::pem_decode_all;
use proconsul_core::ids::SpiffeId;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::NoServerSessionStorage;
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};

use super::bundle::TrustBundle;
use super::client_verifier::SpiffeClientVerifier;
use super::error::ConfigError;
use super::server_verifier::SpiffeServerVerifier;
use super::spiffe::{PeerPolicy, spiffe_id_of};

/// Our own leaf: the chain we present (leaf first, then what the CA put after it: a
/// cross-signed root, a secondary's intermediate) and its private key.
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    id: SpiffeId,
}

impl TlsIdentity {
    /// From an `IssuedCert::cert_pem` (leaf + intermediates) and the PKCS#8 DER of the key
    /// the CSR was made with. The leaf must carry one SPIFFE ID; that the key matches the
    /// leaf is checked when a config is built.
    pub fn from_pem(chain_pem: &str, key_pkcs8_der: &[u8]) -> Result<Self, ConfigError> {
        let ders = pem_decode_all(chain_pem).map_err(ConfigError::ChainPem)?;
        let leaf = ders.first().ok_or_else(|| ConfigError::ChainPem("no certificate".into()))?;
        let id = spiffe_id_of(leaf)?;
        Ok(TlsIdentity {
            chain: ders.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8_der.to_vec())),
            id,
        })
    }

    /// The identity our leaf carries.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.id
    }

    /// The chain we present, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity { chain: self.chain.clone(), key: self.key.clone_key(), id: self.id.clone() }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("id", &self.id.to_string())
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Builds mesh mTLS configs for one identity and one trust bundle.
///
/// Configs built from it keep referring to the bundle, so [`TrustBundle::replace`] reaches
/// them; a renewed leaf needs a new `MeshTls` and new configs (existing connections are
/// unaffected, new ones present the new leaf).
#[derive(Clone)]
pub struct MeshTls {
    identity: TlsIdentity,
    bundle: TrustBundle,
    provider: Arc<CryptoProvider>,
    time: Arc<dyn TimeProvider>,
    versions: &'static [&'static SupportedProtocolVersion],
}

impl MeshTls {
    /// Configs presenting `identity` and trusting `bundle`, with the ring provider, TLS 1.2
    /// and 1.3, and the system clock for certificate validity.
    pub fn new(identity: TlsIdentity, bundle: TrustBundle) -> Self {
        MeshTls {
            identity,
            bundle,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            time: Arc::new(DefaultTimeProvider),
            versions: rustls::DEFAULT_VERSIONS,
        }
    }

    /// The wall clock certificate validity is judged by. Tests pin it (certificates are
    /// issued at a fixed `UnixTime`); the simulation plugs its virtual clock.
    pub fn with_time_provider(mut self, time: Arc<dyn TimeProvider>) -> Self {
        self.time = time;
        self
    }

    /// Restricts the TLS versions offered (Consul's `tls_min_version`; tests pin TLS 1.2
    /// to exercise that handshake).
    pub fn with_protocol_versions(
        mut self,
        versions: &'static [&'static SupportedProtocolVersion],
    ) -> Self {
        self.versions = versions;
        self
    }

    /// Our identity.
    pub fn identity(&self) -> &TlsIdentity {
        &self.identity
    }

    /// The bundle the configs trust.
    pub fn bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// A server config that requires a client certificate chaining to the bundle and whose
    /// SPIFFE ID `clients` allows.
    pub fn server_config(&self, clients: PeerPolicy) -> Result<ServerConfig, ConfigError> {
        let verifier =
            SpiffeClientVerifier::new(self.bundle.clone(), clients, Arc::clone(&self.provider));
        let mut config =
            ServerConfig::builder_with_details(Arc::clone(&self.provider), Arc::clone(&self.time))
                .with_protocol_versions(self.versions)?
                .with_client_cert_verifier(Arc::new(verifier))
                .with_single_cert(self.identity.chain.clone(), self.identity.key.clone_key())?;
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }

    /// A client config that presents our leaf and accepts a server chaining to the bundle
    /// whose SPIFFE ID `server` allows. The `ServerName` given to `ClientConnection::new`
    /// is only sent as SNI; it is not matched against the certificate.
    pub fn client_config(&self, server: PeerPolicy) -> Result<ClientConfig, ConfigError> {
        let verifier = SpiffeServerVerifier::new(self.bundle.clone(), server, &self.provider);
        let mut config =
            ClientConfig::builder_with_details(Arc::clone(&self.provider), Arc::clone(&self.time))
                .with_protocol_versions(self.versions)?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_client_auth_cert(
                    self.identity.chain.clone(),
                    self.identity.key.clone_key(),
                )?;
        config.resumption = Resumption::disabled();
        Ok(config)
    }
}

impl fmt::Debug for MeshTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshTls")
            .field("identity", &self.identity)
            .field("time", &self.time)
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}
