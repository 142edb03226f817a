//! A set of config entries, keyed by kind and name: what the compiler and the write-time
//! checks read. Ordered, so every walk over it is deterministic.

use std::collections::BTreeMap;

use super::{
    ConfigEntry, Kind, ProxyDefaults, ServiceDefaults, ServiceIntentions, ServiceResolver,
    ServiceRouter, ServiceSplitter,
};

/// Config entries by `(kind, name)`. Nested maps so lookups by `&str` allocate nothing: the
/// compiler looks entries up many times per chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigEntries {
    entries: BTreeMap<Kind, BTreeMap<String, ConfigEntry>>,
}

impl ConfigEntries {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an entry, returning the one it replaced.
    pub fn insert(&mut self, entry: ConfigEntry) -> Option<ConfigEntry> {
        self.entries.entry(entry.kind()).or_default().insert(entry.name().to_owned(), entry)
    }

    /// Removes an entry.
    pub fn remove(&mut self, kind: Kind, name: &str) -> Option<ConfigEntry> {
        let by_name = self.entries.get_mut(&kind)?;
        let removed = by_name.remove(name);
        if by_name.is_empty() {
            self.entries.remove(&kind);
        }
        removed
    }

    /// One entry.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&ConfigEntry> {
        self.entries.get(&kind)?.get(name)
    }

    /// Every entry, ordered by kind then name.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigEntry> {
        self.entries.values().flat_map(BTreeMap::values)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.values().map(BTreeMap::len).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.values().all(BTreeMap::is_empty)
    }

    /// The `service-defaults` of a service.
    pub fn service_defaults(&self, service: &str) -> Option<&ServiceDefaults> {
        match self.get(Kind::ServiceDefaults, service) {
            Some(ConfigEntry::ServiceDefaults(e)) => Some(e),
            _ => None,
        }
    }

    /// The `proxy-defaults` entry (`global`).
    pub fn proxy_defaults(&self) -> Option<&ProxyDefaults> {
        match self.get(Kind::ProxyDefaults, super::PROXY_DEFAULTS_NAME) {
            Some(ConfigEntry::ProxyDefaults(e)) => Some(e),
            _ => None,
        }
    }

    /// The `service-router` of a service.
    pub fn router(&self, service: &str) -> Option<&ServiceRouter> {
        match self.get(Kind::ServiceRouter, service) {
            Some(ConfigEntry::ServiceRouter(e)) => Some(e),
            _ => None,
        }
    }

    /// The `service-splitter` of a service.
    pub fn splitter(&self, service: &str) -> Option<&ServiceSplitter> {
        match self.get(Kind::ServiceSplitter, service) {
            Some(ConfigEntry::ServiceSplitter(e)) => Some(e),
            _ => None,
        }
    }

    /// The `service-resolver` of a service.
    pub fn resolver(&self, service: &str) -> Option<&ServiceResolver> {
        match self.get(Kind::ServiceResolver, service) {
            Some(ConfigEntry::ServiceResolver(e)) => Some(e),
            _ => None,
        }
    }

    /// The `service-intentions` of a destination (or `*`).
    pub fn intentions(&self, destination: &str) -> Option<&ServiceIntentions> {
        match self.get(Kind::ServiceIntentions, destination) {
            Some(ConfigEntry::ServiceIntentions(e)) => Some(e),
            _ => None,
        }
    }

    /// Every `service-intentions` entry.
    pub fn all_intentions(&self) -> impl Iterator<Item = &ServiceIntentions> {
        self.iter().filter_map(|e| match e {
            ConfigEntry::ServiceIntentions(i) => Some(i),
            _ => None,
        })
    }

    /// A service's protocol: its `service-defaults`, else `proxy-defaults`, else `tcp`.
    pub fn protocol_of(&self, service: &str) -> String {
        if let Some(p) = self.service_defaults(service).map(|d| &d.protocol)
            && !p.is_empty()
        {
            return p.clone();
        }
        match self.proxy_defaults().map(ProxyDefaults::protocol) {
            Some(p) if !p.is_empty() => p,
            _ => "tcp".to_owned(),
        }
    }
}

impl FromIterator<ConfigEntry> for ConfigEntries {
    fn from_iter<I: IntoIterator<Item = ConfigEntry>>(iter: I) -> Self {
        let mut set = ConfigEntries::new();
        for e in iter {
            set.insert(e);
        }
        set
    }
}
