//! Property family 1: every accepted config entry reads back unchanged from what Proconsul
//! writes (Consul API JSON, compact and pretty), from the same document written as an HCL1
//! file, and from the document with every struct key in snake_case (CONSUL-FACTS.md §3:
//! "CamelCase keys, snake_case aliases accepted in both HCL and JSON").

mod common;

use common::hcl::{snake_case, snake_case_keys, to_hcl};
use common::strategies::{self, scoped};
use proconsul_core::config::ConfigEntry;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};

const FILE: &str = "prop_config_roundtrip";
const CASES: u32 = 256;

/// Accepts the generated entry, then checks it is a fixed point of every read/write path.
fn round_trips(candidate: &ConfigEntry, style: u64) -> Result<(), TestCaseError> {
    let e = ConfigEntry::from_value(candidate.to_value()).map_err(|err| {
        TestCaseError::fail(format!(
            "generator produced an entry Proconsul refuses: {err}\n{}",
            candidate.to_json_pretty()
        ))
    })?;
    let mut normalized = e.clone();
    normalized.normalize();
    prop_assert_eq!(&normalized, &e, "normalize is not idempotent");

    let doc = e.to_value();
    prop_assert_eq!(doc.get("Kind").and_then(|k| k.as_str()), Some(e.kind().as_str()));
    prop_assert_eq!(ConfigEntry::from_value(doc.clone()), Ok(e.clone()), "via to_value");

    let pretty = e.to_json_pretty();
    prop_assert_eq!(ConfigEntry::from_json(&pretty), Ok(e.clone()), "via JSON:\n{}", pretty);

    let hcl = to_hcl(&doc, style);
    prop_assert_eq!(ConfigEntry::from_hcl(&hcl), Ok(e.clone()), "via HCL:\n{}", hcl);

    let snake = snake_case_keys(&doc);
    prop_assert_eq!(
        ConfigEntry::from_value(snake.clone()),
        Ok(e.clone()),
        "via snake_case:\n{:#}",
        snake
    );

    let snake_hcl = to_hcl(&snake, style.rotate_left(17));
    prop_assert_eq!(ConfigEntry::from_hcl(&snake_hcl), Ok(e), "via snake_case HCL:\n{}", snake_hcl);
    Ok(())
}

proptest! {
    #![proptest_config(common::config(CASES, FILE))]

    #[test]
    fn service_defaults_round_trip(e in scoped(strategies::service_defaults()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }

    #[test]
    fn proxy_defaults_round_trip(e in scoped(strategies::proxy_defaults()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }

    #[test]
    fn service_router_round_trips(e in scoped(strategies::service_router()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }

    #[test]
    fn service_splitter_round_trips(e in scoped(strategies::service_splitter()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }

    #[test]
    fn service_resolver_round_trips(e in scoped(strategies::service_resolver()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }

    #[test]
    fn service_intentions_round_trip(e in scoped(strategies::service_intentions()), style in any::<u64>()) {
        round_trips(&e, style)?;
    }
}

/// Meta-determinism (STYLE.md "Tests" (5)): one seed generates the same entries twice, so a
/// printed seed really replays a failure.
#[test]
fn one_seed_generates_the_same_entries_twice() {
    let run = || {
        let mut runner = TestRunner::new(common::config(1, FILE));
        let entries = strategies::any_entry();
        (0..64)
            .map(|_| {
                let tree = entries.new_tree(&mut runner).expect("strategies never reject");
                tree.current().to_json_pretty()
            })
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first, run());
    assert!(
        first.iter().collect::<std::collections::BTreeSet<_>>().len() > 32,
        "too few distinct entries"
    );
}

/// The key converter itself, on the acronym-heavy names Consul uses.
#[test]
fn snake_case_splits_words_and_acronyms() {
    for (camel, snake) in [
        ("PathPrefix", "path_prefix"),
        ("HTTP", "http"),
        ("ExternalSNI", "external_sni"),
        ("MutualTLSMode", "mutual_tls_mode"),
        ("LegacyID", "legacy_id"),
        ("EnvoyListenerJSON", "envoy_listener_json"),
        ("LocalConnectTimeoutMs", "local_connect_timeout_ms"),
        ("Kind", "kind"),
    ] {
        assert_eq!(snake_case(camel), snake);
    }
}

/// The printer's output for a fixed document, so a printer bug cannot hide behind the parser.
#[test]
fn hcl_printer_escapes_strings_and_keeps_interpolation_literal() {
    let doc = serde_json::json!({"Kind": "service-defaults", "Meta": {"a b": "q\"${x}\n\\"}});
    let text = to_hcl(&doc, 0);
    assert!(text.contains(r#""q\"\u0024{x}\n\\""#), "{text}");
    let parsed = proconsul_core::config::hcl1::parse(&text).unwrap();
    assert_eq!(parsed, doc);
}
