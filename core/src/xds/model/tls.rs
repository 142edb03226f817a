//! TLS contexts (`extensions.transport_sockets.tls.v3`) and SDS secrets.
//!
//! Consul inlines the leaf and the roots into every context rather than using SDS, so a
//! leaf rotation is a new version of every cluster and of the public listener; we do the
//! same (`Secret` exists for completeness and is not generated).

use super::common::{Pem, StringMatcher};

/// A certificate chain and its private key (`TlsCertificate`, inline strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TlsCertificate {
    /// The leaf followed by its intermediates.
    pub certificate_chain: Pem,
    /// The leaf's private key.
    pub private_key: Pem,
}

/// Which kind of subject alternative name a matcher checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SanType {
    /// URI SAN (SPIFFE IDs).
    Uri,
    /// DNS SAN.
    Dns,
}

/// `SubjectAltNameMatcher` of `match_typed_subject_alt_names`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SanMatcher {
    /// SAN kind.
    pub san_type: SanType,
    /// The test.
    pub matcher: StringMatcher,
}

impl SanMatcher {
    /// An exact URI SAN: how sidecars pin the SPIFFE ID of the service they dial.
    pub fn uri_exact(uri: impl Into<String>) -> Self {
        SanMatcher { san_type: SanType::Uri, matcher: StringMatcher::Exact(uri.into()) }
    }
}

/// `CertificateValidationContext`: the roots to verify the peer with and, upstream, the
/// identity it must present.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CertificateValidationContext {
    /// Every trusted CA root, concatenated.
    pub trusted_ca: Pem,
    /// SANs the peer certificate must carry (any one of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_typed_subject_alt_names: Vec<SanMatcher>,
}

/// `CommonTlsContext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CommonTlsContext {
    /// Our own certificates (one: the proxy's leaf).
    pub tls_certificates: Vec<TlsCertificate>,
    /// How to verify the peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_context: Option<CertificateValidationContext>,
    /// ALPN protocols to offer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn_protocols: Vec<String>,
}

/// `DownstreamTlsContext`: the TLS a listener terminates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DownstreamTlsContext {
    /// Certificates and validation.
    pub common_tls_context: CommonTlsContext,
    /// Refuse clients without a certificate (always true on `public_listener`: the client
    /// certificate is the caller's identity for intentions).
    pub require_client_certificate: bool,
}

/// `UpstreamTlsContext`: the TLS a cluster originates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct UpstreamTlsContext {
    /// Certificates and validation.
    pub common_tls_context: CommonTlsContext,
    /// Server name to send; mesh gateways route on it without decrypting.
    pub sni: String,
}

/// An SDS `Secret`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Secret {
    /// Resource name.
    pub name: String,
    /// Its content.
    pub kind: SecretKind,
}

/// What a secret holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A certificate and key.
    TlsCertificate(TlsCertificate),
    /// A validation context.
    ValidationContext(CertificateValidationContext),
}
