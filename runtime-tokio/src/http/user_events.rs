//! The agent's user events (`/v1/event/*`): agent-local, not replicated. Consul carries them
//! over LAN gossip (serf user events) and each agent keeps the last [`EVENT_BUFFER_SIZE`] it
//! accepted in a ring; so does this one.
//!
//! ```text
//!  PUT /v1/event/fire/<name> ─► UserEvents::fire ─► ring (if its filters match this agent)
//!                                      └─► outbound() ─► gossip broadcasts it   (to come)
//!  gossip receives an event  ─► UserEvents::deliver ─► ring (if its filters match)
//!  GET /v1/event/list?index= ─► list + index (from the last event's id) ─► wait on changed()
//! ```
//!
//! LTime is a Lamport clock: a local fire stamps the next tick, a delivered event moves the
//! clock past its own. Re-deliveries (gossip repeats messages) are dropped by id.

use std::collections::VecDeque;
use std::sync::Mutex;

use regex::Regex;
use tokio::sync::{broadcast, watch};

/// Events each agent keeps (Consul's `userEventBufSize`).
pub const EVENT_BUFFER_SIZE: usize = 256;

/// Name, payload and filters together may not exceed this (serf's `UserEventSizeLimit`).
pub const EVENT_SIZE_LIMIT: usize = 512;

/// One user event, in Consul's JSON shape (`Payload` base64-encoded by the HTTP layer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserEvent {
    /// UUID.
    pub id: String,
    /// Event name.
    pub name: String,
    /// Opaque payload.
    pub payload: Vec<u8>,
    /// Regexp a node's name must match to keep the event.
    pub node_filter: String,
    /// Regexp one of a node's service ids must match to keep the event.
    pub service_filter: String,
    /// Regexp a tag of a service matching `service_filter` must match.
    pub tag_filter: String,
    /// Format version (1).
    pub version: u8,
    /// Lamport time; 0 until stamped.
    pub ltime: u64,
}

/// Why an event was not accepted for firing (Consul's `validateUserEvent` messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// No name.
    #[error("User event missing name")]
    MissingName,
    /// A tag filter needs a service filter.
    #[error("Cannot provide tag filter without service filter")]
    TagWithoutService,
    /// A filter that is not a regular expression.
    #[error("Invalid {which} filter: {reason}")]
    BadFilter {
        /// `node`, `service` or `tag`.
        which: &'static str,
        /// The compiler's message.
        reason: String,
    },
    /// Name, payload and filters are too big for one gossip message.
    #[error("User event exceeds configured limit of {EVENT_SIZE_LIMIT} bytes")]
    TooLarge,
}

/// What an agent's event filters are matched against: its node name and its services as
/// `(id, tags)`.
#[derive(Debug, Clone, Default)]
pub struct LocalIdentity {
    /// The agent's node name.
    pub node_name: String,
    /// The agent's service instances: id and tags.
    pub services: Vec<(String, Vec<String>)>,
}

fn compile(which: &'static str, pattern: &str) -> Result<Option<Regex>, EventError> {
    if pattern.is_empty() {
        return Ok(None);
    }
    let bad = |e: regex::Error| EventError::BadFilter { which, reason: e.to_string() };
    Regex::new(pattern).map(Some).map_err(bad)
}

impl UserEvent {
    /// Consul's checks before an event is fired.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.name.is_empty() {
            return Err(EventError::MissingName);
        }
        if !self.tag_filter.is_empty() && self.service_filter.is_empty() {
            return Err(EventError::TagWithoutService);
        }
        compile("node", &self.node_filter)?;
        compile("service", &self.service_filter)?;
        compile("tag", &self.tag_filter)?;
        let size = self.name.len()
            + self.payload.len()
            + self.node_filter.len()
            + self.service_filter.len()
            + self.tag_filter.len();
        if size > EVENT_SIZE_LIMIT {
            return Err(EventError::TooLarge);
        }
        Ok(())
    }

    /// Consul's `shouldProcessUserEvent`: the node filter matches the node name, and some
    /// service id matches the service filter (with one of its tags matching the tag
    /// filter). Filters are unanchored searches, as Go's `MatchString`. An invalid filter
    /// matches nothing.
    pub fn matches(&self, local: &LocalIdentity) -> bool {
        let (Ok(node), Ok(service), Ok(tag)) = (
            compile("node", &self.node_filter),
            compile("service", &self.service_filter),
            compile("tag", &self.tag_filter),
        ) else {
            return false;
        };
        if node.is_some_and(|re| !re.is_match(&local.node_name)) {
            return false;
        }
        let Some(service) = service else { return true };
        local.services.iter().filter(|(id, _)| service.is_match(id)).any(|(_, tags)| match &tag {
            None => true,
            Some(tag) => tags.iter().any(|t| tag.is_match(t)),
        })
    }
}

/// Consul's `uuidToUint64`: the event list's `X-Consul-Index`, the two 64-bit halves of the
/// last event's UUID XOR-ed (there is no raft index for agent-local data).
pub fn uuid_to_index(id: &str) -> u64 {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let half = |range: std::ops::Range<usize>| {
        hex.get(range).and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0)
    };
    half(0..16) ^ half(16..32)
}

struct Ring {
    events: VecDeque<UserEvent>,
    clock: u64,
}

/// The ring of accepted events, the change signal blocking lists wait on, and the
/// outbound feed for gossip.
pub struct UserEvents {
    ring: Mutex<Ring>,
    changed: watch::Sender<u64>,
    outbound: broadcast::Sender<UserEvent>,
}

