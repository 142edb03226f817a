//! The client side's check of a server: chain to a bundle root, then the SPIFFE identity.
//!
//! rustls's `WebPkiServerVerifier` would also match the DNS name the client dialed against
//! the certificate's DNS SANs. Connect leaves have none: the name a sidecar dials is the
//! upstream's SNI (`db.default.dc1.internal.<td>`), which routes through mesh gateways but
//! authenticates nothing. The identity is the SPIFFE URI SAN, checked against
//! [`PeerPolicy`] (Consul's upstream cluster `match_typed_subject_alt_names`). So the chain
//! is verified with `verify_server_cert_signed_by_trust_anchor` (server-auth EKU, validity at
//! the config's `TimeProvider` time) and the server name is ignored.

use proconsul_core::ids::SpiffeId;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;

use super::bundle::TrustBundle;
use super::spiffe::{PeerPolicy, spiffe_id_of};

/// Verifies servers' SPIFFE certificates for a `ClientConfig`. Install with
/// `.dangerous().with_custom_certificate_verifier(Arc::new(..))`; the "danger" is only that
/// DNS names are not checked, which is the point (see the module docs).
#[derive(Debug)]
pub struct SpiffeServerVerifier {
    bundle: TrustBundle,
    policy: PeerPolicy,
    algorithms: WebPkiSupportedAlgorithms,
}

impl SpiffeServerVerifier {
    /// A verifier trusting `bundle` (as it is at each handshake) and accepting servers whose
    /// identity `policy` allows. Signatures are checked with `provider`'s algorithms; it
    /// MUST be the provider the config is built with.
    pub fn new(bundle: TrustBundle, policy: PeerPolicy, provider: &CryptoProvider) -> Self {
        SpiffeServerVerifier {
            bundle,
            policy,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    /// The whole check, outside a handshake: `end_entity` with the `intermediates` the peer
    /// sent chains to a root of the current bundle at `now`, carries one SPIFFE ID, and the
    /// policy allows it. Returns that ID.
    pub fn verify_peer(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<SpiffeId, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        let anchors = self.bundle.snapshot();
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            anchors.store(),
            intermediates,
            now,
            self.algorithms.all,
        )?;
        let id = spiffe_id_of(end_entity)?;
        Ok(self.policy.check(id)?)
    }
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_peer(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signature_checks!();
}
