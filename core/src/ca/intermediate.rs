//! Intermediates for secondary datacenters (CONSUL-FACTS.md §6.4): the secondary asks with
//! a CSR for the signing ID, the primary signs it (path length 0), and from then on the
//! secondary signs leaves locally without a WAN round trip.

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, Issuer,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::CaError;
use super::authority::{CertificateAuthority, Role, Signer};
use super::certs::{BACKDATE_SECS, ca_common_name, ca_params};
use super::key::PrivateKey;
use super::root::{RootsResponse, colon_hex, pem_decode_all, pem_encode};
use crate::time::UnixTime;

impl CertificateAuthority {
    /// Secondary: the CSR to send to the primary. Draws a fresh key when the previous one
    /// was already certified (after a root rotation).
    pub fn intermediate_csr(&mut self) -> Result<Vec<u8>, CaError> {
        if self.pending_key().is_none() {
            let key = PrivateKey::generate(self.config.key_type()?, &mut self.rng)?;
            self.restore_pending_key(key);
        }
        let cn = ca_common_name("sec", &mut self.rng, &self.trust_domain);
        let mut params = CertificateParams::default();
        params.subject_alt_names =
            vec![rcgen::SanType::URI(self.signing_id().to_string().as_str().try_into()?)];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        let key = self.pending_key().ok_or(CaError::NoSigningCert)?;
        Ok(params.serialize_request(key)?.der().to_vec())
    }

    /// Primary: signs a secondary's intermediate CSR with the active root. The CSR must
    /// carry exactly this federation's signing ID.
    pub fn sign_intermediate(&mut self, csr_der: &[u8], now: UnixTime) -> Result<String, CaError> {
        if self.role != Role::Primary {
            return Err(CaError::NotPrimary("sign intermediates"));
        }
        let csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|e| CaError::BadCsr(e.to_string()))?;
        let uris = super::leaf::uri_sans(&csr.params);
        let want = self.signing_id().to_string();
        if uris.len() != 1 || uris[0] != want {
            return Err(CaError::IntermediateIdentity { want, got: uris });
        }
        let cn = match csr.params.distinguished_name.get(&DnType::CommonName) {
            Some(rcgen::DnValue::Utf8String(s)) if !s.is_empty() => s.clone(),
            _ => ca_common_name("sec", &mut self.rng, &self.trust_domain),
        };
        let ttl = self.config.config.intermediate_cert_ttl.as_nanos() / 1_000_000_000;
        let serial = self.next_serial();
        let params = ca_params(
            &cn,
            &want,
            now.plus_secs(-BACKDATE_SECS),
            now.plus_secs(ttl),
            serial,
            Some(0),
        )?;
        let issuer = self.root_issuer().ok_or(CaError::NoSigningCert)?.issuer()?;
        Ok(pem_encode("CERTIFICATE", params.signed_by(&csr.public_key, &issuer)?.der()))
    }

    /// Secondary: installs the intermediate the primary signed, after checking that it
    /// certifies our pending key and is a CA issued under the active root.
    pub fn install_intermediate(
        &mut self,
        cert_pem: &str,
        primary_roots: &RootsResponse,
    ) -> Result<(), CaError> {
        let der = pem_decode_all(cert_pem)
            .map_err(CaError::BadIntermediate)?
            .into_iter()
            .next()
            .ok_or_else(|| CaError::BadIntermediate("no PEM certificate".into()))?;
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| CaError::BadIntermediate(e.to_string()))?;
        let key = self.take_pending_key().ok_or(CaError::NoSigningCert)?;
        let check = || -> Result<(String, String), CaError> {
            if cert.public_key().subject_public_key.data.as_ref()
                != rcgen::PublicKeyData::der_bytes(&key)
            {
                return Err(CaError::BadIntermediate("it certifies another key".into()));
            }
            if !cert.is_ca() {
                return Err(CaError::BadIntermediate("it is not a CA certificate".into()));
            }
            let active =
                primary_roots.roots.iter().find(|r| r.active).ok_or_else(|| {
                    CaError::BadIntermediate("the primary has no active root".into())
                })?;
            let aki = cert
                .get_extension_unique(
                    &x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
                )
                .ok()
                .flatten()
                .and_then(|e| match e.parsed_extension() {
                    x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                        a.key_identifier.as_ref().map(|k| colon_hex(k.0))
                    }
                    _ => None,
                });
            if aki.as_deref() != Some(active.signing_key_id.as_str()) {
                return Err(CaError::BadIntermediate(
                    "it was not issued by the active root".into(),
                ));
            }
            let ski = cert
                .get_extension_unique(
                    &x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
                )
                .ok()
                .flatten()
                .and_then(|e| match e.parsed_extension() {
                    x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                        Some(colon_hex(k.0))
                    }
                    _ => None,
                })
                .unwrap_or_default();
            Ok((active.id.clone(), ski))
        };
        let (active_id, ski) = match check() {
            Ok(v) => v,
            Err(e) => {
                self.restore_pending_key(key);
                return Err(e);
            }
        };
        let key = self.attach_factory(key);
        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(der.as_slice()), key)
            .map_err(|e| CaError::BadIntermediate(e.to_string()))?;
        let pem = pem_encode("CERTIFICATE", &der);
        self.roots = primary_roots.roots.clone();
        let mut chain = Vec::new();
        for root in &mut self.roots {
            if root.id == active_id {
                root.intermediate_certs.push(pem.clone());
                root.signing_key_id = ski.clone();
                chain = root.intermediate_certs.clone();
            }
        }
        self.signer = Some(Signer { issuer, cert_der: der, chain_pem: chain, root_id: active_id });
        Ok(())
    }

    /// Secondary: true when there is no intermediate yet or it was issued under a root that
    /// is no longer the primary's active one.
    pub fn needs_intermediate(&self, primary_roots: &RootsResponse) -> bool {
        match &self.signer {
            None => true,
            Some(s) => s.root_id != primary_roots.active_root_id,
        }
    }
}
