//! TLS for `https` and `TCPUseTLS` probes: a verifying client config over the system's CA
//! bundle (or roots the agent supplies) and an "accept any certificate" config for
//! `TLSSkipVerify`, which still checks the handshake signatures, as Go's
//! `InsecureSkipVerify` does.

use std::sync::Arc;

use proconsul_core::checks::ProbeTls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::env::{BoxConn, Net};

/// Where Linux distributions and macOS keep the CA bundle; `SSL_CERT_FILE` goes first.
const BUNDLE_PATHS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// How probes reach their targets: the network to dial through and the two client configs
/// every TLS probe picks from.
#[derive(Clone)]
pub(super) struct ProbeDialer {
    net: Arc<dyn Net>,
    verifying: Option<Arc<ClientConfig>>,
    insecure: Arc<ClientConfig>,
}

impl ProbeDialer {
    /// `roots` are the CAs that verify check targets; `None` reads the system bundle. With
    /// no roots at all, verifying probes fail with a message saying how to fix it.
    pub(super) fn new(
        net: Arc<dyn Net>,
        roots: Option<Arc<RootCertStore>>,
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = roots.unwrap_or_else(|| Arc::new(system_roots()));
        let verifying = if roots.is_empty() {
            None
        } else {
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        };
        let verifier = AnyCertificate { algorithms: provider.signature_verification_algorithms };
        let insecure = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(ProbeDialer { net, verifying, insecure: Arc::new(insecure) })
    }

    /// Opens a TCP connection to `host:port` (an IP, or a name the network resolves).
    pub(super) async fn dial(&self, host: &str, port: u16) -> std::io::Result<BoxConn> {
        self.net.connect_host(host, port).await
    }

    /// Completes a handshake with `host` (or `tls.server_name`) over `tcp`. Errors read
    /// like Go's (`tls: ...`) and become the check's output.
    pub(super) async fn handshake(
        &self,
        tcp: BoxConn,
        host: &str,
        tls: &ProbeTls,
    ) -> Result<TlsStream<BoxConn>, String> {
        let config = if tls.skip_verify {
            self.insecure.clone()
        } else {
            self.verifying.clone().ok_or_else(|| {
                "tls: no trusted CA certificates on this agent (set SSL_CERT_FILE, or \
                 TLSSkipVerify on the check)"
                    .to_owned()
            })?
        };
        let name = tls.server_name.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|e| format!("tls: invalid server name {name:?}: {e}"))?;
        TlsConnector::from(config).connect(server_name, tcp).await.map_err(|e| format!("tls: {e}"))
    }
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let from_env = std::env::var("SSL_CERT_FILE").ok();
    let paths = from_env.iter().map(String::as_str).chain(BUNDLE_PATHS.iter().copied());
    for path in paths {
        let Ok(certs) = CertificateDer::pem_file_iter(path) else {
            continue;
        };
        let (added, _) = roots.add_parsable_certificates(certs.filter_map(Result::ok));
        if added > 0 {
            break;
        }
    }
    roots
}

/// `TLSSkipVerify`: any chain and name are accepted; the handshake signatures are still
/// checked so the peer must hold the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
