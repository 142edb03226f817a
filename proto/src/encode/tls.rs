//! TLS contexts (`extensions.transport_sockets.tls.v3`), the transport sockets carrying
//! them, and SDS secrets. PEM material is inlined (`inline_string`), as Consul does.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::util::pack_any;
use proconsul_core::xds::model::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, Pem, SanMatcher, SanType,
    Secret, SecretKind, TlsCertificate, UpstreamTlsContext,
};

use super::{bool_value, string_matcher};

/// The transport socket name for TLS in both directions.
const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

/// `envoy.transport_sockets.tls` with a `DownstreamTlsContext` (listeners).
pub(super) fn downstream_socket(t: &DownstreamTlsContext) -> core_v3::TransportSocket {
    let context = tls_v3::DownstreamTlsContext {
        common_tls_context: Some(common(&t.common_tls_context)),
        require_client_certificate: Some(bool_value(t.require_client_certificate)),
        ..Default::default()
    };
    socket(pack_any(context))
}

/// `envoy.transport_sockets.tls` with an `UpstreamTlsContext` (clusters).
pub(super) fn upstream_socket(t: &UpstreamTlsContext) -> core_v3::TransportSocket {
    let context = tls_v3::UpstreamTlsContext {
        common_tls_context: Some(common(&t.common_tls_context)),
        sni: t.sni.clone(),
        ..Default::default()
    };
    socket(pack_any(context))
}

fn socket(typed_config: envoy_types::pb::google::protobuf::Any) -> core_v3::TransportSocket {
    core_v3::TransportSocket {
        name: TLS_TRANSPORT_SOCKET.to_owned(),
        config_type: Some(core_v3::transport_socket::ConfigType::TypedConfig(typed_config)),
    }
}

/// An SDS secret.
pub(crate) fn secret(s: &Secret) -> tls_v3::Secret {
    let kind = match &s.kind {
        SecretKind::TlsCertificate(c) => tls_v3::secret::Type::TlsCertificate(certificate(c)),
        SecretKind::ValidationContext(v) => tls_v3::secret::Type::ValidationContext(validation(v)),
    };
    tls_v3::Secret { name: s.name.clone(), r#type: Some(kind) }
}

fn common(c: &CommonTlsContext) -> tls_v3::CommonTlsContext {
    tls_v3::CommonTlsContext {
        tls_certificates: c.tls_certificates.iter().map(certificate).collect(),
        validation_context_type: c.validation_context.as_ref().map(|v| {
            tls_v3::common_tls_context::ValidationContextType::ValidationContext(validation(v))
        }),
        alpn_protocols: c.alpn_protocols.clone(),
        ..Default::default()
    }
}

fn inline(pem: &Pem) -> core_v3::DataSource {
    core_v3::DataSource {
        specifier: Some(core_v3::data_source::Specifier::InlineString(pem.as_str().to_owned())),
        watched_directory: None,
    }
}

fn certificate(c: &TlsCertificate) -> tls_v3::TlsCertificate {
    tls_v3::TlsCertificate {
        certificate_chain: Some(inline(&c.certificate_chain)),
        private_key: Some(inline(&c.private_key)),
        ..Default::default()
    }
}

fn validation(v: &CertificateValidationContext) -> tls_v3::CertificateValidationContext {
    tls_v3::CertificateValidationContext {
        trusted_ca: Some(inline(&v.trusted_ca)),
        match_typed_subject_alt_names: v.match_typed_subject_alt_names.iter().map(san).collect(),
        ..Default::default()
    }
}

fn san(m: &SanMatcher) -> tls_v3::SubjectAltNameMatcher {
    let san_type = match m.san_type {
        SanType::Uri => tls_v3::subject_alt_name_matcher::SanType::Uri,
        SanType::Dns => tls_v3::subject_alt_name_matcher::SanType::Dns,
    };
    tls_v3::SubjectAltNameMatcher {
        san_type: san_type as i32,
        matcher: Some(string_matcher(&m.matcher)),
        oid: String::new(),
    }
}
