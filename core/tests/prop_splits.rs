//! Property family 5: a splitter is accepted exactly when its weights, each rounded to
//! 0.01, add up to 100 (CONSUL-FACTS.md §3.4: `sum(round(w*100)) == 10000`), whatever
//! sub-0.01 noise the operator typed (`33.333`), and the refusal names the rounded sum as
//! `the sum of all split weights must be 100, not X` with X printed to six decimals.
//!
//! Weights are written as decimal text and read through all three front doors (a JSON value,
//! JSON text, an HCL file), which must agree.

mod common;

use common::routing::hundredths;
use proconsul_core::config::{ConfigEntry, ConfigError};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

const FILE: &str = "prop_splits";

/// One leg's weight as the operator typed it, in thousandths of a percent (so `33.333` is
/// 33333): a whole number of hundredths plus optional noise below 0.01.
fn typed_weights() -> impl Strategy<Value = Vec<i64>> {
    let legs = prop_oneof![
        // Mostly sums that are right to the hundredth, so acceptance is common.
        3 => (1..=5usize).prop_flat_map(hundredths),
        2 => vec(0i64..=10_000, 1..=5),
        1 => vec(prop_oneof![Just(3333i64), Just(3334), Just(5000), Just(2500)], 1..=5),
    ];
    let noise =
        prop_oneof![3 => Just(0i64), 2 => -9i64..=9, 1 => prop_oneof![Just(-5i64), Just(5)]];
    legs.prop_flat_map(move |hs| {
        let n = hs.len();
        (Just(hs), vec(noise.clone(), n))
    })
    .prop_map(|(hs, noise)| hs.iter().zip(noise).map(|(h, d)| h * 10 + d).collect())
}

/// `33333` -> `"33.333"`, `-5` -> `"-0.005"`: exact decimal text of thousandths.
fn decimal(thousandths: i64) -> String {
    let sign = if thousandths < 0 { "-" } else { "" };
    let t = thousandths.unsigned_abs();
    format!("{sign}{}.{:03}", t / 1000, t % 1000)
}

/// `10001` -> `"100.010000"`: the expected `{:.6}` of hundredths, by integer arithmetic.
fn six_decimals(hundredths: i64) -> String {
    assert!(hundredths >= 0);
    format!("{}.{:02}0000", hundredths / 100, hundredths % 100)
}

/// Consul's rounding of one typed weight to hundredths (half away from zero).
fn rounded(weight: f64) -> i64 {
    (weight * 100.0).round() as i64
}

proptest! {
    #![proptest_config(common::config(2048, FILE))]

    #[test]
    fn splits_are_accepted_iff_rounded_weights_sum_to_100(typed in typed_weights()) {
        let texts: Vec<String> = typed.iter().map(|t| decimal(*t)).collect();
        let weights: Vec<f64> = texts.iter().map(|t| t.parse().expect("decimal text")).collect();
        let legs: Vec<Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| json!({"Weight": w, "ServiceSubset": format!("s{i}")}))
            .collect();
        let doc = json!({"Kind": "service-splitter", "Name": "web", "Splits": legs});
        let from_value = ConfigEntry::from_value(doc);

        // The same entry typed by hand as JSON text and as an HCL file.
        let json_legs: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#"{{"Weight": {t}, "ServiceSubset": "s{i}"}}"#))
            .collect();
        let json_text = format!(
            r#"{{"Kind": "service-splitter", "Name": "web", "Splits": [{}]}}"#,
            json_legs.join(", ")
        );
        prop_assert_eq!(&ConfigEntry::from_json(&json_text), &from_value, "{}", json_text);
        let hcl_legs: String = texts
            .iter()
            .enumerate()
            .map(|(i, t)| format!("splits {{\n  weight = {t}\n  service_subset = \"s{i}\"\n}}\n"))
            .collect();
        let hcl_text = format!("kind = \"service-splitter\"\nname = \"web\"\n{hcl_legs}");
        prop_assert_eq!(&ConfigEntry::from_hcl(&hcl_text), &from_value, "{}", hcl_text);

        let hs: Vec<i64> = weights.iter().map(|w| rounded(*w)).collect();
        let sum: i64 = hs.iter().sum();
        if let Some(i) = hs.iter().position(|h| !(0..=10_000).contains(h)) {
            // Rounded out of [0, 100]: refused for the range before the sum is looked at.
            let Err(ConfigError::Invalid { message, .. }) = &from_value else {
                return Err(TestCaseError::fail(format!("{from_value:?} for weights {texts:?}")));
            };
            let want = format!("Splits[{i}].Weight must be between 0 and 100");
            prop_assert!(message.starts_with(&want), "{} for {:?}", message, texts);
        } else if sum == 10_000 {
            let Ok(ConfigEntry::ServiceSplitter(s)) = &from_value else {
                return Err(TestCaseError::fail(format!("{from_value:?} for weights {texts:?}")));
            };
            // Stored rounded to 0.01, in order.
            let stored: Vec<f64> = s.splits.iter().map(|l| l.weight).collect();
            let want: Vec<f64> = hs.iter().map(|h| *h as f64 / 100.0).collect();
            prop_assert_eq!(stored, want);
        } else {
            let want = format!("the sum of all split weights must be 100, not {}", six_decimals(sum));
            match &from_value {
                Err(e @ ConfigError::Invalid { message, .. }) => {
                    prop_assert_eq!(message, &want, "for {:?}", texts);
                    prop_assert_eq!(e.to_string(), format!("service-splitter \"web\": {want}"));
                }
                other => return Err(TestCaseError::fail(format!("{other:?}, want {want:?} for {texts:?}"))),
            }
        }
    }
}

/// The examples from the brief and CONSUL-FACTS.md §3.4, so the oracle itself is pinned.
#[test]
fn thirds_with_noise_round_to_one_hundred_or_not() {
    let check = |weights: &[&str]| {
        let legs: Vec<String> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| format!(r#"{{"Weight": {w}, "ServiceSubset": "s{i}"}}"#))
            .collect();
        let text = format!(
            r#"{{"Kind": "service-splitter", "Name": "web", "Splits": [{}]}}"#,
            legs.join(",")
        );
        ConfigEntry::from_json(&text).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(check(&["33.334", "33.333", "33.337"]), Ok(()));
    assert_eq!(
        check(&["33.333", "33.333", "33.334"]),
        Err("service-splitter \"web\": the sum of all split weights must be 100, not 99.990000"
            .into())
    );
    assert_eq!(check(&["33.33", "33.33", "33.34"]), Ok(()));
    assert_eq!(
        check(&["33.33", "33.33", "33.33"]),
        Err("service-splitter \"web\": the sum of all split weights must be 100, not 99.990000"
            .into())
    );
    assert_eq!(
        check(&["50.005", "50"]),
        Err("service-splitter \"web\": the sum of all split weights must be 100, not 100.010000"
            .into())
    );
}
