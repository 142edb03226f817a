//! Property family 2: reading and validating config entries never panics, whatever the input
//! (STYLE.md "Errors": network junk -> `Err`, never panic), and every refusal renders to a
//! non-empty message an operator can act on.
//!
//! Inputs: JSON documents whose keys come from the real field names (in Consul, snake_case,
//! lower and upper case) plus junk, with arbitrary scalars; arbitrary text and token soup
//! through the JSON and HCL readers; valid entries printed and then damaged; and arbitrary
//! entry sets, validated or only decoded, through `validate_graph`.

mod common;

use common::hcl::{snake_case, to_hcl};
use common::strategies;
use proconsul_core::config::{
    ConfigEntries, ConfigEntry, ConfigError, validate_delete, validate_graph, validate_write,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

const FILE: &str = "prop_validation";

/// Every field name the six kinds know (CONSUL-FACTS.md §3), in Consul's casing.
#[rustfmt::skip]
const FIELDS: &[&str] = &[
    "Kind", "Name", "Partition", "Namespace", "Protocol", "Mode", "TransparentProxy",
    "MutualTLSMode", "MeshGateway", "Expose", "ExternalSNI", "UpstreamConfig", "Destination",
    "MaxInboundConnections", "LocalConnectTimeoutMs", "LocalRequestTimeoutMs",
    "BalanceInboundConnections", "RateLimits", "EnvoyExtensions", "Meta", "CreateIndex",
    "ModifyIndex", "Overrides", "Defaults", "Peer", "EnvoyListenerJSON", "EnvoyClusterJSON",
    "ConnectTimeoutMs", "Limits", "PassiveHealthCheck", "BalanceOutboundConnections",
    "DisableDefaultFilter", "Config", "AccessLogs", "FailoverPolicy", "PrioritizeByLocality",
    "Routes", "Match", "HTTP", "PathExact", "PathPrefix", "PathRegex", "Header", "QueryParam",
    "Methods", "Present", "Exact", "Prefix", "Suffix", "Regex", "Invert", "Service",
    "ServiceSubset", "PrefixRewrite", "RequestTimeout", "IdleTimeout", "NumRetries",
    "RetryOnConnectFailure", "RetryOn", "RetryOnStatusCodes", "RequestHeaders",
    "ResponseHeaders", "Add", "Set", "Remove", "Splits", "Weight", "DefaultSubset", "Subsets",
    "Filter", "OnlyPassing", "Redirect", "Datacenter", "SamenessGroup", "Failover",
    "Datacenters", "Targets", "Policy", "Regions", "ConnectTimeout", "LoadBalancer",
    "RingHashConfig", "LeastRequestConfig", "HashPolicies", "Sources", "Action", "Permissions",
    "Precedence", "Type", "Description", "LegacyID", "LegacyMeta", "LegacyCreateTime",
    "LegacyUpdateTime", "JWT",
];

#[rustfmt::skip]
const KINDS: &[&str] = &[
    "service-defaults", "proxy-defaults", "service-router", "service-splitter",
    "service-resolver", "service-intentions", "Service-Router", "ingress-gateway", "",
];

/// Scalars that mean something to some field, and some that mean nothing anywhere.
#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "", "*", "web", "db", "global", "v1", "v2", "dc2", "http", "tcp", "grpc", "HTTP", "allow",
    "deny", "consul", "local", "remote", "bogus", "5s", "-1s", "1h30m", "0", "10", "/", "/api",
    "api", "(", "^/v[0-9]+$", "GET", "get", "BREW", "5xx", "ring_hash", "maglev",
    "exact_balance", "Service.Meta.version == v1", "Service.Metaa == 1", "a b", "ünï", "${x}",
    "\u{0}",
];

