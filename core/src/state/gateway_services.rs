//! Which services a gateway fronts (`/v1/catalog/gateway-services/<gateway>`) and which
//! gateways front a service (`/v1/health/ingress/<service>`), derived from the
//! `ingress-gateway` config entries and the catalog at read time.
//!
//! A `*` service on an HTTP listener stands for every typical service in the catalog except
//! the servers' `consul`, as in Consul, so the answer follows registrations without any
//! stored association. Rows are ordered by service name, then port.

use serde_json::{Value, json};

use super::StateMachine;
use super::model::ServiceKind;
use crate::config::{ConfigEntry, IngressGateway, Kind};

/// The service every server is registered as; never exposed through a wildcard.
const SERVER_SERVICE: &str = "consul";

/// One row of `/v1/catalog/gateway-services/<gateway>` (Consul's `GatewayService`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayService {
    /// The gateway's service name.
    pub gateway: String,
    /// The fronted service.
    pub service: String,
    /// `ingress-gateway`.
    pub gateway_kind: &'static str,
    /// The listener port.
    pub port: u16,
    /// The listener protocol.
    pub protocol: String,
    /// Host names the service answers to on this listener.
    pub hosts: Vec<String>,
    /// The row comes from a `*` service.
    pub from_wildcard: bool,
    /// Raft index that created the gateway's config entry.
    pub create_index: u64,
    /// Raft index of the entry's last write.
    pub modify_index: u64,
}

impl GatewayService {
    /// Consul's JSON shape (empty optional fields omitted, as Consul's `omitempty` does).
    pub fn to_value(&self) -> Value {
        let mut v = json!({
            "Gateway": {"Name": self.gateway},
            "Service": {"Name": self.service},
            "GatewayKind": self.gateway_kind,
            "Port": self.port,
            "Protocol": self.protocol,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        });
        if let Value::Object(map) = &mut v {
            if !self.hosts.is_empty() {
                map.insert("Hosts".into(), json!(self.hosts));
            }
            if self.from_wildcard {
                map.insert("FromWildcard".into(), true.into());
            }
        }
        v
    }
}

impl StateMachine {
    fn ingress_gateway(&self, name: &str) -> Option<(&IngressGateway, u64, u64)> {
        let ConfigEntry::IngressGateway(g) = self.config.get(Kind::IngressGateway, name)? else {
            return None;
        };
        let (create, modify) = self.config_meta.get(&(Kind::IngressGateway, name.to_owned()))?;
        Some((g, *create, *modify))
    }

    /// Services a wildcard exposes: the typical ones, without the servers' own.
    fn wildcard_services(&self) -> Vec<String> {
        self.by_name
            .iter()
            .filter(|(name, refs)| {
                name.as_str() != SERVER_SERVICE
                    && refs.iter().any(|(n, id)| {
                        self.service(n, id).is_some_and(|s| s.kind == ServiceKind::Typical)
                    })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The services `gateway` fronts; empty for a gateway without a config entry
    /// ([`super::WatchKey::ConfigEntries`] and [`super::WatchKey::Services`]).
    pub fn gateway_services(&self, gateway: &str) -> Vec<GatewayService> {
        let Some((g, create_index, modify_index)) = self.ingress_gateway(gateway) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for l in &g.listeners {
            for s in &l.services {
                let (names, from_wildcard) = if s.name == "*" {
                    (self.wildcard_services(), true)
                } else {
                    (vec![s.name.clone()], false)
                };
                out.extend(names.into_iter().map(|service| GatewayService {
                    gateway: gateway.to_owned(),
                    service,
                    gateway_kind: "ingress-gateway",
                    port: l.port,
                    protocol: l.protocol.clone(),
                    hosts: s.hosts.clone(),
                    from_wildcard,
                    create_index,
                    modify_index,
                }));
            }
        }
        out.sort_by(|a, b| (&a.service, a.port).cmp(&(&b.service, b.port)));
        out
    }

    /// The ingress gateways whose listeners expose `service` (by name, or by wildcard when
    /// it is a typical service), by gateway name.
    pub fn ingress_gateways_for(&self, service: &str) -> Vec<String> {
        let wildcard_ok = self.wildcard_services().iter().any(|s| s == service);
        self.config_entries(Some(Kind::IngressGateway))
            .into_iter()
            .filter_map(|stored| match stored.entry {
                ConfigEntry::IngressGateway(g) => Some(g),
                _ => None,
            })
            .filter(|g| {
                g.listeners
                    .iter()
                    .flat_map(|l| &l.services)
                    .any(|s| s.name == service || (s.name == "*" && wildcard_ok))
            })
            .map(|g| g.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigEntry;
    use crate::state::tests::{dc1, register, svc};
    use crate::state::{Command, Service, ServiceKind, StateMachine};

    fn gateway_entry(json: &str) -> Command {
        Command::ConfigEntrySet { entry: ConfigEntry::from_json(json).unwrap(), cas: None }
    }

    #[test]
    fn rows_follow_the_entry_and_wildcards_follow_the_catalog() {
        let mut sm = StateMachine::new(dc1());
        assert!(sm.gateway_services("ig").is_empty(), "no entry: nothing fronted");
        let gw = Service { kind: ServiceKind::IngressGateway, ..svc("ig", "ig") };
        let cmds = [
            register("n1", Some(gw), vec![]),
            register("n1", Some(svc("web1", "web")), vec![]),
            register("n1", Some(svc("api1", "api")), vec![]),
            register("srv", Some(svc("consul", "consul")), vec![]),
            gateway_entry(
                r#"{"Kind": "ingress-gateway", "Name": "ig", "Listeners": [
                    {"Port": 8080, "Services": [{"Name": "web"}]},
                    {"Port": 9090, "Protocol": "http", "Services": [{"Name": "*"}]}]}"#,
            ),
        ];
        for (i, c) in cmds.iter().enumerate() {
            let _ = sm.apply(i as u64 + 1, c).unwrap();
        }
        let rows: Vec<(String, u16, bool)> = sm
            .gateway_services("ig")
            .into_iter()
            .map(|r| (r.service, r.port, r.from_wildcard))
            .collect();
        assert_eq!(
            rows,
            [("api".into(), 9090, true), ("web".into(), 8080, false), ("web".into(), 9090, true)],
            "the gateway itself and consul are not wildcard targets"
        );
        let first = &sm.gateway_services("ig")[1];
        assert_eq!(first.to_value()["Gateway"]["Name"], "ig");
        assert_eq!(first.to_value()["GatewayKind"], "ingress-gateway");
        assert_eq!(first.to_value()["Protocol"], "tcp");
        assert!(first.to_value().get("FromWildcard").is_none());
        assert_eq!(sm.ingress_gateways_for("web"), ["ig"]);
        assert_eq!(sm.ingress_gateways_for("api"), ["ig"], "through the wildcard");
        assert!(sm.ingress_gateways_for("consul").is_empty());
        assert!(sm.ingress_gateways_for("ghost").is_empty());
    }
}
