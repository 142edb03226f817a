//! Failure-detector and dissemination timings, in memberlist's terms (CONSUL-FACTS.md §9.1),
//! and their translation into foca's [`foca::Config`].
//!
//! Like memberlist, the suspicion timeout and the retransmit limit grow with the pool size,
//! so [`Timings::foca_config`] takes the current size and the pool re-applies it whenever
//! the number of members changes.

use std::num::{NonZeroU8, NonZeroUsize};
use std::time::Duration;

/// Which timings a pool runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// Consul's LAN defaults: probe every 1 s, suspicion x4.
    Lan,
    /// Consul's WAN defaults: probe every 5 s, suspicion x6.
    Wan,
    /// Consul's `-dev` gossip (100 ms probes and gossip, suspicion x3): failures show
    /// within about a second. For `agent -dev` and tests.
    Dev,
    /// Explicit timings (a config file's `gossip_lan { ... }` block).
    Custom(Timings),
}

impl Profile {
    /// The timings this profile stands for.
    pub fn timings(&self) -> Timings {
        match self {
            Profile::Lan => Timings::lan(),
            Profile::Wan => Timings::wan(),
            Profile::Dev => Timings::dev(),
            Profile::Custom(t) => t.clone(),
        }
    }
}

/// memberlist's knobs that foca has a counterpart for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// How often each member probes one other member.
    pub probe_interval: Duration,
    /// How long a direct probe waits for an ack before asking others to probe indirectly.
    /// foca requires it strictly below `probe_interval`.
    pub probe_timeout: Duration,
    /// Suspicion timeout = `suspicion_mult` x max(1, log10(n)) x `probe_interval`.
    pub suspicion_mult: u32,
    /// Members asked to probe indirectly after a direct probe times out.
    pub indirect_checks: usize,
    /// How often pending updates are pushed to `gossip_nodes` random members.
    pub gossip_interval: Duration,
    /// Fan-out of each gossip round.
    pub gossip_nodes: usize,
    /// Each update is sent `retransmit_mult` x ceil(log10(n + 1)) times.
    pub retransmit_mult: u32,
    /// How often a member asks a random peer for its member list (memberlist's push/pull
    /// anti-entropy; foca's periodic announce).
    pub push_pull_interval: Duration,
    /// How often a member tries to reach failed members again, so partitions heal (Serf's
    /// reconnect interval).
    pub reconnect_interval: Duration,
    /// How long a failed or left member is remembered before it is forgotten (Serf's
    /// tombstone timeout).
    pub reap_after: Duration,
}

/// Why timings were refused. Nothing was created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimingsError {
    /// A field that must be positive was zero.
    #[error("gossip timings: {field} must be greater than zero")]
    Zero {
        /// The field's name.
        field: &'static str,
    },
    /// `probe_timeout` was not below `probe_interval`.
    #[error(
        "gossip timings: probe_timeout ({timeout:?}) must be shorter than probe_interval ({interval:?})"
    )]
    ProbeTimeoutTooLong {
        /// The probe timeout.
        timeout: Duration,
        /// The probe interval.
        interval: Duration,
    },
}

const MAX_PACKET_BYTES: usize = 1400;

impl Timings {
    /// memberlist's DefaultLANConfig as Consul uses it; Serf's 30 s reconnect and 24 h
    /// tombstone timeout.
    pub fn lan() -> Self {
        Timings {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            suspicion_mult: 4,
            indirect_checks: 3,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            retransmit_mult: 4,
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            reap_after: Duration::from_secs(24 * 3600),
        }
    }

    /// memberlist's DefaultWANConfig as Consul uses it.
    pub fn wan() -> Self {
        Timings {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(500),
            push_pull_interval: Duration::from_secs(60),
            ..Timings::lan()
        }
    }

    /// Consul's dev-mode gossip. Consul probes with a 100 ms timeout inside a 100 ms
    /// interval; foca needs the timeout strictly shorter, so it is 50 ms here.
    pub fn dev() -> Self {
        Timings {
            probe_interval: Duration::from_millis(100),
            probe_timeout: Duration::from_millis(50),
            suspicion_mult: 3,
            gossip_interval: Duration::from_millis(100),
            retransmit_mult: 2,
            push_pull_interval: Duration::from_secs(5),
            reconnect_interval: Duration::from_secs(5),
            ..Timings::lan()
        }
    }

