//! SPIFFE IDs in Consul's URI layout (CONSUL-FACTS.md §1.2).
//!
//! Parsing percent-decodes each path segment, so a namespace written `foo%2Fbar` is the
//! namespace `foo/bar`; formatting encodes such characters again, so every parsed ID
//! formats back to an equivalent URI.

use std::fmt;
use std::str::FromStr;

use super::{Datacenter, NameError, Namespace, Partition, ServiceName, TrustDomain};

/// A workload or infrastructure identity as carried in an X.509 URI SAN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SpiffeId {
    /// `spiffe://<td>[/ap/<ap>]/ns/<ns>/dc/<dc>/svc/<service>`
    Service {
        /// Trust domain (URI host).
        trust_domain: TrustDomain,
        /// Admin partition; `default` is omitted from the URI.
        partition: Partition,
        /// Namespace.
        namespace: Namespace,
        /// Datacenter the identity was issued in.
        datacenter: Datacenter,
        /// Service name.
        service: ServiceName,
    },
    /// `spiffe://<td>[/ap/<ap>]/agent/client/dc/<dc>/id/<node id>`
    Agent {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Admin partition; `default` is omitted from the URI.
        partition: Partition,
        /// Datacenter of the agent.
        datacenter: Datacenter,
        /// The agent's node id (usually a UUID).
        node_id: String,
    },
    /// `spiffe://<td>/agent/server/dc/<dc>`
    Server {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Datacenter of the server.
        datacenter: Datacenter,
    },
    /// `spiffe://<td>[/ap/<ap>]/gateway/mesh/dc/<dc>`
    MeshGateway {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Admin partition; `default` is omitted from the URI.
        partition: Partition,
        /// Datacenter of the gateway.
        datacenter: Datacenter,
    },
    /// `spiffe://<cluster id>.<domain>`: the CA's own identity (no path).
    Signing {
        /// Trust domain (host).
        trust_domain: TrustDomain,
    },
}

/// Why a URI is not a SPIFFE ID we understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpiffeIdError {
    /// The URI scheme is not `spiffe`.
    #[error("SPIFFE ID must have 'spiffe' scheme")]
    Scheme,
    /// The URI does not match any known layout.
    #[error("SPIFFE ID is not in the expected format: {0}")]
    Format(String),
}

impl SpiffeId {
    /// The service identity of `service` in `datacenter`, default partition and namespace.
    pub fn service(
        trust_domain: TrustDomain,
        datacenter: Datacenter,
        service: ServiceName,
    ) -> Self {
        SpiffeId::Service {
            trust_domain,
            partition: Partition::default(),
            namespace: Namespace::default(),
            datacenter,
            service,
        }
    }

    /// The trust domain (URI host) of any identity.
    pub fn trust_domain(&self) -> &TrustDomain {
        match self {
            SpiffeId::Service { trust_domain, .. }
            | SpiffeId::Agent { trust_domain, .. }
            | SpiffeId::Server { trust_domain, .. }
            | SpiffeId::MeshGateway { trust_domain, .. }
            | SpiffeId::Signing { trust_domain } => trust_domain,
        }
    }

    /// The parts of a service identity, `None` for every other kind.
    pub fn as_service(&self) -> Option<(&Namespace, &ServiceName, &Datacenter)> {
        match self {
            SpiffeId::Service { namespace, service, datacenter, .. } => {
                Some((namespace, service, datacenter))
            }
            _ => None,
        }
    }
}

fn format_error(uri: &str) -> SpiffeIdError {
    SpiffeIdError::Format(uri.to_owned())
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
            if uri.contains(':') { SpiffeIdError::Scheme } else { format_error(uri) }
        })?;
        if !scheme.eq_ignore_ascii_case("spiffe") {
            return Err(SpiffeIdError::Scheme);
        }
        if rest.contains(['?', '#']) {
            return Err(format_error(uri));
        }
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let trust_domain = TrustDomain::new(host).map_err(|_| format_error(uri))?;
        if path.is_empty() {
            return Ok(SpiffeId::Signing { trust_domain });
        }
        let segments: Vec<String> = path[1..]
            .split('/')
            .map(percent_decode)
            .collect::<Option<_>>()
            .ok_or_else(|| format_error(uri))?;
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        parse_path(trust_domain, &segs)
            .map_err(|_| format_error(uri))?
            .ok_or_else(|| format_error(uri))
    }
}

/// Matches the decoded path segments against Consul's layouts. `Ok(None)` = no layout
/// matched; `Err` = a layout matched but a name in it is invalid.
fn parse_path(td: TrustDomain, segs: &[&str]) -> Result<Option<SpiffeId>, NameError> {
    let (partition, rest) = match segs {
        ["ap", ap, rest @ ..] => (Partition::new(*ap)?, rest),
        _ => (Partition::default(), segs),
    };
    let explicit_partition = rest.len() != segs.len();
    Ok(Some(match rest {
        ["ns", ns, "dc", dc, "svc", svc] => SpiffeId::Service {
            trust_domain: td,
            partition,
            namespace: Namespace::or_default(ns)?,
            datacenter: Datacenter::new(*dc)?,
            service: ServiceName::new(*svc)?,
        },
        ["agent", "client", "dc", dc, "id", id] => {
            super::name::check_name("agent id", id)?;
            SpiffeId::Agent {
                trust_domain: td,
                partition,
                datacenter: Datacenter::new(*dc)?,
                node_id: (*id).to_owned(),
            }
        }
        ["agent", "server", "dc", dc] if !explicit_partition => {
            SpiffeId::Server { trust_domain: td, datacenter: Datacenter::new(*dc)? }
        }
        ["gateway", "mesh", "dc", dc] => {
            SpiffeId::MeshGateway { trust_domain: td, partition, datacenter: Datacenter::new(*dc)? }
        }
        _ => return Ok(None),
    }))
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Writes a path segment, escaping everything RFC 3986 does not allow unescaped in a
/// segment (notably `/` and `%`), so the segment boundaries survive a round trip.
fn write_segment(f: &mut fmt::Formatter<'_>, segment: &str) -> fmt::Result {
    for b in segment.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if plain {
            write!(f, "{}", b as char)?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

fn write_partition(f: &mut fmt::Formatter<'_>, partition: &Partition) -> fmt::Result {
    if !partition.is_default() {
        f.write_str("/ap/")?;
        write_segment(f, partition.as_str())?;
    }
    Ok(())
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}", self.trust_domain())?;
        match self {
            SpiffeId::Service { partition, namespace, datacenter, service, .. } => {
                write_partition(f, partition)?;
                f.write_str("/ns/")?;
                write_segment(f, namespace.as_str())?;
                f.write_str("/dc/")?;
                write_segment(f, datacenter.as_str())?;
                f.write_str("/svc/")?;
                write_segment(f, service.as_str())
            }
            SpiffeId::Agent { partition, datacenter, node_id, .. } => {
                write_partition(f, partition)?;
                f.write_str("/agent/client/dc/")?;
                write_segment(f, datacenter.as_str())?;
                f.write_str("/id/")?;
                write_segment(f, node_id)
            }
            SpiffeId::Server { datacenter, .. } => {
                f.write_str("/agent/server/dc/")?;
                write_segment(f, datacenter.as_str())
            }
            SpiffeId::MeshGateway { partition, datacenter, .. } => {
                write_partition(f, partition)?;
                f.write_str("/gateway/mesh/dc/")?;
                write_segment(f, datacenter.as_str())
            }
            SpiffeId::Signing { .. } => Ok(()),
        }
    }
}
