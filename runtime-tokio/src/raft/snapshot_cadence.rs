//! When a server takes a raft snapshot: Consul's cadence, not openraft's.
//!
//! openraft's own policy snapshots as soon as `threshold` entries follow the last snapshot.
//! A snapshot serialises the whole catalog, so under a steady write load that cost recurs
//! every few seconds on every server (at 5,000 writes/s and Consul's 16,384-entry threshold:
//! every 3 s, each time ~0.4 s of CPU for a 130k-registration catalog). Consul's servers
//! instead look every `raft_snapshot_interval` (30 s), each wait drawn between the interval
//! and twice it so the servers do not snapshot in step, and snapshot only if the threshold
//! has been reached by then. The log grows longer between snapshots; a restart replays it.

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use proconsul_core::rng::{Stream, below};

use super::ProconsulRaft;

/// `raft_snapshot_threshold` and `raft_snapshot_interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotCadence {
    /// Entries applied since the last snapshot before another is worth taking.
    pub threshold: u64,
    /// The shortest wait between two looks.
    pub interval: Duration,
}

impl SnapshotCadence {
    /// Whether enough entries were applied after the snapshot at `snapshot` (none yet: 0).
    pub fn due(&self, applied: Option<u64>, snapshot: Option<u64>) -> bool {
        applied.unwrap_or(0).saturating_sub(snapshot.unwrap_or(0)) >= self.threshold
    }

    /// The next wait: uniform in `[interval, 2 * interval)`.
    pub fn next_wait(&self, rng: &mut Stream) -> Duration {
        let nanos = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
        self.interval.saturating_add(Duration::from_nanos(below(rng, nanos)))
    }

    /// Looks after every wait and asks `raft` for a snapshot when one is due; returns when
    /// raft has stopped. The caller races it against its own shutdown.
    pub async fn run(self, raft: ProconsulRaft, mut rng: Stream) {
        loop {
            tokio::time::sleep(self.next_wait(&mut rng)).await;
            let (applied, snapshot) = {
                let metrics = raft.metrics();
                let m = metrics.borrow_watched();
                (m.last_applied.map(|id| id.index), m.snapshot.map(|id| id.index))
            };
            if self.due(applied, snapshot) && raft.trigger().snapshot().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proconsul_core::rng::Seed;

    use super::*;

    #[test]
    fn a_snapshot_is_due_once_the_threshold_is_reached_since_the_last_one() {
        let cadence = SnapshotCadence { threshold: 100, interval: Duration::from_secs(30) };
        assert!(!cadence.due(None, None));
        assert!(!cadence.due(Some(99), None));
        assert!(cadence.due(Some(100), None));
        assert!(!cadence.due(Some(150), Some(100)));
        assert!(cadence.due(Some(200), Some(100)));
        assert!(!cadence.due(Some(50), Some(100)), "a snapshot installed ahead of apply");
    }

    #[test]
    fn waits_fall_between_the_interval_and_twice_it_and_replay_from_the_seed() {
        let cadence = SnapshotCadence { threshold: 1, interval: Duration::from_secs(30) };
        let draw = |seed| {
            let mut rng = Seed(seed).stream("raft-snapshots");
            (0..200).map(|_| cadence.next_wait(&mut rng)).collect::<Vec<_>>()
        };
        let waits = draw(7);
        assert!(waits.iter().all(|w| *w >= cadence.interval && *w < 2 * cadence.interval));
        assert!(waits.windows(2).any(|w| w[0] != w[1]), "jittered");
        assert_eq!(waits, draw(7));
        assert_ne!(waits, draw(8));
    }
}
