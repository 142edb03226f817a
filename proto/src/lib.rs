//! Wire encodings for Proconsul.
//!
//! This crate will hold the encoding of the core's ordered xDS model (listeners, clusters,
//! route configurations, cluster load assignments, secrets) into envoy-types protobuf
//! messages, the decoding of Envoy's discovery requests, and our own internal RPC messages.
//! It holds no logic that decides anything: every decision lives in `proconsul-core`.
//!
//! It is empty until the xDS work lands; nothing here pretends to work yet.
#![forbid(unsafe_code)]
