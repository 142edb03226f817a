//! Consul's agent service definition (`PUT /v1/agent/service/register`, `services { ... }` in
//! agent config files) and its expansion into catalog rows.
//!
//! The same definition arrives as Consul API JSON (`Name`, `Connect.SidecarService`), as
//! snake_case (`sidecar_service`) and lower-cased from clients that fold keys (py-consul's
//! `enabletagoverride`), so it is read with the config decoder's key rules. A
//! `connect { sidecar_service {} }` block is expanded here, as Consul does, into a second
//! `connect-proxy` instance with Consul's defaults (id `<id>-sidecar-proxy`, a port from
//! 21000-21255, the parent's tags and meta, a listening check and an alias check), so the
//! catalog only ever stores plain instances.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{DecodeError, decode_value};
use crate::state::{ProxyConfig, Service, ServiceAddress, ServiceConnect, ServiceKind, Weights};

/// First and last port Consul assigns to sidecars that name none.
pub const SIDECAR_PORT_RANGE: (u16, u16) = (21000, 21255);

/// A service definition as an agent receives it.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceDefinition {
    /// `""`, `connect-proxy` or `mesh-gateway`.
    pub kind: ServiceKind,
    /// Instance id; defaults to the name.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name (required).
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address; empty means the node's.
    pub address: String,
    /// `lan`, `wan`, ... addresses.
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// Unix socket path (kept only for compatibility: Proconsul proxies dial TCP).
    pub socket_path: String,
    /// DNS weights.
    pub weights: Option<Weights>,
    /// Let servers change the tags (accepted, no effect: anti-entropy always writes ours).
    pub enable_tag_override: bool,
    /// Proxy settings of a `connect-proxy` or `mesh-gateway`.
    pub proxy: Option<ProxyConfig>,
    /// Connect settings: native, or a sidecar to register alongside.
    pub connect: Option<ConnectDefinition>,
    /// One check definition (decoded by the agent's check scheduler).
    pub check: Option<Value>,
    /// More check definitions.
    pub checks: Vec<Value>,
    /// Region and zone (accepted, not used).
    pub locality: Option<Value>,
    /// ACL token (accepted, ACLs are not enforced).
    pub token: String,
    /// Enterprise namespace (only `default` or empty).
    pub namespace: String,
    /// Enterprise partition (only `default` or empty).
    pub partition: String,
}

/// A definition's `Connect` block.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConnectDefinition {
    /// The app speaks mTLS itself.
    pub native: bool,
    /// A sidecar proxy to register for this service (an empty block takes every default).
    pub sidecar_service: Option<Box<ServiceDefinition>>,
}

/// Why a definition was refused; nothing was registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// The body is not a service definition.
    #[error("Request decode failed: {0}")]
    Decode(#[from] DecodeError),
    /// A field has a value Consul refuses; the message names it.
    #[error("{0}")]
    Invalid(String),
}

/// One instance to register, with the raw check definitions that cover it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandedService {
    /// The catalog row (indexes zero).
    pub service: Service,
    /// Check definitions as written, in order; the scheduler decodes them.
    pub checks: Vec<Value>,
    /// Checks the agent derives itself (a sidecar's listening and alias checks).
    pub derived_checks: Vec<DerivedCheck>,
    /// Settings only the agent keeps.
    pub extra: crate::agent::LocalExtra,
}

/// A check the agent adds on its own to a sidecar it expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedCheck {
    /// `Connect Sidecar Listening`: a TCP connect to the proxy's public listener.
    Listening {
        /// Check id (`service:<sidecar id>:1`).
        check_id: String,
        /// `host:port` to dial.
        tcp: String,
    },
    /// `Connect Sidecar Aliasing <parent>`: mirrors the parent instance's health.
    Alias {
        /// Check id (`service:<sidecar id>:2`).
        check_id: String,
        /// The parent instance id.
        alias_service: String,
    },
}

impl ServiceDefinition {
    /// Reads a definition from JSON with Consul's key rules.
    pub fn from_json(value: Value) -> Result<Self, RegistrationError> {
        Ok(decode_value(value)?)
    }

    /// Checks the definition and expands it (and its sidecar, if any) into catalog rows.
    /// `taken_ports` are the ports local sidecars already use, to pick a free one from
    /// [`SIDECAR_PORT_RANGE`] for a sidecar that names none.
    pub fn expand(
        &self,
        taken_ports: &dyn Fn(u16) -> bool,
    ) -> Result<Vec<ExpandedService>, RegistrationError> {
        let mut out = vec![self.expand_one()?];
        let parent = &out[0].service;
        if let Some(sidecar) = self.connect.as_ref().and_then(|c| c.sidecar_service.as_deref()) {
            if self.kind != ServiceKind::Typical {
                return Err(RegistrationError::Invalid(
                    "Connect.SidecarService: a proxy or gateway cannot have a sidecar".into(),
                ));
            }
            let expanded = sidecar_for(parent, sidecar, taken_ports)?;
            out.push(expanded);
        }
        Ok(out)
    }

