//! KV locks: `PUT /v1/kv/<key>?acquire=<session>` and `?release=<session>` (Consul's
//! `kvsLockTxn` / `kvsUnlockTxn`).
//!
//! Acquiring a free key sets its `Session` and bumps its `LockIndex`; re-acquiring a key the
//! same session holds only updates the value (no bump); a key held by another session, or
//! still inside the lock-delay left by an invalidated holder, is refused with `false`.
//! Releasing clears `Session` only when the caller's session holds the key. A plain write
//! to a locked key keeps the lock (Consul preserves the session on `set`).

use super::kv::KvEntry;
use super::session::SessionError;
use super::{Changes, StateError, StateMachine, WatchKey};

/// Acquires `key` for `session`, writing `value` and `flags`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvLock {
    /// Key.
    pub key: String,
    /// Value bytes written with the acquisition.
    pub value: Vec<u8>,
    /// Opaque client flags.
    #[serde(default)]
    pub flags: u64,
    /// The acquiring session.
    pub session: String,
    /// Wall clock of the proposer, Unix milliseconds (lock-delay is measured against it).
    pub now_ms: u64,
}

/// Releases `key` held by `session`, writing `value` and `flags`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvUnlock {
    /// Key.
    pub key: String,
    /// Value bytes written with the release.
    pub value: Vec<u8>,
    /// Opaque client flags.
    #[serde(default)]
    pub flags: u64,
    /// The releasing session.
    pub session: String,
}

impl StateMachine {
    /// `Ok(false)`: held by another session or inside its lock-delay; nothing changed.
    pub(super) fn kv_lock(&mut self, tx: &mut Changes, cmd: &KvLock) -> Result<bool, StateError> {
        if cmd.key.is_empty() {
            return Err(StateError::EmptyKey);
        }
        if cmd.session.is_empty() {
            return Err(SessionError::MissingSession.into());
        }
        if !self.sessions.by_id.contains_key(&cmd.session) {
            return Err(SessionError::InvalidSession(cmd.session.clone()).into());
        }
        self.sessions.observe_clock(cmd.now_ms);
        Ok(self.lock_key(tx, &cmd.key, &cmd.value, cmd.flags, &cmd.session))
    }

    /// The lock step shared with transactions: the session is known to exist and the
    /// clock has been observed.
    pub(super) fn lock_key(
        &mut self,
        tx: &mut Changes,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> bool {
        if self.sessions.lock_delays.contains_key(key) {
            return false;
        }
        let existing = self.kv.get(key);
        let lock_index = match existing {
            Some(e) if e.session == session => e.lock_index,
            Some(e) if !e.session.is_empty() => return false,
            Some(e) => e.lock_index + 1,
            None => 1,
        };
        let entry = KvEntry {
            key: key.to_owned(),
            value: value.to_vec(),
            flags,
            create_index: existing.map_or(tx.index, |e| e.create_index),
            modify_index: tx.index,
            lock_index,
            session: session.to_owned(),
        };
        self.kv_tombstones.remove(key);
        self.kv.insert(key.to_owned(), entry);
        tx.touch(WatchKey::KvPrefix(key.to_owned()));
        true
    }

    /// `Ok(false)`: the key is absent or not held by this session; nothing changed.
    pub(super) fn kv_unlock(
        &mut self,
        tx: &mut Changes,
        cmd: &KvUnlock,
    ) -> Result<bool, StateError> {
        if cmd.key.is_empty() {
            return Err(StateError::EmptyKey);
        }
        if cmd.session.is_empty() {
            return Err(SessionError::MissingSession.into());
        }
        Ok(self.unlock_key(tx, &cmd.key, &cmd.value, cmd.flags, &cmd.session))
    }

    /// The unlock step shared with transactions.
    pub(super) fn unlock_key(
        &mut self,
        tx: &mut Changes,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> bool {
        let Some(entry) = self.kv.get_mut(key) else { return false };
        if entry.session != session {
            return false;
        }
        entry.session.clear();
        entry.value = value.to_vec();
        entry.flags = flags;
        entry.modify_index = tx.index;
        tx.touch(WatchKey::KvPrefix(key.to_owned()));
        true
    }

    /// True while `key` is inside a lock-delay at the last clock the state observed.
    pub fn kv_lock_delayed(&self, key: &str) -> bool {
        self.sessions.lock_delays.contains_key(key)
    }
}
