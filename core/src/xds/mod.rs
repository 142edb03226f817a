//! xDS: the Envoy configuration the control plane serves, as our own ordered, hashable
//! model, and the protocol that delivers it.
//!
//! ```text
//!  ProxySnapshot ──generate──► ResourceSet ──diff(old, new)──► ResourceDelta
//!                                                   │
//!         DeltaDiscoveryRequest / DiscoveryRequest ─┴─► AdsSession (per stream, sans-IO)
//!                                                        └──poll──► responses to send
//! ```
//! Versions are content hashes of the model, never of encoded protobuf bytes (prost maps
//! are unordered). `proto` encodes the model into envoy-types; this module never sees it.

pub mod ads;
pub mod bootstrap;
mod diff;
mod types;

pub use diff::{ResourceDelta, TypeDelta, diff};
pub use types::{ResourceSet, TypeUrl, Versioned};
pub mod generate;
pub use crate::hash;
pub mod model;
pub mod snapshot;
pub mod subscribers;
