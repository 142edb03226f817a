//! The gossip driver: one UDP socket and one task that feeds datagrams and due timers into
//! the core's [`Pool`](proconsul_core::gossip::Pool) and sends what it asks to send.
//! All protocol decisions (probing, suspicion, leave vs failure) live in the core.
//!
//! ```text
//!  UDP socket ──recv──► Pool::handle_data ─┐
//!  sleep_until(poll_timeout) ─► handle_timeout ─┼─► poll_transmit ──send──► UDP socket
//!  GossipHandle: join / leave / set_tags ──────┘   members ──► watch::Sender<Vec<Member>>
//! ```
//!
//! Use: [`Gossip::start`] with a [`GossipConfig`], then [`GossipHandle::join`] the
//! `-retry-join` addresses (retrying while it returns 0), read
//! [`GossipHandle::members`] for `proconsul members` and server discovery, and hand
//! [`GossipHandle::subscribe`] to the leader's reconciliation loop
//! ([`proconsul_core::gossip::reconcile`]).

mod driver;
mod handle;

pub use handle::{Gossip, GossipConfig, GossipHandle};
pub use proconsul_core::gossip::{Member, MemberStatus, Profile, Role, Timings, reconcile, tags};
