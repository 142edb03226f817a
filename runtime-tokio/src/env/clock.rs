//! The wall clock the drivers stamp certificates, timestamps and TTL deadlines with.
//! Monotonic time is tokio's (`tokio::time::Instant`), which turmoil and paused tests
//! already virtualize; only the wall clock needs injecting.

use std::time::{Duration, UNIX_EPOCH};

use proconsul_core::time::UnixTime;

/// A wall clock.
pub trait Clock: Send + Sync + 'static {
    /// Time since the Unix epoch.
    fn since_epoch(&self) -> Duration;

    /// Whole Unix seconds, as certificates count them.
    fn unix(&self) -> UnixTime {
        UnixTime(i64::try_from(self.since_epoch().as_secs()).unwrap_or(i64::MAX))
    }

    /// Unix milliseconds.
    fn unix_ms(&self) -> u64 {
        u64::try_from(self.since_epoch().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn since_epoch(&self) -> Duration {
        #[allow(clippy::disallowed_methods, reason = "the production wall clock")]
        let now = std::time::SystemTime::now();
        now.duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}
