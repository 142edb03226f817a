//! Which proxies an instance change affects: the index from a service to the upstreams
//! (of which proxies) whose compiled chains target it, so an endpoint change rebuilds only
//! their load assignments instead of every proxy.

use std::collections::{BTreeMap, BTreeSet};

use super::snapshot::ProxySnapshot;

/// One upstream of one proxy that reaches a service through a target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscriber {
    /// The proxy's id.
    pub proxy_id: String,
    /// Index of the upstream in the proxy's snapshot.
    pub upstream: usize,
    /// The chain target id that names the service.
    pub target_id: String,
}

/// Service name → subscribers, ordered so rebuilds happen in a fixed order.
#[derive(Debug, Clone, Default)]
pub struct SubscriberIndex {
    by_service: BTreeMap<String, BTreeSet<Subscriber>>,
    /// Proxy → services it subscribes to, so a proxy is removed without a full scan.
    by_proxy: BTreeMap<String, BTreeSet<String>>,
}

impl SubscriberIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or refreshes) every target of every upstream of `snap`.
    pub fn insert(&mut self, snap: &ProxySnapshot) {
        self.remove(&snap.proxy_id);
        for (i, up) in snap.upstreams.iter().enumerate() {
            for target in up.chain.targets.values() {
                self.by_proxy
                    .entry(snap.proxy_id.clone())
                    .or_default()
                    .insert(target.service.clone());
                self.by_service.entry(target.service.clone()).or_default().insert(Subscriber {
                    proxy_id: snap.proxy_id.clone(),
                    upstream: i,
                    target_id: target.id.clone(),
                });
            }
        }
    }

    /// Forgets a proxy.
    pub fn remove(&mut self, proxy_id: &str) {
        for service in self.by_proxy.remove(proxy_id).unwrap_or_default() {
            if let Some(subs) = self.by_service.get_mut(&service) {
                subs.retain(|s| s.proxy_id != proxy_id);
                if subs.is_empty() {
                    self.by_service.remove(&service);
                }
            }
        }
    }

    /// Who must rebuild when instances of `service` change.
    pub fn subscribers(&self, service: &str) -> impl Iterator<Item = &Subscriber> {
        self.by_service.get(service).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{ConfigEntries, ConfigEntry, MeshGatewayMode};
    use crate::discovery_chain::compile;
    use crate::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
    use crate::intentions::DefaultPolicy;
    use crate::xds::snapshot::{GatewayEndpoints, HostPort, LeafCert, Protocol, UpstreamSnapshot};

    fn snapshot(proxy: &str, upstreams: &[&str], entries: &ConfigEntries) -> ProxySnapshot {
        let td = TrustDomain::new("trustdomain.consul").unwrap();
        let dc = Datacenter::new("dc1").unwrap();
        ProxySnapshot {
            proxy_id: proxy.into(),
            service: ServiceName::new("web").unwrap(),
            service_id: "web".into(),
            datacenter: dc.clone(),
            trust_domain: td.clone(),
            public_listener: HostPort::new("0.0.0.0", 21000),
            local_app: HostPort::new("127.0.0.1", 8080),
            local_connect_timeout: crate::config::GoDuration::from_secs(5),
            protocol: Protocol::parse("tcp"),
            upstreams: upstreams
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    let name = ServiceName::new(*u).unwrap();
                    UpstreamSnapshot {
                        chain: Arc::new(
                            compile(entries, &name, &Namespace::default(), &dc, &td).unwrap(),
                        ),
                        destination: name,
                        datacenter: None,
                        local_bind: HostPort::new("127.0.0.1", 9000 + i as u16),
                        mesh_gateway_mode: MeshGatewayMode::Default,
                        endpoints: Default::default(),
                    }
                })
                .collect(),
            gateways: GatewayEndpoints::default(),
            mesh_gateway_mode: MeshGatewayMode::Default,
            leaf: LeafCert { cert_chain_pem: Arc::from(""), private_key_pem: Arc::from("") },
            roots: vec![],
            intentions: vec![],
            default_policy: DefaultPolicy::Allow,
        }
    }

    #[test]
    fn a_service_maps_to_every_upstream_whose_chain_targets_it() {
        let entries: ConfigEntries = [ConfigEntry::from_value(serde_json::json!({
            "Kind": "service-resolver", "Name": "api", "Failover": {"*": {"Service": "api-backup"}}
        }))
        .unwrap()]
        .into_iter()
        .collect();
        let mut index = SubscriberIndex::new();
        index.insert(&snapshot("a", &["db", "api"], &entries));
        index.insert(&snapshot("b", &["db"], &entries));
        let db: Vec<_> =
            index.subscribers("db").map(|s| (s.proxy_id.as_str(), s.upstream)).collect();
        assert_eq!(db, [("a", 0), ("b", 0)]);
        let backup: Vec<_> =
            index.subscribers("api-backup").map(|s| s.target_id.as_str()).collect();
        assert_eq!(backup, ["api-backup.default.default.dc1"], "failover targets count");
        index.insert(&snapshot("a", &["api"], &entries));
        assert_eq!(index.subscribers("db").count(), 1, "re-inserting replaces");
        index.remove("b");
        assert_eq!(index.subscribers("db").count(), 0);
        assert_eq!(index.subscribers("api").count(), 1);
    }
}
