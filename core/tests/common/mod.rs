//! Shared pieces of the property-test binaries (`core/tests/prop_*.rs`): the seeded proptest
//! configuration, strategies for valid config entries of every kind, an HCL1 printer and a
//! snake_case key converter.
//!
//! Every property prints `seed=<n> reproduce: ...` first (STYLE.md "Tests" (5)); the seed is
//! fixed so CI is reproducible, and `PROPTEST_RNG_SEED=<u64>` / `PROPTEST_CASES=<n>` explore
//! further without editing code.
#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses a different subset of it"
)]

pub mod hcl;
pub mod routing;
pub mod strategies;

use proconsul_core::config::{ConfigEntries, ConfigEntry};
use proconsul_core::ids::{Datacenter, TrustDomain};
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use serde_json::Value;

/// The seed CI runs with when `PROPTEST_RNG_SEED` is unset.
pub const DEFAULT_SEED: u64 = 0x5052_4f43_4f4e_5355; // "PROCONSU"

/// A proptest configuration with a fixed seed, no failure persistence (a failure is
/// reproduced by its seed, not by a file in the tree), and `cases` cases unless
/// `PROPTEST_CASES` overrides it. Prints the seed and the command that replays it.
pub fn config(cases: u32, test_file: &str) -> ProptestConfig {
    let seed = env_u64("PROPTEST_RNG_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("PROPTEST_CASES").and_then(|n| u32::try_from(n).ok()).unwrap_or(cases);
    eprintln!(
        "seed={seed} reproduce: PROPTEST_RNG_SEED={seed} cargo test -p proconsul-core --test {test_file}"
    );
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

/// The datacenter every chain is compiled for.
pub fn dc1() -> Datacenter {
    Datacenter::new("dc1").expect("a valid datacenter name")
}

/// The trust domain every chain is compiled with.
pub fn trust_domain() -> TrustDomain {
    TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").expect("a valid trust domain")
}

/// Reads an entry that the test built to be valid; a rejection is a failure of the property
/// under test (or of the generator), reported with the document.
pub fn accept(value: Value) -> Result<ConfigEntry, String> {
    let text = value.to_string();
    ConfigEntry::from_value(value).map_err(|e| format!("rejected {text}: {e}"))
}

/// Builds a set from documents that must all be accepted on their own.
pub fn entry_set(values: &[Value]) -> Result<ConfigEntries, String> {
    values.iter().map(|v| accept(v.clone())).collect()
}