    fn expand_one(&self) -> Result<ExpandedService, RegistrationError> {
        if self.name.is_empty() {
            return Err(RegistrationError::Invalid("Missing service name".into()));
        }
        for (field, value) in [("Namespace", &self.namespace), ("Partition", &self.partition)] {
            if !value.is_empty() && value != "default" {
                return Err(RegistrationError::Invalid(format!(
                    "{field} {value:?}: only \"default\" exists (Enterprise feature)"
                )));
            }
        }
        let id = if self.id.is_empty() { self.name.clone() } else { self.id.clone() };
        if self.kind == ServiceKind::ConnectProxy {
            let dest = self.proxy.as_ref().map(|p| p.destination_service_name.as_str());
            if dest.is_none_or(str::is_empty) {
                return Err(RegistrationError::Invalid(
                    "Proxy.DestinationServiceName must be set for a connect-proxy".into(),
                ));
            }
            if self.port == 0 {
                return Err(RegistrationError::Invalid(
                    "Port must be set for a Connect proxy".into(),
                ));
            }
        }
        if self.kind == ServiceKind::MeshGateway && self.port == 0 {
            return Err(RegistrationError::Invalid("Port must be set for a mesh-gateway".into()));
        }
        let mut checks = Vec::new();
        checks.extend(self.check.iter().cloned());
        checks.extend(self.checks.iter().cloned());
        let mut proxy = self.proxy.clone();
        if let (ServiceKind::ConnectProxy, Some(p)) = (self.kind, proxy.as_mut()) {
            if p.destination_service_id.is_empty() {
                p.destination_service_id = p.destination_service_name.clone();
            }
            if p.local_service_address.is_empty() && p.local_service_port != 0 {
                p.local_service_address = "127.0.0.1".into();
            }
            for up in &mut p.upstreams {
                if up.local_bind_address.is_empty() {
                    up.local_bind_address = "127.0.0.1".into();
                }
            }
        }
        let service = Service {
            kind: self.kind,
            id,
            service: self.name.clone(),
            tags: self.tags.clone(),
            address: self.address.clone(),
            tagged_addresses: self.tagged_addresses.clone(),
            meta: self.meta.clone(),
            port: self.port,
            weights: self.weights.unwrap_or_default(),
            proxy,
            connect: ServiceConnect { native: self.connect.as_ref().is_some_and(|c| c.native) },
            create_index: 0,
            modify_index: 0,
        };
        let extra = crate::agent::LocalExtra {
            enable_tag_override: self.enable_tag_override,
            locality: self.locality.clone(),
        };
        Ok(ExpandedService { service, checks, derived_checks: Vec::new(), extra })
    }
}

