//! Generation tests: Consul's golden scenarios (names, SNI, SANs, stat prefixes, cluster
//! types and filter chain order, hard-coded from `shared/consul-golden`), the seed chains,
//! mesh gateway modes, RBAC, determinism of versions, and the shared endpoint table.

mod chains;
mod consul_golden;
mod determinism;
mod fixtures;
mod gateway_modes;
mod rbac;
mod table;
