//! Time as the core sees it: values passed in, never read from a clock.

use std::fmt;

/// Wall-clock time in whole seconds since the Unix epoch, for certificate validity. The
/// runtime reads its clock (or the simulation's) and passes this in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Seconds since the epoch.
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// This time plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// Monotonic time in nanoseconds since the node started, for rates and timers. The
/// runtime's clock (or the simulation's virtual clock) supplies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// The node's start.
    pub const ZERO: Instant = Instant(0);

    /// Nanoseconds since the start.
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// This instant plus a duration (saturating).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Instant(self.0.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }

    /// Time from `earlier` to this instant, zero if `earlier` is later.
    pub fn since(self, earlier: Instant) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}
