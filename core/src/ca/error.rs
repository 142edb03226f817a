//! Why the CA refused something. Every refusal leaves the CA unchanged.

use super::CaConfigError;

/// A CA operation that was refused. The CA's state did not change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The configuration is out of range.
    #[error("invalid CA configuration: {0}")]
    Config(#[from] CaConfigError),
    /// A key could not be generated, loaded or encoded.
    #[error("CA key error: {0}")]
    Key(String),
    /// The CSR is not DER/PEM, or its signature does not verify against its own key.
    #[error("CSR is malformed or its signature does not verify: {0}")]
    BadCsr(String),
    /// Not exactly one URI SAN.
    #[error("CSR SAN contains an invalid number of URIs: {0}")]
    UriCount(usize),
    /// The URI SAN is not a SPIFFE ID.
    #[error("CSR URI SAN is not a valid SPIFFE ID: {0}")]
    NotSpiffe(String),
    /// The SPIFFE ID belongs to another trust domain.
    #[error("SPIFFE ID in CSR from a different trust domain: {got}, we are {ours}")]
    TrustDomain {
        /// The CSR's trust domain.
        got: String,
        /// Ours.
        ours: String,
    },
    /// The SPIFFE ID names another datacenter.
    #[error("SPIFFE ID in CSR from a different datacenter: {got}, we are {ours}")]
    Datacenter {
        /// The CSR's datacenter.
        got: String,
        /// Ours.
        ours: String,
    },
    /// Not a service, mesh gateway or agent identity.
    #[error("SPIFFE ID in CSR must be a service, mesh-gateway, or agent ID")]
    IdentityKind,
    /// The requester may not hold this identity.
    #[error("Permission denied: the requester may not obtain a certificate for {0}")]
    NotPermitted(String),
    /// An intermediate CSR that does not carry this federation's signing ID.
    #[error("intermediate CSR must carry exactly the signing ID {want}, got {got:?}")]
    IntermediateIdentity {
        /// What we expected.
        want: String,
        /// The URIs found.
        got: Vec<String>,
    },
    /// A secondary was asked to sign before it has an intermediate from the primary.
    #[error("this datacenter has no signing certificate yet: its intermediate is not signed")]
    NoSigningCert,
    /// Only the primary datacenter can do this.
    #[error("only the primary datacenter can {0}")]
    NotPrimary(&'static str),
    /// An intermediate that does not belong to our key or to the active root.
    #[error("intermediate certificate rejected: {0}")]
    BadIntermediate(String),
    /// Replicated CA state that cannot rebuild a CA (a key that does not parse or does
    /// not match its certificate, no active root). Nothing was built or replaced.
    #[error("stored CA state is invalid: {0}")]
    StoredState(String),
    /// rcgen refused to build a certificate.
    #[error("certificate encoding failed: {0}")]
    Encoding(String),
}

impl From<rcgen::Error> for CaError {
    fn from(e: rcgen::Error) -> Self {
        CaError::Encoding(e.to_string())
    }
}
