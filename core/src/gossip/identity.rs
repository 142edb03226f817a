//! Who a pool member is on the wire: node name, datacenter, gossip address, a few tags and
//! an incarnation that moves forward whenever the identity must be replaced.
//!
//! Every SWIM message carries the sender's and the receiver's identity, and every
//! membership update carries one more, so identities stay small: a packet is at most 1400
//! bytes ([`MAX_IDENTITY_BYTES`] keeps a header with two identities plus a few updates
//! inside that). foca keys members by [`foca::Identity::addr`], the gossip socket address,
//! because a join knows only an address; names are what the catalog and the `members`
//! command key on.
//!
//! Serf's tags are the same idea (CONSUL-FACTS.md §9.2); a tag change is an identity change
//! ([`super::Pool::set_tags`]), which is why the incarnation also moves then.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::ids::{Datacenter, NodeName};

/// The largest encoded identity we accept: two of them (source and destination) ride in
/// every message header, and updates about others fill the rest of a 1400-byte packet.
pub const MAX_IDENTITY_BYTES: usize = 400;
/// The most tags one identity may carry.
pub const MAX_TAGS: usize = 16;
/// The longest tag key, in bytes.
pub const MAX_TAG_KEY_BYTES: usize = 32;
/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 128;

/// Tag keys and values Proconsul agents set, so readers agree on spelling.
pub mod tags {
    /// `server` or `client` (Consul's `role` tag, with Proconsul's values).
    pub const ROLE: &str = "role";
    /// [`ROLE`] of a server agent.
    pub const ROLE_SERVER: &str = "server";
    /// [`ROLE`] of a client agent.
    pub const ROLE_CLIENT: &str = "client";
    /// `ip:port` of a server's RPC listener, which clients forward requests to.
    pub const RPC_ADDR: &str = "rpc_addr";
    /// `ip:port` of the agent's HTTP API.
    pub const HTTP_ADDR: &str = "http_addr";
    /// The node id (a UUID), copied into the catalog's `ID` by reconciliation.
    pub const NODE_ID: &str = "id";
}

/// Why an identity was refused. Nothing was created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// More than [`MAX_TAGS`] tags.
    #[error("gossip tags: {count} tags, at most {MAX_TAGS} are allowed")]
    TooManyTags {
        /// How many were given.
        count: usize,
    },
    /// An empty tag key.
    #[error("gossip tags: a tag key is empty")]
    EmptyTagKey,
    /// A tag key longer than [`MAX_TAG_KEY_BYTES`].
    #[error("gossip tags: key {key:?} is longer than {MAX_TAG_KEY_BYTES} bytes")]
    TagKeyTooLong {
        /// The key.
        key: String,
    },
    /// A tag value longer than [`MAX_TAG_VALUE_BYTES`].
    #[error("gossip tags: value of {key:?} is longer than {MAX_TAG_VALUE_BYTES} bytes")]
    TagValueTooLong {
        /// The key whose value is too long.
        key: String,
    },
    /// The whole identity would not leave room for updates in a packet.
    #[error(
        "gossip identity: {bytes} bytes encoded (name, datacenter and tags), at most {MAX_IDENTITY_BYTES}"
    )]
    TooLarge {
        /// Encoded size.
        bytes: usize,
    },
    /// The gossip address is 0.0.0.0 or `::`, which peers cannot reach.
    #[error("gossip address {addr} is unspecified: advertise an address peers can reach")]
    UnspecifiedAddr {
        /// The address given.
        addr: SocketAddr,
    },
}

/// A pool member's identity as foca carries it.
///
/// Two identities are the same member incarnation only if every field matches; one with a
/// higher [`incarnation`](Identity::incarnation) replaces an older one at the same address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    name: NodeName,
    datacenter: Datacenter,
    addr: SocketAddr,
    tags: BTreeMap<String, String>,
    incarnation: u64,
}

