//! Intentions addressed by source and destination name (`/v1/connect/intentions/exact`), as
//! edits of the destination's `service-intentions` entry, the way Consul stores them since 1.9.
//!
//! Pure functions from the current entry to the next one; the caller writes the result with a
//! CAS on the entry's index, so two concurrent edits of one destination cannot lose each
//! other's sources. Names are CE names: the default namespace and partition, no peers.

use crate::config::{ServiceIntentions, SourceIntention};

/// True when `source` is the local, default-namespace source called `name`.
fn is_named(source: &SourceIntention, name: &str) -> bool {
    let default = |v: &str| v.is_empty() || v == "default";
    source.name == name
        && default(&source.namespace)
        && default(&source.partition)
        && source.peer.is_empty()
        && source.sameness_group.is_empty()
}

/// The source `name` of an entry, if it has one.
pub fn find_source<'a>(entry: &'a ServiceIntentions, name: &str) -> Option<&'a SourceIntention> {
    entry.sources.iter().find(|s| is_named(s, name))
}

/// The entry with `source` added, or replacing the source of the same name. A missing entry
/// starts empty. The result still needs normalizing and validating, as any written entry does.
pub fn upsert_source(
    existing: Option<&ServiceIntentions>,
    destination: &str,
    source: SourceIntention,
) -> ServiceIntentions {
    let mut entry = existing.cloned().unwrap_or_else(|| ServiceIntentions {
        name: destination.to_owned(),
        ..ServiceIntentions::default()
    });
    entry.sources.retain(|s| !is_named(s, &source.name));
    entry.sources.push(source);
    entry
}

/// The entry without source `name`: `None` when that leaves no source (delete the entry
/// instead, as Consul does), `Some(entry)` otherwise (unchanged if it had no such source).
pub fn remove_source(existing: &ServiceIntentions, name: &str) -> Option<ServiceIntentions> {
    let mut entry = existing.clone();
    entry.sources.retain(|s| !is_named(s, name));
    (!entry.sources.is_empty() || entry.jwt.is_some()).then_some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, action: &str) -> SourceIntention {
        SourceIntention { name: name.into(), action: action.into(), ..SourceIntention::default() }
    }

    #[test]
    fn upsert_creates_then_replaces_by_source_name() {
        let created = upsert_source(None, "db", src("web", "allow"));
        assert_eq!(created.name, "db");
        assert_eq!(created.sources, vec![src("web", "allow")]);
        let two = upsert_source(Some(&created), "db", src("api", "deny"));
        let replaced = upsert_source(Some(&two), "db", src("web", "deny"));
        let names: Vec<(&str, &str)> =
            replaced.sources.iter().map(|s| (s.name.as_str(), s.action.as_str())).collect();
        assert_eq!(names, [("api", "deny"), ("web", "deny")]);
        assert_eq!(find_source(&replaced, "web").map(|s| s.action.as_str()), Some("deny"));
        assert!(find_source(&replaced, "nope").is_none());
    }

    #[test]
    fn peered_and_other_namespace_sources_are_not_the_local_name() {
        let peered = SourceIntention { peer: "other".into(), ..src("web", "deny") };
        let entry = upsert_source(None, "db", peered);
        assert!(find_source(&entry, "web").is_none());
        let both = upsert_source(Some(&entry), "db", src("web", "allow"));
        assert_eq!(both.sources.len(), 2, "the local web does not replace the peered one");
    }

    #[test]
    fn removing_the_last_source_removes_the_entry() {
        let entry = upsert_source(None, "db", src("web", "allow"));
        let entry = upsert_source(Some(&entry), "db", src("api", "allow"));
        let left = remove_source(&entry, "web").unwrap();
        assert_eq!(left.sources, vec![src("api", "allow")]);
        assert_eq!(remove_source(&left, "absent"), Some(left.clone()));
        assert_eq!(remove_source(&left, "api"), None);
    }
}
