//! The trust domain: `<cluster id>.consul`, shared by every datacenter of one federation.

use std::fmt;
use std::str::FromStr;

/// The SPIFFE trust domain of a Proconsul federation, e.g.
/// `11111111-2222-3333-4444-555555555555.consul`.
///
/// Always lower case: Consul compares trust domains case-insensitively by lower-casing, and
/// SNI names (which embed the trust domain) are matched byte for byte by Envoy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrustDomain(String);

/// Why a trust domain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustDomainError {
    /// Empty input.
    #[error("trust domain is required")]
    Empty,
    /// A character outside `[a-z0-9.-]`, or an empty label.
    #[error("trust domain {0:?} must be dot-separated labels of letters, digits and '-'")]
    Invalid(String),
}

impl TrustDomain {
    /// Validates a trust domain (case-folded to lower case).
    pub fn new(domain: &str) -> Result<Self, TrustDomainError> {
        if domain.is_empty() {
            return Err(TrustDomainError::Empty);
        }
        let lower = domain.to_ascii_lowercase();
        let ok = lower.len() <= 253
            && lower.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(TrustDomainError::Invalid(domain.to_owned()));
        }
        Ok(Self(lower))
    }

    /// The trust domain Consul derives from a cluster id: `<cluster id>.consul`.
    pub fn for_cluster(cluster_id: &str) -> Result<Self, TrustDomainError> {
        Self::new(&format!("{cluster_id}.consul"))
    }

    /// The cluster id: everything before the first `.`.
    pub fn cluster_id(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }

    /// The domain after the cluster id (`consul` for Consul-style trust domains).
    pub fn domain(&self) -> &str {
        self.0.split_once('.').map_or("", |(_, d)| d)
    }

    /// The trust domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TrustDomain {
    type Err = TrustDomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl serde::Serialize for TrustDomain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TrustDomain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}