impl Identity {
    /// Checks the tags and the address and builds incarnation 0.
    pub fn new(
        name: NodeName,
        datacenter: Datacenter,
        addr: SocketAddr,
        tags: BTreeMap<String, String>,
    ) -> Result<Self, IdentityError> {
        if addr.ip().is_unspecified() {
            return Err(IdentityError::UnspecifiedAddr { addr });
        }
        check_tags(&tags)?;
        let id = Identity { name, datacenter, addr, tags, incarnation: 0 };
        let bytes = id.encoded_len();
        if bytes > MAX_IDENTITY_BYTES {
            return Err(IdentityError::TooLarge { bytes });
        }
        Ok(id)
    }

    /// Stands in for a peer we know only by address: foca accepts an announce addressed to
    /// any identity with the receiver's address, so the name is never looked at.
    pub(super) fn placeholder(addr: SocketAddr, datacenter: Datacenter) -> Self {
        let name = NodeName::new("-").unwrap_or_else(|_| unreachable!("\"-\" is a valid name"));
        Identity { name, datacenter, addr, tags: BTreeMap::new(), incarnation: 0 }
    }

    /// The node name (the catalog key).
    pub fn name(&self) -> &NodeName {
        &self.name
    }

    /// The member's datacenter.
    pub fn datacenter(&self) -> &Datacenter {
        &self.datacenter
    }

    /// The gossip address peers send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// How many times this member replaced its identity (renewal or tag change).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The same member with new tags and the next incarnation, so it wins over the old one.
    pub fn with_tags(&self, tags: BTreeMap<String, String>) -> Result<Self, IdentityError> {
        check_tags(&tags)?;
        let id = Identity { tags, incarnation: self.incarnation.saturating_add(1), ..self.clone() };
        let bytes = id.encoded_len();
        if bytes > MAX_IDENTITY_BYTES {
            return Err(IdentityError::TooLarge { bytes });
        }
        Ok(id)
    }

    /// Upper bound of the encoded size: postcard uses a varint length before each string
    /// (at most 2 bytes for our limits), a tag per address family, and a varint u64.
    fn encoded_len(&self) -> usize {
        let text = |s: &str| s.len() + 2;
        let addr = match self.addr {
            SocketAddr::V4(_) => 1 + 4 + 3,
            SocketAddr::V6(_) => 1 + 16 + 3,
        };
        let tags: usize = self.tags.iter().map(|(k, v)| text(k) + text(v)).sum();
        text(self.name.as_str()) + text(self.datacenter.as_str()) + addr + 2 + tags + 10
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), IdentityError> {
    if tags.len() > MAX_TAGS {
        return Err(IdentityError::TooManyTags { count: tags.len() });
    }
    for (key, value) in tags {
        if key.is_empty() {
            return Err(IdentityError::EmptyTagKey);
        }
        if key.len() > MAX_TAG_KEY_BYTES {
            return Err(IdentityError::TagKeyTooLong { key: key.clone() });
        }
        if value.len() > MAX_TAG_VALUE_BYTES {
            return Err(IdentityError::TagValueTooLong { key: key.clone() });
        }
    }
    Ok(())
}

impl foca::Identity for Identity {
    type Addr = SocketAddr;

    /// A member the cluster declared down (wrongly, since it is alive to ask) comes back
    /// at once under the next incarnation instead of waiting for the cluster to forget it.
    fn renew(&self) -> Option<Self> {
        let incarnation = self.incarnation.checked_add(1)?;
        Some(Identity { incarnation, ..self.clone() })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The later incarnation wins, so renewals and tag changes replace what peers knew.
    /// Equal incarnations (two processes claiming one address) fall back to an arbitrary
    /// but total order, so every member keeps the same one.
    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        (self.incarnation, &self.name, &self.tags, &self.datacenter)
            > (adversary.incarnation, &adversary.name, &adversary.tags, &adversary.datacenter)
    }
}
