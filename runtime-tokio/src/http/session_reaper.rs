//! The TTL timer of sessions (Consul's leader-side session timers): while this server
//! leads, it sleeps until the earliest TTL deadline in the state and then proposes
//! `SessionExpire { now_ms }`, which destroys every session due by then on every server at
//! the same raft index. Renewals move deadlines in the state itself, so a new leader
//! picks up where the old one stopped.
//!
//! The loop wakes on every applied entry (a create or renew may move the earliest deadline)
//! and at least every [`RECHECK`], so it notices gaining or losing leadership. It ends when
//! the raft node shuts down.

use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use proconsul_core::state::{Command, SessionExpire};

use super::local::WallClock;
use super::{ApiState, write};
use crate::raft::RaftNode;

/// Longest sleep between looks at leadership and deadlines.
const RECHECK: Duration = Duration::from_secs(1);

/// Starts the reaper on the current tokio runtime; without one (a router built outside a
/// runtime) there is nothing to spawn on and TTLs are not enforced by this router.
pub(super) fn spawn(state: &ApiState) {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::warn!("no tokio runtime: session TTLs will not be enforced by this router");
        return;
    }
    let state = state.clone();
    #[allow(clippy::disallowed_methods, reason = "the session TTL timer is a runtime driver task")]
    let _task = tokio::spawn(async move { run(state).await });
}

fn leads(node: &RaftNode) -> bool {
    node.raft().metrics().borrow_watched().current_leader == Some(node.id())
}

async fn run(state: ApiState) {
    let node: Arc<RaftNode> = state.node.clone();
    let clock: WallClock = state.clock();
    let mut applied = node.state().applied_index();
    loop {
        let next = node.state().read().machine.next_session_deadline_ms();
        let mut pause = RECHECK;
        if let Some(at) = next.filter(|_| leads(&node)) {
            let now_ms = clock.now_ms();
            if at <= now_ms {
                let cmd = Command::SessionExpire(SessionExpire { now_ms });
                if let Err(e) = write(&state, cmd).await {
                    tracing::warn!("session TTL expiry not proposed: {e:?}");
                    tokio::time::sleep(RECHECK).await;
                }
                continue;
            }
            pause = pause.min(clock.until(at));
        }
        tokio::select! {
            biased;
            changed = applied.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(pause) => {}
        }
    }
}
