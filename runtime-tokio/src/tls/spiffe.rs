//! The SPIFFE identity a certificate carries, and the policy that decides whether a peer's
//! identity is acceptable.
//!
//! Connect leaves carry their identity only as a URI SAN (no DNS name, empty subject;
//! CONSUL-FACTS.md §6.3), so the identity is read from there and nowhere else. Reading is
//! done with x509-parser on bytes that may come from an attacker: every failure is a
//! [`PeerIdentityError`], never a panic.

use std::fmt;
use std::sync::Arc;

use proconsul_core::ids::{SpiffeId, TrustDomain};
use rustls::CommonState;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::error::PeerIdentityError;

/// The SPIFFE ID of an end-entity certificate (DER): its one URI SAN, parsed. Other SAN
/// kinds (a DNS name the CSR asked for) are ignored; zero or several URI SANs are refused,
/// because with several the identity would be ambiguous (SPIFFE X509-SVID §2).
pub fn spiffe_id_of(cert_der: &[u8]) -> Result<SpiffeId, PeerIdentityError> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| PeerIdentityError::Malformed(e.to_string()))?;
    let san =
        cert.subject_alternative_name().map_err(|e| PeerIdentityError::Malformed(e.to_string()))?;
    let uris: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .collect();
    let [uri] = uris.as_slice() else {
        return Err(PeerIdentityError::UriSanCount(uris.len()));
    };
    uri.parse().map_err(|reason| PeerIdentityError::NotSpiffe { uri: (*uri).to_owned(), reason })
}

/// The peer's SPIFFE ID once the handshake has verified it, for authorization (intentions)
/// on an established connection. `None` before the handshake completes, or when the peer
/// sent no certificate (impossible with this module's verifiers, which require one).
///
/// The chain was verified and the identity accepted by the policy during the handshake;
/// this only reads it again from the certificate rustls kept.
pub fn peer_spiffe_id(conn: &CommonState) -> Option<SpiffeId> {
    let leaf = conn.peer_certificates()?.first()?;
    spiffe_id_of(leaf).ok()
}

/// Which peer identities a verifier accepts once the chain is trusted.
///
/// The client side usually knows exactly whom it dials ([`PeerPolicy::Exact`]: the
/// upstream's SPIFFE ID from the discovery chain). The server side either authorizes inside
/// the handshake ([`PeerPolicy::Predicate`] over intentions) or accepts any identity of its
/// federation ([`PeerPolicy::TrustDomain`]) and authorizes afterwards with
/// [`peer_spiffe_id`].
#[derive(Clone)]
pub enum PeerPolicy {
    /// Exactly this identity.
    Exact(SpiffeId),
    /// Any identity in this trust domain.
    TrustDomain(TrustDomain),
    /// Whatever the function accepts. It runs inside the handshake: it MUST be quick and
    /// MUST NOT block (no I/O, no waiting on locks held across I/O).
    Predicate(Arc<dyn Fn(&SpiffeId) -> bool + Send + Sync>),
}

impl PeerPolicy {
    /// A policy from a caller's function, e.g. an intentions check for the destination.
    pub fn predicate(f: impl Fn(&SpiffeId) -> bool + Send + Sync + 'static) -> Self {
        PeerPolicy::Predicate(Arc::new(f))
    }

    /// True when `id` may be our peer.
    pub fn allows(&self, id: &SpiffeId) -> bool {
        match self {
            PeerPolicy::Exact(want) => want == id,
            PeerPolicy::TrustDomain(td) => id.trust_domain() == td,
            PeerPolicy::Predicate(f) => f(id),
        }
    }

    /// `Ok(id)` when allowed, else the refusal to hand to rustls.
    pub(crate) fn check(&self, id: SpiffeId) -> Result<SpiffeId, PeerIdentityError> {
        if self.allows(&id) { Ok(id) } else { Err(PeerIdentityError::NotAllowed(id)) }
    }
}

impl fmt::Debug for PeerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerPolicy::Exact(id) => f.debug_tuple("Exact").field(&id.to_string()).finish(),
            PeerPolicy::TrustDomain(td) => {
                f.debug_tuple("TrustDomain").field(&td.to_string()).finish()
            }
            PeerPolicy::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}
