//! One gossip pool (LAN or WAN) of one agent: foca behind the core's sans-IO contract.
//!
//! ```text
//!  datagram ─► handle_data(now, bytes) ─┐                      ┌─► poll_transmit() → (addr, bytes)
//!  deadline ─► handle_timeout(now) ─────┼─► foca ─► Effects ───┼─► poll_timeout()  → next deadline
//!  join(now, addr) / leave(now) ────────┘     │                └─► poll_event()    → MemberEvent
//!                                              └─► View (foca state + leave intents) ─► members()
//! ```
//!
//! After every `handle_*`, `join`, `leave` or `set_tags` the caller MUST drain
//! [`Pool::poll_transmit`] and [`Pool::poll_event`] until `None` and re-read
//! [`Pool::poll_timeout`]. All randomness (probe order, gossip targets) comes from the seed,
//! so the same seed and the same inputs at the same instants give the same outputs.

use std::net::SocketAddr;

use crate::rng::{Seed, Stream};
use crate::time::Instant;

use super::effects::Effects;
use super::error::GossipError;
use super::identity::Identity;
use super::intents::{self, IntentHandler, SharedIntents};
use super::member::{Member, MemberEvent, MemberStatus};
use super::timings::{Profile, Timings};
use super::view::View;

type Swim = foca::Foca<Identity, foca::PostcardCodec, Stream, IntentHandler>;

/// Counters of things the pool dropped or recovered from; all should stay 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Datagrams dropped because [`Pool::poll_transmit`] was not drained.
    pub transmits_dropped: u64,
    /// Events dropped because [`Pool::poll_event`] was not drained.
    pub events_dropped: u64,
    /// Timers foca reported a broken invariant for (it recovers by itself).
    pub timer_errors: u64,
}

/// A gossip pool member: this agent's view of its LAN (or WAN) pool.
pub struct Pool {
    swim: Swim,
    timings: Timings,
    effects: Effects,
    intents: SharedIntents,
    view: View,
    left: bool,
    /// The pool size foca's config was last computed for.
    sized_for: usize,
    timer_errors: u64,
    /// What foca's membership looked like at the last view refresh (see [`fingerprint`]).
    seen: Option<u64>,
    /// Our own identity or status changed: refresh the view even if foca's did not.
    dirty: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("identity", self.swim.identity())
            .field("left", &self.left)
            .field("members", &self.view.members().len())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool that knows only itself; [`Pool::join`] to reach others. Randomness comes from
    /// the `gossip` sub-stream of `seed`.
    pub fn new(identity: Identity, profile: Profile, seed: u64) -> Result<Self, GossipError> {
        let timings = profile.timings();
        timings.validate()?;
        let intents = SharedIntents::default();
        let swim = foca::Foca::with_custom_broadcast(
            identity,
            timings.foca_config(1),
            Seed(seed).stream("gossip"),
            foca::PostcardCodec,
            IntentHandler(intents.clone()),
        );
        let mut pool = Pool {
            swim,
            timings,
            effects: Effects::default(),
            intents,
            view: View::default(),
            left: false,
            sized_for: 1,
            seen: None,
            dirty: true,
            timer_errors: 0,
        };
        pool.refresh();
        // Seeing ourselves is not news.
        while pool.view.pop_event().is_some() {}
        Ok(pool)
    }

    /// Our current identity (its incarnation moves on renewals and tag changes).
    pub fn identity(&self) -> &Identity {
        self.swim.identity()
    }

    /// The timings in force.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// True once [`Pool::leave`] was called.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Feeds one received datagram. After leaving, datagrams are ignored.
    pub fn handle_data(&mut self, now: Instant, bytes: &[u8]) -> Result<(), GossipError> {
        if self.left {
            return Ok(());
        }
        let result = self.swim.handle_data(bytes, self.effects.at(now));
        self.refresh();
        result.map_err(GossipError::from)
    }

    /// Announces ourselves to whoever listens at `addr`; its member list comes back as a
    /// feed and the pool grows from there. UDP gives no receipt: watch
    /// [`Pool::members`] to see whether the join took.
    pub fn join(&mut self, now: Instant, addr: SocketAddr) -> Result<(), GossipError> {
        if self.left {
            return Err(GossipError::Left);
        }
        if addr == self.identity().addr() {
            return Err(GossipError::JoinSelf { addr });
        }
        let target = Identity::placeholder(addr, self.identity().datacenter().clone());
        let result = self.swim.announce(target, self.effects.at(now));
        self.refresh();
        result.map_err(GossipError::from)
    }

