//! The agent's check scheduler: every local check's timers, results and status, sans-IO.
//!
//! ```text
//!  add(def, now) ─────────┐                       ┌─► poll_probe()  ─► runtime prober
//!  update_ttl(id, ..) ────┤   timers (one table)  │        │ (HTTP request / TCP connect)
//!  handle_probe_result ◄──┼───────────────────────┼────────┘
//!  handle_timeout(now) ───┘   thresholds, TTLs,   ├─► poll_status_change() ─► catalog writes
//!  poll_timeout() ◄────────── aliases, reaping    └─► poll_deregister()    ─► agent removes service
//! ```
//!
//! Call order (DESIGN.md section 2): after every `add`/`remove`/`update_ttl`/
//! `handle_probe_result`/`handle_timeout`, drain `poll_probe`, `poll_status_change` and
//! `poll_deregister` until `None`, then sleep until `poll_timeout()`. Time only advances
//! through the `now` arguments, which MUST never go backwards.
//!
//! Consul's rules reproduced here:
//! * interval checks probe first at a random offset in `[0, interval)` (`lib.RandomStagger`),
//!   then `interval` after each result; intervals below 1s run every second;
//! * results pass the success/failure thresholds before they change the status;
//! * a TTL check turns critical `TTL expired` when not updated within its TTL, keeping the
//!   last output (`TTL expired (last output before timeout follows): ...`);
//! * the catalog hears a status change at once, but an output-only change at most once per
//!   `check_update_interval` (after a random `interval/2 + [0, interval)`), Consul's
//!   `check_update_interval`, so chatty outputs don't turn into a Raft write per probe;
//! * a service whose check with `DeregisterCriticalServiceAfter` stays critical that long
//!   (at least `deregister_critical_min`) is reported once for deregistration.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::CheckId;
use super::alias::{AliasInput, alias_verdict};
use super::definition::{CheckDefinition, CheckKind, MIN_INTERVAL};
use super::error::{AddCheckError, NoTtlError};
use super::probe::{Probe, ProbeKind, ProbeResult, http_verdict, tcp_verdict, truncate_ttl_output};
use super::thresholds::Thresholds;
use super::timers::{TIMER_KINDS, TimerKey, TimerKind, TimerTable};
use crate::rng::{self, Stream};
use crate::state::HealthStatus;
use crate::time::Instant;

/// Agent-wide settings (Consul's agent configuration keys in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Cap on captured output in bytes [`check_output_max_size`, 4096].
    pub output_max_size: usize,
    /// Delay bound for output-only changes [`check_update_interval`, 5m]; zero sends every
    /// change at once.
    pub check_update_interval: Duration,
    /// Floor for `DeregisterCriticalServiceAfter` [`check_deregister_interval_min`, 1m].
    pub deregister_critical_min: Duration,
    /// Most checks one scheduler runs; bounds every table and queue.
    pub max_checks: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            output_max_size: 4096,
            check_update_interval: Duration::from_secs(300),
            deregister_critical_min: Duration::from_secs(60),
            max_checks: 65_536,
        }
    }
}

/// A check's status to write to the catalog (through the servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The check.
    pub check_id: CheckId,
    /// Its service instance, `None` for a node check.
    pub service_id: Option<String>,
    /// The new status.
    pub status: HealthStatus,
    /// The new output.
    pub output: String,
}

/// A check's current local status (what `/v1/agent/checks` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStatus {
    /// The check.
    pub check_id: CheckId,
    /// Its service instance, `None` for a node check.
    pub service_id: Option<String>,
    /// Current status.
    pub status: HealthStatus,
    /// Current output.
    pub output: String,
}

/// One registered check and everything the scheduler knows about it.
#[derive(Debug)]
struct Tracked {
    def: CheckDefinition,
    status: HealthStatus,
    output: String,
    /// What the catalog holds once every queued change is applied.
    synced: (HealthStatus, String),
    /// Since when the status has been critical (set by results, not by registration).
    critical_since: Option<Instant>,
    thresholds: Thresholds,
    timers: [Option<TimerKey>; TIMER_KINDS],
    /// A probe was handed out (polled or queued) and its result is awaited.
    probe_in_flight: bool,
    /// The last `update_ttl` output, quoted when the TTL expires.
    last_ttl_output: String,
}

