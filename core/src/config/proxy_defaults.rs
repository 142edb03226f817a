//! `proxy-defaults`: the single `global` entry of mesh-wide proxy settings
//! (CONSUL-FACTS.md §3.2).

use std::collections::BTreeMap;

use serde_json::Value;

use super::common::{MeshGatewayConfig, check_mutual_tls_mode, check_protocol, entry_struct};

/// The name every proxy-defaults entry must have.
pub const PROXY_DEFAULTS_NAME: &str = "global";

entry_struct! {
    /// A `proxy-defaults` entry.
    pub struct ProxyDefaults {
        /// Opaque proxy configuration; `Config.protocol` sets the default protocol. Keys are kept
        /// exactly as written because Envoy escape hatches live here.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub config: BTreeMap<String, Value>,
        /// Proxy mode (`direct`, `transparent`).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub mode: String,
        /// Transparent proxy settings, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub transparent_proxy: Option<Value>,
        /// `strict` or `permissive`.
        #[serde(rename = "MutualTLSMode", skip_serializing_if = "String::is_empty")]
        pub mutual_tls_mode: String,
        /// Mesh gateway mode for every proxy without a more specific setting.
        #[serde(skip_serializing_if = "MeshGatewayConfig::is_empty")]
        pub mesh_gateway: MeshGatewayConfig,
        /// Expose paths, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub expose: Option<Value>,
        /// Access logs, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub access_logs: Option<Value>,
        /// Envoy extensions, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub envoy_extensions: Option<Value>,
        /// Failover policy, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub failover_policy: Option<Value>,
        /// Locality preferences, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub prioritize_by_locality: Option<Value>,
    }
}

impl ProxyDefaults {
    /// The default protocol from `Config.protocol`, lower-cased; empty when unset.
    pub fn protocol(&self) -> String {
        match self.config.get("protocol") {
            Some(Value::String(p)) => p.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    pub(crate) fn normalize(&mut self) {
        if self.name.is_empty() {
            self.name = PROXY_DEFAULTS_NAME.to_owned();
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name != PROXY_DEFAULTS_NAME {
            return Err(format!("invalid name ({:?}), only \"global\" is supported", self.name));
        }
        match self.config.get("protocol") {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err("Config.protocol must be a string".into()),
        }
        check_protocol("Config.protocol", &self.protocol())?;
        check_mutual_tls_mode(&self.mutual_tls_mode)?;
        Ok(())
    }
}
