//! Autopilot's configuration (`/v1/operator/autopilot/configuration`), replicated so every
//! server applies the same dead-server cleanup and stabilization rules.
//!
//! Consul's leader writes the defaults into raft when it first takes office; here an absent
//! record reads as [`AutopilotConfig::default`] at index 0, which is what a client would see
//! before that first write, and a CAS against 0 replaces it. A write replaces the whole record
//! (fields a client leaves out become zero, as Consul's handler decodes into a fresh struct).

use std::time::Duration;

use crate::config::GoDuration;

use super::{Changes, StateError, StateMachine, WatchKey};

/// Consul's `structs.AutopilotConfig` in its API shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutopilotConfig {
    /// Remove dead servers from the raft peers when a new server joins.
    pub cleanup_dead_servers: bool,
    /// A server that has not heard from the leader for longer is unhealthy.
    pub last_contact_threshold: GoDuration,
    /// A server this many log entries behind the leader is unhealthy.
    pub max_trailing_logs: u64,
    /// Dead servers are never removed below this many servers.
    pub min_quorum: u32,
    /// How long a server must be healthy before it is promoted to voter.
    pub server_stabilization_time: GoDuration,
    /// Node meta key naming a server's redundancy zone (Enterprise; kept as written).
    pub redundancy_zone_tag: String,
    /// Turn off upgrade migrations (Enterprise; kept as written).
    pub disable_upgrade_migration: bool,
    /// Node meta key overriding a server's version for migrations (Enterprise).
    pub upgrade_version_tag: String,
    /// Raft index that first stored the record (0 while only the defaults exist).
    pub create_index: u64,
    /// Raft index of the last write (0 while only the defaults exist).
    pub modify_index: u64,
}

impl Default for AutopilotConfig {
    /// Consul's defaults (`agent/config/default.go`).
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            last_contact_threshold: GoDuration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: GoDuration::from_secs(10),
            redundancy_zone_tag: String::new(),
            disable_upgrade_migration: false,
            upgrade_version_tag: String::new(),
            create_index: 0,
            modify_index: 0,
        }
    }
}

impl AutopilotConfig {
    /// Equal apart from indexes.
    fn same_as(&self, other: &AutopilotConfig) -> bool {
        let strip =
            |c: &AutopilotConfig| AutopilotConfig { create_index: 0, modify_index: 0, ..c.clone() };
        strip(self) == strip(other)
    }

    fn check(&self) -> Result<(), StateError> {
        let negative = |field: &'static str, d: GoDuration| {
            d.is_negative().then(|| StateError::InvalidAutopilotConfig {
                field,
                message: format!("must not be negative, got {d}"),
            })
        };
        match negative("LastContactThreshold", self.last_contact_threshold)
            .or_else(|| negative("ServerStabilizationTime", self.server_stabilization_time))
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What the leader knows about one voter when judging its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// It is the leader (always in contact with itself).
    pub leader: bool,
    /// Time since it last acknowledged the leader; `None` when it never has.
    pub last_contact: Option<Duration>,
    /// The raft term it was last seen in.
    pub last_term: u64,
    /// Its last replicated log index.
    pub last_index: u64,
}

impl AutopilotConfig {
    /// Autopilot's rule (hashicorp/raft-autopilot `isServerHealthy`): in contact within
    /// `LastContactThreshold`, in the leader's term, and at most `MaxTrailingLogs` entries
    /// behind the leader's last index.
    pub fn server_healthy(
        &self,
        leader_term: u64,
        leader_last_index: u64,
        s: &ServerStats,
    ) -> bool {
        if s.leader {
            return true;
        }
        let threshold = self.last_contact_threshold.to_std().unwrap_or(Duration::ZERO);
        let in_contact = s.last_contact.is_some_and(|c| c <= threshold);
        in_contact
            && s.last_term == leader_term
            && s.last_index.saturating_add(self.max_trailing_logs) >= leader_last_index
    }
}

/// How many voters can fail before quorum is lost, counting only healthy ones (autopilot's
/// `FailureTolerance`); 0 when the healthy voters are already at or below quorum.
pub fn failure_tolerance(healthy_voters: usize, voters: usize) -> usize {
    healthy_voters.saturating_sub(voters / 2 + 1)
}

/// The body of [`super::Command::AutopilotSetConfig`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutopilotSet {
    /// The whole new record (indexes ignored).
    pub config: AutopilotConfig,
    /// Expected ModifyIndex; 0 matches the never-written defaults.
    #[serde(default)]
    pub cas: Option<u64>,
}

impl StateMachine {
    /// The autopilot configuration in force ([`WatchKey::Autopilot`]).
    pub fn autopilot_config(&self) -> AutopilotConfig {
        self.autopilot.clone().unwrap_or_default()
    }