/// The sans-IO health-check scheduler of one agent. See the module docs for the call order.
#[derive(Debug)]
pub struct CheckScheduler {
    config: SchedulerConfig,
    rng: Stream,
    checks: BTreeMap<CheckId, Tracked>,
    /// Alias checks by id -> the service they alias.
    aliases: BTreeMap<CheckId, String>,
    timers: TimerTable,
    probes: VecDeque<Probe>,
    changes: VecDeque<StatusChange>,
    queued_changes: BTreeSet<CheckId>,
    deregisters: VecDeque<String>,
}

impl CheckScheduler {
    /// An empty scheduler. `rng` is this subsystem's own stream
    /// (`Seed::stream("checks")`), so probe offsets replay with the seed.
    pub fn new(config: SchedulerConfig, rng: Stream) -> Self {
        CheckScheduler {
            config,
            rng,
            checks: BTreeMap::new(),
            aliases: BTreeMap::new(),
            timers: TimerTable::default(),
            probes: VecDeque::new(),
            changes: VecDeque::new(),
            queued_changes: BTreeSet::new(),
            deregisters: VecDeque::new(),
        }
    }

    /// Starts running `def`. A definition with an id already registered replaces it and
    /// keeps the current status and output (Consul re-adds without flapping); thresholds
    /// and timers start over. The agent writes the check itself (status `def.status`, empty
    /// output) when it registers it; later changes come from [`Self::poll_status_change`].
    pub fn add(&mut self, def: CheckDefinition, now: Instant) -> Result<(), AddCheckError> {
        let previous = self.checks.remove(def.id.as_str());
        if previous.is_none() && self.checks.len() >= self.config.max_checks {
            return Err(AddCheckError::TooManyChecks { id: def.id, max: self.config.max_checks });
        }
        let id = def.id.clone();
        let mut tracked = Tracked {
            status: def.status,
            output: String::new(),
            synced: (def.status, String::new()),
            critical_since: None,
            thresholds: Thresholds::new(&def.options),
            timers: [None; TIMER_KINDS],
            probe_in_flight: false,
            last_ttl_output: String::new(),
            def,
        };
        if let Some(old) = previous {
            self.cancel_all(&old);
            let queued_before = self.probes.len();
            self.probes.retain(|p| p.check_id != id);
            tracked.probe_in_flight = old.probe_in_flight && self.probes.len() == queued_before;
            tracked.status = old.status;
            tracked.output = old.output;
            tracked.synced = old.synced;
            tracked.last_ttl_output = old.last_ttl_output;
            if tracked.status == HealthStatus::Critical {
                tracked.critical_since = Some(now);
            }
        }
        self.aliases.remove(&id);
        if let CheckKind::Alias { service_id } = &tracked.def.kind {
            self.aliases.insert(id.clone(), service_id.clone());
        }
        let start = self.start_timers(&mut tracked, now);
        let service = tracked.def.service_id.clone();
        self.checks.insert(id.clone(), tracked);
        self.arm_deregister(&id);
        match start {
            Start::Record(status, output) => self.record(id.as_str(), status, output, now),
            Start::Alias => self.refresh_alias(&id, now),
            Start::Nothing => {}
        }
        if !self.aliases.contains_key(&id) {
            self.refresh_aliases_of(service.as_deref(), now);
        }
        Ok(())
    }

    /// Stops and forgets a check: its timers, its queued probe and its unsent status change.
    /// Returns whether it was registered. Aliases that watched it are refreshed at `now`.
    pub fn remove(&mut self, id: &str, now: Instant) -> bool {
        let Some(tracked) = self.checks.remove(id) else {
            return false;
        };
        self.cancel_all(&tracked);
        self.probes.retain(|p| p.check_id.as_str() != id);
        if self.queued_changes.remove(id) {
            self.changes.retain(|c| c.check_id.as_str() != id);
        }
        if self.aliases.remove(id).is_none() {
            self.refresh_aliases_of(tracked.def.service_id.as_deref(), now);
        }
        true
    }

