//! Config entries (intentions are `service-intentions` entries) and the CA's roots and
//! configuration.
//!
//! Every write is validated again in apply, against the entries as they are at that index:
//! [`validate_write`]/[`validate_delete`] recompile the chains the change can reach for this
//! state's datacenter. CAS follows Consul's `ensureConfigEntryCASTxn`: it is checked before
//! validation, `cas = 0` writes only an absent entry, and a CAS delete of an absent entry
//! succeeds.

use crate::ca::{CaConfig, RootsResponse};
use crate::config::{ConfigEntry, Kind, validate_delete, validate_write};

use super::{Changes, StateError, StateMachine, WatchKey};

/// A config entry with its raft indexes (`CreateIndex`, `ModifyIndex` in the API).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredConfigEntry {
    /// The entry.
    pub entry: ConfigEntry,
    /// Raft index that created it.
    pub create_index: u64,
    /// Raft index of the last write.
    pub modify_index: u64,
}

impl StateMachine {
    fn touch_entry(&self, tx: &mut Changes, kind: Kind, name: &str) {
        tx.touch(WatchKey::ConfigEntries);
        tx.touch(WatchKey::ConfigEntry { kind, name: name.to_owned() });
        if kind == Kind::ServiceIntentions {
            tx.touch(WatchKey::Intentions);
        }
    }

    pub(super) fn config_set(
        &mut self,
        tx: &mut Changes,
        entry: &ConfigEntry,
        cas: Option<u64>,
    ) -> Result<bool, StateError> {
        let key = (entry.kind(), entry.name().to_owned());
        let existing = self.config_meta.get(&key).copied();
        if let Some(cas) = cas
            && existing.map_or(0, |(_, modify)| modify) != cas
        {
            return Ok(false);
        }
        // Decoding normalized the entry already; normalizing again is idempotent and keeps
        // apply independent of how the command was built.
        let mut entry = entry.clone();
        entry.normalize();
        validate_write(&self.config, &entry, &self.datacenter).map_err(StateError::ConfigEntry)?;
        if self.config.get(key.0, &key.1) == Some(&entry) {
            return Ok(true);
        }
        let create = existing.map_or(tx.index, |(create, _)| create);
        self.touch_entry(tx, key.0, &key.1);
        self.config.insert(entry);
        self.config_meta.insert(key, (create, tx.index));
        Ok(true)
    }

    pub(super) fn config_delete(
        &mut self,
        tx: &mut Changes,
        kind: Kind,
        name: &str,
        cas: Option<u64>,
    ) -> Result<bool, StateError> {
        let key = (kind, name.to_owned());
        let Some((_, modify)) = self.config_meta.get(&key).copied() else { return Ok(true) };
        if cas.is_some_and(|cas| cas != modify) {
            return Ok(false);
        }
        validate_delete(&self.config, kind, name, &self.datacenter)
            .map_err(StateError::ConfigEntry)?;
        self.touch_entry(tx, kind, name);
        self.config.remove(kind, name);
        self.config_meta.remove(&key);
        Ok(true)
    }

    pub(super) fn ca_set_roots(
        &mut self,
        tx: &mut Changes,
        roots: &RootsResponse,
    ) -> Result<bool, StateError> {
        if !roots.roots.is_empty() && !roots.roots.iter().any(|r| r.id == roots.active_root_id) {
            return Err(StateError::UnknownActiveRoot(roots.active_root_id.clone()));
        }
        if self.ca_roots.as_ref() != Some(roots) {
            self.ca_roots = Some(roots.clone());
            tx.touch(WatchKey::CaRoots);
        }
        Ok(true)
    }

    pub(super) fn ca_set_config(
        &mut self,
        tx: &mut Changes,
        config: &CaConfig,
    ) -> Result<bool, StateError> {
        config.validate().map_err(StateError::CaConfig)?;
        if self.ca_config.as_ref() != Some(config) {
            self.ca_config = Some(config.clone());
            tx.touch(WatchKey::CaConfig);
        }
        Ok(true)
    }

    /// One config entry ([`WatchKey::ConfigEntry`]).
    pub fn config_entry(&self, kind: Kind, name: &str) -> Option<StoredConfigEntry> {
        let entry = self.config.get(kind, name)?;
        let (create_index, modify_index) = self.config_meta.get(&(kind, name.to_owned()))?;
        Some(StoredConfigEntry {
            entry: entry.clone(),
            create_index: *create_index,
            modify_index: *modify_index,
        })
    }

    /// The entries of one kind, or all, ordered by kind then name
    /// ([`WatchKey::ConfigEntries`]).
    pub fn config_entries(&self, kind: Option<Kind>) -> Vec<StoredConfigEntry> {
        self.config
            .iter()
            .filter(|e| kind.is_none_or(|k| e.kind() == k))
            .filter_map(|e| self.config_entry(e.kind(), e.name()))
            .collect()
    }

    /// The whole entry set, for the discovery-chain compiler and intention checks
    /// ([`WatchKey::ConfigEntries`], or [`WatchKey::Intentions`] for intentions only).
    pub fn config_entry_set(&self) -> &crate::config::ConfigEntries {
        &self.config
    }

    /// The published CA roots ([`WatchKey::CaRoots`]).
    pub fn ca_roots(&self) -> Option<&RootsResponse> {
        self.ca_roots.as_ref()
    }

    /// The CA configuration ([`WatchKey::CaConfig`]).
    pub fn ca_config(&self) -> Option<&CaConfig> {
        self.ca_config.as_ref()
    }
}
