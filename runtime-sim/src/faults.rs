//! Faults: what can go wrong in a simulated world, scripted by a scenario or drawn from the
//! seed. A [`FaultPlan`] is a list of faults at simulated times.

use std::fmt;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One fault (or its repair).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// No traffic between the two sets, either way.
    Partition(Vec<String>, Vec<String>),
    /// No traffic from the first set to the second.
    PartitionOneway(Vec<String>, Vec<String>),
    /// Traffic between the two sets again.
    Heal(Vec<String>, Vec<String>),
    /// Every link repaired.
    HealAll,
    /// The host loses power: its tasks stop, unsynced writes are lost.
    Crash(String),
    /// The host boots again from its disk.
    Restart(String),
    /// Every message may take up to this long.
    Latency {
        /// The new upper bound.
        max: Duration,
    },
    /// Every link of the host gets this latency (a slow or overloaded machine).
    Slow {
        /// The host.
        host: String,
        /// Its links' latency.
        latency: Duration,
    },
    /// Links fail (dropping what is in flight) with this probability per step.
    Loss(f64),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition(a, b) => write!(f, "partition [{}] | [{}]", a.join(","), b.join(",")),
            Fault::PartitionOneway(a, b) => {
                write!(f, "partition [{}] -> [{}]", a.join(","), b.join(","))
            }
            Fault::Heal(a, b) => write!(f, "heal [{}] | [{}]", a.join(","), b.join(",")),
            Fault::HealAll => f.write_str("heal all"),
            Fault::Crash(h) => write!(f, "crash {h}"),
            Fault::Restart(h) => write!(f, "restart {h}"),
            Fault::Latency { max } => write!(f, "latency max {max:?}"),
            Fault::Slow { host, latency } => write!(f, "slow {host} {latency:?}"),
            Fault::Loss(rate) => write!(f, "loss {rate}"),
        }
    }
}

/// Faults at simulated times, applied in order.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    steps: Vec<(Duration, Fault)>,
    next: usize,
}

impl FaultPlan {
    /// An explicit script.
    pub fn script(mut steps: Vec<(Duration, Fault)>) -> Self {
        steps.sort_by_key(|(at, _)| *at);
        FaultPlan { steps, next: 0 }
    }

    /// Faults drawn from `seed` over `duration`: every 20-60 s one of a partition of a
    /// random minority, a crash and restart of one host, a slow host, or a burst of latency,
    /// each repaired 5-20 s later, and everything healed at the end.
    pub fn random(seed: u64, hosts: &[String], duration: Duration) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473);
        let mut steps = Vec::new();
        let mut at = Duration::from_secs(rng.random_range(20..60));
        while at + Duration::from_secs(25) < duration && !hosts.is_empty() {
            let hold = Duration::from_secs(rng.random_range(5..20));
            let victim = hosts[rng.random_range(0..hosts.len())].clone();
            match rng.random_range(0..4) {
                0 => {
                    let rest: Vec<String> =
                        hosts.iter().filter(|h| **h != victim).cloned().collect();
                    steps.push((at, Fault::Partition(vec![victim.clone()], rest.clone())));
                    steps.push((at + hold, Fault::Heal(vec![victim], rest)));
                }
                1 => {
                    steps.push((at, Fault::Crash(victim.clone())));
                    steps.push((at + hold, Fault::Restart(victim)));
                }
                2 => {
                    let latency = Duration::from_millis(rng.random_range(20..200));
                    steps.push((at, Fault::Slow { host: victim.clone(), latency }));
                    steps.push((
                        at + hold,
                        Fault::Slow { host: victim, latency: Duration::from_millis(1) },
                    ));
                }
                _ => {
                    let max = Duration::from_millis(rng.random_range(20..100));
                    steps.push((at, Fault::Latency { max }));
                    steps.push((at + hold, Fault::Latency { max: Duration::from_millis(5) }));
                }
            }
            at += hold + Duration::from_secs(rng.random_range(20..60));
        }
        steps.push((duration.saturating_sub(Duration::from_secs(5)), Fault::HealAll));
        FaultPlan::script(steps)
    }

    /// The faults due at `now`, each returned once.
    pub fn due(&mut self, now: Duration) -> Vec<Fault> {
        let mut out = Vec::new();
        while let Some((at, fault)) = self.steps.get(self.next) {
            if *at > now {
                break;
            }
            out.push(fault.clone());
            self.next += 1;
        }
        out
    }

    /// Every step of the plan.
    pub fn steps(&self) -> &[(Duration, Fault)] {
        &self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_from_a_seed_is_the_same_plan_every_time_and_differs_across_seeds() {
        let hosts: Vec<String> = (1..=5).map(|i| format!("h{i}")).collect();
        let d = Duration::from_secs(600);
        let a = FaultPlan::random(7, &hosts, d);
        let b = FaultPlan::random(7, &hosts, d);
        let c = FaultPlan::random(8, &hosts, d);
        assert_eq!(a.steps(), b.steps());
        assert_ne!(a.steps(), c.steps());
        assert!(a.steps().len() >= 4, "ten minutes bring several faults");
        assert_eq!(a.steps().last().map(|(_, f)| f), Some(&Fault::HealAll));
    }

    #[test]
    fn due_faults_come_out_once_in_time_order() {
        let mut plan = FaultPlan::script(vec![
            (Duration::from_secs(2), Fault::Restart("a".into())),
            (Duration::from_secs(1), Fault::Crash("a".into())),
        ]);
        assert!(plan.due(Duration::from_millis(500)).is_empty());
        assert_eq!(plan.due(Duration::from_secs(1)), vec![Fault::Crash("a".into())]);
        assert_eq!(plan.due(Duration::from_secs(5)), vec![Fault::Restart("a".into())]);
        assert!(plan.due(Duration::from_secs(9)).is_empty());
    }
}