    /// `/v1/agent/check/{pass,warn,fail,update}`: sets a TTL check's status and output and
    /// restarts its TTL. The output is capped as Consul caps it. Any other id is refused with
    /// Consul's message; nothing changes then.
    pub fn update_ttl(
        &mut self,
        id: &str,
        status: HealthStatus,
        output: &str,
        now: Instant,
    ) -> Result<(), NoTtlError> {
        let max = self.output_max(id);
        let Some(tracked) = self.checks.get_mut(id) else {
            return Err(NoTtlError(id.to_owned()));
        };
        let CheckKind::Ttl { ttl } = tracked.def.kind else {
            return Err(NoTtlError(id.to_owned()));
        };
        let output = truncate_ttl_output(output, max);
        tracked.last_ttl_output.clone_from(&output);
        let check = tracked.def.id.clone();
        self.rearm(&check, TimerKind::TtlExpiry, now.plus(ttl));
        self.record(id, status, output, now);
        Ok(())
    }

    /// Fires every timer due at `now`. Spurious calls are no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((id, kind)) = self.timers.pop_due(now) {
            let Some(tracked) = self.checks.get_mut(&id) else {
                continue;
            };
            tracked.timers[kind.slot()] = None;
            match kind {
                TimerKind::Probe => self.start_probe(&id),
                TimerKind::TtlExpiry => {
                    let output = if tracked.last_ttl_output.is_empty() {
                        "TTL expired".to_owned()
                    } else {
                        format!(
                            "TTL expired (last output before timeout follows): {}",
                            tracked.last_ttl_output
                        )
                    };
                    self.record(id.as_str(), HealthStatus::Critical, output, now);
                }
                TimerKind::OutputSync => self.queue_sync(&id),
                TimerKind::Deregister => self.reap(&id, now),
            }
        }
    }

    /// The next deadline, if any timer is armed. Re-read after every `handle_*`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next probe to run. At most one probe per check is out at a time.
    pub fn poll_probe(&mut self) -> Option<Probe> {
        self.probes.pop_front()
    }

    /// Feeds the answer to a probe handed out by [`Self::poll_probe`]. Answers for checks
    /// that were removed, or that have no probe out, are ignored (they raced a `remove`).
    pub fn handle_probe_result(&mut self, check_id: &str, result: ProbeResult, now: Instant) {
        let max = self.output_max(check_id);
        let Some(tracked) = self.checks.get_mut(check_id) else {
            return;
        };
        if !std::mem::take(&mut tracked.probe_in_flight) {
            return;
        }
        let (verdict, output, interval) = match &tracked.def.kind {
            CheckKind::Http(http) => {
                let (v, o) = http_verdict(http, result, max);
                (v, o, http.interval)
            }
            CheckKind::Tcp(tcp) => {
                let (v, o) = tcp_verdict(tcp, result);
                (v, o, tcp.interval)
            }
            _ => return,
        };
        let reported = tracked.thresholds.feed(verdict);
        let id = tracked.def.id.clone();
        self.rearm(&id, TimerKind::Probe, now.plus(interval.max(MIN_INTERVAL)));
        if let Some(status) = reported {
            self.record(check_id, status, output, now);
        }
    }

    /// The next status to write to the catalog. Changes of one check are coalesced, so the
    /// queue never holds more entries than there are checks.
    pub fn poll_status_change(&mut self) -> Option<StatusChange> {
        let change = self.changes.pop_front()?;
        self.queued_changes.remove(&change.check_id);
        Some(change)
    }

    /// The next service instance to deregister because a check with
    /// `DeregisterCriticalServiceAfter` stayed critical. Its checks are already removed from
    /// the scheduler; the agent MUST remove the service (and its checks) from its state.
    pub fn poll_deregister(&mut self) -> Option<String> {
        self.deregisters.pop_front()
    }

    /// Every check's current local status, by id.
    pub fn statuses(&self) -> Vec<CheckStatus> {
        self.checks.values().map(Tracked::status).collect()
    }

    /// One check's current local status.
    pub fn status(&self, id: &str) -> Option<CheckStatus> {
        self.checks.get(id).map(Tracked::status)
    }

    /// A registered check's definition.
    pub fn definition(&self, id: &str) -> Option<&CheckDefinition> {
        self.checks.get(id).map(|t| &t.def)
    }

    /// How many checks run.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// Whether no check runs.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }
}

