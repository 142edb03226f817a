//! Sessions (Consul's `session` table): a binding between a node, some of its health checks
//! and the KV locks taken under the session's id.
//!
//! ```text
//!  SessionCreate{session, now_ms} ─► node + checks exist, none critical ─► row (+ TTL deadline)
//!  SessionRenew{id, now_ms}       ─► deadline = now_ms + TTL × 2   (no index moves, as Consul)
//!  SessionExpire{now_ms}          ─► destroy every session whose deadline ≤ now_ms
//!  SessionDestroy{id, now_ms}     ─┐
//!  node deregistered, a check of  ─┴► destroy: held keys released or deleted (Behavior),
//!  the session critical or gone        lock-delay armed on them, bound prepared queries dropped
//! ```
//!
//! Time is an input: the runtime stamps each timed command with its wall clock in Unix
//! milliseconds (`now_ms`), and a timer in the runtime proposes [`SessionExpire`] once the
//! earliest [`StateMachine::next_session_deadline_ms`] has passed. Apply itself never reads a
//! clock, so every server destroys the same sessions at the same raft index. Ids are drawn by
//! the runtime from a seeded stream and arrive inside the command.
//!
//! Lock-delay is replicated state measured against those stamped clocks. A command carrying
//! a clock fixes the start of pending delays and forgets elapsed ones even when it answers
//! `false` (a refused acquire, an unknown renew, a rolled-back transaction): that clock
//! observation is the one change such an answer may make, and no read or index shows it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::GoDuration;

use super::model::HealthStatus;
use super::{Changes, Command, StateError, StateMachine, WatchKey};

/// The agent's gossip health check, every session's default node check (Consul's
/// `structs.SerfCheckID`).
pub const SERF_HEALTH: &str = "serfHealth";
/// Shortest TTL a session may have (Consul's `session_ttl_min` default).
pub const SESSION_TTL_MIN: Duration = Duration::from_secs(10);
/// Longest TTL a session may have (Consul's `SessionTTLMax`).
pub const SESSION_TTL_MAX: Duration = Duration::from_secs(24 * 60 * 60);
/// A TTL session lives this many TTLs without renewal before it is destroyed: Consul's
/// `SessionTTLMultiplier`, so a client renewing every TTL/2 survives one lost renewal.
pub const SESSION_TTL_MULTIPLIER: u32 = 2;
/// Lock-delay used when a create does not give one (Consul's default).
pub const LOCK_DELAY_DEFAULT: Duration = Duration::from_secs(15);
/// Longer lock-delays are honoured only up to this (Consul's `MaxLockDelay`).
pub const LOCK_DELAY_MAX: Duration = Duration::from_secs(60);

/// What happens to the keys a session holds when it is invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionBehavior {
    /// Keep the keys, clear their `Session` (Consul's default).
    #[default]
    Release,
    /// Delete the keys (ephemeral entries).
    Delete,
}

impl SessionBehavior {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionBehavior::Release => "release",
            SessionBehavior::Delete => "delete",
        }
    }
}

/// A service check a session depends on (`{"ID", "Namespace"}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceCheck {
    /// Check id on the session's node.
    #[serde(rename = "ID")]
    pub id: String,
    /// Always empty outside Consul Enterprise.
    pub namespace: String,
}

/// A session as stored, replicated and returned by `/v1/session/*` (Consul's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Session {
    /// UUID, drawn by the runtime.
    #[serde(rename = "ID")]
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The node the session is bound to; it must be registered.
    pub node: String,
    /// Lock-delay in nanoseconds, as Consul's JSON carries it.
    #[serde(rename = "LockDelay")]
    pub lock_delay_ns: u64,
    /// What invalidation does to held keys.
    pub behavior: SessionBehavior,
    /// `""` (no TTL) or a Go duration such as `"20s"`.
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// Node checks (on `node`) whose going critical invalidates the session.
    pub node_checks: Vec<String>,
    /// Service checks (on `node`) whose going critical invalidates the session.
    pub service_checks: Vec<ServiceCheck>,
    /// Raft index that created the session.
    pub create_index: u64,
    /// Equal to `create_index`: sessions are immutable once created.
    pub modify_index: u64,
}

impl Session {
    /// The TTL, `None` when the session has none. `Err` names the field and why.
    pub fn ttl_duration(&self) -> Result<Option<Duration>, SessionError> {
        if self.ttl.is_empty() {
            return Ok(None);
        }
        let invalid = |reason: String| SessionError::TtlInvalid { ttl: self.ttl.clone(), reason };
        let parsed: GoDuration = self.ttl.parse().map_err(|e| invalid(format!("{e}")))?;
        let ttl = parsed.to_std().ok_or_else(|| invalid("negative duration".into()))?;
        if ttl.is_zero() {
            return Ok(None);
        }
        if ttl < SESSION_TTL_MIN || ttl > SESSION_TTL_MAX {
            return Err(SessionError::TtlOutOfRange { ttl_ns: parsed.as_nanos() });
        }
        Ok(Some(ttl))
    }