    pub(super) fn autopilot_set(
        &mut self,
        tx: &mut Changes,
        set: &AutopilotSet,
    ) -> Result<bool, StateError> {
        let AutopilotSet { config, cas } = set;
        let current = self.autopilot_config();
        if cas.is_some_and(|cas| cas != current.modify_index) {
            return Ok(false);
        }
        config.check()?;
        if self.autopilot.is_some() && current.same_as(config) {
            return Ok(true);
        }
        let create_index = if self.autopilot.is_some() { current.create_index } else { tx.index };
        self.autopilot =
            Some(AutopilotConfig { create_index, modify_index: tx.index, ..config.clone() });
        tx.touch(WatchKey::Autopilot);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Command;
    use crate::state::tests::dc1;

    fn set(cleanup: bool, cas: Option<u64>) -> Command {
        let config =
            AutopilotConfig { cleanup_dead_servers: cleanup, ..AutopilotConfig::default() };
        Command::AutopilotSetConfig(AutopilotSet { config, cas })
    }

    #[test]
    fn absent_config_reads_as_consul_defaults_at_index_zero() {
        let sm = StateMachine::new(dc1());
        let c = sm.autopilot_config();
        assert!(c.cleanup_dead_servers);
        assert_eq!(c.last_contact_threshold.to_string(), "200ms");
        assert_eq!(c.server_stabilization_time.to_string(), "10s");
        assert_eq!((c.max_trailing_logs, c.create_index, c.modify_index), (250, 0, 0));
        assert_eq!(sm.index_of(&WatchKey::Autopilot), 1, "never 0");
    }

    #[test]
    fn cas_mismatch_changes_nothing_and_a_match_writes() {
        let mut sm = StateMachine::new(dc1());
        let r = sm.apply(3, &set(false, Some(1000))).unwrap();
        assert!(!r.succeeded);
        assert!(r.changed.is_empty());
        assert!(sm.autopilot_config().cleanup_dead_servers);

        let r = sm.apply(4, &set(false, Some(0))).unwrap();
        assert!(r.succeeded, "CAS 0 replaces the defaults");
        assert_eq!(r.changed, vec![WatchKey::Autopilot]);
        let c = sm.autopilot_config();
        assert_eq!((c.cleanup_dead_servers, c.create_index, c.modify_index), (false, 4, 4));

        let r = sm.apply(5, &set(true, None)).unwrap();
        assert!(r.succeeded);
        let c = sm.autopilot_config();
        assert_eq!((c.cleanup_dead_servers, c.create_index, c.modify_index), (true, 4, 5));
        assert_eq!(sm.index_of(&WatchKey::Autopilot), 5);
        assert!(!sm.apply(6, &set(false, Some(4))).unwrap().succeeded, "stale CAS");
    }

    #[test]
    fn identical_write_moves_no_index() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(2, &set(false, None)).unwrap();
        let r = sm.apply(3, &set(false, None)).unwrap();
        assert!(r.succeeded);
        assert!(r.changed.is_empty());
        assert_eq!(sm.autopilot_config().modify_index, 2);
    }

    #[test]
    fn negative_durations_are_refused_naming_the_field() {
        let mut sm = StateMachine::new(dc1());
        let config = AutopilotConfig {
            server_stabilization_time: GoDuration::from_secs(-1),
            ..AutopilotConfig::default()
        };
        let err = sm
            .apply(2, &Command::AutopilotSetConfig(AutopilotSet { config, cas: None }))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid autopilot configuration: ServerStabilizationTime must not be negative, got -1s"
        );
        assert_eq!(sm.autopilot_config().modify_index, 0);
    }

    #[test]
    fn health_needs_contact_term_and_bounded_lag() {
        let c = AutopilotConfig::default();
        let ok = ServerStats {
            leader: false,
            last_contact: Some(Duration::from_millis(50)),
            last_term: 3,
            last_index: 100,
        };
        assert!(c.server_healthy(3, 350, &ok), "250 behind is within MaxTrailingLogs");
        assert!(!c.server_healthy(3, 351, &ok), "251 behind is not");
        assert!(!c.server_healthy(4, 100, &ok), "stale term");
        let silent = ServerStats { last_contact: None, ..ok };
        assert!(!c.server_healthy(3, 100, &silent));
        let late = ServerStats { last_contact: Some(Duration::from_millis(201)), ..ok };
        assert!(!c.server_healthy(3, 100, &late));
        let leader = ServerStats { leader: true, last_contact: None, last_term: 0, last_index: 0 };
        assert!(c.server_healthy(3, 1000, &leader));
    }

    #[test]
    fn failure_tolerance_counts_healthy_voters_above_quorum() {
        assert_eq!(failure_tolerance(1, 1), 0);
        assert_eq!(failure_tolerance(3, 3), 1);
        assert_eq!(failure_tolerance(2, 3), 0);
        assert_eq!(failure_tolerance(5, 5), 2);
        assert_eq!(failure_tolerance(0, 3), 0);
    }

    #[test]
    fn config_survives_a_snapshot() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(7, &set(false, None)).unwrap();
        let mut restored = StateMachine::new(dc1());
        restored.restore(&sm.snapshot()).unwrap();
        assert_eq!(restored, sm);
        assert_eq!(restored.autopilot_config().modify_index, 7);
    }
}
