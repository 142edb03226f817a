//! The discovery chain compiler: routers, splitters and resolvers of a service folded into
//! one graph whose leaves are concrete targets (service, subset, datacenter), the shape
//! proxies turn into routes and clusters.
//!
//! ```text
//!  router:web ──/admin──► splitter:admin ──80%──► resolver:v1.admin.default.default.dc1
//!      │                              └──20%──► resolver:v2.admin...dc1 ──failover──► dc2, dc3
//!      └──(catch-all /)──► resolver:web.default.default.dc1
//! ```
//!
//! `compile` is a pure function of the config entries; the write-time checks in
//! [`crate::config`] run it over every affected service before accepting a change.

mod compile;
mod error;
mod model;

pub use compile::{CompileRequest, DEFAULT_CONNECT_TIMEOUT, Overrides, compile, compile_with};
pub use error::ChainError;
pub use model::{
    ChainFailover, ChainNode, ChainResolver, ChainRoute, ChainSplit, ChainTarget, CompiledChain,
    NodeType,
};

#[cfg(test)]
mod tests;