/// A key: a real field name in one of the spellings the decoder folds, or junk.
fn key() -> impl Strategy<Value = String> {
    let real = (select(FIELDS), 0..4u8).prop_map(|(f, style)| match style {
        0 => f.to_owned(),
        1 => snake_case(f),
        2 => f.to_ascii_lowercase(),
        _ => f.to_ascii_uppercase(),
    });
    prop_oneof![
        6 => real,
        1 => select(&["", "x", "__", "Kind ", "k-i-n-d", "ünï", "v1", "*"][..]).prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-300i64..300).prop_map(Value::from),
        select(&[0.0f64, -0.0, 0.004, 33.333, 99.995, 100.0, 100.01, -1.0, 1e300, 5e-324][..])
            .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Mostly objects with a kind, so decoding gets past the `Kind` check and into the fields.
fn document() -> impl Strategy<Value = Value> {
    let with_kind = (
        select(&["Kind", "kind", "KIND", "k_i_n_d"][..]),
        select(KINDS),
        vec((key(), json()), 0..8),
    )
        .prop_map(|(kind_key, kind, fields)| {
            let mut map = Map::new();
            map.insert(kind_key.to_owned(), Value::String(kind.to_owned()));
            map.extend(fields);
            Value::Object(map)
        });
    prop_oneof![4 => with_kind, 4 => mutated_entry(), 1 => json()]
}

/// A valid entry's document with a few nodes replaced, removed or added, so the decoder
/// gets past the field names and validation sees almost-right entries.
fn mutated_entry() -> impl Strategy<Value = Value> {
    let edit = (any::<prop::sample::Index>(), 0..4u8, key(), json());
    (strategies::any_entry(), vec(edit, 1..4)).prop_map(|(e, edits)| {
        let mut doc = e.to_value();
        for (at, op, key, value) in edits {
            let nodes = count_nodes(&doc);
            let mut target = at.index(nodes);
            edit_node(&mut doc, &mut target, op, key, value);
        }
        doc
    })
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies `op` to the `target`-th node in pre-order: 1 removes its first key or element,
/// 2 adds `key: value` (or appends `value`), 3 replaces it with the string `key`, anything
/// else replaces it with `value`. Returns whether the node was found.
fn edit_node(v: &mut Value, target: &mut usize, op: u8, key: String, value: Value) -> bool {
    if *target == 0 {
        match (op, &mut *v) {
            (1, Value::Object(map)) => {
                if let Some(first) = map.keys().next().cloned() {
                    map.shift_remove(&first);
                }
            }
            (1, Value::Array(items)) if !items.is_empty() => {
                items.remove(0);
            }
            (2, Value::Object(map)) => {
                map.insert(key, value);
            }
            (2, Value::Array(items)) => items.push(value),
            (3, _) => *v = Value::String(key),
            _ => *v = value,
        }
        return true;
    }
    *target -= 1;
    match v {
        Value::Array(items) => {
            items.iter_mut().any(|c| edit_node(c, target, op, key.clone(), value.clone()))
        }
        Value::Object(map) => {
            map.values_mut().any(|c| edit_node(c, target, op, key.clone(), value.clone()))
        }
        _ => false,
    }
}

/// Pieces of both grammars and of their error paths.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "{", "}", "[", "]", "=", ":", ",", "\n", " ", "\"", "\\", "\"a\"", "kind",
    "\"service-router\"", "routes", "0x", "-", "1.5e", "010", "09", "<<EOF\n", "<<-X\n", "EOF",
    "/*", "*/", "#", "//", "${", "\\u12", "\\U0011FFFF", "true", "null", "\r", "\u{feff}",
    "1e999", "-9223372036854775809",
];

/// Text around the grammar of both readers: punctuation, keys, strings, numbers, comments,
/// heredocs and interpolations in random order.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        select(TOKENS).prop_map(str::to_owned),
        select(FIELDS).prop_map(str::to_owned),
        "\\PC{0,4}",
    ];
    vec(token, 0..40).prop_map(|t| t.concat())
}

/// A refusal must say something.
fn check_error(err: &ConfigError) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(!text.trim().is_empty(), "empty error message for {:?}", err);
    Ok(())
}

fn read(result: Result<ConfigEntry, ConfigError>) -> Result<Option<ConfigEntry>, TestCaseError> {
    match result {
        Ok(e) => Ok(Some(e)),
        Err(err) => check_error(&err).map(|()| None),
    }
}

/// Damages a printed document: cut it, drop a character, or insert one.
fn damage(text: &str, at: prop::sample::Index, how: u8, insert: char) -> String {
    let mut out: Vec<char> = text.chars().collect();
    let i = at.index(out.len() + 1);
    match how {
        0 => out.truncate(i),
        1 if i < out.len() => {
            out.remove(i);
        }
        _ => out.insert(i, insert),
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(common::config(512, FILE))]

    #[test]
    fn reading_any_document_never_panics(doc in document()) {
        if let Some(e) = read(ConfigEntry::from_value(doc.clone()))? {
            // What was accepted is at least valid on its own and can be written out.
            prop_assert!(e.validate().is_ok());
            prop_assert!(e.to_value().is_object());
        }
        if let Ok(mut e) = ConfigEntry::decode(doc) {
            e.normalize();
            if let Err(err) = e.validate() {
                check_error(&err)?;
            }
        }
    }

    #[test]
    fn reading_any_text_never_panics(text in prop_oneof!["\\PC{0,80}", ".{0,40}", token_soup()]) {
        read(ConfigEntry::from_json(&text))?;
        read(ConfigEntry::from_hcl(&text))?;
    }

    #[test]
    fn reading_damaged_documents_never_panics(
        e in strategies::any_entry(),
        style in any::<u64>(),
        at in any::<prop::sample::Index>(),
        how in 0..3u8,
        insert in select(&['{', '}', '[', ']', '"', '=', ',', '\n', '\\', '$', 'x', '0', '-', '#'][..]),
    ) {
        let hcl = to_hcl(&e.to_value(), style);
        read(ConfigEntry::from_hcl(&damage(&hcl, at, how, insert)))?;
        let json = e.to_json_pretty();
        read(ConfigEntry::from_json(&damage(&json, at, how, insert)))?;
    }

    #[test]
    fn validating_any_entry_set_never_panics(
        valid in vec(strategies::any_entry(), 0..8),
        fuzzed in vec(document(), 0..4),
    ) {
        let dc = common::dc1();
        // Entries as stored: each accepted on its own.
        let mut stored: ConfigEntries = valid
            .iter()
            .filter_map(|e| ConfigEntry::from_value(e.to_value()).ok())
            .collect();
        for doc in &fuzzed {
            if let Ok(e) = ConfigEntry::from_value(doc.clone()) {
                stored.insert(e);
            }
        }
        if let Err(err) = validate_graph(&stored, &dc) {
            check_error(&err)?;
        }
        for e in stored.iter() {
            if let Err(err) = validate_write(&stored, e, &dc) {
                check_error(&err)?;
            }
            if let Err(err) = validate_delete(&stored, e.kind(), e.name(), &dc) {
                check_error(&err)?;
            }
        }
        // Entries that only decoded (never normalized or validated) must not panic either.
        let mut raw = stored.clone();
        for doc in fuzzed {
            if let Ok(e) = ConfigEntry::decode(doc) {
                raw.insert(e);
            }
        }
        for e in valid {
            raw.insert(e);
        }
        if let Err(err) = validate_graph(&raw, &dc) {
            check_error(&err)?;
        }
    }
}
