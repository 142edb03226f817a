//! The Connect CA: SPIFFE leaf certificates from CSRs, a root per federation, an
//! intermediate per secondary datacenter, and root rotation that never breaks a connection.
//!
//! Keys derive from the seeded stream the CA is built with and signatures are deterministic,
//! so a seed reproduces every certificate. Time is an argument (`UnixTime`), never read.

mod authority;
mod certs;
mod config;
mod csr;
mod error;
mod intermediate;
mod key;
mod leaf;
mod limiter;
mod renewal;
mod root;
mod stored;

pub use authority::{CertificateAuthority, Role};
pub use config::{CaConfig, CaConfigError, ProviderConfig};
pub use csr::{generate_leaf_key, leaf_csr};
pub use error::CaError;
pub use key::{ExternalSigner, KeyType, PrivateKey, SignerFactory};
pub use leaf::{IssuedCert, Requester};
pub use limiter::{CsrLimiter, RateLimited};
pub use renewal::{ROOT_CHANGE_JITTER_SECS, renewal_deadline, root_change_deadline};
pub use root::{
    CaRoot, RootsResponse, colon_hex, pem_decode_all, pem_encode, rfc3339_text, root_id,
};
pub use stored::CaProviderState;

#[cfg(test)]
mod stored_tests;
#[cfg(test)]
mod tests;
