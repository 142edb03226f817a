//! Typed identities and names: every name that reaches a SPIFFE ID, an SNI or an Envoy
//! resource is validated once, here, at construction.

mod name;
mod sni;
mod spiffe;
mod target_id;
mod trust_domain;

pub use name::{
    Datacenter, NAME_MAX_BYTES, NameError, Namespace, NodeName, Partition, ServiceName,
};
pub use sni::{Sni, SniError};
pub use spiffe::{SpiffeId, SpiffeIdError};
pub use target_id::{TargetId, TargetIdError, TargetLocation};
pub use trust_domain::{TrustDomain, TrustDomainError};

#[cfg(test)]
mod tests;
