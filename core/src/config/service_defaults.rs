//! `service-defaults`: per-service protocol, mesh gateway mode, external SNI and upstream
//! defaults (CONSUL-FACTS.md §3.1).

use serde_json::Value;

use super::common::{
    MeshGatewayConfig, check_mutual_tls_mode, check_protocol, entry_struct, is_false, is_zero_u32,
};

entry_struct! {
    /// A `service-defaults` entry.
    pub struct ServiceDefaults {
        /// `tcp` (default), `http`, `http2` or `grpc`; lower-cased on normalize.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub protocol: String,
        /// Proxy mode (`direct`, `transparent`).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub mode: String,
        /// Transparent proxy settings, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub transparent_proxy: Option<Value>,
        /// `strict` or `permissive`.
        #[serde(rename = "MutualTLSMode", skip_serializing_if = "String::is_empty")]
        pub mutual_tls_mode: String,
        /// Mesh gateway mode for targets of this service.
        #[serde(skip_serializing_if = "MeshGatewayConfig::is_empty")]
        pub mesh_gateway: MeshGatewayConfig,
        /// Expose paths, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub expose: Option<Value>,
        /// An SNI that overrides the computed one and marks the service external.
        #[serde(rename = "ExternalSNI", skip_serializing_if = "String::is_empty")]
        pub external_sni: String,
        /// Defaults and per-upstream overrides for this service's upstreams.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub upstream_config: Option<UpstreamConfiguration>,
        /// Terminating-gateway destination, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub destination: Option<Value>,
        /// Inbound connection cap of the sidecar.
        #[serde(skip_serializing_if = "is_zero_u32")]
        pub max_inbound_connections: u32,
        /// Connect timeout from the sidecar to the local app.
        #[serde(skip_serializing_if = "is_zero_u32")]
        pub local_connect_timeout_ms: u32,
        /// Request timeout from the sidecar to the local app.
        #[serde(skip_serializing_if = "is_zero_u32")]
        pub local_request_timeout_ms: u32,
        /// `""` or `exact_balance`.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub balance_inbound_connections: String,
        /// Rate limits, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub rate_limits: Option<Value>,
        /// Envoy extensions, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub envoy_extensions: Option<Value>,
    }
}

/// `UpstreamConfig { Overrides, Defaults }`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpstreamConfiguration {
    /// Per-upstream settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<UpstreamConfig>,
    /// Settings for every upstream without an override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<UpstreamConfig>,
}

/// Settings for one upstream (or all, as `Defaults`).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpstreamConfig {
    /// Upstream service name (overrides only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Upstream namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Upstream partition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Upstream peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// Raw Envoy listener JSON escape hatch.
    #[serde(rename = "EnvoyListenerJSON", skip_serializing_if = "String::is_empty")]
    pub envoy_listener_json: String,
    /// Raw Envoy cluster JSON escape hatch.
    #[serde(rename = "EnvoyClusterJSON", skip_serializing_if = "String::is_empty")]
    pub envoy_cluster_json: String,
    /// Protocol override for the upstream.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Connect timeout to the upstream.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub connect_timeout_ms: u32,
    /// Circuit breaker limits, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Value>,
    /// Outlier detection, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<Value>,
    /// Mesh gateway mode for this upstream.
    #[serde(skip_serializing_if = "MeshGatewayConfig::is_empty")]
    pub mesh_gateway: MeshGatewayConfig,
    /// `""` or `exact_balance`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub balance_outbound_connections: String,
    /// Not a Consul field we use, accepted for compatibility.
    #[serde(skip_serializing_if = "is_false")]
    pub disable_default_filter: bool,
}

impl ServiceDefaults {
    pub(crate) fn normalize(&mut self) {
        self.protocol = self.protocol.to_ascii_lowercase();
        if let Some(up) = &mut self.upstream_config {
            for o in up.overrides.iter_mut().chain(up.defaults.as_mut()) {
                o.protocol = o.protocol.to_ascii_lowercase();
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Name is required".into());
        }
        if self.name == "*" {
            return Err(
                "service-defaults name must be the name of a service, and not a wildcard".into()
            );
        }
        check_protocol("Protocol", &self.protocol)?;
        if self.upstream_config.is_some() && self.destination.is_some() {
            return Err(
                "UpstreamConfig and Destination are mutually exclusive for service defaults".into(),
            );
        }
        check_balance("balance_inbound_connections", &self.balance_inbound_connections)?;
        check_mutual_tls_mode(&self.mutual_tls_mode)?;
        if let Some(up) = &self.upstream_config {
            for (i, o) in up.overrides.iter().enumerate() {
                if o.name.is_empty() {
                    return Err(format!("UpstreamConfig.Overrides[{i}].Name is required"));
                }
                check_upstream(&format!("UpstreamConfig.Overrides[{i}]"), o)?;
            }
            if let Some(d) = &up.defaults {
                if !d.name.is_empty() {
                    return Err("UpstreamConfig.Defaults.Name must be empty".into());
                }
                check_upstream("UpstreamConfig.Defaults", d)?;
            }
        }
        Ok(())
    }
}

fn check_upstream(field: &str, up: &UpstreamConfig) -> Result<(), String> {
    check_protocol(&format!("{field}.Protocol"), &up.protocol)?;
    check_balance("balance_outbound_connections", &up.balance_outbound_connections)
}

fn check_balance(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value == "exact_balance" {
        Ok(())
    } else {
        Err(format!("invalid value for {field}: {value:?}"))
    }
}