    /// Leaves for good: broadcasts a leave intent with our down update, so peers record
    /// us as left rather than failed. Afterwards the pool sends nothing, ignores input and
    /// has no deadline; drain [`Pool::poll_transmit`] once more to send the goodbye.
    /// Leaving twice is a no-op.
    pub fn leave(&mut self, now: Instant) -> Result<(), GossipError> {
        if self.left {
            return Ok(());
        }
        let intent = intents::encode_leave(self.identity());
        self.swim.add_broadcast(&intent)?;
        self.swim.leave_cluster(self.effects.at(now))?;
        self.left = true;
        self.effects.clear_timers();
        self.refresh();
        Ok(())
    }

    /// Replaces our tags. The identity moves to the next incarnation and peers see an
    /// `Updated` member.
    pub fn set_tags(
        &mut self,
        now: Instant,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<(), GossipError> {
        if self.left {
            return Err(GossipError::Left);
        }
        let next = self.identity().with_tags(tags)?;
        let result = self.swim.change_identity(next, self.effects.at(now));
        self.dirty = true;
        self.refresh();
        result.map_err(GossipError::from)
    }

    /// Fires the timers due at `now`. Spurious calls are no-ops; timers scheduled while
    /// handling these wait for the next call even if already due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.left {
            return;
        }
        for timer in self.effects.take_due(now) {
            if self.swim.handle_timer(timer, self.effects.at(now)).is_err() {
                self.timer_errors += 1;
            }
        }
        self.refresh();
    }

    /// The next datagram to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.effects.pop_transmit()
    }

    /// The next membership change, oldest first.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.view.pop_event()
    }

    /// When [`Pool::handle_timeout`] is next due; `None` after leaving.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.effects.next_deadline()
    }

    /// Every member including ourselves, sorted by name: alive and suspect ones, and failed
    /// or left ones until they are reaped ([`Timings::reap_after`]).
    pub fn members(&self) -> Vec<Member> {
        self.view.members()
    }

    /// A counter that moves whenever [`Pool::members`] would return something different
    /// (including suspicion, which emits no event), so a runtime republishes the list only
    /// when it changed.
    pub fn members_version(&self) -> u64 {
        self.view.version()
    }

    /// Counters of dropped effects and recovered errors.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            transmits_dropped: self.effects.transmits_dropped,
            events_dropped: self.view.events_dropped,
            timer_errors: self.timer_errors,
        }
    }

    /// Brings the view, the size-dependent timings and the intent log up to date with
    /// foca's state after an input.
    fn refresh(&mut self) {
        // Most inputs (probes, acks, gossip repeats) change nothing; rebuilding the view
        // compares every identity with its tags, which is most of a quiet pool's work.
        let notified = self.effects.take_notified();
        let seen = fingerprint(self.swim.iter_membership_state(), self.left);
        let fresh = self.intents.lock().has_fresh();
        if !notified && !fresh && !self.dirty && self.seen == Some(seen) {
            return;
        }
        self.seen = Some(seen);
        self.dirty = false;
        let me = self.swim.identity();
        let status = if self.left { MemberStatus::Left } else { MemberStatus::Alive };
        let mut intents = self.intents.lock();
        let changed = self.view.refresh((me, status), self.swim.iter_membership_state(), &intents);
        let fresh = intents.take_fresh();
        if changed || fresh {
            intents.prune(|name| self.view.contains(name));
        }
        drop(intents);
        self.resize();
    }

    /// memberlist scales the suspicion timeout and retransmit limit with the pool size;
    /// foca takes them as config, so re-apply it when the number of active members moves.
    fn resize(&mut self) {
        let n = self.swim.num_members() + 1;
        if n != self.sized_for && self.swim.set_config(self.timings.foca_config(n)).is_ok() {
            self.sized_for = n;
        }
    }
}

/// A digest of foca's membership: every member's address, incarnation and state. Identity
/// changes (tags, renewals) come with a foca notification, so address, incarnation and
/// state are what can move silently (a suspicion, a refutation).
fn fingerprint<'a>(members: impl Iterator<Item = &'a foca::Member<Identity>>, left: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::hash::StableHasher::new();
    left.hash(&mut h);
    for m in members {
        m.id().addr().hash(&mut h);
        m.incarnation().hash(&mut h);
        (m.state() as u8).hash(&mut h);
    }
    h.finish()
}
