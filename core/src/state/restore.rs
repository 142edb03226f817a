//! `PUT /v1/snapshot`: replacing the whole state with a saved snapshot through the raft
//! log, so every server restores the same bytes at the same index.
//!
//! Rows keep the indexes they were saved with, but every index a blocking query can wait
//! on moves to the restore's raft index: table and per-name indexes are all set to it
//! (names from before and after the restore alike), and every KV key from before or after
//! gets a tombstone at it, so a waiter on any key or prefix wakes and sees the restore.
//! The change is reported as [`WatchKey::All`]. TTL sessions restart their clocks at the
//! restore's `now_ms`, as Consul re-arms its session timers after a restore.

use serde_json::Value;

use super::watch::Indexes;
use super::{Changes, SnapshotError, StateError, StateMachine, WatchKey};

/// Replaces the state with `snapshot` (the bytes of [`StateMachine::snapshot`], as text).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotRestore {
    /// The snapshot document.
    pub snapshot: String,
    /// Wall clock of the proposer, Unix milliseconds (restarts TTL clocks).
    pub now_ms: u64,
}

/// Every number in `new` becomes `index`, and every map key only `old` has is added with
/// `index`. Works on the serialized form so tables added later are covered without a list.
fn bump(old: Option<&Value>, new: &mut Value, index: u64) {
    match new {
        Value::Number(n) => *n = index.into(),
        Value::Object(map) => {
            if let Some(Value::Object(old_map)) = old {
                for key in old_map.keys() {
                    map.entry(key.clone()).or_insert_with(|| index.into());
                }
            }
            for (key, value) in map.iter_mut() {
                let before = old.and_then(|o| o.get(key));
                bump(before, value, index);
            }
        }
        _ => {}
    }
}

fn bumped(old: &Indexes, new: &Indexes, index: u64) -> Result<Indexes, SnapshotError> {
    let decode = |e: serde_json::Error| SnapshotError::Decode(e.to_string());
    let old = serde_json::to_value(old).map_err(decode)?;
    let mut new = serde_json::to_value(new).map_err(decode)?;
    bump(Some(&old), &mut new, index);
    serde_json::from_value(new).map_err(decode)
}

impl StateMachine {
    pub(super) fn snapshot_restore(
        &mut self,
        tx: &mut Changes,
        cmd: &SnapshotRestore,
    ) -> Result<bool, StateError> {
        let mut next = StateMachine::new(self.datacenter.clone());
        next.restore(cmd.snapshot.as_bytes()).map_err(StateError::Snapshot)?;
        next.indexes =
            bumped(&self.indexes, &next.indexes, tx.index).map_err(StateError::Snapshot)?;
        let keys: Vec<String> = self.kv.keys().chain(next.kv.keys()).cloned().collect();
        for key in keys {
            next.kv_tombstones.insert(key, tx.index);
        }
        next.sessions.rearm(cmd.now_ms);
        *self = next;
        tx.touch(WatchKey::All);
        Ok(true)
    }
}

#[cfg(test)]
#[path = "restore_tests.rs"]
mod tests;
