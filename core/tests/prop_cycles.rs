//! Property family 4: a configuration that closes a loop is always refused
//! (CONSUL-FACTS.md §3.6): splitters that reach themselves give `detected circular reference`,
//! resolver redirects that reach themselves give `detected circular resolver redirect`, both
//! from `validate_graph` over the whole set and from `validate_write` of the entry that
//! closes the loop. The same configuration one entry short of the loop is accepted.

mod common;

use std::collections::BTreeSet;

use common::routing::hundredths;
use proconsul_core::config::{ConfigEntries, ConfigError, validate_graph, validate_write};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

const FILE: &str = "prop_cycles";
/// Services the loop is drawn from; those not in the loop are plain leaves.
const POOL: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
/// Services outside the pool that route or redirect into the loop.
const ENTRANCES: [&str; 2] = ["edge", "gateway"];

/// Where a leg that does not continue the loop goes: one of the loop service's own subsets,
/// or a service outside the loop (which never has a splitter or redirect).
#[derive(Debug, Clone)]
enum Leaf {
    OwnSubset(&'static str),
    Outside(usize),
}

#[derive(Debug, Clone)]
struct Loop {
    /// The services in loop order; entry i points to i + 1, the last (when closed) to the first.
    members: Vec<&'static str>,
    outside: Vec<&'static str>,
    /// Per member: extra legs of its splitter, or a datacenter on its redirect.
    leaves: Vec<Vec<Leaf>>,
    datacenters: Vec<Option<&'static str>>,
    /// Weight split per member: the loop leg first, then the leaves.
    weights: Vec<Vec<i64>>,
    protocol: &'static str,
    /// An entrance (router or splitter on `gateway`/`edge`) into member `n`.
    entrance: Option<usize>,
}

fn a_loop() -> impl Strategy<Value = Loop> {
    (Just(POOL.to_vec()).prop_shuffle(), 2..=4usize)
        .prop_flat_map(|(pool, k)| {
            let leaf = prop_oneof![
                select(&["v1", "v2"][..]).prop_map(Leaf::OwnSubset),
                (0..POOL.len() - k).prop_map(Leaf::Outside),
            ];
            let leaves = vec(vec(leaf, 0..3), k);
            let dcs = vec(proptest::option::of(select(&["dc2", "dc3"][..])), k);
            let protocol = select(&["http", "http2", "grpc"][..]);
            (Just(pool), Just(k), leaves, dcs, protocol, proptest::option::of(0..k))
        })
        .prop_flat_map(|(pool, k, leaves, datacenters, protocol, entrance)| {
            let weights: Vec<_> = leaves.iter().map(|l| hundredths(dedup(l).len() + 1)).collect();
            let (members, outside) = pool.split_at(k);
            (
                Just(members.to_vec()),
                Just(outside.to_vec()),
                Just(leaves),
                Just(datacenters),
                weights,
                Just(protocol),
                Just(entrance),
            )
        })
        .prop_map(|(members, outside, leaves, datacenters, weights, protocol, entrance)| Loop {
            leaves: leaves.iter().map(|l| dedup(l)).collect(),
            members,
            outside,
            datacenters,
            weights,
            protocol,
            entrance,
        })
}

/// Split destinations must be distinct.
fn dedup(leaves: &[Leaf]) -> Vec<Leaf> {
    let mut seen = BTreeSet::new();
    leaves
        .iter()
        .filter(|l| {
            seen.insert(match l {
                Leaf::OwnSubset(s) => (*s).to_owned(),
                Leaf::Outside(i) => format!("outside{i}"),
            })
        })
        .cloned()
        .collect()
}

impl Loop {
    /// Service defaults for everything, and subsets v1/v2 on every loop member.
    fn base(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for name in POOL.iter().chain(&ENTRANCES) {
            out.push(json!({"Kind": "service-defaults", "Name": name, "Protocol": self.protocol}));
        }
        for name in &self.members {
            out.push(json!({"Kind": "service-resolver", "Name": name, "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"}}}));
        }
        out
    }

    /// The splitter of member `i`; with `next`, its first leg continues the loop.
    fn splitter(&self, i: usize, next: Option<&str>) -> Value {
        let mut legs: Vec<Value> = Vec::new();
        if let Some(next) = next {
            legs.push(json!({"Service": next}));
        }
        for leaf in &self.leaves[i] {
            legs.push(match leaf {
                Leaf::OwnSubset(s) => json!({"ServiceSubset": s}),
                Leaf::Outside(j) => json!({"Service": self.outside[*j % self.outside.len()]}),
            });
        }
        if legs.is_empty() {
            legs.push(json!({"ServiceSubset": "v1"}));
        }
        // The weights were drawn for the loop leg plus every leaf; fold any spare weight
        // into the last leg so they still add up to 100.
        let weights = &self.weights[i];
        let n = legs.len();
        for (j, leg) in legs.iter_mut().enumerate() {
            let w: i64 = if j + 1 == n { weights[j..].iter().sum() } else { weights[j] };
            leg["Weight"] = json!(w as f64 / 100.0);
        }
        json!({"Kind": "service-splitter", "Name": self.members[i], "Splits": legs})
    }

    /// Splitters a -> b -> ... -> last; `closed` adds last -> a.
    fn splitters(&self, closed: bool) -> (Vec<Value>, Value) {
        let k = self.members.len();
        let mut out = self.base();
        for i in 0..k - 1 {
            out.push(self.splitter(i, Some(self.members[i + 1])));
        }
        if let Some(n) = self.entrance {
            out.push(json!({"Kind": "service-router", "Name": "gateway", "Routes": [
                {"Match": {"HTTP": {"PathPrefix": "/in"}}, "Destination": {"Service": self.members[n]}}]}));
            out.push(json!({"Kind": "service-splitter", "Name": "edge", "Splits": [
                {"Weight": 100, "Service": self.members[n]}]}));
        }
        let last = self.splitter(k - 1, closed.then_some(self.members[0]));
        (out, last)
    }

    /// Redirects a -> b -> ... -> last; `closed` adds last -> a.
    fn redirects(&self, closed: bool) -> (Vec<Value>, Value) {
        let k = self.members.len();
        let redirect = |i: usize, to: &str| {
            let mut r = json!({"Service": to});
            if let Some(dc) = self.datacenters[i] {
                r["Datacenter"] = json!(dc);
            }
            json!({"Kind": "service-resolver", "Name": self.members[i], "Redirect": r})
        };
        let mut out = self.base();
        for i in 0..k - 1 {
            out.push(redirect(i, self.members[i + 1]));
        }
        if let Some(n) = self.entrance {
            out.push(json!({"Kind": "service-resolver", "Name": "edge",
                            "Redirect": {"Service": self.members[n]}}));
            out.push(json!({"Kind": "service-resolver", "Name": "gateway",
                            "Failover": {"*": {"Service": self.members[n]}}}));
        }
        let last = if closed {
            redirect(k - 1, self.members[0])
        } else {
            // Open end: the last member redirects out of the loop (or only changes datacenter).
            match self.leaves[k - 1].first() {
                Some(Leaf::Outside(j)) => {
                    json!({"Kind": "service-resolver", "Name": self.members[k - 1],
                    "Redirect": {"Service": self.outside[*j % self.outside.len()]}})
                }
                _ => json!({"Kind": "service-resolver", "Name": self.members[k - 1],
                    "Redirect": {"Datacenter": "dc2"}}),
            }
        };
        (out, last)
    }
}

