//! What the session, event, transaction, query and snapshot endpoints need besides the raft
//! node: the agent's node name, its wall clock, its seeded id stream, its user-event buffer,
//! and a few request helpers (case-insensitive bodies, read-your-write).
//!
//! Time: `now_ms` stamped into commands is Unix milliseconds read as a base wall-clock
//! instant plus tokio's monotonic elapsed time, so a paused tokio clock (tests) or a
//! simulated one moves it, and the OS clock is read once per [`ApiState`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use proconsul_core::rng::{Seed, uuid};
use proconsul_core::state::StateMachine;
use serde_json::Value;

use super::catalog_body::{Shape, canonical};
use super::user_events::UserEvents;
use super::{ApiError, ApiState};
use crate::raft::{RaftNode, ReadConsistency};

/// The node sessions default to when the agent was given no name (`agent -dev`'s default).
pub const DEFAULT_NODE_NAME: &str = "proconsul-dev";

/// Unix milliseconds that follow tokio's clock after one read of the OS clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    base_unix_ms: u64,
    base: tokio::time::Instant,
}

impl WallClock {
    #[allow(clippy::disallowed_methods, reason = "the one read of the OS wall clock")]
    pub(crate) fn start() -> Self {
        let since = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let base_unix_ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
        WallClock { base_unix_ms, base: tokio::time::Instant::now() }
    }

    /// A clock reading `clock` once, then following tokio's.
    pub(crate) fn from(clock: &dyn crate::env::Clock) -> Self {
        WallClock { base_unix_ms: clock.unix_ms(), base: tokio::time::Instant::now() }
    }

    /// Now, in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_unix_ms.saturating_add(elapsed)
    }

    /// How long until the wall clock reads `at_ms` (zero if it already has).
    pub(crate) fn until(&self, at_ms: u64) -> Duration {
        Duration::from_millis(at_ms.saturating_sub(self.now_ms()))
    }
}

impl ApiState {
    /// The state every handler shares. `jitter_seed` seeds the blocking-query jitter and the
    /// id stream (session, query and event ids). The node name defaults to
    /// [`DEFAULT_NODE_NAME`]; the agent sets its own with [`ApiState::with_node_name`].
    pub fn new(node: Arc<RaftNode>, jitter_seed: u64) -> Self {
        let seed = Seed(jitter_seed);
        ApiState {
            node,
            jitter: Arc::new(Mutex::new(seed.stream("http-blocking-jitter"))),
            ids: Arc::new(Mutex::new(seed.stream("http-ids"))),
            node_name: Arc::from(DEFAULT_NODE_NAME),
            clock: WallClock::start(),
            events: Arc::new(UserEvents::new()),
        }
    }

    /// The agent's node name: sessions are created on it unless the body names another,
    /// and event filters match against it.
    pub fn with_node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = Arc::from(name.into());
        self
    }

    /// Stamps commands with `clock` (the agent's world) instead of the OS clock.
    pub fn with_clock(mut self, clock: &dyn crate::env::Clock) -> Self {
        self.clock = WallClock::from(clock);
        self
    }

    /// The agent's user-event buffer: gossip delivers remote events into it with
    /// [`UserEvents::deliver`] and takes locally fired ones from [`UserEvents::outbound`].
    pub fn user_events(&self) -> Arc<UserEvents> {
        self.events.clone()
    }

    pub(super) fn node_name(&self) -> &str {
        &self.node_name
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(super) fn clock(&self) -> WallClock {
        self.clock
    }

    /// A fresh UUID from the seeded id stream.
    pub(super) fn new_id(&self) -> String {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        uuid(&mut ids)
    }

    /// A seeded shuffle (prepared query results, as Consul shuffles them).
    pub(super) fn shuffle<T>(&self, items: &mut [T]) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        for i in (1..items.len()).rev() {
            let bound = u64::try_from(i + 1).unwrap_or(u64::MAX);
            let j = usize::try_from(proconsul_core::rng::below(&mut ids, bound)).unwrap_or(0);
            items.swap(i, j);
        }
    }

    /// A read of the locally applied state, without a leader check.
    pub(super) async fn read_local<T>(
        &self,
        read: impl FnOnce(&StateMachine) -> T,
    ) -> Result<T, ApiError> {
        Ok(self.node.read(ReadConsistency::Stale, read).await?)
    }

    /// Waits until this server has applied raft index `index` (a write forwarded to the
    /// leader commits there first), so a read right after a write sees it.
    pub(super) async fn applied(&self, index: u64) -> Result<(), ApiError> {
        let mut applied = self.node.state().applied_index();
        let wait = applied.wait_for(|i| *i >= index);
        match tokio::time::timeout(self.node.deadline(), wait).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ApiError::Internal("server is shutting down".into())),
            Err(_) => Err(ApiError::Internal(format!("timed out applying index {index}"))),
        }
    }
}

/// Decodes a body the way Consul does: JSON whatever the `Content-Type`, field names
/// matched without case along `shape` (see [`canonical`]); an empty body is the default
/// value (Consul only decodes a non-empty body).
pub(super) fn decode_shaped<T>(body: &[u8], shape: Shape) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + Default,
{
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let failed = |e: serde_json::Error| ApiError::BadRequest(format!("Request decode failed: {e}"));
    let value: Value = serde_json::from_slice(body).map_err(failed)?;
    serde_json::from_value(canonical(value, shape)).map_err(failed)
}

/// A 200 with no body (Consul's answer to query updates and deletes, snapshot restores).
pub(super) fn empty_ok() -> Response {
    StatusCode::OK.into_response()
}
