//! Gossip membership (DESIGN.md §4): SWIM through foca 2.0, shaped like the rest of the
//! core, and the reconciliation of the LAN pool into the catalog that Consul's leader runs.
//!
//! ```text
//!            ┌──────────────────────────── Pool ───────────────────────────┐
//!  bytes ───►│ foca (SWIM: probe, suspect, down; piggybacked updates)      │───► datagrams
//!  now   ───►│ Effects: timers by (deadline, seq), transmit queue          │───► next deadline
//!  join  ───►│ leave intents (custom broadcast) ─┐                         │
//!  leave ───►│ View: Alive | Suspect | Failed | Left per node name ◄───────┘│───► MemberEvent
//!            └──────────────────────────────────────────────────────────────┘
//!  members() ─► reconcile(&members, &StateMachine, leader) ─► Vec<Command> (serfHealth)
//! ```
//!
//! Every agent runs a LAN pool ([`Profile::Lan`]); servers also run a WAN pool
//! ([`Profile::Wan`]), a second [`Pool`]. Identities carry the node name, datacenter,
//! gossip address and a few tags ([`tags`]); a member declared down while alive renews its
//! identity and rejoins by itself. The runtime owns the socket and the clock and feeds them
//! in; nothing here performs I/O.

mod effects;
mod error;
mod identity;
mod intents;
mod member;
mod pool;
mod reconcile;
mod timings;
mod view;

pub use error::{DatagramError, GossipError};
pub use identity::{
    Identity, IdentityError, MAX_IDENTITY_BYTES, MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES, MAX_TAGS,
    tags,
};
pub use member::{Member, MemberEvent, MemberStatus, Role};
pub use pool::{Pool, PoolStats};
pub use reconcile::{
    SERF_CHECK_ALIVE_OUTPUT, SERF_CHECK_FAILED_OUTPUT, SERF_CHECK_ID, SERF_CHECK_NAME,
    SERVER_SERVICE, reconcile,
};
pub use timings::{Profile, Timings, TimingsError};

#[cfg(test)]
mod reconcile_tests;
#[cfg(test)]
mod simnet;
#[cfg(test)]
mod tests;
