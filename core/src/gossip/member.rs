//! Members as the rest of Proconsul sees them: Serf's vocabulary (alive, failed, left) over
//! foca's SWIM states, which cannot tell a crash from a goodbye on their own.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::ids::{Datacenter, NodeName};

use super::identity::{Identity, tags};

/// How the local pool currently sees a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberStatus {
    /// Answering probes.
    Alive,
    /// Missed a probe; declared failed unless it refutes within the suspicion timeout.
    /// Serf still reports such a member as alive, and so does [`Self::serf_code`].
    Suspect,
    /// Declared down without having said goodbye: a crash or a partition.
    Failed,
    /// Left on purpose (it broadcast a leave intent before going).
    Left,
}

impl MemberStatus {
    /// Lower-case name as `proconsul members` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Suspect => "suspect",
            MemberStatus::Failed => "failed",
            MemberStatus::Left => "left",
        }
    }

    /// Serf's numeric `Status` as `/v1/agent/members` returns it (1 alive, 3 left,
    /// 4 failed); a suspect member is still alive to Serf.
    pub fn serf_code(self) -> u8 {
        match self {
            MemberStatus::Alive | MemberStatus::Suspect => 1,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }

    /// Alive or suspect: still taking part in the pool.
    pub fn is_active(self) -> bool {
        matches!(self, MemberStatus::Alive | MemberStatus::Suspect)
    }
}

/// What an agent is, from its `role` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A server (Raft voter, holds the catalog).
    Server,
    /// A client agent.
    Client,
}

/// One member of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node name; unique in the pool.
    pub name: NodeName,
    /// The member's datacenter.
    pub datacenter: Datacenter,
    /// Gossip address; its IP is the node's catalog address.
    pub addr: SocketAddr,
    /// Current status.
    pub status: MemberStatus,
    /// Tags (role, RPC and HTTP addresses, ...).
    pub tags: BTreeMap<String, String>,
    /// How many times the member replaced its identity (rejoin after a false failure, tag
    /// change); a higher one is newer.
    pub incarnation: u64,
}

impl Member {
    pub(super) fn from_identity(id: &Identity, status: MemberStatus) -> Self {
        Member {
            name: id.name().clone(),
            datacenter: id.datacenter().clone(),
            addr: id.addr(),
            status,
            tags: id.tags().clone(),
            incarnation: id.incarnation(),
        }
    }

    /// The `role` tag, if it is one we know.
    pub fn role(&self) -> Option<Role> {
        match self.tags.get(tags::ROLE).map(String::as_str) {
            Some(tags::ROLE_SERVER) => Some(Role::Server),
            Some(tags::ROLE_CLIENT) => Some(Role::Client),
            _ => None,
        }
    }

    /// A server of this pool.
    pub fn is_server(&self) -> bool {
        self.role() == Some(Role::Server)
    }

    /// The server RPC address from the `rpc_addr` tag, if present and well formed.
    pub fn rpc_addr(&self) -> Option<SocketAddr> {
        self.tags.get(tags::RPC_ADDR)?.parse().ok()
    }

    /// The HTTP API address from the `http_addr` tag, if present and well formed.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.tags.get(tags::HTTP_ADDR)?.parse().ok()
    }
}

/// A change in how the local pool sees a member (Serf's member events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member became alive: first seen, or back after failing or leaving.
    Up(Member),
    /// An alive member's identity changed (tags, address or incarnation) without it
    /// going down.
    Updated(Member),
    /// A member was declared down without a leave intent.
    Failed(Member),
    /// A member left on purpose (also after it had been declared failed).
    Left(Member),
}

impl MemberEvent {
    /// The member the event is about, in its new state.
    pub fn member(&self) -> &Member {
        match self {
            MemberEvent::Up(m)
            | MemberEvent::Updated(m)
            | MemberEvent::Failed(m)
            | MemberEvent::Left(m) => m,
        }
    }
}
