//! Intentions: which services may call which (CONSUL-FACTS.md §2).
//!
//! Intentions are stored as `service-intentions` config entries; here they are flattened to
//! one rule per source, ordered by precedence, and evaluated for a caller's SPIFFE ID.

mod authorize;
mod exact;
mod intention;

pub use authorize::{AuthorizeError, Decision, DefaultPolicy, authorize, authorize_uri};
pub use exact::{find_source, remove_source, upsert_source};
pub use intention::{Intention, IntentionAction};

#[cfg(test)]
mod tests;
