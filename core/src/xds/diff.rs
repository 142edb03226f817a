//! `diff(old, new)`: what changed between two resource sets, by content hash.

use std::collections::BTreeMap;

use super::{ResourceSet, TypeUrl};

/// Changes of one resource type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeDelta {
    /// Names only in the new set.
    pub added: Vec<String>,
    /// Names in both with different versions.
    pub changed: Vec<String>,
    /// Names only in the old set.
    pub removed: Vec<String>,
}

impl TypeDelta {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Changes per type; types without changes are absent.
pub type ResourceDelta = BTreeMap<TypeUrl, TypeDelta>;

/// Compares two sets by name and version. Names come out sorted, so the result is
/// deterministic.
pub fn diff<R>(old: &ResourceSet<R>, new: &ResourceSet<R>) -> ResourceDelta {
    let mut out = ResourceDelta::new();
    for type_url in TypeUrl::ALL {
        let empty = BTreeMap::new();
        let before = old.get(&type_url).unwrap_or(&empty);
        let after = new.get(&type_url).unwrap_or(&empty);
        let mut delta = TypeDelta::default();
        for (name, v) in after {
            match before.get(name) {
                None => delta.added.push(name.clone()),
                Some(old_v) if old_v.version != v.version => delta.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        delta.removed = before.keys().filter(|n| !after.contains_key(*n)).cloned().collect();
        if !delta.is_empty() {
            out.insert(type_url, delta);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::xds::Versioned;

    fn set(items: &[(TypeUrl, &str, &str)]) -> ResourceSet<()> {
        let mut s = ResourceSet::new();
        for (t, name, version) in items {
            s.entry(*t).or_insert_with(BTreeMap::new).insert(
                (*name).to_owned(),
                Versioned { version: (*version).to_owned(), resource: Arc::new(()) },
            );
        }
        s
    }

    #[test]
    fn diff_reports_added_changed_and_removed_per_type() {
        let old = set(&[
            (TypeUrl::Cluster, "a", "1"),
            (TypeUrl::Cluster, "b", "1"),
            (TypeUrl::Listener, "l", "1"),
        ]);
        let new = set(&[
            (TypeUrl::Cluster, "a", "2"),
            (TypeUrl::Cluster, "c", "1"),
            (TypeUrl::Listener, "l", "1"),
        ]);
        let d = diff(&old, &new);
        assert_eq!(d.len(), 1, "listeners unchanged");
        let c = &d[&TypeUrl::Cluster];
        assert_eq!(
            (c.added.clone(), c.changed.clone(), c.removed.clone()),
            (vec!["c".into()], vec!["a".into()], vec!["b".into()])
        );
        assert!(diff(&new, &new).is_empty());
    }
}