    /// Refuses zero durations and fan-outs, and a probe timeout that does not fit inside
    /// the probe interval.
    pub fn validate(&self) -> Result<(), TimingsError> {
        let zero = |field| Err(TimingsError::Zero { field });
        let durations = [
            ("probe_interval", self.probe_interval),
            ("probe_timeout", self.probe_timeout),
            ("gossip_interval", self.gossip_interval),
            ("push_pull_interval", self.push_pull_interval),
            ("reconnect_interval", self.reconnect_interval),
            ("reap_after", self.reap_after),
        ];
        if let Some((field, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return zero(field);
        }
        if self.suspicion_mult == 0 {
            return zero("suspicion_mult");
        }
        if self.indirect_checks == 0 {
            return zero("indirect_checks");
        }
        if self.gossip_nodes == 0 {
            return zero("gossip_nodes");
        }
        if self.retransmit_mult == 0 {
            return zero("retransmit_mult");
        }
        if self.probe_timeout >= self.probe_interval {
            return Err(TimingsError::ProbeTimeoutTooLong {
                timeout: self.probe_timeout,
                interval: self.probe_interval,
            });
        }
        Ok(())
    }

    /// How long a suspect member of a pool of `n` gets to refute before it is declared
    /// failed (memberlist's formula without the shrinking for independent confirmations).
    pub fn suspicion_timeout(&self, n: usize) -> Duration {
        let scale = log10(n.max(1)).max(1.0);
        self.probe_interval.mul_f64(f64::from(self.suspicion_mult) * scale)
    }

    /// How often each update is piggybacked in a pool of `n` (memberlist's retransmit
    /// limit), between 1 and 255.
    pub fn retransmit_limit(&self, n: usize) -> u8 {
        let rounds = log10(n.saturating_add(1)).ceil();
        let limit = f64::from(self.retransmit_mult) * rounds;
        if limit >= 255.0 { 255 } else { (limit as u8).max(1) }
    }

    /// The longest a crashed member of a pool of `n` stays alive in every other member's
    /// view, on a network without loss.
    ///
    /// Each member probes the others round-robin over a list it reshuffles every round, so a
    /// given member is probed by one prober at least every `2(n-1) - 1` intervals; the
    /// missed ack is acted on at the next probe tick, then the suspicion timeout runs, and
    /// the down update reaches the others on the next gossip rounds (two, for margin) or
    /// piggybacked on the next probe.
    pub fn failure_detection_bound(&self, n: usize) -> Duration {
        let others = u32::try_from(n.saturating_sub(1).max(1)).unwrap_or(u32::MAX);
        self.probe_interval.saturating_mul(2 * others)
            + self.suspicion_timeout(n)
            + self.gossip_interval.saturating_mul(2)
            + self.probe_interval
    }

    /// foca's configuration for a pool of `n` members (self included). Call only with
    /// validated timings.
    pub(super) fn foca_config(&self, n: usize) -> foca::Config {
        let nz = |v: usize| NonZeroUsize::new(v.max(1)).unwrap_or(NonZeroUsize::MIN);
        let periodic = |frequency, num_members| {
            Some(foca::PeriodicParams { frequency, num_members: nz(num_members) })
        };
        foca::Config {
            probe_period: self.probe_interval,
            probe_rtt: self.probe_timeout,
            num_indirect_probes: nz(self.indirect_checks),
            max_transmissions: NonZeroU8::new(self.retransmit_limit(n)).unwrap_or(NonZeroU8::MIN),
            suspect_to_down_after: self.suspicion_timeout(n),
            remove_down_after: Some(self.reap_after),
            max_packet_size: nz(MAX_PACKET_BYTES),
            notify_down_members: true,
            periodic_announce: periodic(self.push_pull_interval, 1),
            periodic_announce_to_down_members: periodic(self.reconnect_interval, 1),
            periodic_gossip: periodic(self.gossip_interval, self.gossip_nodes),
        }
    }
}

fn log10(n: usize) -> f64 {
    // Pool sizes are far below 2^52, so the conversion is exact.
    (n as f64).log10()
}
