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
