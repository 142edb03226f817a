//! Leave intents: how a goodbye is told apart from a crash.
//!
//! foca's `leave_cluster` only declares the leaver down, exactly as a failed probe would.
//! Serf solves this with a leave-intent broadcast, and so do we: before leaving, a member
//! adds a custom broadcast `(name, incarnation)` that foca piggybacks on the same messages
//! as its down update and every receiver re-disseminates. A member that is down and has an
//! intent for its incarnation (or a later one) left; without one it failed.
//!
//! Wire format of one item (foca frames items itself):
//!
//! ```text
//!  kind: u8 = 1 | incarnation: u64 big-endian | node name: UTF-8 bytes (the rest)
//! ```
//!
//! Other kinds are reserved for user events and ignored (not relayed) by this version.
//!
//! foca owns its broadcast handler and has no accessor for it, so the handler and the pool
//! share the log through an `Arc<Mutex<_>>`; nothing else touches it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::ids::NodeName;

use super::identity::Identity;

const KIND_LEAVE: u8 = 1;

/// The most intents remembered; beyond it, intents of members the pool no longer knows
/// are forgotten ([`IntentLog::prune`]).
pub(super) const MAX_INTENTS: usize = 4096;

/// An item foca could not use. foca wraps it and the datagram is reported refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum IntentError {
    /// Shorter than kind + incarnation, or an empty name.
    #[error("leave intent of {0} bytes is truncated")]
    Truncated(usize),
    /// The name is not a valid node name.
    #[error("leave intent names an invalid node: {0}")]
    BadName(String),
}

/// `name → highest incarnation that announced it is leaving`.
#[derive(Debug, Default)]
pub(super) struct IntentLog {
    left: BTreeMap<NodeName, u64>,
    /// Set when an intent arrived since the pool last looked.
    fresh: bool,
}

impl IntentLog {
    /// True if `id` (this incarnation or an earlier one) said it was leaving.
    pub(super) fn has_left(&self, id: &Identity) -> bool {
        self.left.get(id.name()).is_some_and(|&inc| inc >= id.incarnation())
    }

    /// Whether intents arrived since the last call.
    pub(super) fn has_fresh(&self) -> bool {
        self.fresh
    }

    /// Whether intents arrived since the last call, clearing the flag.
    pub(super) fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    /// Keeps the log bounded: once over [`MAX_INTENTS`], forgets the names `known` rejects.
    pub(super) fn prune(&mut self, known: impl Fn(&NodeName) -> bool) {
        if self.left.len() > MAX_INTENTS {
            self.left.retain(|name, _| known(name));
        }
    }

    fn record(&mut self, name: NodeName, incarnation: u64) -> bool {
        match self.left.get(&name) {
            Some(&seen) if seen >= incarnation => false,
            _ => {
                self.left.insert(name, incarnation);
                self.fresh = true;
                true
            }
        }
    }
}

/// The log shared between the pool and foca's handler.
#[derive(Debug, Clone, Default)]
pub(super) struct SharedIntents(Arc<Mutex<IntentLog>>);

impl SharedIntents {
    /// The log. A panic while it was held cannot leave it half-written (every update is one
    /// map insert), so a poisoned lock is still usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, IntentLog> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Encodes the intent `id` broadcasts before leaving.
pub(super) fn encode_leave(id: &Identity) -> Vec<u8> {
    let name = id.name().as_str().as_bytes();
    let mut out = Vec::with_capacity(9 + name.len());
    out.push(KIND_LEAVE);
    out.extend_from_slice(&id.incarnation().to_be_bytes());
    out.extend_from_slice(name);
    out
}

/// Dedup key: a newer intent of the same node replaces an older one still being relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IntentKey {
    name: NodeName,
    incarnation: u64,
}

impl foca::Invalidates for IntentKey {
    fn invalidates(&self, other: &Self) -> bool {
        self.name == other.name && self.incarnation >= other.incarnation
    }
}

/// foca's view of the log: decodes items and says which are news worth relaying.
pub(super) struct IntentHandler(pub(super) SharedIntents);

impl foca::BroadcastHandler<Identity> for IntentHandler {
    type Key = IntentKey;
    type Error = IntentError;

    fn receive_item(
        &mut self,
        data: &[u8],
        _sender: Option<&Identity>,
    ) -> Result<Option<IntentKey>, IntentError> {
        let Some((&kind, rest)) = data.split_first() else {
            return Err(IntentError::Truncated(0));
        };
        if kind != KIND_LEAVE {
            return Ok(None);
        }
        let (Some(inc), Some(name)) = (rest.get(..8), rest.get(8..)) else {
            return Err(IntentError::Truncated(data.len()));
        };
        if name.is_empty() {
            return Err(IntentError::Truncated(data.len()));
        }
        let mut buf = [0u8; 8];
        buf.copy_from_slice(inc);
        let incarnation = u64::from_be_bytes(buf);
        let name = std::str::from_utf8(name)
            .map_err(|e| IntentError::BadName(e.to_string()))
            .and_then(|s| NodeName::new(s).map_err(|e| IntentError::BadName(e.to_string())))?;
        let news = self.0.lock().record(name.clone(), incarnation);
        Ok(news.then_some(IntentKey { name, incarnation }))
    }
}
