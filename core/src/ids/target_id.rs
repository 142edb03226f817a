//! Discovery-chain target ids (Consul's `ChainID`, CONSUL-FACTS.md §1.4).

use std::fmt;
use std::str::FromStr;

use super::{Datacenter, Namespace, Partition, ServiceName};

/// Where a target lives: a datacenter of this federation, or a cluster peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetLocation {
    /// A datacenter of this federation.
    Datacenter(Datacenter),
    /// A cluster peer (`external.<peer>` in the id).
    Peer(String),
}

/// The id of one resolved target: `[<subset>.]<svc>.<ns>.<ap>.<dc>`, or
/// `<svc>.<ns>.<ap>.external.<peer>` for peers. The partition is always present, so CE ids
/// read `main.default.default.dc1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetId {
    /// Resolver subset, if any.
    pub subset: Option<String>,
    /// Service name.
    pub service: ServiceName,
    /// Namespace.
    pub namespace: Namespace,
    /// Admin partition.
    pub partition: Partition,
    /// Datacenter or peer.
    pub location: TargetLocation,
}

/// Why a string is not a target id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a discovery chain target id (want [subset.]service.namespace.partition.datacenter)"
)]
pub struct TargetIdError(pub String);

impl TargetId {
    /// A target in a datacenter.
    pub fn new(
        service: ServiceName,
        subset: Option<String>,
        namespace: Namespace,
        partition: Partition,
        datacenter: Datacenter,
    ) -> Self {
        TargetId {
            subset: subset.filter(|s| !s.is_empty()),
            service,
            namespace,
            partition,
            location: TargetLocation::Datacenter(datacenter),
        }
    }

    /// The datacenter, `None` for peer targets.
    pub fn datacenter(&self) -> Option<&Datacenter> {
        match &self.location {
            TargetLocation::Datacenter(dc) => Some(dc),
            TargetLocation::Peer(_) => None,
        }
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(subset) = &self.subset {
            write!(f, "{subset}.")?;
        }
        write!(f, "{}.{}.{}.", self.service, self.namespace, self.partition)?;
        match &self.location {
            TargetLocation::Datacenter(dc) => write!(f, "{dc}"),
            TargetLocation::Peer(peer) => write!(f, "external.{peer}"),
        }
    }
}

impl FromStr for TargetId {
    type Err = TargetIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || TargetIdError(s.to_owned());
        let labels: Vec<&str> = s.split('.').collect();
        let (subset, svc, ns, ap, location) = match labels.as_slice() {
            [svc, ns, ap, "external", peer] => {
                (None, svc, ns, ap, TargetLocation::Peer((*peer).to_owned()))
            }
            [svc, ns, ap, dc] => {
                (None, svc, ns, ap, TargetLocation::Datacenter(dc.parse().map_err(|_| fail())?))
            }
            [sub, svc, ns, ap, dc] => (
                Some((*sub).to_owned()),
                svc,
                ns,
                ap,
                TargetLocation::Datacenter(dc.parse().map_err(|_| fail())?),
            ),
            _ => return Err(fail()),
        };
        Ok(TargetId {
            subset,
            service: svc.parse().map_err(|_| fail())?,
            namespace: ns.parse().map_err(|_| fail())?,
            partition: ap.parse().map_err(|_| fail())?,
            location,
        })
    }
}
