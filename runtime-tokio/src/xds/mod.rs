//! The xDS server: gRPC streams in, the core's [`AdsSession`] decides, responses out.
//!
//! One task per stream owns its session. It wakes on a request from Envoy or on a new
//! resource set for its proxy (a `watch` channel fed by whoever generates snapshots), feeds
//! the session, and sends whatever the session returns, in order. All protocol decisions
//! (what to send, when, ACK/NACK handling) are the core's.
//!
//! [`AdsSession`]: proconsul_core::xds::ads::AdsSession

mod server;
mod snapshots;

pub use server::AdsServer;
pub use snapshots::{SnapshotSource, Snapshots};
