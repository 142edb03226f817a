//! Mesh mTLS with SPIFFE identities: rustls verifiers that trust the Connect CA's current
//! roots and hand the peer's [`SpiffeId`](proconsul_core::ids::SpiffeId) to the caller for
//! authorization (intentions).
//!
//! ```text
//!  CA roots (/v1/connect/ca/roots) ──replace──► TrustBundle ◄──────────── shared ───────┐
//!                                                  │                                     │
//!  client side: ClientConfig                       ▼                                     │
//!    SpiffeServerVerifier: chain ─► any bundle root (server auth, no DNS name check)     │
//!                          SAN   ─► exactly one SPIFFE URI ─► PeerPolicy                 │
//!  server side: ServerConfig                                                             │
//!    SpiffeClientVerifier: cert required; chain ─► bundle root (client auth) ◄───────────┘
//!                          SAN   ─► exactly one SPIFFE URI ─► PeerPolicy
//!  after the handshake: peer_spiffe_id(&conn) ─► intentions / logging
//! ```
//!
//! Call order: build a [`TrustBundle`] from the roots, a [`TlsIdentity`] from the issued
//! leaf and its key, then [`MeshTls`] configs per policy. When roots change (rotation,
//! pruning), call [`TrustBundle::replace`]; when the leaf is renewed, build new configs.
//! During a rotation the bundle MUST hold every root still in the roots response, old and
//! new: a peer's old leaf only chains to the old root (Consul behaves the same way).
//!
//! These types are sans-IO (they run inside rustls's state machine); the tokio drivers wrap
//! the configs in `tokio_rustls` acceptors and connectors.

/// The handshake-signature half of a rustls verifier, the same for both sides: check with
/// the provider's algorithms kept in `self.algorithms`. Expanded inside each `impl`.
macro_rules! handshake_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

mod bundle;
mod client_verifier;
mod config;
mod error;
mod server_verifier;
mod spiffe;

pub use bundle::{Anchors, TrustBundle};
pub use client_verifier::SpiffeClientVerifier;
pub use config::{MeshTls, TlsIdentity};
pub use error::{BundleError, ConfigError, PeerIdentityError};
pub use server_verifier::SpiffeServerVerifier;
pub use spiffe::{PeerPolicy, peer_spiffe_id, spiffe_id_of};
