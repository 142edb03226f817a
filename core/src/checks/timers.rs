//! The scheduler's one timer table: every deadline of every check, ordered by
//! `(instant, sequence)` so that equal deadlines fire in the order they were armed.
//! Cancelling is a removal by key, so nothing stale is ever left to fire.

use std::collections::BTreeMap;

use super::CheckId;
use crate::time::Instant;

/// What a deadline means for its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// Start the next probe.
    Probe,
    /// The TTL ran out without an update.
    TtlExpiry,
    /// Send the catalog an output change that was held back (`check_update_interval`).
    OutputSync,
    /// The check has been critical for `DeregisterCriticalServiceAfter`.
    Deregister,
}

pub(super) const TIMER_KINDS: usize = 4;

impl TimerKind {
    pub(super) fn slot(self) -> usize {
        self as usize
    }
}

/// Key of an armed timer; give it back to [`TimerTable::cancel`].
pub(super) type TimerKey = (Instant, u64);

#[derive(Debug, Default)]
pub(super) struct TimerTable {
    entries: BTreeMap<TimerKey, (CheckId, TimerKind)>,
    next_seq: u64,
}

impl TimerTable {
    pub(super) fn arm(&mut self, at: Instant, check: CheckId, kind: TimerKind) -> TimerKey {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.entries.insert(key, (check, kind));
        key
    }

    pub(super) fn cancel(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.entries.keys().next().map(|(at, _)| *at)
    }

    /// The earliest timer due at `now`, removed from the table.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(CheckId, TimerKind)> {
        let entry = self.entries.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
