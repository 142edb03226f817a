//! The server side's check of a client: a certificate is mandatory, it must chain to a
//! bundle root for client auth, and its SPIFFE identity must satisfy the policy.
//!
//! Chain building is rustls's `WebPkiClientVerifier` (client-auth EKU, validity at the
//! config's `TimeProvider` time). That verifier fixes its roots when built, so one is kept
//! per bundle snapshot and rebuilt only when [`TrustBundle::replace`] installed a new one:
//! a root rotation reaches running servers without touching their `ServerConfig`.
//!
//! No root hints are sent in the CertificateRequest (`root_hint_subjects` is empty). The
//! trait wants a slice borrowed from the verifier, which a swappable bundle cannot lend,
//! and hints buy nothing here: every mesh client holds exactly one leaf and sends it.

use std::sync::{Arc, Mutex, PoisonError};

use proconsul_core::ids::SpiffeId;
use rustls::DistinguishedName;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use super::bundle::{Anchors, TrustBundle};
use super::spiffe::{PeerPolicy, spiffe_id_of};

/// The chain verifier built for one bundle snapshot.
type Cached = (Arc<Anchors>, Arc<dyn ClientCertVerifier>);

/// Verifies clients' SPIFFE certificates for a `ServerConfig`. Install with
/// `.with_client_cert_verifier(Arc::new(..))`. Clients without a certificate are refused.
#[derive(Debug)]
pub struct SpiffeClientVerifier {
    bundle: TrustBundle,
    policy: PeerPolicy,
    provider: Arc<CryptoProvider>,
    algorithms: WebPkiSupportedAlgorithms,
    chain_verifier: Mutex<Option<Cached>>,
}

impl SpiffeClientVerifier {
    /// A verifier trusting `bundle` (as it is at each handshake) and accepting clients whose
    /// identity `policy` allows. `provider` MUST be the one the config is built with.
    pub fn new(bundle: TrustBundle, policy: PeerPolicy, provider: Arc<CryptoProvider>) -> Self {
        let algorithms = provider.signature_verification_algorithms;
        SpiffeClientVerifier {
            bundle,
            policy,
            provider,
            algorithms,
            chain_verifier: Mutex::new(None),
        }
    }

    /// The whole check, outside a handshake: `end_entity` with the `intermediates` the peer
    /// sent chains to a root of the current bundle at `now` for client auth, carries one
    /// SPIFFE ID, and the policy allows it. Returns that ID.
    pub fn verify_peer(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<SpiffeId, rustls::Error> {
        self.chain_verifier()?.verify_client_cert(end_entity, intermediates, now)?;
        let id = spiffe_id_of(end_entity)?;
        Ok(self.policy.check(id)?)
    }

    /// The webpki verifier for the bundle as it is now, built on first use after a change.
    fn chain_verifier(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        let anchors = self.bundle.snapshot();
        // The lock only guards swapping the cache entry; nothing in it can panic halfway,
        // so a poisoned lock still holds either the old or the new entry.
        let mut cache = self.chain_verifier.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((cached_for, verifier)) = cache.as_ref()
            && Arc::ptr_eq(cached_for, &anchors)
        {
            return Ok(Arc::clone(verifier));
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::clone(anchors.store()),
            Arc::clone(&self.provider),
        )
        .build()
        // Only an empty root store fails to build, and `TrustBundle` refuses those; map it
        // anyway rather than trusting that invariant with a panic.
        .map_err(|e| rustls::Error::General(format!("client verifier: {e}")))?;
        *cache = Some((anchors, Arc::clone(&verifier)));
        Ok(verifier)
    }
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify_peer(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signature_checks!();
}
