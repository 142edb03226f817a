//! Intentions as Envoy RBAC rules (Consul's `agent/xds/rbac.go`, CONSUL-FACTS.md §2.3).
//!
//! Envoy RBAC has no precedence: a policy matches or not. So the ordered intention list is
//! flattened. Default allow gives `action: DENY` listing the deny intentions, default deny
//! gives `action: ALLOW` listing the allows. Walking from the lowest precedence up, every
//! intention is excluded (`not_id`) from each lower-precedence one whose source covers it
//! (`web` from `*`), and intentions whose action equals the default are dropped once they
//! have been excluded, since the default already covers them:
//!
//! ```text
//!  default deny;  web → db deny (9),  * → db allow (8)
//!  ⇒ action ALLOW, consul-intentions-layer4: and_ids[ ^spiffe://[^/]+/ns/default/dc/[^/]+/svc/[^/]+$,
//!                                                   not ^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$ ]
//! ```
//!
//! L7 intentions (HTTP permissions) are not modelled by [`Intention`] beyond their count, so
//! they are treated as deny, as Consul does on L4 filters: the caller is refused rather than
//! granted more than its permissions allow. Sources in cluster peers and sameness groups are
//! skipped (their identities live in peer trust bundles, not supported yet).

use std::collections::BTreeMap;

use crate::intentions::{DefaultPolicy, Intention, IntentionAction};
use crate::xds::model::{Permission, Principal, Rbac, RbacAction, RbacPolicy, StringMatcher};

/// Name of the single L4 policy.
pub(crate) const LAYER4_POLICY: &str = "consul-intentions-layer4";

/// `[^/]+`: one path segment, what a wildcard matches and what the trust domain and
/// datacenter are matched with (Consul checks neither).
const ANY_SEGMENT: &str = "[^/]+";

/// A source service, as the RBAC flattening sees it. Empty partition means `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    partition: String,
    namespace: String,
    name: String,
}

impl Source {
    /// Consul's `countWild`: a wildcard namespace implies a wildcard name.
    fn wildcards(&self) -> u8 {
        if self.namespace == "*" {
            2
        } else if self.name == "*" {
            1
        } else {
            0
        }
    }

    /// Consul's `ixnSourceMatches(self, against)`: is every caller `self` matches also
    /// matched by the strictly wider `against`?
    fn covered_by(&self, against: &Source) -> bool {
        if self.wildcards() >= against.wildcards() {
            return false;
        }
        let field = |a: &str, b: &str| a == b || b == "*";
        field(or_default(&self.partition), or_default(&against.partition))
            && field(&self.namespace, &against.namespace)
            && field(&self.name, &against.name)
    }

    /// `^spiffe://[^/]+[/ap/<ap>]/ns/<ns>/dc/[^/]+/svc/<svc>$`, wildcards as `[^/]+`. Names
    /// are regex-escaped: a `.` in a service name must not match any character.
    fn principal(&self) -> Principal {
        let seg = |s: &str| if s == "*" { ANY_SEGMENT.to_owned() } else { regex::escape(s) };
        let ap = match or_default(&self.partition) {
            "default" => String::new(),
            ap => format!("/ap/{}", regex::escape(ap)),
        };
        Principal::Authenticated(StringMatcher::SafeRegex(format!(
            "^spiffe://{ANY_SEGMENT}{ap}/ns/{}/dc/{ANY_SEGMENT}/svc/{}$",
            seg(&self.namespace),
            seg(&self.name)
        )))
    }
}

fn or_default(s: &str) -> &str {
    if s.is_empty() { "default" } else { s }
}

struct Flattened {
    source: Source,
    allow: bool,
    not_sources: Vec<Source>,
    skip: bool,
}

/// The RBAC rules for the intentions of `destination` (in evaluation order; intentions for
/// other destinations are ignored). The same rules serve the network filter and the HTTP
/// filter.
pub fn intention_rbac(
    intentions: &[Intention],
    destination: &str,
    default_policy: DefaultPolicy,
) -> Rbac {
    let default_allow = default_policy == DefaultPolicy::Allow;
    let mut ixns: Vec<Flattened> = intentions
        .iter()
        .filter(|i| i.matches_destination("default", destination))
        .filter(|i| i.source_peer.is_empty() && i.source_sameness_group.is_empty())
        .map(|i| Flattened {
            source: Source {
                partition: i.source_partition.clone(),
                namespace: or_default(&i.source_ns).to_owned(),
                name: i.source_name.clone(),
            },
            allow: i.action == IntentionAction::Allow,
            not_sources: Vec::new(),
            skip: false,
        })
        .collect();
    remove_source_precedence(&mut ixns, default_allow);
    let principals: Vec<Principal> = ixns
        .iter()
        .filter(|i| !i.skip)
        .map(|i| flatten_principal(&i.source, &i.not_sources))
        .collect();
    let mut policies = BTreeMap::new();
    if !principals.is_empty() {
        policies.insert(
            LAYER4_POLICY.to_owned(),
            RbacPolicy { permissions: vec![Permission::Any], principals },
        );
    }
    Rbac { action: if default_allow { RbacAction::Deny } else { RbacAction::Allow }, policies }
}

/// Consul's `removeSourcePrecedence`: from the lowest precedence up, exclude each intention
/// from the lower ones that cover it, then drop it if the default already decides the same.
fn remove_source_precedence(ixns: &mut [Flattened], default_allow: bool) {
    for i in (0..ixns.len()).rev() {
        let (head, tail) = ixns.split_at_mut(i + 1);
        let current = &mut head[i];
        for lower in tail.iter_mut().filter(|l| !l.skip) {
            if current.source.covered_by(&lower.source) {
                lower.not_sources.push(current.source.clone());
            }
        }
        current.skip = current.allow == default_allow;
    }
}

/// The source's principal, `and_ids` with `not_id` of each excluded source (after Consul's
/// `simplifyNotSourceSlice`: an exclusion covered by a wider exclusion is redundant).
fn flatten_principal(source: &Source, not_sources: &[Source]) -> Principal {
    let mut sorted: Vec<&Source> = not_sources.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.wildcards()));
    let mut keep: Vec<&Source> = Vec::new();
    for s in sorted {
        if !keep.iter().any(|k| s.covered_by(k)) {
            keep.push(s);
        }
    }
    if keep.is_empty() {
        return source.principal();
    }
    let mut ids = vec![source.principal()];
    ids.extend(keep.into_iter().map(|s| Principal::NotId(Box::new(s.principal()))));
    Principal::AndIds(ids)
}
