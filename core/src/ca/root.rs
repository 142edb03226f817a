//! Root records as Consul publishes them (`/v1/connect/ca/roots`, CONSUL-FACTS.md §6.2),
//! and the encodings they use.

use crate::time::UnixTime;

/// One root of the trust bundle: Consul's `CARoot`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CaRoot {
    /// Colon-hex SHA-1 of the root's DER.
    #[serde(rename = "ID")]
    pub id: String,
    /// Human name.
    pub name: String,
    /// Colon-hex serial of the root certificate.
    pub serial_number: String,
    /// Colon-hex subject key id of the certificate that signs leaves in this datacenter
    /// (the root itself, or the last intermediate).
    #[serde(rename = "SigningKeyID")]
    pub signing_key_id: String,
    /// The cluster id (first label of the trust domain).
    pub external_trust_domain: String,
    /// Start of validity (RFC 3339).
    #[serde(with = "rfc3339")]
    pub not_before: UnixTime,
    /// End of validity (RFC 3339).
    #[serde(with = "rfc3339")]
    pub not_after: UnixTime,
    /// The root certificate, PEM with a trailing newline.
    pub root_cert: String,
    /// Certificates between this root and leaves: a cross-signed copy of this root after a
    /// rotation, then this datacenter's intermediate in a secondary. Leaf chains carry them.
    pub intermediate_certs: Vec<String>,
    /// True for the one root new leaves chain to.
    pub active: bool,
    /// `ec` or `rsa`.
    pub private_key_type: String,
    /// Key size in bits.
    pub private_key_bits: u32,
    /// When the root stopped being active; it leaves the bundle once every leaf it signed
    /// has expired.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none", default)]
    pub rotated_out_at: Option<UnixTime>,
}

/// `{"ActiveRootID", "TrustDomain", "Roots"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootsResponse {
    /// Id of the active root.
    #[serde(rename = "ActiveRootID")]
    pub active_root_id: String,
    /// `<cluster id>.consul`.
    pub trust_domain: String,
    /// Every root still trusted, active first.
    pub roots: Vec<CaRoot>,
}

/// `aa:bb:cc` form used by Consul for ids and serials.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// PEM with a trailing newline, as Consul stores certificates.
pub fn pem_encode(tag: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der.to_vec()), config)
}

/// The DER of every PEM block in `text`, in order.
pub fn pem_decode_all(text: &str) -> Result<Vec<Vec<u8>>, String> {
    pem::parse_many(text)
        .map(|blocks| blocks.into_iter().map(pem::Pem::into_contents).collect())
        .map_err(|e| e.to_string())
}

/// Consul's root id: colon-hex SHA-1 of the certificate DER.
pub fn root_id(der: &[u8]) -> String {
    colon_hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

pub(crate) fn to_offset(t: UnixTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.secs()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 text of a Unix time (UTC, `Z`).
pub fn rfc3339_text(t: UnixTime) -> String {
    to_offset(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn parse_rfc3339(s: &str) -> Result<UnixTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| UnixTime(t.unix_timestamp()))
        .map_err(|e| format!("invalid RFC 3339 time {s:?}: {e}"))
}

pub(crate) mod rfc3339 {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_text(*t))
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<UnixTime, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod rfc3339_opt {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(
        t: &Option<UnixTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&rfc3339_text(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<UnixTime>, D::Error> {
        let s = <Option<String> as serde::Deserialize>::deserialize(d)?;
        s.map(|s| parse_rfc3339(&s)).transpose().map_err(serde::de::Error::custom)
    }
}
