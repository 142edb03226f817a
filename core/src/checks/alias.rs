//! Alias checks of a service on this agent: the check takes the worst status among the
//! aliased service's checks and the node's own checks (Consul's `CheckAlias.processChecks`).
//!
//! Checks are visited in id order (Consul walks a map, so its choice between two failing
//! checks is random; ours is stable). A critical check decides at once; among warnings the
//! last one visited names the output. Alias checks are not inputs to other alias checks, so
//! one pass settles every alias and no feedback loop can form.
//!
//! Consul turns an alias critical when the aliased service has no checks *and* is not
//! registered; the scheduler does not know the agent's services, so such an alias reports
//! `No checks found.` and passes. The agent MUST only register aliases of services it has
//! (the sidecar's `Connect Sidecar Aliasing` check always aliases its parent).

use crate::state::HealthStatus;

/// One check seen by an alias.
pub(super) struct AliasInput<'a> {
    pub(super) name: &'a str,
    pub(super) service_id: Option<&'a str>,
    pub(super) status: HealthStatus,
    pub(super) output: &'a str,
}

/// The alias's status and output given the agent's other checks, in id order.
pub(super) fn alias_verdict<'a>(
    target_service: &str,
    checks: impl Iterator<Item = AliasInput<'a>>,
) -> (HealthStatus, String) {
    let mut health = HealthStatus::Passing;
    let mut message = "No checks found.".to_owned();
    for check in checks {
        if check.service_id.is_some_and(|s| s != target_service) {
            continue;
        }
        match check.status {
            HealthStatus::Critical | HealthStatus::Warning => {
                health = check.status;
                message = format!("Aliased check {:?} failing: {}", check.name, check.output);
                if check.status == HealthStatus::Critical {
                    break;
                }
            }
            HealthStatus::Passing => {
                if health == HealthStatus::Passing {
                    message = "All checks passing.".to_owned();
                }
            }
        }
    }
    (health, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthStatus::{Critical, Passing, Warning};

    fn input<'a>(name: &'a str, service: Option<&'a str>, status: HealthStatus) -> AliasInput<'a> {
        AliasInput { name, service_id: service, status, output: "out" }
    }

    #[test]
    fn no_checks_pass_with_consuls_message() {
        assert_eq!(
            alias_verdict("web", std::iter::empty()),
            (Passing, "No checks found.".to_owned())
        );
    }

    #[test]
    fn other_services_are_ignored_and_node_checks_count() {
        let checks = vec![
            input("other", Some("db"), Critical),
            input("web-up", Some("web"), Passing),
            input("node-disk", None, Warning),
        ];
        assert_eq!(
            alias_verdict("web", checks.into_iter()),
            (Warning, "Aliased check \"node-disk\" failing: out".to_owned())
        );
    }

    #[test]
    fn critical_wins_over_warning_and_passing_keeps_failure_message() {
        let checks = vec![
            input("a", Some("web"), Warning),
            input("b", Some("web"), Passing),
            input("c", Some("web"), Critical),
            input("d", Some("web"), Warning),
        ];
        assert_eq!(
            alias_verdict("web", checks.into_iter()),
            (Critical, "Aliased check \"c\" failing: out".to_owned())
        );
    }

    #[test]
    fn all_passing() {
        let checks = vec![input("a", Some("web"), Passing), input("n", None, Passing)];
        assert_eq!(
            alias_verdict("web", checks.into_iter()),
            (Passing, "All checks passing.".to_owned())
        );
    }
}
