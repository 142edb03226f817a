//! The KV store: set and delete with Consul's check-and-set, delete-tree, and the reads behind
//! `/v1/kv/<key>` (`?recurse`, `?keys&separator=`).
//!
//! CAS follows Consul: `cas = 0` writes only an absent key; `cas = N` writes only if the
//! key's ModifyIndex is `N`; a delete of an absent key succeeds. A deleted key leaves a
//! tombstone with the delete index so a blocking read of a prefix wakes on deletes.

use super::{Changes, StateError, StateMachine, WatchKey};

/// One KV entry as `/v1/kv` returns it (the HTTP layer base64-encodes `Value`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvEntry {
    /// Key.
    pub key: String,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Opaque client flags.
    pub flags: u64,
    /// Raft index that created the key.
    pub create_index: u64,
    /// Raft index of the last write.
    pub modify_index: u64,
    /// How many times the key was acquired by a session (`?acquire=`).
    pub lock_index: u64,
    /// The session holding the key's lock; empty when unlocked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session: String,
}

impl StateMachine {
    pub(super) fn kv_set(
        &mut self,
        tx: &mut Changes,
        key: &str,
        value: &[u8],
        flags: u64,
        cas: Option<u64>,
    ) -> Result<bool, StateError> {
        if key.is_empty() {
            return Err(StateError::EmptyKey);
        }
        let existing = self.kv.get(key);
        if let Some(cas) = cas
            && existing.map_or(0, |e| e.modify_index) != cas
        {
            return Ok(false);
        }
        let entry = KvEntry {
            key: key.to_owned(),
            value: value.to_vec(),
            flags,
            create_index: existing.map_or(tx.index, |e| e.create_index),
            modify_index: tx.index,
            lock_index: existing.map_or(0, |e| e.lock_index),
            session: existing.map_or_else(String::new, |e| e.session.clone()),
        };
        self.kv_tombstones.remove(key);
        self.kv.insert(key.to_owned(), entry);
        tx.touch(WatchKey::KvPrefix(key.to_owned()));
        Ok(true)
    }

    pub(super) fn kv_delete(
        &mut self,
        tx: &mut Changes,
        key: &str,
        recurse: bool,
        cas: Option<u64>,
    ) -> Result<bool, StateError> {
        if recurse {
            if cas.is_some() {
                return Err(StateError::CasWithRecurse);
            }
            let doomed: Vec<String> = self.keys_under(key).cloned().collect();
            for k in &doomed {
                self.kv.remove(k);
                self.kv_tombstones.insert(k.clone(), tx.index);
            }
            if !doomed.is_empty() {
                tx.touch(WatchKey::KvPrefix(key.to_owned()));
            }
            return Ok(true);
        }
        let Some(existing) = self.kv.get(key) else { return Ok(true) };
        if cas.is_some_and(|cas| cas != existing.modify_index) {
            return Ok(false);
        }
        self.kv.remove(key);
        self.kv_tombstones.insert(key.to_owned(), tx.index);
        tx.touch(WatchKey::KvPrefix(key.to_owned()));
        Ok(true)
    }

    fn keys_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.kv
            .range(prefix.to_owned()..)
            .map(|(k, _)| k)
            .take_while(move |k| k.starts_with(prefix))
    }

    /// The index of a prefix: the highest ModifyIndex of a live key or tombstone under it.
    pub(super) fn kv_prefix_index(&self, prefix: &str) -> u64 {
        let live = self.entries_under(prefix).map(|e| e.modify_index).max().unwrap_or(0);
        let dead = self
            .kv_tombstones
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        live.max(dead)
    }

    fn entries_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a KvEntry> + 'a {
        self.kv
            .range(prefix.to_owned()..)
            .map(|(_, e)| e)
            .take_while(move |e| e.key.starts_with(prefix))
    }

    /// `GET /v1/kv/<key>` ([`WatchKey::KvPrefix`] of the key).
    pub fn kv_get(&self, key: &str) -> Option<&KvEntry> {
        self.kv.get(key)
    }

    /// `GET /v1/kv/<prefix>?recurse`, by key ([`WatchKey::KvPrefix`]).
    pub fn kv_list(&self, prefix: &str) -> Vec<&KvEntry> {
        let under = self.kv.range(prefix.to_owned()..).take_while(|(k, _)| k.starts_with(prefix));
        under.map(|(_, e)| e).collect()
    }

    /// `GET /v1/kv/<prefix>?keys[&separator=S]`: keys under the prefix, sorted; with a
    /// separator, each key is cut after the first separator past the prefix and duplicates
    /// are folded (`web/` for `web/a` and `web/b`), as Consul lists "folders".
    pub fn kv_keys(&self, prefix: &str, separator: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for key in self.keys_under(prefix) {
            let cut = match separator.filter(|s| !s.is_empty()) {
                Some(sep) => match key[prefix.len()..].find(sep) {
                    Some(at) => &key[..prefix.len() + at + sep.len()],
                    None => key.as_str(),
                },
                None => key.as_str(),
            };
            if out.last().map(String::as_str) != Some(cut) {
                out.push(cut.to_owned());
            }
        }
        out
    }
}
