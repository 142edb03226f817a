//! foca's [`foca::Runtime`] turned inside out: what foca asks for during one call is queued
//! here and drained by the pool's `poll_*` methods.
//!
//! foca schedules timers as relative durations; they become absolute deadlines in one table
//! keyed by `(deadline, seq)` (STYLE.md: one core-owned timer table), so the order timers
//! fire in is decided here, never by an executor.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::time::Instant;

use super::identity::Identity;

/// The most datagrams queued between drains; a caller that stops draining loses the
/// newest ones (UDP would lose them too) rather than growing memory.
pub(super) const MAX_TRANSMITS: usize = 1024;

type Timer = foca::Timer<Identity>;

/// Everything foca asked for and not yet handed out.
#[derive(Debug, Default)]
pub(super) struct Effects {
    timers: BTreeMap<(Instant, u64), Timer>,
    next_seq: u64,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Datagrams dropped because the queue was full.
    pub(super) transmits_dropped: u64,
    /// foca reported a membership change (up, down, rename, ...) since the last take.
    notified: bool,
}

impl Effects {
    /// A [`foca::Runtime`] that stamps timers relative to `now`.
    pub(super) fn at(&mut self, now: Instant) -> At<'_> {
        At { effects: self, now }
    }

    /// Whether foca reported a membership change since the last call.
    pub(super) fn take_notified(&mut self) -> bool {
        std::mem::take(&mut self.notified)
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Removes and returns the timers due at `now`, earliest first. Timers that handling
    /// these schedules wait for the next call, so one call does bounded work.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let later = self.timers.split_off(&(now, u64::MAX));
        let due = std::mem::replace(&mut self.timers, later);
        let mut out: Vec<Timer> = due.into_values().collect();
        if let Some(last) = self.timers.remove(&(now, u64::MAX)) {
            out.push(last);
        }
        out
    }

    /// Forgets every timer (after leaving, nothing is due any more).
    pub(super) fn clear_timers(&mut self) {
        self.timers.clear();
    }

    /// The oldest queued datagram.
    pub(super) fn pop_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }
}

/// [`Effects`] during one foca call at a known time.
pub(super) struct At<'a> {
    effects: &'a mut Effects,
    now: Instant,
}

impl foca::Runtime<Identity> for At<'_> {
    /// Membership changes are read back from foca's state after each call instead (the
    /// notifications miss suspicion and cannot tell a leave from a failure).
    fn notify(&mut self, _notification: foca::Notification<'_, Identity>) {
        self.effects.notified = true;
    }

    fn send_to(&mut self, to: Identity, data: &[u8]) {
        let fx = &mut *self.effects;
        if fx.transmits.len() >= MAX_TRANSMITS {
            fx.transmits_dropped += 1;
        } else {
            fx.transmits.push_back((to.addr(), data.to_vec()));
        }
    }

    fn submit_after(&mut self, event: Timer, after: Duration) {
        let fx = &mut *self.effects;
        fx.timers.insert((self.now.plus(after), fx.next_seq), event);
        fx.next_seq += 1;
    }
}