    /// Every check id the session depends on: node checks, then service checks.
    pub fn check_ids(&self) -> impl Iterator<Item = &str> {
        let node = self.node_checks.iter().map(String::as_str);
        node.chain(self.service_checks.iter().map(|c| c.id.as_str()))
    }

    /// The lock-delay applied to released keys, capped at [`LOCK_DELAY_MAX`].
    pub fn lock_delay(&self) -> Duration {
        Duration::from_nanos(self.lock_delay_ns).min(LOCK_DELAY_MAX)
    }
}

/// Why a session command was refused. Nothing changed; report the message to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No id in a create or destroy (the runtime draws one: a runtime bug).
    #[error("Missing session ID")]
    MissingId,
    /// A create whose id is taken (the runtime redraws on collision).
    #[error("Session ID {0:?} already exists")]
    DuplicateId(String),
    /// A create without a node.
    #[error("Must provide Node")]
    MissingNode,
    /// A create for a node that is not registered.
    #[error("Missing node registration")]
    UnknownNode,
    /// A create naming a check that is not on the node.
    #[error("Missing check '{0}' registration")]
    UnknownCheck(String),
    /// A create naming a check that is critical right now.
    #[error("Check '{0}' is in critical state")]
    CriticalCheck(String),
    /// `TTL` is not a duration.
    #[error("Session TTL '{ttl}' invalid: {reason}")]
    TtlInvalid {
        /// The TTL given.
        ttl: String,
        /// Why it does not parse.
        reason: String,
    },
    /// `TTL` outside [`SESSION_TTL_MIN`, `SESSION_TTL_MAX`] (Consul prints nanoseconds).
    #[error("Invalid Session TTL '{ttl_ns}', must be between [10s=24h0m0s]")]
    TtlOutOfRange {
        /// The TTL in nanoseconds.
        ttl_ns: i64,
    },
    /// A lock or unlock without a session id.
    #[error("missing session")]
    MissingSession,
    /// A lock naming a session that does not exist.
    #[error("invalid session {0:?}")]
    InvalidSession(String),
}

/// Creates a session. `now_ms` (the proposer's wall clock, Unix ms) starts its TTL.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionCreate {
    /// The session, id included; indexes are ignored.
    pub session: Session,
    /// Wall clock of the proposer, Unix milliseconds.
    pub now_ms: u64,
}

/// Destroys a session (destroying an unknown one succeeds, as in Consul).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionDestroy {
    /// Session id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Wall clock of the proposer, Unix milliseconds: starts the lock-delay of held keys.
    pub now_ms: u64,
}

/// Restarts a TTL session's clock; `succeeded: false` when the session does not exist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionRenew {
    /// Session id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Wall clock of the proposer, Unix milliseconds.
    pub now_ms: u64,
}

/// Destroys every TTL session whose deadline is at or before `now_ms` (the leader's timer).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionExpire {
    /// Wall clock of the proposer, Unix milliseconds.
    pub now_ms: u64,
}

/// The lock-delay of one released key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LockDelay {
    /// How long the key stays unlockable.
    pub(crate) delay_ms: u64,
    /// End of the delay (Unix ms). `None` until a timed command fixes its start: an
    /// invalidation by a catalog command carries no clock, so the delay runs from the first
    /// clock the state sees afterwards (later than Consul's start, never earlier).
    pub(crate) until_ms: Option<u64>,
}

/// Every session-related table; the derived maps are kept in step by `insert` and `remove`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SessionTable {
    pub(crate) by_id: BTreeMap<String, Session>,
    /// TTL deadline (Unix ms) of each session with a TTL.
    pub(crate) deadlines: BTreeMap<String, u64>,
    /// Keys released by an invalidated session, unlockable until their delay ends.
    pub(crate) lock_delays: BTreeMap<String, LockDelay>,
    /// Derived: node → its sessions.
    by_node: BTreeMap<String, BTreeSet<String>>,
    /// Derived: `(deadline, id)`, so the earliest deadline is the first entry.
    by_deadline: BTreeSet<(u64, String)>,
}