/// What a freshly added check does first.
enum Start {
    Record(HealthStatus, String),
    Alias,
    Nothing,
}

impl Tracked {
    fn status(&self) -> CheckStatus {
        CheckStatus {
            check_id: self.def.id.clone(),
            service_id: self.def.service_id.clone(),
            status: self.status,
            output: self.output.clone(),
        }
    }
}

impl CheckScheduler {
    fn output_max(&self, id: &str) -> usize {
        let own = self.checks.get(id).and_then(|t| t.def.options.output_max_size);
        own.map_or(self.config.output_max_size, |o| o.min(self.config.output_max_size))
    }

    fn start_timers(&mut self, tracked: &mut Tracked, now: Instant) -> Start {
        let id = tracked.def.id.clone();
        let interval = match &tracked.def.kind {
            CheckKind::Ttl { ttl } => {
                let key = self.timers.arm(now.plus(*ttl), id, TimerKind::TtlExpiry);
                tracked.timers[TimerKind::TtlExpiry.slot()] = Some(key);
                return Start::Nothing;
            }
            CheckKind::Alias { .. } => return Start::Alias,
            CheckKind::Unsupported(u) => {
                return Start::Record(HealthStatus::Critical, u.output());
            }
            CheckKind::Http(h) => h.interval,
            CheckKind::Tcp(t) => t.interval,
        };
        if !tracked.probe_in_flight {
            let interval = interval.max(MIN_INTERVAL);
            let offset = rng::below(&mut self.rng, duration_nanos(interval));
            let key = self.timers.arm(now.plus(Duration::from_nanos(offset)), id, TimerKind::Probe);
            tracked.timers[TimerKind::Probe.slot()] = Some(key);
        }
        Start::Nothing
    }

    fn start_probe(&mut self, id: &CheckId) {
        let max = self.output_max(id.as_str());
        let Some(tracked) = self.checks.get_mut(id) else {
            return;
        };
        let kind = match &tracked.def.kind {
            CheckKind::Http(http) => ProbeKind::http(http, max),
            CheckKind::Tcp(tcp) => ProbeKind::tcp(tcp),
            _ => return,
        };
        if tracked.probe_in_flight {
            return;
        }
        tracked.probe_in_flight = true;
        self.probes.push_back(Probe { check_id: id.clone(), kind });
    }

    /// Consul's `State.UpdateCheck`: the one place a check's local status changes.
    fn record(&mut self, id: &str, status: HealthStatus, output: String, now: Instant) {
        let Some(tracked) = self.checks.get_mut(id) else {
            return;
        };
        let check = tracked.def.id.clone();
        let critical_clock_changed = match (status, tracked.critical_since) {
            (HealthStatus::Critical, None) => {
                tracked.critical_since = Some(now);
                true
            }
            (HealthStatus::Critical, Some(_)) => false,
            (_, since) => {
                tracked.critical_since = None;
                since.is_some()
            }
        };
        let unchanged = tracked.status == status && tracked.output == output;
        let output_only = tracked.status == status;
        let service = tracked.def.service_id.clone();
        if !unchanged {
            tracked.status = status;
            tracked.output = output;
        }
        if critical_clock_changed {
            self.arm_deregister(&check);
        }
        if unchanged {
            return;
        }
        let interval = self.config.check_update_interval;
        if output_only && !interval.is_zero() {
            let armed = self
                .checks
                .get(id)
                .is_some_and(|t| t.timers[TimerKind::OutputSync.slot()].is_some());
            if !armed {
                let span = duration_nanos(interval);
                let delay = span / 2 + rng::below(&mut self.rng, span);
                self.rearm(&check, TimerKind::OutputSync, now.plus(Duration::from_nanos(delay)));
            }
        } else {
            self.disarm(&check, TimerKind::OutputSync);
            self.queue_sync(&check);
        }
        if !self.aliases.contains_key(id) {
            self.refresh_aliases_of(service.as_deref(), now);
        }
    }

