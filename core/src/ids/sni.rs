//! TLS server names (SNI) as Consul builds them (CONSUL-FACTS.md §1.3).
//!
//! Mesh gateways route on these names without decrypting, and sidecars put them in every
//! upstream ClientHello, so they must match Consul's layout byte for byte. A name is
//! `<labels>.<marker>.<trust domain>`, where the marker says which layout the labels follow.
//! The trust domain is always `<cluster id>.<domain>`: the last two labels. The marker is
//! `internal` (default partition), `internal-v1` (other partitions), `external` (a cluster
//! peer's service) or `query` (prepared queries).

use std::fmt;
use std::str::FromStr;

use super::{Datacenter, Namespace, Partition, ServiceName, TrustDomain};

/// An SNI name of the mesh.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Sni {
    /// A service (or one subset of it) in a datacenter:
    /// `[<subset>.]<svc>.<ns>.<dc>.internal.<td>`, or with a non-default partition
    /// `[<subset>.]<svc>.<ns>.<ap>.<dc>.internal-v1.<td>`.
    Service {
        /// Resolver subset, if the name addresses one.
        subset: Option<String>,
        /// Service name.
        service: ServiceName,
        /// Namespace.
        namespace: Namespace,
        /// Admin partition.
        partition: Partition,
        /// Datacenter.
        datacenter: Datacenter,
        /// Trust domain.
        trust_domain: TrustDomain,
    },
    /// A whole datacenter, as mesh gateways name each other:
    /// `<dc>.internal.<td>` or `<ap>.<dc>.internal-v1.<td>`.
    Gateway {
        /// Admin partition.
        partition: Partition,
        /// Datacenter.
        datacenter: Datacenter,
        /// Trust domain.
        trust_domain: TrustDomain,
    },
    /// A service exported by a cluster peer: `<svc>.<ns>.<ap>.<peer>.external.<peer td>`.
    PeeredService {
        /// Service name.
        service: ServiceName,
        /// Namespace.
        namespace: Namespace,
        /// Admin partition.
        partition: Partition,
        /// Peer name.
        peer: String,
        /// The peer's trust domain.
        trust_domain: TrustDomain,
    },
    /// A prepared query upstream: `<name>.default.<dc>.query.<td>`.
    PreparedQuery {
        /// Query name.
        name: String,
        /// Datacenter.
        datacenter: Datacenter,
        /// Trust domain.
        trust_domain: TrustDomain,
    },
}

/// Why a server name is not one of the mesh's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a mesh SNI name: {reason}")]
pub struct SniError {
    /// The name that was refused.
    pub name: String,
    /// Why.
    pub reason: &'static str,
}

impl Sni {
    /// `ServiceSNI`: the name of a service (or subset) target.
    pub fn service(
        service: &ServiceName,
        subset: Option<&str>,
        namespace: &Namespace,
        partition: &Partition,
        datacenter: &Datacenter,
        trust_domain: &TrustDomain,
    ) -> Self {
        Sni::Service {
            subset: subset.filter(|s| !s.is_empty()).map(str::to_owned),
            service: service.clone(),
            namespace: namespace.clone(),
            partition: partition.clone(),
            datacenter: datacenter.clone(),
            trust_domain: trust_domain.clone(),
        }
    }

    /// `GatewaySNI`: the datacenter-level name mesh gateways route on.
    pub fn gateway(
        partition: &Partition,
        datacenter: &Datacenter,
        trust_domain: &TrustDomain,
    ) -> Self {
        Sni::Gateway {
            partition: partition.clone(),
            datacenter: datacenter.clone(),
            trust_domain: trust_domain.clone(),
        }
    }

    /// `QuerySNI`: the name of a prepared query upstream.
    pub fn prepared_query(name: &str, datacenter: &Datacenter, trust_domain: &TrustDomain) -> Self {
        Sni::PreparedQuery {
            name: name.to_owned(),
            datacenter: datacenter.clone(),
            trust_domain: trust_domain.clone(),
        }
    }

    /// `PeeredServiceSNI`: a service of a cluster peer.
    pub fn peered_service(
        service: &ServiceName,
        namespace: &Namespace,
        partition: &Partition,
        peer: &str,
        peer_trust_domain: &TrustDomain,
    ) -> Self {
        Sni::PeeredService {
            service: service.clone(),
            namespace: namespace.clone(),
            partition: partition.clone(),
            peer: peer.to_owned(),
            trust_domain: peer_trust_domain.clone(),
        }
    }

