//! Certificate templates: what a root, an intermediate, a cross-signed root and a leaf
//! contain (CONSUL-FACTS.md §6.2-6.5).

use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType, SerialNumber,
};

use super::root::to_offset;
use crate::ids::TrustDomain;
use crate::time::UnixTime;

/// Leaves and intermediates start one minute in the past, absorbing small clock skew
/// between the CA and the peers that verify them.
pub(crate) const BACKDATE_SECS: i64 = 60;

/// A fresh serial: 8 random bytes then a counter, with the top bit clear so it stays a
/// positive INTEGER. Unique per issuer even across restarts of the counter.
pub(crate) fn serial(rng: &mut ChaCha8Rng, counter: u64) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes[..8]);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    bytes[8..].copy_from_slice(&counter.to_be_bytes());
    SerialNumber::from_slice(&bytes)
}

/// Consul's CA common name: `pri-<8 base36>.consul.ca.<cluster id prefix>.consul`
/// (`sec-` for secondaries' intermediates).
pub(crate) fn ca_common_name(prefix: &str, rng: &mut ChaCha8Rng, td: &TrustDomain) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let random: String = (0..8).map(|_| ALPHABET[(rng.next_u32() % 36) as usize] as char).collect();
    let cluster: String = td.cluster_id().chars().take(8).collect();
    format!("{prefix}-{random}.consul.ca.{cluster}.consul")
}

fn uri(value: &str) -> Result<SanType, rcgen::Error> {
    Ok(SanType::URI(value.try_into()?))
}

/// A CA certificate: root (`path_len` None) or intermediate (`Some(0)`).
pub(crate) fn ca_params(
    common_name: &str,
    signing_id: &str,
    not_before: UnixTime,
    not_after: UnixTime,
    serial: SerialNumber,
    path_len: Option<u8>,
) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.subject_alt_names = vec![uri(signing_id)?];
    p.is_ca = match path_len {
        None => IsCa::Ca(BasicConstraints::Unconstrained),
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = to_offset(not_before);
    p.not_after = to_offset(not_after);
    p.serial_number = Some(serial);
    p.use_authority_key_identifier_extension = path_len.is_some();
    Ok(p)
}

/// A leaf: empty subject (so the SAN is critical), the SPIFFE URI plus any DNS names,
/// server and client auth.
pub(crate) fn leaf_params(
    spiffe_uri: &str,
    dns_names: &[String],
    not_before: UnixTime,
    not_after: UnixTime,
    serial: SerialNumber,
) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.subject_alt_names = vec![uri(spiffe_uri)?];
    for name in dns_names {
        p.subject_alt_names.push(SanType::DnsName(name.as_str().try_into()?));
    }
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::DataEncipherment,
    ];
    p.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    p.not_before = to_offset(not_before);
    p.not_after = to_offset(not_after);
    p.serial_number = Some(serial);
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}
