//! Property family 6: `authorize` decides as a brute-force reading of Consul's rules does
//! (CONSUL-FACTS.md §2.2-2.4): among the intentions whose destination and source match the
//! request (exactly or by `*`; sources in the caller's partition, never peers or sameness
//! groups), the highest precedence decides; L7 intentions do not authorize a connection;
//! with no match the default policy decides.
//!
//! The oracle below is written from the precedence table, not from the crate's `precedence`
//! or sort order, and renders Consul's reason strings itself.

mod common;

use std::collections::BTreeSet;

use proconsul_core::config::ConfigEntries;
use proconsul_core::ids::{ServiceName, SpiffeId};
use proconsul_core::intentions::{DefaultPolicy, Intention, authorize, authorize_uri};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

const FILE: &str = "prop_intentions";
const CALLERS: [&str; 4] = ["web", "api", "db", "billing"];

/// Where a source lives. A source in the default partition (`Local`) matches callers there,
/// one in `part1` matches callers in `part1`; peers and sameness groups never match a local
/// caller and are there to be ignored.
///
/// A local source sometimes spells out partition and namespace `default`: that is the same
/// source as leaving them empty, so duplicates are keyed on the origin alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Local,
    Peer,
    Partition,
    SamenessGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Allow,
    Deny,
    /// L7, with this many HTTP permissions.
    Permissions(usize),
}

#[derive(Debug, Clone)]
struct Source {
    name: &'static str,
    origin: Origin,
    rule: Rule,
    spelled_default: bool,
}

fn source() -> impl Strategy<Value = Source> {
    let origin = prop_oneof![
        5 => Just(Origin::Local),
        1 => Just(Origin::Peer),
        1 => Just(Origin::Partition),
        1 => Just(Origin::SamenessGroup),
    ];
    let rule = prop_oneof![
        2 => Just(Rule::Allow),
        2 => Just(Rule::Deny),
        1 => (1..=3usize).prop_map(Rule::Permissions),
    ];
    (select(&["web", "api", "db", "*"][..]), origin, rule, any::<bool>()).prop_map(
        |(name, origin, rule, spelled_default)| Source { name, origin, rule, spelled_default },
    )
}

/// Entries per destination (`db`, `api`, `*`), with distinct sources each.
fn intentions() -> impl Strategy<Value = Vec<(&'static str, Vec<Source>)>> {
    subsequence(&["db", "api", "*"][..], 0..=3).prop_flat_map(|dests| {
        let per_dest: Vec<_> = dests.into_iter().map(|d| (Just(d), vec(source(), 1..5))).collect();
        per_dest.prop_map(|entries| {
            entries
                .into_iter()
                .map(|(dest, sources)| {
                    let mut seen = BTreeSet::new();
                    let sources = sources
                        .into_iter()
                        .filter(|s| seen.insert((s.name, s.origin)))
                        .map(|mut s| {
                            // L7 permissions are refused on a wildcard destination.
                            if dest == "*" && matches!(s.rule, Rule::Permissions(_)) {
                                s.rule = Rule::Deny;
                            }
                            s
                        })
                        .collect();
                    (dest, sources)
                })
                .collect()
        })
    })
}

fn source_json(s: &Source) -> Value {
    let mut v = json!({"Name": s.name});
    match s.origin {
        Origin::Local if s.spelled_default => {
            v["Partition"] = json!("default");
            v["Namespace"] = json!("default");
        }
        Origin::Local => {}
        Origin::Peer => v["Peer"] = json!("peer1"),
        Origin::Partition => v["Partition"] = json!("part1"),
        Origin::SamenessGroup => v["SamenessGroup"] = json!("sg1"),
    }
    match s.rule {
        Rule::Allow => v["Action"] = json!("allow"),
        Rule::Deny => v["Action"] = json!("deny"),
        Rule::Permissions(n) => {
            let perms: Vec<Value> = (0..n)
                .map(|i| {
                    json!({"Action": if i % 2 == 0 { "allow" } else { "deny" },
                           "HTTP": {"PathPrefix": format!("/p{i}")}})
                })
                .collect();
            v["Permissions"] = json!(perms);
        }
    }
    v
}

/// CONSUL-FACTS.md §2.2 in CE: exact->exact 9, *->exact 8, exact->* 6, *->* 5.
fn table_precedence(source: &str, destination: &str) -> i32 {
    match (source == "*", destination == "*") {
        (false, false) => 9,
        (true, false) => 8,
        (false, true) => 6,
        (true, true) => 5,
    }
}

