//! Criterion benchmarks over the core's pure functions live in `benches/benches/`.
//!
//! Timings are measured here, never asserted in tests (PERF.md holds the workloads and the
//! baselines we compare against).
#![forbid(unsafe_code)]