    /// The trust domain the name belongs to.
    pub fn trust_domain(&self) -> &TrustDomain {
        match self {
            Sni::Service { trust_domain, .. }
            | Sni::Gateway { trust_domain, .. }
            | Sni::PeeredService { trust_domain, .. }
            | Sni::PreparedQuery { trust_domain, .. } => trust_domain,
        }
    }

    /// The datacenter the name routes to; `None` for a peer's service.
    pub fn datacenter(&self) -> Option<&Datacenter> {
        match self {
            Sni::Service { datacenter, .. }
            | Sni::Gateway { datacenter, .. }
            | Sni::PreparedQuery { datacenter, .. } => Some(datacenter),
            Sni::PeeredService { .. } => None,
        }
    }
}

impl fmt::Display for Sni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sni::Service { subset, service, namespace, partition, datacenter, trust_domain } => {
                if let Some(subset) = subset {
                    write!(f, "{subset}.")?;
                }
                if partition.is_default() {
                    write!(f, "{service}.{namespace}.{datacenter}.internal.{trust_domain}")
                } else {
                    write!(
                        f,
                        "{service}.{namespace}.{partition}.{datacenter}.internal-v1.{trust_domain}"
                    )
                }
            }
            Sni::Gateway { partition, datacenter, trust_domain } => {
                if partition.is_default() {
                    write!(f, "{datacenter}.internal.{trust_domain}")
                } else {
                    write!(f, "{partition}.{datacenter}.internal-v1.{trust_domain}")
                }
            }
            Sni::PeeredService { service, namespace, partition, peer, trust_domain } => {
                write!(f, "{service}.{namespace}.{partition}.{peer}.external.{trust_domain}")
            }
            Sni::PreparedQuery { name, datacenter, trust_domain } => {
                write!(f, "{name}.default.{datacenter}.query.{trust_domain}")
            }
        }
    }
}

impl FromStr for Sni {
    type Err = SniError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let fail = |reason| SniError { name: name.to_owned(), reason };
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 4 || labels.iter().any(|l| l.is_empty()) {
            return Err(fail("too few labels"));
        }
        let (head, td) = labels.split_at(labels.len() - 2);
        let trust_domain =
            TrustDomain::new(&td.join(".")).map_err(|_| fail("invalid trust domain"))?;
        let (marker, labels) = head.split_last().ok_or_else(|| fail("too few labels"))?;
        let bad_name = |_| fail("invalid name label");
        let dc = |s: &str| Datacenter::new(s).map_err(bad_name);
        let svc = |s: &str| ServiceName::new(s).map_err(bad_name);
        let ns = |s: &str| Namespace::new(s).map_err(bad_name);
        let ap = |s: &str| Partition::new(s).map_err(bad_name);
        let service = |subset: Option<&str>, s, n, p, d| -> Result<Sni, SniError> {
            Ok(Sni::Service {
                subset: subset.map(str::to_owned),
                service: svc(s)?,
                namespace: ns(n)?,
                partition: p,
                datacenter: dc(d)?,
                trust_domain: trust_domain.clone(),
            })
        };
        match (*marker, labels) {
            ("internal", [d]) => Ok(Sni::Gateway {
                partition: Partition::default(),
                datacenter: dc(d)?,
                trust_domain,
            }),
            ("internal", [s, n, d]) => service(None, s, n, Partition::default(), d),
            ("internal", [sub, s, n, d]) => service(Some(sub), s, n, Partition::default(), d),
            ("internal-v1", [p, d]) => {
                Ok(Sni::Gateway { partition: ap(p)?, datacenter: dc(d)?, trust_domain })
            }
            ("internal-v1", [s, n, p, d]) => service(None, s, n, ap(p)?, d),
            ("internal-v1", [sub, s, n, p, d]) => service(Some(sub), s, n, ap(p)?, d),
            ("query", [q, "default", d]) => {
                Ok(Sni::PreparedQuery { name: (*q).to_owned(), datacenter: dc(d)?, trust_domain })
            }
            ("external", [s, n, p, peer]) => Ok(Sni::PeeredService {
                service: svc(s)?,
                namespace: ns(n)?,
                partition: ap(p)?,
                peer: (*peer).to_owned(),
                trust_domain,
            }),
            ("internal" | "internal-v1" | "query" | "external", _) => {
                Err(fail("wrong number of labels"))
            }
            _ => Err(fail("unknown marker label (want internal, internal-v1, external or query)")),
        }
    }
}
