//! Why a trust bundle, a TLS identity or a peer's certificate was refused.
//!
//! Peer refusals travel through rustls as
//! `Error::InvalidCertificate(CertificateError::Other(..))` wrapping a [`PeerIdentityError`],
//! so the local side logs the precise reason ([`PeerIdentityError::from_rustls`] gets it
//! back) while the peer receives a `certificate_unknown` alert. Chain failures (unknown
//! issuer, expired, not yet valid, bad signature) keep rustls's own `CertificateError`
//! variants and alerts (`unknown_ca`, `certificate_expired`, ...).

use std::fmt;
use std::sync::Arc;

use proconsul_core::ids::{SpiffeId, SpiffeIdError};
use rustls::{CertificateError, OtherError};

/// A peer's end-entity certificate chained to a trusted root but does not carry an
/// acceptable identity. The handshake fails; nothing else changes.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerIdentityError {
    /// The certificate is not parseable X.509. The peer is broken or hostile.
    #[error("peer certificate is not valid X.509: {0}")]
    Malformed(String),
    /// Not exactly one URI SAN: an X.509-SVID carries exactly one (SPIFFE X509-SVID §2).
    /// The peer's certificate was not issued by a Connect CA for a workload.
    #[error("peer certificate has {0} URI SANs; a SPIFFE certificate has exactly one")]
    UriSanCount(usize),
    /// The URI SAN is not a SPIFFE ID in a layout Consul issues.
    #[error("peer certificate URI SAN {uri:?} is not a Consul SPIFFE ID: {reason}")]
    NotSpiffe {
        /// The URI as presented.
        uri: String,
        /// Why it does not parse.
        reason: SpiffeIdError,
    },
    /// A valid identity that this side's policy does not accept (wrong service, wrong
    /// trust domain). Check the intended upstream or the intentions.
    #[error("peer identity {0} is not allowed by this connection's policy")]
    NotAllowed(SpiffeId),
}

/// rustls renders `CertificateError::Other` with `Debug`, so `Debug` is the readable
/// message (with the SPIFFE ID as a URI) rather than a dump of nested newtypes.
impl fmt::Debug for PeerIdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PeerIdentityError {
    /// The identity refusal inside a handshake error, if that is what it is.
    pub fn from_rustls(error: &rustls::Error) -> Option<&PeerIdentityError> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
                inner.downcast_ref::<PeerIdentityError>()
            }
            _ => None,
        }
    }
}

impl From<PeerIdentityError> for rustls::Error {
    fn from(e: PeerIdentityError) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

/// A set of roots that cannot be trusted as given. The bundle (if one existed) is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// No roots at all: every peer would be refused. Wait for a roots response with roots.
    #[error("trust bundle has no roots")]
    Empty,
    /// A root is not a certificate rustls can use as a trust anchor.
    #[error("root #{index} of the trust bundle is unusable: {reason}")]
    BadRoot {
        /// Position in the list given.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Our own certificate and key cannot make a TLS config. Nothing was built; fix the
/// inputs (usually: request a new leaf).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The chain PEM is not PEM or holds no certificate.
    #[error("certificate chain PEM is unusable: {0}")]
    ChainPem(String),
    /// Our own leaf carries no usable SPIFFE identity.
    #[error("our own leaf certificate: {0}")]
    OwnIdentity(#[from] PeerIdentityError),
    /// rustls refused the settings, the key, or a key that does not match the leaf.
    #[error("rustls refused the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}