impl SessionTable {
    fn insert(&mut self, session: Session, deadline_ms: Option<u64>) {
        self.by_node.entry(session.node.clone()).or_default().insert(session.id.clone());
        if let Some(at) = deadline_ms {
            self.set_deadline(&session.id, at);
        }
        self.by_id.insert(session.id.clone(), session);
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let session = self.by_id.remove(id)?;
        if let Some(ids) = self.by_node.get_mut(&session.node) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_node.remove(&session.node);
            }
        }
        if let Some(at) = self.deadlines.remove(id) {
            self.by_deadline.remove(&(at, id.to_owned()));
        }
        Some(session)
    }

    fn set_deadline(&mut self, id: &str, at_ms: u64) {
        if let Some(old) = self.deadlines.insert(id.to_owned(), at_ms) {
            self.by_deadline.remove(&(old, id.to_owned()));
        }
        self.by_deadline.insert((at_ms, id.to_owned()));
    }

    /// Restarts every TTL clock at `now_ms` (a restored snapshot's deadlines are stale, and
    /// Consul re-arms all session timers after a restore).
    pub(crate) fn rearm(&mut self, now_ms: u64) {
        let ttls: Vec<(String, Duration)> = self
            .by_id
            .values()
            .filter_map(|s| Some((s.id.clone(), s.ttl_duration().ok().flatten()?)))
            .collect();
        for (id, ttl) in ttls {
            self.set_deadline(&id, deadline_after(now_ms, ttl));
        }
    }

    /// Fixes the start of pending lock-delays at `now_ms` and forgets elapsed ones.
    pub(crate) fn observe_clock(&mut self, now_ms: u64) {
        for d in self.lock_delays.values_mut() {
            d.until_ms.get_or_insert(now_ms.saturating_add(d.delay_ms));
        }
        self.lock_delays.retain(|_, d| d.until_ms.is_some_and(|until| until > now_ms));
    }
}

/// A session in a snapshot, with its TTL deadline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionRow {
    session: Session,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline_ms: Option<u64>,
}

impl SessionTable {
    /// The snapshot rows, by id.
    pub(crate) fn rows(&self) -> Vec<SessionRow> {
        let row = |s: &Session| SessionRow {
            session: s.clone(),
            deadline_ms: self.deadlines.get(&s.id).copied(),
        };
        self.by_id.values().map(row).collect()
    }

    /// The table a snapshot describes; `Err` names a session whose node is not in `nodes`.
    pub(crate) fn from_rows(
        rows: Vec<SessionRow>,
        lock_delays: BTreeMap<String, LockDelay>,
        node_exists: impl Fn(&str) -> bool,
    ) -> Result<Self, String> {
        let mut table = SessionTable { lock_delays, ..SessionTable::default() };
        for SessionRow { session, deadline_ms } in rows {
            if !node_exists(&session.node) {
                return Err(format!("session {:?} on unknown node {:?}", session.id, session.node));
            }
            table.insert(session, deadline_ms);
        }
        Ok(table)
    }
}

/// `now_ms + ttl × SESSION_TTL_MULTIPLIER`.
fn deadline_after(now_ms: u64, ttl: Duration) -> u64 {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    now_ms.saturating_add(ms.saturating_mul(u64::from(SESSION_TTL_MULTIPLIER)))
}

/// The node whose sessions a catalog command may invalidate.
pub(super) fn catalog_node(command: &Command) -> Option<&str> {
    match command {
        Command::Register { node, .. } => Some(&node.node),
        Command::DeregisterNode { node }
        | Command::DeregisterService { node, .. }
        | Command::DeregisterCheck { node, .. }
        | Command::UpdateCheckStatus { node, .. } => Some(node),
        _ => None,
    }
}

impl StateMachine {
    pub(super) fn session_create(
        &mut self,
        tx: &mut Changes,
        cmd: &SessionCreate,
    ) -> Result<bool, StateError> {
        let mut s = cmd.session.clone();
        if s.id.is_empty() {
            return Err(SessionError::MissingId.into());
        }
        if self.sessions.by_id.contains_key(&s.id) {
            return Err(SessionError::DuplicateId(s.id).into());
        }
        if s.node.is_empty() {
            return Err(SessionError::MissingNode.into());
        }
        let ttl = s.ttl_duration()?;
        if !self.nodes.contains_key(&s.node) {
            return Err(SessionError::UnknownNode.into());
        }
        for id in s.check_ids() {
            match self.checks.get(&s.node).and_then(|m| m.get(id)) {
                None => return Err(SessionError::UnknownCheck(id.to_owned()).into()),
                Some(c) if c.status == HealthStatus::Critical => {
                    return Err(SessionError::CriticalCheck(id.to_owned()).into());
                }
                Some(_) => {}
            }
        }
        self.sessions.observe_clock(cmd.now_ms);
        s.create_index = tx.index;
        s.modify_index = tx.index;
        let deadline = ttl.map(|ttl| deadline_after(cmd.now_ms, ttl));
        self.sessions.insert(s, deadline);
        tx.touch(WatchKey::Sessions);
        Ok(true)
    }

