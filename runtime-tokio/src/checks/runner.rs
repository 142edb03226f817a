//! The runner task: feeds commands, probe results and timer expiries into the scheduler
//! and carries its probes and events out. All decisions are the scheduler's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use proconsul_core::checks::{CheckScheduler, Probe, ProbeResult};
use proconsul_core::time::Instant;
use tokio::sync::mpsc;

use super::tls::ProbeDialer;
use super::{CheckEvent, Command, probe};

type ProbeFuture = Pin<Box<dyn Future<Output = (Probe, ProbeResult)> + Send>>;

/// Maps the scheduler's instants onto tokio's clock (virtual under turmoil or a paused
/// test clock).
struct Clock {
    epoch: tokio::time::Instant,
}

impl Clock {
    fn start() -> Self {
        Clock { epoch: tokio::time::Instant::now() }
    }

    fn now(&self) -> Instant {
        Instant(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn deadline(&self, at: Instant) -> tokio::time::Instant {
        self.epoch + Duration::from_nanos(at.nanos())
    }
}

struct Runner {
    scheduler: CheckScheduler,
    tls: ProbeDialer,
    clock: Clock,
    in_flight: FuturesUnordered<ProbeFuture>,
    /// One event taken from the scheduler and waiting for room in the channel; the rest
    /// stay (coalesced) in the scheduler.
    pending: Option<CheckEvent>,
    events: mpsc::Sender<CheckEvent>,
    events_open: bool,
}

#[allow(clippy::disallowed_methods, reason = "the runner is one long-lived driver task")]
pub(super) fn spawn(
    scheduler: CheckScheduler,
    tls: ProbeDialer,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<CheckEvent>,
) {
    let runner = Runner {
        scheduler,
        tls,
        clock: Clock::start(),
        in_flight: FuturesUnordered::new(),
        pending: None,
        events,
        events_open: true,
    };
    tokio::spawn(runner.run(commands));
}

impl Runner {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            self.drain();
            let deadline = self.scheduler.poll_timeout().map(|at| self.clock.deadline(at));
            let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(far_future));
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => handle(&mut self.scheduler, self.clock.now(), command),
                    None => return,
                },
                Some((probe, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    let now = self.clock.now();
                    self.scheduler.handle_probe_result(probe.check_id.as_str(), result, now);
                }
                permit = self.events.reserve(), if self.pending.is_some() && self.events_open => {
                    match permit {
                        Ok(permit) => {
                            if let Some(event) = self.pending.take() {
                                permit.send(event);
                            }
                        }
                        Err(_) => self.events_open = false,
                    }
                }
                () = sleep, if deadline.is_some() => {
                    self.scheduler.handle_timeout(self.clock.now());
                }
            }
        }
    }

    /// Starts every released probe and takes the next event to deliver.
    fn drain(&mut self) {
        while let Some(probe) = self.scheduler.poll_probe() {
            self.in_flight.push(Box::pin(probe::run(probe, self.tls.clone())));
        }
        loop {
            if self.pending.is_none() {
                self.pending = self
                    .scheduler
                    .poll_deregister()
                    .map(|service_id| CheckEvent::DeregisterService { service_id })
                    .or_else(|| self.scheduler.poll_status_change().map(CheckEvent::StatusChanged));
            }
            if self.events_open || self.pending.is_none() {
                return;
            }
            // Nobody listens any more: keep the scheduler's queues empty.
            self.pending = None;
        }
    }
}

/// Answers one handle call (a free function: the `select!` branches keep `self` borrowed).
fn handle(scheduler: &mut CheckScheduler, now: Instant, command: Command) {
    match command {
        Command::Add(def, reply) => {
            let _ = reply.send(scheduler.add(*def, now));
        }
        Command::Remove(id, reply) => {
            let _ = reply.send(scheduler.remove(&id, now));
        }
        Command::UpdateTtl(id, status, output, reply) => {
            let _ = reply.send(scheduler.update_ttl(&id, status, &output, now));
        }
        Command::Statuses(reply) => {
            let _ = reply.send(scheduler.statuses());
        }
    }
}

/// A deadline that never comes, for the disabled sleep branch.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}
