//! Wire encodings for Proconsul: the core's xDS model and ADS messages to and from
//! envoy-types protobuf messages.
//!
//! Nothing here decides anything. Requests are translated into the core's
//! [`DeltaRequest`]/[`SotwRequest`], responses out of its [`Response`]; each resource type
//! supplies its own protobuf form through [`EncodeResource`], which the core's
//! [`Resource`](proconsul_core::xds::model::Resource) implements field by field (`encode`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ads;
mod encode;

pub use ads::{
    EncodeResource, decode_delta_request, decode_sotw_request, encode_delta_response,
    encode_sotw_response,
};
pub use envoy_types;

pub use proconsul_core::xds::ads::{DeltaRequest, Response, SotwRequest};