fn with(entries: &[Value], last: &Value) -> ConfigEntries {
    let mut all = entries.to_vec();
    all.push(last.clone());
    common::entry_set(&all).unwrap_or_else(|e| panic!("generator built an invalid entry: {e}"))
}

/// The bracketed path of a cycle error: `[x -> y -> x]`.
fn cycle_path(message: &str, prefix: &str) -> Result<Vec<String>, TestCaseError> {
    let rest = message
        .strip_prefix(prefix)
        .ok_or_else(|| TestCaseError::fail(format!("expected {prefix:?}..., got {message:?}")))?;
    let inner = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    let inner = inner.ok_or_else(|| TestCaseError::fail(format!("no [path] in {message:?}")))?;
    Ok(inner.split(" -> ").map(str::to_owned).collect())
}

fn refusal(result: Result<(), ConfigError>) -> Result<String, TestCaseError> {
    match result {
        Err(e) => Ok(e.to_string()),
        Ok(()) => Err(TestCaseError::fail("a loop was accepted")),
    }
}

proptest! {
    #![proptest_config(common::config(512, FILE))]

    #[test]
    fn splitter_loops_are_refused(l in a_loop()) {
        let dc = common::dc1();
        let (rest, open_end) = l.splitters(false);
        prop_assert_eq!(validate_graph(&with(&rest, &open_end), &dc), Ok(()), "open chain refused");

        let (rest, closing) = l.splitters(true);
        let closing_entry = common::accept(closing.clone()).map_err(TestCaseError::fail)?;
        let existing = with(&rest, &open_end);
        let from_write = refusal(validate_write(&existing, &closing_entry, &dc))?;
        let from_graph = refusal(validate_graph(&with(&rest, &closing), &dc))?;
        prop_assert_eq!(&from_write, &from_graph);

        let path = cycle_path(&from_graph, "detected circular reference: ")?;
        // The path is exactly the loop, from wherever the compiler entered it back to there.
        prop_assert_eq!(path.len(), l.members.len() + 1, "{}", from_graph);
        prop_assert_eq!(path.first(), path.last());
        let members: BTreeSet<String> =
            l.members.iter().map(|m| format!("splitter:{m}.default.default")).collect();
        let on_path: BTreeSet<String> = path.iter().cloned().collect();
        prop_assert_eq!(on_path, members, "{}", from_graph);
    }

    #[test]
    fn redirect_loops_are_refused(l in a_loop()) {
        let dc = common::dc1();
        let (rest, open_end) = l.redirects(false);
        prop_assert_eq!(validate_graph(&with(&rest, &open_end), &dc), Ok(()), "open chain refused");

        let (rest, closing) = l.redirects(true);
        let closing_entry = common::accept(closing.clone()).map_err(TestCaseError::fail)?;
        let from_write = refusal(validate_write(&with(&rest, &open_end), &closing_entry, &dc))?;
        let from_graph = refusal(validate_graph(&with(&rest, &closing), &dc))?;
        prop_assert_eq!(&from_write, &from_graph);

        let path = cycle_path(&from_graph, "detected circular resolver redirect: ")?;
        // The walk may enter from outside the loop (an entrance); from the first visit of the
        // repeated target on, it stays on loop members.
        let last = path.last().cloned().unwrap_or_default();
        let start = path.iter().position(|t| *t == last).unwrap_or(path.len());
        prop_assert!(start + 1 < path.len(), "no repeated target in {}", from_graph);
        for target in &path[start..] {
            let parts: Vec<&str> = target.split('.').collect();
            prop_assert_eq!(parts.len(), 4, "target id {}", target);
            prop_assert!(l.members.contains(&parts[0]), "{} is not on the loop", target);
            prop_assert_eq!(&parts[1..3], &["default", "default"]);
            prop_assert!(["dc1", "dc2", "dc3"].contains(&parts[3]), "{}", target);
        }
    }
}

/// A splitter leg to its own service and a redirect to itself are not loops.
#[test]
fn self_references_are_not_loops() {
    let dc = common::dc1();
    let entries = common::entry_set(&[
        json!({"Kind": "service-defaults", "Name": "a", "Protocol": "http"}),
        json!({"Kind": "service-resolver", "Name": "a", "Subsets": {"v1": {}}}),
        json!({"Kind": "service-splitter", "Name": "a", "Splits": [
            {"Weight": 50, "Service": "a"}, {"Weight": 50, "ServiceSubset": "v1"}]}),
        json!({"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "b"}}),
    ])
    .unwrap();
    assert_eq!(validate_graph(&entries, &dc), Ok(()));
}
