//! `SuccessBeforePassing` / `FailuresBeforeWarning` / `FailuresBeforeCritical`: damping of
//! probe results before they reach the check's status (Consul's `StatusHandler`).
//!
//! Both counters start at their thresholds, so the very first result is reported at once
//! (Consul: "set counters values to threshold in order to immediately update status after
//! first check"); after that a flip needs its run of consecutive results. Warning counts as
//! success here, as in Consul: only critical results count towards the failure thresholds.

use super::definition::CheckOptions;
use crate::state::HealthStatus;

#[derive(Debug, Clone)]
pub(super) struct Thresholds {
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    successes: u32,
    failures: u32,
}

impl Thresholds {
    pub(super) fn new(options: &CheckOptions) -> Self {
        let failures_before_warning = if options.failures_before_warning == 0 {
            options.failures_before_critical
        } else {
            options.failures_before_warning
        };
        Thresholds {
            success_before_passing: options.success_before_passing,
            failures_before_warning,
            failures_before_critical: options.failures_before_critical,
            successes: options.success_before_passing,
            failures: options.failures_before_critical,
        }
    }

    /// Feeds one result; returns the status to record, or `None` while a threshold holds
    /// the current status.
    pub(super) fn feed(&mut self, result: HealthStatus) -> Option<HealthStatus> {
        match result {
            HealthStatus::Passing | HealthStatus::Warning => {
                self.successes = self.successes.saturating_add(1);
                self.failures = 0;
                (self.successes >= self.success_before_passing).then_some(result)
            }
            HealthStatus::Critical => {
                self.failures = self.failures.saturating_add(1);
                self.successes = 0;
                if self.failures >= self.failures_before_critical {
                    Some(HealthStatus::Critical)
                } else if self.failures >= self.failures_before_warning {
                    Some(HealthStatus::Warning)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(success: u32, warning: u32, critical: u32) -> CheckOptions {
        CheckOptions {
            success_before_passing: success,
            failures_before_warning: warning,
            failures_before_critical: critical,
            ..CheckOptions::default()
        }
    }

    use HealthStatus::{Critical as C, Passing as P, Warning as W};

    #[test]
    fn without_thresholds_every_result_is_reported() {
        let mut t = Thresholds::new(&options(0, 0, 0));
        assert_eq!(
            [t.feed(P), t.feed(C), t.feed(W), t.feed(C)],
            [Some(P), Some(C), Some(W), Some(C)]
        );
    }

    #[test]
    fn first_result_is_reported_at_once_then_runs_are_needed() {
        let mut t = Thresholds::new(&options(2, 0, 3));
        assert_eq!(t.feed(C), Some(C), "counters start at the thresholds");
        assert_eq!(t.feed(P), None);
        assert_eq!(t.feed(P), Some(P));
        assert_eq!(t.feed(C), None);
        assert_eq!(t.feed(C), None);
        assert_eq!(t.feed(C), Some(C));
    }

    #[test]
    fn a_success_resets_the_failure_run() {
        let mut t = Thresholds::new(&options(0, 0, 2));
        assert_eq!(t.feed(P), Some(P));
        assert_eq!(t.feed(C), None);
        assert_eq!(t.feed(P), Some(P));
        assert_eq!(t.feed(C), None);
        assert_eq!(t.feed(C), Some(C));
    }

    #[test]
    fn failures_before_warning_reports_warning_until_critical_is_reached() {
        let mut t = Thresholds::new(&options(0, 1, 3));
        assert_eq!(t.feed(P), Some(P));
        assert_eq!(t.feed(C), Some(W));
        assert_eq!(t.feed(C), Some(W));
        assert_eq!(t.feed(C), Some(C));
    }

    #[test]
    fn warning_results_count_as_successes() {
        let mut t = Thresholds::new(&options(2, 0, 0));
        assert_eq!(t.feed(C), Some(C));
        assert_eq!(t.feed(W), None);
        assert_eq!(t.feed(W), Some(W));
    }
}
