//! `ingress-gateway`: the listeners an ingress gateway opens and the services each exposes
//! (Consul's `IngressGatewayConfigEntry`). The entry's name is the gateway's service name.
//!
//! TLS, header and limit settings are kept as written: only the gateway's own xDS generation
//! reads them. Validation follows Consul's `Validate` for what the catalog relies on: one
//! listener per port, known protocols, a TCP listener exposes exactly one named service, and
//! `Hosts` only on HTTP-like listeners and never for the `*` wildcard.

use std::collections::BTreeSet;

use serde_json::Value;

use super::common::{check_protocol, entry_struct, is_http_like};

entry_struct! {
    /// An `ingress-gateway` entry.
    pub struct IngressGateway {
        /// Gateway-wide TLS settings, kept as written.
        #[serde(rename = "TLS", skip_serializing_if = "Option::is_none")]
        pub tls: Option<Value>,
        /// The listeners, one per port.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub listeners: Vec<IngressListener>,
        /// Defaults for upstream limits, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub defaults: Option<Value>,
    }
}

/// One listener of an ingress gateway.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IngressListener {
    /// The port the gateway listens on.
    pub port: u16,
    /// `tcp` (default), `http`, `http2` or `grpc`; lower-cased on normalize.
    pub protocol: String,
    /// The services exposed on this listener.
    pub services: Vec<IngressService>,
    /// Listener TLS settings, kept as written.
    #[serde(rename = "TLS", skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
}

/// One service exposed by a listener.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IngressService {
    /// The service, or `*` for every service (HTTP-like listeners only).
    pub name: String,
    /// Host names the service answers to (HTTP-like listeners only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Namespace (Enterprise; empty in CE).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Enterprise; empty in CE).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Per-service TLS settings, kept as written.
    #[serde(rename = "TLS", skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
    /// Request header changes, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<Value>,
    /// Response header changes, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<Value>,
    /// Upstream connection limit, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<Value>,
    /// Upstream pending-request limit, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<Value>,
    /// Upstream concurrent-request limit, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<Value>,
    /// Outlier detection, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<Value>,
}

impl IngressGateway {
    pub(crate) fn normalize(&mut self) {
        for l in &mut self.listeners {
            l.protocol =
                if l.protocol.is_empty() { "tcp".into() } else { l.protocol.to_lowercase() };
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut ports = BTreeSet::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let at = format!("Listeners[{i}]");
            if !ports.insert(l.port) {
                return Err(format!("{at}: port {} declared on two listeners", l.port));
            }
            check_protocol(&format!("{at}.Protocol"), &l.protocol)?;
            if l.services.is_empty() {
                return Err(format!("{at}: no service declared for listener with port {}", l.port));
            }
            let http = is_http_like(&l.protocol);
            if !http && l.services.len() > 1 {
                return Err(format!(
                    "{at}: multiple services per listener are only supported for L7 protocols, port {}",
                    l.port
                ));
            }
            let mut names = BTreeSet::new();
            for (j, s) in l.services.iter().enumerate() {
                self.validate_service(&format!("{at}.Services[{j}]"), l, s, http)?;
                if !names.insert(s.name.as_str()) {
                    return Err(format!("{at}: service {:?} declared twice", s.name));
                }
            }
        }
        Ok(())
    }

    fn validate_service(
        &self,
        at: &str,
        l: &IngressListener,
        s: &IngressService,
        http: bool,
    ) -> Result<(), String> {
        if s.name.is_empty() {
            return Err(format!("{at}.Name is required"));
        }
        if s.name == "*" && !http {
            return Err(format!(
                "{at}: wildcard service name is only valid for protocol = 'http' (listener on port {})",
                l.port
            ));
        }
        if !s.hosts.is_empty() && !http {
            return Err(format!(
                "{at}.Hosts: associating hosts to a service is not supported for the {} protocol",
                l.protocol
            ));
        }
        if !s.hosts.is_empty() && s.name == "*" {
            return Err(format!("{at}.Hosts: cannot be set on a wildcard service"));
        }
        if s.name != "*" {
            crate::ids::ServiceName::new(s.name.as_str()).map_err(|e| format!("{at}.Name: {e}"))?;
        }
        Ok(())
    }

    /// Whether any listener exposes `service` by name or through a wildcard.
    pub fn exposes(&self, service: &str) -> bool {
        self.listeners.iter().flat_map(|l| &l.services).any(|s| s.name == service || s.name == "*")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigEntry, ConfigError};

    fn entry(json: &str) -> Result<ConfigEntry, ConfigError> {
        ConfigEntry::from_json(json)
    }

    #[test]
    fn decodes_normalizes_and_round_trips() {
        let e = entry(
            r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
                 {"Port": 8080, "Services": [{"Name": "web"}]},
                 {"port": 8443, "protocol": "HTTP", "services": [{"name": "*"},
                   {"Name": "api", "Hosts": ["api.example"]}]}]}"#,
        )
        .unwrap();
        let ConfigEntry::IngressGateway(g) = &e else { panic!("{e:?}") };
        assert_eq!(g.listeners[0].protocol, "tcp", "tcp is the default");
        assert_eq!(g.listeners[1].protocol, "http");
        assert!(g.exposes("web") && g.exposes("anything"), "the http listener has a wildcard");
        let again = ConfigEntry::from_value(e.to_value()).unwrap();
        assert_eq!(again, e);
        assert_eq!(e.to_value()["Kind"], "ingress-gateway");
    }

    #[test]
    fn refusals_name_the_listener_and_service() {
        let msg = |json: &str| entry(json).unwrap_err().to_string();
        let tcp_two = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
            {"Port": 1, "Services": [{"Name": "a"}, {"Name": "b"}]}]}"#;
        assert!(
            msg(tcp_two).contains("Listeners[0]: multiple services per listener"),
            "{}",
            msg(tcp_two)
        );
        let wildcard = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
            {"Port": 1, "Services": [{"Name": "*"}]}]}"#;
        assert!(msg(wildcard).contains("wildcard service name"), "{}", msg(wildcard));
        let hosts = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
            {"Port": 1, "Services": [{"Name": "a", "Hosts": ["x"]}]}]}"#;
        assert!(msg(hosts).contains("Listeners[0].Services[0].Hosts"), "{}", msg(hosts));
        let dup = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
            {"Port": 1, "Services": [{"Name": "a"}]}, {"Port": 1, "Services": [{"Name": "b"}]}]}"#;
        assert!(
            msg(dup).contains("Listeners[1]: port 1 declared on two listeners"),
            "{}",
            msg(dup)
        );
        let proto = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
            {"Port": 1, "Protocol": "udp", "Services": [{"Name": "a"}]}]}"#;
        assert!(msg(proto).contains("Listeners[0].Protocol"), "{}", msg(proto));
        let empty = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 1}]}"#;
        assert!(msg(empty).contains("no service declared"), "{}", msg(empty));
        let unknown = r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Prot": 1}]}"#;
        assert!(msg(unknown).contains("Listeners[0].Prot"), "{}", msg(unknown));
    }
}
