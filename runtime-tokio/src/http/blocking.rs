//! Consul's blocking queries (CONSUL-FACTS.md §8): with `?index=N`, a read waits until the
//! index of what it reads exceeds `N` or `wait` (+ up to `wait/16` jitter) elapses, then
//! returns the current data with its index. Without `?index` (or with 0) it returns at once.
//!
//! The wake-up source is the raft node's applied-index watch: every apply re-runs the read
//! and compares [`StateMachine::index_of`] of the endpoint's [`WatchKey`], so unrelated writes
//! cost one re-read and never return early.

use proconsul_core::state::{StateMachine, WatchKey};

use super::{ApiError, ApiState, QueryOptions};

/// Runs `read` under `opts`, blocking as asked; returns the value and its index (never 0).
pub(crate) async fn query<T>(
    state: &ApiState,
    opts: &QueryOptions,
    key: &WatchKey,
    read: impl Fn(&StateMachine) -> T,
) -> Result<(T, u64), ApiError> {
    query_keys(state, opts, std::slice::from_ref(key), read).await
}

/// [`query`] for a read that spans several keys (a node and its services): its index is the
/// highest of theirs.
pub(crate) async fn query_keys<T>(
    state: &ApiState,
    opts: &QueryOptions,
    keys: &[WatchKey],
    read: impl Fn(&StateMachine) -> T,
) -> Result<(T, u64), ApiError> {
    let node = &state.node;
    let mut applied = node.state().applied_index();
    let deadline = (opts.min_index > 0)
        .then(|| tokio::time::Instant::now() + opts.wait + state.jitter(opts.wait));
    loop {
        // Mark the current applied index seen BEFORE reading, so an apply that lands between
        // the read and the wait still wakes us.
        applied.borrow_and_update();
        let (index, value) = node
            .read(opts.consistency, |sm| {
                (keys.iter().map(|k| sm.index_of(k)).max().unwrap_or(1), read(sm))
            })
            .await?;
        let Some(deadline) = deadline else { return Ok((value, index)) };
        if index > opts.min_index {
            return Ok((value, index));
        }
        match tokio::time::timeout_at(deadline, applied.changed()).await {
            Ok(Ok(())) => {}
            // Timed out: nothing changed, so what we read is the current data. A closed
            // watch means the node is shutting down: answer with what we have.
            Err(_) | Ok(Err(_)) => return Ok((value, index)),
        }
    }
}