impl Default for UserEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl UserEvents {
    /// An empty buffer of [`EVENT_BUFFER_SIZE`] events.
    pub fn new() -> Self {
        let ring = Ring { events: VecDeque::with_capacity(EVENT_BUFFER_SIZE), clock: 0 };
        UserEvents {
            ring: Mutex::new(ring),
            changed: watch::channel(0).0,
            outbound: broadcast::channel(EVENT_BUFFER_SIZE).0,
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, ring: &mut Ring, event: UserEvent) {
        if ring.events.len() == EVENT_BUFFER_SIZE {
            ring.events.pop_front();
        }
        ring.events.push_back(event);
        self.changed.send_modify(|n| *n += 1);
    }

    /// A locally fired event: stamped with the next Lamport tick, kept if its filters match
    /// `local`, and offered to gossip. Returns the event as stamped.
    pub fn fire(&self, mut event: UserEvent, local: &LocalIdentity) -> UserEvent {
        let mut ring = self.ring();
        ring.clock += 1;
        event.ltime = ring.clock;
        if event.matches(local) {
            self.push(&mut ring, event.clone());
        }
        drop(ring);
        // No subscriber (no gossip yet) is not an error: the event stays local.
        let _ = self.outbound.send(event.clone());
        event
    }

    /// The seam for gossip: an event received from another agent. It is kept if its
    /// filters match `local` and it was not seen before; the Lamport clock moves past it.
    pub fn deliver(&self, event: UserEvent, local: &LocalIdentity) {
        let mut ring = self.ring();
        ring.clock = ring.clock.max(event.ltime);
        if ring.events.iter().any(|e| e.id == event.id) || !event.matches(local) {
            return;
        }
        self.push(&mut ring, event);
    }

    /// Events fired here, for gossip to broadcast.
    pub fn outbound(&self) -> broadcast::Receiver<UserEvent> {
        self.outbound.subscribe()
    }

    /// The kept events, oldest first, optionally only those named `name`.
    pub fn list(&self, name: Option<&str>) -> Vec<UserEvent> {
        let ring = self.ring();
        let keep = |e: &&UserEvent| name.is_none_or(|n| e.name == n);
        ring.events.iter().filter(keep).cloned().collect()
    }

    /// Ticks on every kept event; a blocking list waits on it.
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, name: &str) -> UserEvent {
        UserEvent { id: id.into(), name: name.into(), version: 1, ..UserEvent::default() }
    }

    fn local() -> LocalIdentity {
        LocalIdentity {
            node_name: "web-node-1".into(),
            services: vec![("web".into(), vec!["v1".into()]), ("db".into(), vec![])],
        }
    }

    #[test]
    fn the_ring_keeps_the_last_256_and_stamps_lamport_times() {
        let events = UserEvents::new();
        for i in 0..300 {
            let fired = events.fire(event(&format!("id-{i}"), "deploy"), &local());
            assert_eq!(fired.ltime, i + 1);
        }
        let kept = events.list(None);
        assert_eq!(kept.len(), EVENT_BUFFER_SIZE);
        assert_eq!(kept[0].id, "id-44");
        assert_eq!(events.list(Some("other")), vec![]);
        events.deliver(UserEvent { ltime: 1000, ..event("remote", "deploy") }, &local());
        events.deliver(UserEvent { ltime: 1000, ..event("remote", "deploy") }, &local());
        assert_eq!(events.list(None).iter().filter(|e| e.id == "remote").count(), 1, "dedup");
        assert_eq!(events.fire(event("next", "x"), &local()).ltime, 1001, "clock moved past");
    }

    #[test]
    fn filters_follow_consul() {
        let l = local();
        let with = |node: &str, service: &str, tag: &str| UserEvent {
            node_filter: node.into(),
            service_filter: service.into(),
            tag_filter: tag.into(),
            ..event("x", "n")
        };
        assert!(with("", "", "").matches(&l));
        assert!(with("node", "", "").matches(&l), "unanchored search");
        assert!(!with("^db", "", "").matches(&l));
        assert!(with("", "we", "").matches(&l));
        assert!(with("", "web", "v1").matches(&l));
        assert!(!with("", "db", "v1").matches(&l), "db has no tags");
        assert!(!with("(", "", "").matches(&l));
        let events = UserEvents::new();
        let _ = events.fire(with("elsewhere", "", ""), &l);
        assert!(events.list(None).is_empty(), "not for this agent");
    }

    #[test]
    fn validation_messages() {
        let bad = |e: UserEvent| e.validate().unwrap_err().to_string();
        assert_eq!(bad(event("x", "")), "User event missing name");
        let tag_only = UserEvent { tag_filter: "v1".into(), ..event("x", "n") };
        assert_eq!(bad(tag_only), "Cannot provide tag filter without service filter");
        let broken = UserEvent { node_filter: "(".into(), ..event("x", "n") };
        assert!(bad(broken).starts_with("Invalid node filter: "));
        let big = UserEvent { payload: vec![b'x'; 600], ..event("x", "n") };
        assert_eq!(bad(big), "User event exceeds configured limit of 512 bytes");
        assert!(event("x", "n").validate().is_ok());
    }

    #[test]
    fn index_is_consuls_uuid_to_uint64() {
        let id = "0123456789abcdef-fedcba9876543210";
        assert_eq!(
            uuid_to_index("01234567-89ab-cdef-fedc-ba9876543210"),
            0x0123_4567_89ab_cdef ^ 0xfedc_ba98_7654_3210
        );
        assert_eq!(uuid_to_index(id), uuid_to_index("01234567-89ab-cdef-fedc-ba9876543210"));
        assert_eq!(uuid_to_index("garbage"), 0);
    }
}
