//! The zone Proconsul answers for: its domain, the local datacenter and Consul's
//! `dns_config` knobs that change answers (TTLs, `only_passing`).

use crate::ids::Datacenter;

/// Longest DNS name in presentation form without the final dot (RFC 1035 §2.3.4).
const NAME_MAX_LEN: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const LABEL_MAX_LEN: usize = 63;

/// Why a DNS setting was refused. Nothing was configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsConfigError {
    /// `domain` is not a usable DNS name; fix the setting (Consul's `-domain`).
    #[error("domain {domain:?} is invalid: {reason}")]
    BadDomain {
        /// The value as given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The domain queries are answered under, lower-case and absolute (`consul.`).
///
/// Kept absolute so suffix checks compare whole labels: `xconsul.` is outside `consul.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(String);

impl Domain {
    /// Validates a domain such as `consul` or `consul.`: one or more labels of letters,
    /// digits, `-` and `_`, each at most 63 bytes, at most 253 bytes in all.
    pub fn new(domain: &str) -> Result<Self, DnsConfigError> {
        let bad = |reason| DnsConfigError::BadDomain { domain: domain.to_owned(), reason };
        let relative = domain.strip_suffix('.').unwrap_or(domain);
        if relative.is_empty() {
            return Err(bad("it is empty (the root zone cannot be served)"));
        }
        if relative.len() > NAME_MAX_LEN {
            return Err(bad("it is longer than 253 bytes"));
        }
        for label in relative.split('.') {
            if label.is_empty() {
                return Err(bad("it has an empty label"));
            }
            if label.len() > LABEL_MAX_LEN {
                return Err(bad("a label is longer than 63 bytes"));
            }
            let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            if !label.bytes().all(ok) {
                return Err(bad("labels may hold only letters, digits, '-' and '_'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label starts or ends with '-'"));
            }
        }
        Ok(Domain(format!("{}.", relative.to_ascii_lowercase())))
    }

    /// Consul's default domain, `consul.`.
    pub fn consul() -> Self {
        Domain("consul.".to_owned())
    }

    /// The absolute, lower-case name (`consul.`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `name` relative to this domain: `Some("")` for the apex, `Some("web.service.")` (with
    /// its trailing dot) below it, `None` outside. `name` MUST be absolute and lower-case.
    pub(crate) fn strip_from<'a>(&self, name: &'a str) -> Option<&'a str> {
        let prefix = name.strip_suffix(self.0.as_str())?;
        (prefix.is_empty() || prefix.ends_with('.')).then_some(prefix)
    }
}

impl Default for Domain {
    fn default() -> Self {
        Domain::consul()
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one DNS server answers: the zone and Consul's answer-shaping settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The domain served; anything else is refused (no recursion).
    pub domain: Domain,
    /// The local datacenter: `web.service.<dc>.consul` for any other is NXDOMAIN until
    /// federation forwards it.
    pub datacenter: Datacenter,
    /// TTL of node and `.addr.` records (Consul's `dns_config.node_ttl`, default 0).
    pub node_ttl_secs: u32,
    /// TTL of service records (Consul's `dns_config.service_ttl`, default 0).
    pub service_ttl_secs: u32,
    /// Drop instances with a `warning` check too, not only `critical` ones (Consul's
    /// `dns_config.only_passing`, default false).
    pub only_passing: bool,
}

impl DnsConfig {
    /// Consul's defaults for `domain` and `datacenter`: TTL 0 everywhere, warning
    /// instances still answered.
    pub fn new(domain: Domain, datacenter: Datacenter) -> Self {
        DnsConfig { domain, datacenter, node_ttl_secs: 0, service_ttl_secs: 0, only_passing: false }
    }
}
