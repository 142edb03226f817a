//! The Aggregated Discovery Service protocol, per stream and sans-IO. The tonic server in
//! `runtime-tokio` decodes requests into [`DeltaRequest`]/[`SotwRequest`], feeds them with
//! new resource sets into an [`AdsSession`], and encodes what `poll_response` returns.

mod messages;
mod session;

pub use messages::{AdsError, DeltaRequest, Nack, Protocol, Response, SotwRequest, XdsResource};
pub use session::{AdsSession, MAX_SUBSCRIPTIONS};

#[cfg(test)]
mod tests;
