//! Leaf signing from a CSR (CONSUL-FACTS.md §6.3): the checks a server makes before it
//! vouches for an identity, and the certificate it issues.

use std::collections::BTreeSet;

use rcgen::{CertificateParams, CertificateSigningRequestParams, SanType};
use rustls_pki_types::CertificateSigningRequestDer;

use super::CaError;
use super::authority::CertificateAuthority;
use super::certs::{BACKDATE_SECS, leaf_params};
use super::root::{colon_hex, pem_encode, rfc3339};
use crate::ids::SpiffeId;
use crate::time::UnixTime;

/// Who is asking for a leaf, as established by the caller (ACL token, agent identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// An operator or server with full rights.
    Any,
    /// A token with `service:write` on these services.
    Services(BTreeSet<String>),
    /// A client agent with this node id, asking for its own agent certificate.
    Agent(String),
}

impl Requester {
    /// True when this requester may hold `id`.
    pub fn may_have(&self, id: &SpiffeId) -> bool {
        match (self, id) {
            (Requester::Any, _) => true,
            (Requester::Services(allowed), SpiffeId::Service { service, .. }) => {
                allowed.contains(service.as_str())
            }
            (Requester::Agent(node), SpiffeId::Agent { node_id, .. }) => node == node_id,
            _ => false,
        }
    }
}

/// A signed leaf, Consul's `IssuedCert` (without the private key, which never leaves the
/// requester).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IssuedCert {
    /// Colon-hex serial.
    pub serial_number: String,
    /// The leaf PEM followed by every intermediate to the active root.
    #[serde(rename = "CertPEM")]
    pub cert_pem: String,
    /// The SPIFFE ID the leaf carries.
    #[serde(rename = "ServiceURI")]
    pub uri: String,
    /// Service name for service leaves, empty otherwise.
    pub service: String,
    /// Start of validity (one minute before issuance).
    #[serde(with = "rfc3339")]
    pub valid_after: UnixTime,
    /// End of validity (issuance + LeafCertTTL).
    #[serde(with = "rfc3339")]
    pub valid_before: UnixTime,
    /// Id of the root the leaf chains to.
    #[serde(rename = "RootID")]
    pub root_id: String,
}

pub(crate) fn uri_sans(params: &CertificateParams) -> Vec<String> {
    params
        .subject_alt_names
        .iter()
        .filter_map(|s| match s {
            SanType::URI(u) => Some(u.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

fn dns_sans(params: &CertificateParams) -> Vec<String> {
    params
        .subject_alt_names
        .iter()
        .filter_map(|s| match s {
            SanType::DnsName(d) => Some(d.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

impl CertificateAuthority {
    /// Checks a CSR and signs a leaf for it, valid from a minute before `now` to
    /// `now + LeafCertTTL`. Refusals are typed; the CA is unchanged by them.
    pub fn sign_leaf(
        &mut self,
        csr_der: &[u8],
        requester: &Requester,
        now: UnixTime,
    ) -> Result<IssuedCert, CaError> {
        let csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|e| CaError::BadCsr(e.to_string()))?;
        let id = self.check_identity(&csr.params, requester)?;
        if csr
            .params
            .subject_alt_names
            .iter()
            .any(|s| !matches!(s, SanType::URI(_) | SanType::DnsName(_)))
        {
            return Err(CaError::BadCsr(
                "only URI and DNS subject alternative names are allowed".into(),
            ));
        }
        let ttl = self.config.config.leaf_cert_ttl.as_nanos() / 1_000_000_000;
        let (valid_after, valid_before) = (now.plus_secs(-BACKDATE_SECS), now.plus_secs(ttl));
        let serial = self.next_serial();
        let serial_hex = colon_hex(serial.as_ref());
        let params = leaf_params(
            &id.to_string(),
            &dns_sans(&csr.params),
            valid_after,
            valid_before,
            serial,
        )?;
        let signer = self.signer.as_ref().ok_or(CaError::NoSigningCert)?;
        let cert = params.signed_by(&csr.public_key, &signer.issuer)?;
        let mut cert_pem = pem_encode("CERTIFICATE", cert.der());
        for pem in &signer.chain_pem {
            cert_pem.push_str(pem);
        }
        let service = match &id {
            SpiffeId::Service { service, .. } => service.to_string(),
            _ => String::new(),
        };
        Ok(IssuedCert {
            serial_number: serial_hex,
            cert_pem,
            uri: id.to_string(),
            service,
            valid_after,
            valid_before,
            root_id: signer.root_id.clone(),
        })
    }

    /// Exactly one URI SAN; a service, mesh gateway or agent identity; ours; allowed.
    fn check_identity(
        &self,
        params: &CertificateParams,
        requester: &Requester,
    ) -> Result<SpiffeId, CaError> {
        let uris = uri_sans(params);
        if uris.len() != 1 {
            return Err(CaError::UriCount(uris.len()));
        }
        let id: SpiffeId = uris[0].parse().map_err(|_| CaError::NotSpiffe(uris[0].clone()))?;
        if *id.trust_domain() != self.trust_domain {
            return Err(CaError::TrustDomain {
                got: id.trust_domain().to_string(),
                ours: self.trust_domain.to_string(),
            });
        }
        let dc = match &id {
            SpiffeId::Service { datacenter, .. }
            | SpiffeId::Agent { datacenter, .. }
            | SpiffeId::MeshGateway { datacenter, .. } => datacenter,
            _ => return Err(CaError::IdentityKind),
        };
        if *dc != self.datacenter {
            return Err(CaError::Datacenter {
                got: dc.to_string(),
                ours: self.datacenter.to_string(),
            });
        }
        if !requester.may_have(&id) {
            return Err(CaError::NotPermitted(id.to_string()));
        }
        Ok(id)
    }
}