/// Consul's `Matched L4|L7 intention: <Intention.String()>`; the source partition is
/// written only when it is not `default`.
fn reason(source: &Source, destination: &str) -> String {
    let (name, rule) = (source.name, source.rule);
    let partition = if source.origin == Origin::Partition { "part1/" } else { "" };
    let p = table_precedence(name, destination);
    let (layer, detail) = match rule {
        Rule::Allow => ("L4", "Action: ALLOW".to_owned()),
        Rule::Deny => ("L4", "Action: DENY".to_owned()),
        Rule::Permissions(n) => ("L7", format!("Permissions: {n}")),
    };
    format!(
        "Matched {layer} intention: {partition}default/{name} => default/{destination} (Precedence: {p}, {detail})"
    )
}

/// The decision by brute force: every matching intention at the highest precedence must
/// agree; returns whether it authorizes and the reasons that may be given.
fn brute_force(
    entries: &[(&str, Vec<Source>)],
    caller: &str,
    caller_partition: Origin,
    target: &str,
) -> Result<Option<(bool, BTreeSet<String>)>, TestCaseError> {
    let matching: Vec<(&str, &Source)> = entries
        .iter()
        .filter(|(dest, _)| *dest == "*" || *dest == target)
        .flat_map(|(dest, sources)| sources.iter().map(move |s| (*dest, s)))
        .filter(|(_, s)| s.origin == caller_partition && (s.name == "*" || s.name == caller))
        .collect();
    let Some(top) = matching.iter().map(|(d, s)| table_precedence(s.name, d)).max() else {
        return Ok(None);
    };
    let best: Vec<&(&str, &Source)> =
        matching.iter().filter(|(d, s)| table_precedence(s.name, d) == top).collect();
    let verdicts: BTreeSet<bool> = best.iter().map(|(_, s)| s.rule == Rule::Allow).collect();
    prop_assert_eq!(verdicts.len(), 1, "intentions of equal precedence disagree: {:?}", best);
    let reasons = best.iter().map(|(d, s)| reason(s, d)).collect();
    Ok(Some((verdicts.contains(&true), reasons)))
}

proptest! {
    #![proptest_config(common::config(2048, FILE))]

    #[test]
    fn authorize_agrees_with_brute_force_precedence(
        entries in intentions(),
        caller in select(&CALLERS[..]),
        target in select(&CALLERS[..]),
        deny_by_default in any::<bool>(),
        trust_domain in select(&["11111111-2222-3333-4444-555555555555.consul", "elsewhere.consul"][..]),
        datacenter in select(&["dc1", "dc2"][..]),
        in_part1 in prop::bool::weighted(0.25),
    ) {
        let docs: Vec<Value> = entries
            .iter()
            .map(|(dest, sources)| json!({"Kind": "service-intentions", "Name": dest,
                "Sources": sources.iter().map(source_json).collect::<Vec<_>>()}))
            .collect();
        let set: ConfigEntries = common::entry_set(&docs).map_err(TestCaseError::fail)?;
        let ixns = Intention::all(&set);

        // Evaluation order: precedence from the table, never increasing.
        for ixn in &ixns {
            prop_assert_eq!(ixn.precedence, table_precedence(&ixn.source_name, &ixn.destination_name));
        }
        prop_assert!(ixns.windows(2).all(|w| w[0].precedence >= w[1].precedence));

        let default = if deny_by_default { DefaultPolicy::Deny } else { DefaultPolicy::Allow };
        let (partition, ap) = if in_part1 { (Origin::Partition, "/ap/part1") } else { (Origin::Local, "") };
        let uri = format!("spiffe://{trust_domain}{ap}/ns/default/dc/{datacenter}/svc/{caller}");
        let source: SpiffeId = uri.parse().expect("a valid service SPIFFE ID");
        let destination = ServiceName::new(target).expect("a valid service name");
        let decision = authorize(&ixns, &source, &destination, default).expect("a service identity");
        prop_assert_eq!(&authorize_uri(&ixns, &uri, target, default), &Ok(decision.clone()));

        match brute_force(&entries, caller, partition, target)? {
            Some((authorized, reasons)) => {
                prop_assert_eq!(decision.authorized, authorized, "{}", decision.reason);
                prop_assert!(reasons.contains(&decision.reason), "{:?} not in {:?}", decision.reason, reasons);
            }
            None => {
                prop_assert_eq!(decision.authorized, !deny_by_default);
                prop_assert_eq!(decision.reason.as_str(), "Default behavior configured by ACLs");
            }
        }
    }
}
