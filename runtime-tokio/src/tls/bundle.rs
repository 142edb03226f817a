//! The trust bundle: the CA roots a peer's chain must end at, shared by every verifier
//! built from it and replaceable while connections are being made.
//!
//! During a root rotation the bundle holds several roots (the old one stays until every
//! leaf it signed has expired, `CertificateAuthority::prune_roots`), and agents learn of a
//! rotation by a blocking query on `/v1/connect/ca/roots`. [`TrustBundle::replace`] swaps
//! the whole set atomically, so configs need not be rebuilt and a handshake never sees a
//! half-updated set: it reads one immutable [`Anchors`] snapshot for its whole verification.

use std::sync::{Arc, PoisonError, RwLock};

use proconsul_core::ca::{RootsResponse, pem_decode_all};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use super::error::BundleError;

/// A shared, swappable set of trusted CA roots. Clones share the same set: replacing it
/// through one clone changes what every verifier holding another clone trusts, from the
/// next certificate verification on.
#[derive(Debug, Clone)]
pub struct TrustBundle {
    current: Arc<RwLock<Arc<Anchors>>>,
}

/// One immutable version of the bundle, as a verifier sees it for one verification.
#[derive(Debug)]
pub struct Anchors {
    store: Arc<RootCertStore>,
    roots: Vec<CertificateDer<'static>>,
}

impl Anchors {
    fn from_ders<I, D>(roots: I) -> Result<Self, BundleError>
    where
        I: IntoIterator<Item = D>,
        D: AsRef<[u8]>,
    {
        let mut store = RootCertStore::empty();
        let mut ders = Vec::new();
        for (index, der) in roots.into_iter().enumerate() {
            let der = CertificateDer::from(der.as_ref().to_vec());
            store
                .add(der.clone())
                .map_err(|e| BundleError::BadRoot { index, reason: e.to_string() })?;
            ders.push(der);
        }
        if ders.is_empty() {
            return Err(BundleError::Empty);
        }
        Ok(Anchors { store: Arc::new(store), roots: ders })
    }

    /// The trust anchors, in the form rustls's verification functions take.
    pub fn store(&self) -> &Arc<RootCertStore> {
        &self.store
    }

    /// DER of every root, in the order they were given.
    pub fn roots(&self) -> &[CertificateDer<'static>] {
        &self.roots
    }
}

impl TrustBundle {
    /// A bundle of the roots given as DER (what `CertificateAuthority::trust_bundle` returns).
    /// Refuses an empty set, which would reject every peer, and any root that is not a
    /// parseable X.509 certificate.
    pub fn from_ders<I, D>(roots: I) -> Result<Self, BundleError>
    where
        I: IntoIterator<Item = D>,
        D: AsRef<[u8]>,
    {
        let anchors = Anchors::from_ders(roots)?;
        Ok(TrustBundle { current: Arc::new(RwLock::new(Arc::new(anchors))) })
    }

    /// A bundle of every root in a `/v1/connect/ca/roots` response, active and inactive.
    pub fn from_roots_response(roots: &RootsResponse) -> Result<Self, BundleError> {
        Self::from_ders(roots_response_ders(roots)?)
    }

    /// Replaces the trusted roots for every holder of this bundle. On error the bundle is
    /// unchanged and the caller should keep serving with the old roots and retry on the
    /// next roots update.
    pub fn replace<I, D>(&self, roots: I) -> Result<(), BundleError>
    where
        I: IntoIterator<Item = D>,
        D: AsRef<[u8]>,
    {
        let anchors = Arc::new(Anchors::from_ders(roots)?);
        // A panic while holding the lock cannot leave a torn value: the only write is this
        // single assignment, so a poisoned lock still holds a consistent snapshot.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = anchors;
        Ok(())
    }

    /// [`TrustBundle::replace`] from a `/v1/connect/ca/roots` response.
    pub fn replace_from_roots_response(&self, roots: &RootsResponse) -> Result<(), BundleError> {
        self.replace(roots_response_ders(roots)?)
    }

    /// The roots trusted right now. Verifiers take one snapshot per verification, so a
    /// concurrent [`TrustBundle::replace`] affects only later verifications.
    pub fn snapshot(&self) -> Arc<Anchors> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn roots_response_ders(roots: &RootsResponse) -> Result<Vec<Vec<u8>>, BundleError> {
    let mut ders = Vec::new();
    for (index, root) in roots.roots.iter().enumerate() {
        let mut blocks = pem_decode_all(&root.root_cert)
            .map_err(|reason| BundleError::BadRoot { index, reason })?;
        if blocks.len() != 1 {
            return Err(BundleError::BadRoot {
                index,
                reason: format!("RootCert holds {} PEM blocks, want 1", blocks.len()),
            });
        }
        ders.append(&mut blocks);
    }
    Ok(ders)
}