    pub(super) fn session_destroy(&mut self, tx: &mut Changes, cmd: &SessionDestroy) -> bool {
        self.sessions.observe_clock(cmd.now_ms);
        self.destroy_session(tx, &cmd.id, Some(cmd.now_ms));
        true
    }

    pub(super) fn session_renew(&mut self, cmd: &SessionRenew) -> bool {
        self.sessions.observe_clock(cmd.now_ms);
        let Some(s) = self.sessions.by_id.get(&cmd.id) else { return false };
        if let Ok(Some(ttl)) = s.ttl_duration() {
            self.sessions.set_deadline(&cmd.id, deadline_after(cmd.now_ms, ttl));
        }
        true
    }

    pub(super) fn session_expire(&mut self, tx: &mut Changes, cmd: &SessionExpire) -> bool {
        self.sessions.observe_clock(cmd.now_ms);
        let due: Vec<String> = self
            .sessions
            .by_deadline
            .iter()
            .take_while(|(at, _)| *at <= cmd.now_ms)
            .map(|(_, id)| id.clone())
            .collect();
        for id in due {
            self.destroy_session(tx, &id, Some(cmd.now_ms));
        }
        true
    }

    /// Destroys the sessions on `node` that lost their node, or one of whose checks is
    /// missing or critical (Consul invalidates them inside the catalog write).
    pub(super) fn invalidate_sessions_on(&mut self, tx: &mut Changes, node: &str) {
        let Some(ids) = self.sessions.by_node.get(node) else { return };
        let node_gone = !self.nodes.contains_key(node);
        let doomed: Vec<String> = ids
            .iter()
            .filter_map(|id| self.sessions.by_id.get(id))
            .filter(|s| {
                node_gone
                    || s.check_ids().any(|c| {
                        self.checks
                            .get(node)
                            .and_then(|m| m.get(c))
                            .is_none_or(|c| c.status == HealthStatus::Critical)
                    })
            })
            .map(|s| s.id.clone())
            .collect();
        for id in doomed {
            self.destroy_session(tx, &id, None);
        }
    }

    /// Removes a session and applies its behavior to the keys it holds; `now_ms` starts
    /// their lock-delay (`None`: at the next clock the state sees).
    fn destroy_session(&mut self, tx: &mut Changes, id: &str, now_ms: Option<u64>) {
        let Some(session) = self.sessions.remove(id) else { return };
        tx.touch(WatchKey::Sessions);
        let held: Vec<String> =
            self.kv.values().filter(|e| e.session == id).map(|e| e.key.clone()).collect();
        let delay_ms = u64::try_from(session.lock_delay().as_millis()).unwrap_or(u64::MAX);
        for key in held {
            match session.behavior {
                SessionBehavior::Release => {
                    if let Some(e) = self.kv.get_mut(&key) {
                        e.session.clear();
                        e.modify_index = tx.index;
                    }
                }
                SessionBehavior::Delete => {
                    self.kv.remove(&key);
                    self.kv_tombstones.insert(key.clone(), tx.index);
                }
            }
            if delay_ms > 0 {
                let until_ms = now_ms.map(|t| t.saturating_add(delay_ms));
                self.sessions.lock_delays.insert(key.clone(), LockDelay { delay_ms, until_ms });
            }
            tx.touch(WatchKey::KvPrefix(key));
        }
        self.drop_queries_of_session(tx, id);
    }

    /// One session (`/v1/session/info/<id>`, [`WatchKey::Sessions`]).
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.by_id.get(id)
    }

    /// Every session, by id (`/v1/session/list`, [`WatchKey::Sessions`]).
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.by_id.values()
    }

    /// The sessions bound to `node`, by id (`/v1/session/node/<node>`, [`WatchKey::Sessions`]).
    pub fn node_sessions(&self, node: &str) -> impl Iterator<Item = &Session> {
        let ids = self.sessions.by_node.get(node).into_iter().flatten();
        ids.filter_map(|id| self.sessions.by_id.get(id))
    }

    /// The earliest TTL deadline (Unix ms): once the wall clock passes it, the leader
    /// proposes [`SessionExpire`]. `None` when no session has a TTL.
    pub fn next_session_deadline_ms(&self) -> Option<u64> {
        self.sessions.by_deadline.first().map(|(at, _)| *at)
    }

    /// The TTL deadline of one session (Unix ms).
    pub fn session_deadline_ms(&self, id: &str) -> Option<u64> {
        self.sessions.deadlines.get(id).copied()
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