    /// Queues the check's current status for the catalog unless the catalog has it already.
    fn queue_sync(&mut self, id: &CheckId) {
        let Some(tracked) = self.checks.get_mut(id) else {
            return;
        };
        let current = (tracked.status, tracked.output.clone());
        let queued = self.queued_changes.contains(id);
        if !queued && tracked.synced == current {
            return;
        }
        let change = StatusChange {
            check_id: id.clone(),
            service_id: tracked.def.service_id.clone(),
            status: current.0,
            output: current.1.clone(),
        };
        tracked.synced = current;
        if queued {
            if let Some(slot) = self.changes.iter_mut().find(|c| c.check_id == *id) {
                *slot = change;
            }
        } else {
            self.queued_changes.insert(id.clone());
            self.changes.push_back(change);
        }
    }

    /// Re-arms or disarms the reaping deadline after the critical clock moved.
    fn arm_deregister(&mut self, id: &CheckId) {
        self.disarm(id, TimerKind::Deregister);
        let Some(tracked) = self.checks.get(id) else {
            return;
        };
        let (Some(since), Some(after), Some(_)) = (
            tracked.critical_since,
            tracked.def.options.deregister_critical_service_after,
            tracked.def.service_id.as_ref(),
        ) else {
            return;
        };
        let at = since.plus(after.max(self.config.deregister_critical_min));
        self.rearm(id, TimerKind::Deregister, at);
    }

    /// The deadline passed: report the service once and stop all its checks.
    fn reap(&mut self, id: &CheckId, now: Instant) {
        let Some(service) = self.checks.get(id).and_then(|t| t.def.service_id.clone()) else {
            return;
        };
        if !self.deregisters.contains(&service) {
            self.deregisters.push_back(service.clone());
        }
        let doomed: Vec<CheckId> = self
            .checks
            .iter()
            .filter(|(_, t)| t.def.service_id.as_deref() == Some(service.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        for check in doomed {
            self.remove(check.as_str(), now);
        }
    }

    fn refresh_aliases_of(&mut self, service: Option<&str>, now: Instant) {
        let watching: Vec<CheckId> = self
            .aliases
            .iter()
            .filter(|(_, target)| service.is_none_or(|s| s == target.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        for alias in watching {
            self.refresh_alias(&alias, now);
        }
    }

    fn refresh_alias(&mut self, alias: &CheckId, now: Instant) {
        let Some(target) = self.aliases.get(alias) else {
            return;
        };
        let inputs =
            self.checks.values().filter(|t| !matches!(t.def.kind, CheckKind::Alias { .. }));
        let (status, output) = alias_verdict(
            target,
            inputs.map(|t| AliasInput {
                name: &t.def.name,
                service_id: t.def.service_id.as_deref(),
                status: t.status,
                output: &t.output,
            }),
        );
        self.record(alias.as_str(), status, output, now);
    }

    fn rearm(&mut self, id: &CheckId, kind: TimerKind, at: Instant) {
        self.disarm(id, kind);
        let key = self.timers.arm(at, id.clone(), kind);
        if let Some(tracked) = self.checks.get_mut(id) {
            tracked.timers[kind.slot()] = Some(key);
        }
    }

    fn disarm(&mut self, id: &CheckId, kind: TimerKind) {
        if let Some(key) = self.checks.get_mut(id).and_then(|t| t.timers[kind.slot()].take()) {
            self.timers.cancel(key);
        }
    }

    fn cancel_all(&mut self, tracked: &Tracked) {
        for key in tracked.timers.iter().flatten() {
            self.timers.cancel(*key);
        }
    }

    #[cfg(test)]
    pub(super) fn armed_timers(&self) -> usize {
        self.timers.len()
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