/// Consul's `sidecar_service` defaults applied to `sidecar` for `parent`.
fn sidecar_for(
    parent: &Service,
    sidecar: &ServiceDefinition,
    taken_ports: &dyn Fn(u16) -> bool,
) -> Result<ExpandedService, RegistrationError> {
    if sidecar.connect.as_ref().is_some_and(|c| c.sidecar_service.is_some()) {
        return Err(RegistrationError::Invalid(
            "Connect.SidecarService: a sidecar cannot have its own sidecar".into(),
        ));
    }
    let mut def = sidecar.clone();
    def.kind = ServiceKind::ConnectProxy;
    if def.id.is_empty() {
        def.id = format!("{}-sidecar-proxy", parent.id);
    }
    if def.name.is_empty() {
        def.name = format!("{}-sidecar-proxy", parent.service);
    }
    if def.tags.is_empty() {
        def.tags = parent.tags.clone();
    }
    if def.meta.is_empty() {
        def.meta = parent.meta.clone();
    }
    if def.address.is_empty() {
        def.address = parent.address.clone();
    }
    if def.port == 0 {
        def.port = (SIDECAR_PORT_RANGE.0..=SIDECAR_PORT_RANGE.1)
            .find(|p| !taken_ports(*p))
            .ok_or_else(|| {
                RegistrationError::Invalid(format!(
                    "no free sidecar port in {}-{}: set Connect.SidecarService.Port",
                    SIDECAR_PORT_RANGE.0, SIDECAR_PORT_RANGE.1
                ))
            })?;
    }
    let proxy = def.proxy.get_or_insert_with(ProxyConfig::default);
    proxy.destination_service_name = parent.service.clone();
    proxy.destination_service_id = parent.id.clone();
    if proxy.local_service_address.is_empty() {
        proxy.local_service_address = "127.0.0.1".into();
    }
    if proxy.local_service_port == 0 {
        proxy.local_service_port = parent.port;
    }
    let mut expanded = def.expand_one()?;
    if expanded.checks.is_empty() {
        let id = &expanded.service.id;
        let host = if def.address.is_empty() { "127.0.0.1" } else { def.address.as_str() };
        expanded.derived_checks = vec![
            DerivedCheck::Listening {
                check_id: format!("service:{id}:1"),
                tcp: format!("{host}:{}", def.port),
            },
            DerivedCheck::Alias {
                check_id: format!("service:{id}:2"),
                alias_service: parent.id.clone(),
            },
        ];
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none_taken(_: u16) -> bool {
        false
    }

    #[test]
    fn reads_lowercase_and_snake_case_keys() {
        let def = ServiceDefinition::from_json(json!({
            "name": "web", "id": "web-1", "port": 8080, "tags": ["a"],
            "enabletagoverride": true, "tagged_addresses": {"lan": {"address": "10.0.0.1", "port": 80}},
            "connect": {"sidecar_service": {}}
        }))
        .unwrap();
        assert_eq!(def.name, "web");
        assert!(def.enable_tag_override);
        assert_eq!(def.tagged_addresses["lan"].port, 80);
        assert!(def.connect.unwrap().sidecar_service.is_some());
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = ServiceDefinition::from_json(json!({"Name": "web", "Prot": 1})).unwrap_err();
        assert!(err.to_string().contains("Prot"), "{err}");
    }

    #[test]
    fn missing_name_is_refused() {
        let def = ServiceDefinition::from_json(json!({"Port": 1})).unwrap();
        let err = def.expand(&none_taken).unwrap_err();
        assert_eq!(err.to_string(), "Missing service name");
    }

    #[test]
    fn sidecar_takes_consul_defaults() {
        let def = ServiceDefinition::from_json(json!({
            "Name": "counting", "ID": "counting-1", "Port": 9003, "Tags": ["v1"],
            "Meta": {"version": "1"},
            "Connect": {"SidecarService": {"Proxy": {"Upstreams": [
                {"DestinationName": "db", "LocalBindPort": 9191}
            ]}}}
        }))
        .unwrap();
        let taken = |p: u16| p == 21000;
        let out = def.expand(&taken).unwrap();
        assert_eq!(out.len(), 2);
        let side = &out[1].service;
        assert_eq!(side.kind, ServiceKind::ConnectProxy);
        assert_eq!(side.id, "counting-1-sidecar-proxy");
        assert_eq!(side.service, "counting-sidecar-proxy");
        assert_eq!(side.port, 21001);
        assert_eq!(side.tags, vec!["v1"]);
        assert_eq!(side.meta["version"], "1");
        let proxy = side.proxy.as_ref().unwrap();
        assert_eq!(proxy.destination_service_name, "counting");
        assert_eq!(proxy.destination_service_id, "counting-1");
        assert_eq!(
            (proxy.local_service_address.as_str(), proxy.local_service_port),
            ("127.0.0.1", 9003)
        );
        assert_eq!(proxy.upstreams[0].local_bind_address, "127.0.0.1");
        assert_eq!(
            out[1].derived_checks,
            vec![
                DerivedCheck::Listening {
                    check_id: "service:counting-1-sidecar-proxy:1".into(),
                    tcp: "127.0.0.1:21001".into()
                },
                DerivedCheck::Alias {
                    check_id: "service:counting-1-sidecar-proxy:2".into(),
                    alias_service: "counting-1".into()
                },
            ]
        );
    }

    #[test]
    fn proxy_without_destination_is_refused() {
        let def =
            ServiceDefinition::from_json(json!({"Name": "p", "Kind": "connect-proxy", "Port": 1}))
                .unwrap();
        let err = def.expand(&none_taken).unwrap_err();
        assert!(err.to_string().contains("DestinationServiceName"), "{err}");
    }

    #[test]
    fn no_free_sidecar_port_is_an_error() {
        let def =
            ServiceDefinition::from_json(json!({"Name": "web", "Connect": {"SidecarService": {}}}))
                .unwrap();
        let err = def.expand(&|_| true).unwrap_err();
        assert!(err.to_string().contains("no free sidecar port"), "{err}");
    }
}
