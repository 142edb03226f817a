//! Building blocks several resource types share: addresses, string matchers, health,
//! header mutations and PEM material.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::xds::hash::{ContentHash, digest_bytes};

/// Envoy's `SocketAddress`: an IP address (or, in a LOGICAL_DNS cluster, a hostname) and a
/// TCP port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SocketAddress {
    /// IP address or hostname.
    pub address: String,
    /// TCP port.
    pub port: u16,
}

impl SocketAddress {
    /// An address and port.
    pub fn new(address: impl Into<String>, port: u16) -> Self {
        SocketAddress { address: address.into(), port }
    }

    /// True when the address is not an IP literal (Envoy must resolve it with DNS).
    pub fn is_hostname(&self) -> bool {
        self.address.parse::<std::net::IpAddr>().is_err()
    }
}

impl fmt::Display for SocketAddress {
    /// `address:port`, the form Consul puts in listener names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.address, self.port)
    }
}

/// Envoy's `type.matcher.v3.StringMatcher`. Regexes are RE2 (`safe_regex` with the
/// default engine).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StringMatcher {
    /// The whole value equals this.
    Exact(String),
    /// The value starts with this.
    Prefix(String),
    /// The value ends with this.
    Suffix(String),
    /// The value matches this RE2 expression.
    SafeRegex(String),
}

/// Envoy's `core.v3.HealthStatus`, the values we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    /// Not stated (STATIC clusters such as `local_app`).
    #[default]
    Unknown,
    /// Receives traffic.
    Healthy,
    /// Receives no traffic unless every endpoint is unhealthy and panic routing applies.
    Unhealthy,
}

/// Envoy's `core.v3.HeaderValueOption`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HeaderValueOption {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
    /// Append to an existing value (`Add`) rather than replace it (`Set`).
    pub append: bool,
}

/// Header changes of a route or a weighted cluster (Consul's `RequestHeaders` and
/// `ResponseHeaders`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct HeaderMutations {
    /// Request headers to add or set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_headers_to_add: Vec<HeaderValueOption>,
    /// Request headers to remove.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_headers_to_remove: Vec<String>,
    /// Response headers to add or set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_add: Vec<HeaderValueOption>,
    /// Response headers to remove.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_remove: Vec<String>,
}

impl HeaderMutations {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.request_headers_to_add.is_empty()
            && self.request_headers_to_remove.is_empty()
            && self.response_headers_to_add.is_empty()
            && self.response_headers_to_remove.is_empty()
    }
}

/// PEM text (a certificate chain, a CA bundle or a private key) shared between resources.
///
/// Every upstream cluster of a sidecar carries the same leaf, key and roots, kilobytes each.
/// `Pem` holds them once behind an `Arc` and hashes as its precomputed digest, so cloning a
/// TLS context is cheap and hashing a cluster does not re-read the certificates. Private
/// keys are marked secret: `Debug` never prints PEM text, and `Serialize` prints a key only
/// as its digest, so a model dumped to a log or a golden file carries no key.
#[derive(Clone)]
pub struct Pem {
    text: Arc<str>,
    digest: ContentHash,
    secret: bool,
}

impl Pem {
    /// Public material: certificates, CA bundles.
    pub fn certificate(text: impl Into<Arc<str>>) -> Self {
        Self::build(text.into(), false)
    }

    /// A private key.
    pub fn private_key(text: impl Into<Arc<str>>) -> Self {
        Self::build(text.into(), true)
    }

    fn build(text: Arc<str>, secret: bool) -> Self {
        let digest = digest_bytes(text.as_bytes());
        Pem { text, digest, secret }
    }

    /// The PEM text, for the encoder (`inline_string`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for private keys.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Digest of the text.
    pub fn digest(&self) -> ContentHash {
        self.digest
    }
}

impl PartialEq for Pem {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
            && self.digest == other.digest
            && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for Pem {}

impl Hash for Pem {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.secret.hash(state);
        self.digest.hash(state);
    }
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.secret { "key" } else { "cert" };
        write!(f, "Pem({kind}, {} bytes, {})", self.text.len(), self.digest)
    }
}

impl serde::Serialize for Pem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.secret {
            s.collect_str(&format_args!("<private key sha256/128:{}>", self.digest))
        } else {
            s.serialize_str(&self.text)
        }
    }
}
