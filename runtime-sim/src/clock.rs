//! The wall clock of a simulated host: turmoil's epoch plus simulated time.

use std::time::Duration;

use proconsul_runtime_tokio::env::Clock;

/// Reads the simulated wall clock of the host the caller runs on (the epoch outside one).
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    /// The Unix time the simulation starts at.
    pub epoch: Duration,
}

impl Clock for SimClock {
    fn since_epoch(&self) -> Duration {
        // turmoil counts from its own epoch, which the builder sets to ours.
        turmoil::since_epoch().unwrap_or(self.epoch)
    }
}
