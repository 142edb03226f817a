//! One intention (source → destination), flattened out of `service-intentions` entries and
//! ordered the way Consul evaluates them.

use std::cmp::Ordering;
use std::fmt;

use crate::config::{ConfigEntries, ServiceIntentions, SourceIntention, precedence};

/// What an intention decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentionAction {
    /// L4 allow.
    Allow,
    /// L4 deny.
    Deny,
    /// L7: decided per request by this many HTTP permissions.
    Permissions(usize),
}

/// One source → destination rule. Empty namespace and partition mean `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intention {
    /// Source namespace (`*` allowed).
    pub source_ns: String,
    /// Source service (`*` allowed).
    pub source_name: String,
    /// Source partition.
    pub source_partition: String,
    /// Source cluster peer.
    pub source_peer: String,
    /// Source sameness group.
    pub source_sameness_group: String,
    /// Destination namespace (`*` allowed).
    pub destination_ns: String,
    /// Destination service (`*` allowed).
    pub destination_name: String,
    /// Destination partition.
    pub destination_partition: String,
    /// The decision.
    pub action: IntentionAction,
    /// Consul's precedence (9 for exact → exact in CE).
    pub precedence: i32,
    /// Id of a legacy intention, shown in its description.
    pub legacy_id: String,
}

fn or_default(s: &str) -> &str {
    if s.is_empty() { "default" } else { s }
}

impl Intention {
    /// Flattens one source of an entry.
    pub fn from_source(entry: &ServiceIntentions, source: &SourceIntention) -> Self {
        let source_ns = or_default(&source.namespace).to_owned();
        let destination_ns = or_default(&entry.namespace).to_owned();
        let action = if !source.permissions.is_empty() {
            IntentionAction::Permissions(source.permissions.len())
        } else if source.action.eq_ignore_ascii_case("allow") {
            IntentionAction::Allow
        } else {
            IntentionAction::Deny
        };
        Intention {
            precedence: precedence(&source_ns, &source.name, &destination_ns, &entry.name),
            source_ns,
            source_name: source.name.clone(),
            source_partition: source.partition.clone(),
            source_peer: source.peer.clone(),
            source_sameness_group: source.sameness_group.clone(),
            destination_ns,
            destination_name: entry.name.clone(),
            destination_partition: entry.partition.clone(),
            action,
            legacy_id: source.legacy_id.clone(),
        }
    }

    /// Every intention of an entry set, in evaluation order.
    pub fn all(entries: &ConfigEntries) -> Vec<Intention> {
        let mut out: Vec<Intention> = entries
            .all_intentions()
            .flat_map(|e| e.sources.iter().map(move |s| Intention::from_source(e, s)))
            .collect();
        out.sort_by(Intention::evaluation_order);
        out
    }

    /// Consul's `IntentionPrecedenceSorter`: precedence descending, then the source and
    /// destination fields ascending, so equal-precedence intentions have a fixed order.
    pub fn evaluation_order(a: &Intention, b: &Intention) -> Ordering {
        b.precedence.cmp(&a.precedence).then_with(|| a.sort_key().cmp(&b.sort_key()))
    }

    fn sort_key(&self) -> [&str; 8] {
        [
            &self.source_sameness_group,
            &self.source_peer,
            or_default(&self.source_partition),
            &self.source_ns,
            &self.source_name,
            or_default(&self.destination_partition),
            &self.destination_ns,
            &self.destination_name,
        ]
    }

    /// True when the intention applies to requests for `namespace/service`.
    pub fn matches_destination(&self, namespace: &str, service: &str) -> bool {
        field_matches(&self.destination_ns, namespace)
            && field_matches(&self.destination_name, service)
    }

    /// True when a caller `namespace/service` in `partition` (local, not peered) is this
    /// intention's source.
    pub fn matches_source(&self, partition: &str, namespace: &str, service: &str) -> bool {
        self.source_peer.is_empty()
            && self.source_sameness_group.is_empty()
            && or_default(&self.source_partition) == or_default(partition)
            && field_matches(&self.source_ns, namespace)
            && field_matches(&self.source_name, service)
    }

    /// True for L7 intentions (decided per request).
    pub fn is_l7(&self) -> bool {
        matches!(self.action, IntentionAction::Permissions(_))
    }
}

fn field_matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

impl fmt::Display for Intention {
    /// Consul's `Intention.String()`, e.g.
    /// `default/web => default/db (Precedence: 9, Action: ALLOW)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.source_peer.is_empty() {
            write!(f, "peer({})/", self.source_peer)?;
        } else if !self.source_sameness_group.is_empty() {
            write!(f, "sameness-group({})/", self.source_sameness_group)?;
        } else if !self.source_partition.is_empty() && self.source_partition != "default" {
            write!(f, "{}/", self.source_partition)?;
        }
        write!(f, "{}/{} => ", self.source_ns, self.source_name)?;
        if !self.destination_partition.is_empty() && self.destination_partition != "default" {
            write!(f, "{}/", self.destination_partition)?;
        }
        write!(f, "{}/{} (", self.destination_ns, self.destination_name)?;
        if !self.legacy_id.is_empty() {
            write!(f, "ID: {}, ", self.legacy_id)?;
        }
        write!(f, "Precedence: {}, ", self.precedence)?;
        match self.action {
            IntentionAction::Allow => f.write_str("Action: ALLOW)"),
            IntentionAction::Deny => f.write_str("Action: DENY)"),
            IntentionAction::Permissions(n) => write!(f, "Permissions: {n})"),
        }
    }
}
