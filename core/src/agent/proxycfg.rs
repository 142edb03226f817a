//! Building a sidecar's [`ProxySnapshot`] from what the agent knows (Consul's `proxycfg`).
//!
//! The agent's knowledge comes from two places that look the same through [`CatalogView`]:
//! the server's own state machine (a dev agent or a server), or the client agent's cache of
//! blocking-query results. The build is pure: the same view, leaf and roots give the same
//! snapshot, so the runtime can rebuild after any change and push only when it differs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{ConfigEntries, GoDuration};
use crate::discovery_chain::{ChainError, CompiledChain, compile};
use crate::filter::{CheckInfo, Filter, NodeInfo, ServiceInfo, ServiceInstance};
use crate::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
use crate::intentions::{DefaultPolicy, Intention};
use crate::state::{HealthStatus, Node, Service, ServiceHealth, ServiceKind, StateMachine};
use crate::xds::snapshot::{
    CheckHealth, DEFAULT_LOCAL_CONNECT_TIMEOUT, Endpoint, GatewayEndpoints, HostPort, LeafCert,
    Protocol, ProxySnapshot, UpstreamSnapshot,
};

/// What a proxy's configuration is built from.
pub trait CatalogView {
    /// The local datacenter.
    fn datacenter(&self) -> &Datacenter;
    /// Every config entry.
    fn config_entries(&self) -> &ConfigEntries;
    /// All Connect-capable instances of a service (sidecars and native), with node and checks.
    fn connect_instances(&self, service: &str) -> Vec<ServiceHealth>;
    /// The local datacenter's mesh gateways.
    fn mesh_gateways(&self) -> Vec<ServiceHealth>;
}

impl CatalogView for StateMachine {
    fn datacenter(&self) -> &Datacenter {
        StateMachine::datacenter(self)
    }

    fn config_entries(&self) -> &ConfigEntries {
        self.config_entry_set()
    }

    fn connect_instances(&self, service: &str) -> Vec<ServiceHealth> {
        self.health_connect(service, false)
    }

    fn mesh_gateways(&self) -> Vec<ServiceHealth> {
        self.health_of_kind(&ServiceKind::MeshGateway)
    }
}

/// Why a sidecar's snapshot could not be built; the proxy keeps its last configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The instance is not a `connect-proxy` with a destination.
    #[error("service {0:?} is not a connect-proxy with a destination")]
    NotAProxy(String),
    /// A name in the registration is not a valid service name.
    #[error("{field}: {reason}")]
    BadName {
        /// Which field.
        field: String,
        /// Why.
        reason: String,
    },
    /// An upstream's discovery chain does not compile.
    #[error("upstream {upstream:?}: {error}")]
    Chain {
        /// The upstream's destination.
        upstream: String,
        /// The compiler's error.
        error: ChainError,
    },
}

/// The agent-side inputs of one sidecar besides the catalog.
#[derive(Debug, Clone)]
pub struct SidecarInputs<'a> {
    /// The node the sidecar runs on.
    pub node: &'a Node,
    /// The sidecar's registration (`Kind: connect-proxy`).
    pub sidecar: &'a Service,
    /// The federation's trust domain.
    pub trust_domain: &'a TrustDomain,
    /// The proxy's leaf.
    pub leaf: LeafCert,
    /// Trusted roots (PEM), active first.
    pub roots: Vec<Arc<str>>,
    /// Decision when no intention matches.
    pub default_policy: DefaultPolicy,
}

/// Builds the snapshot of one local sidecar.
pub fn sidecar_snapshot(
    view: &dyn CatalogView,
    inputs: SidecarInputs<'_>,
) -> Result<ProxySnapshot, ProxyError> {
    let sidecar = inputs.sidecar;
    let proxy = match (&sidecar.kind, &sidecar.proxy) {
        (ServiceKind::ConnectProxy, Some(p)) if !p.destination_service_name.is_empty() => p,
        _ => return Err(ProxyError::NotAProxy(sidecar.id.clone())),
    };
    let dc = view.datacenter().clone();
    let service = name("Proxy.DestinationServiceName", &proxy.destination_service_name)?;
    let entries = view.config_entries();
    let own_chain = compile(entries, &service, &Namespace::default(), &dc, inputs.trust_domain)
        .map_err(|error| ProxyError::Chain { upstream: service.to_string(), error })?;
    let protocol = match proxy.config.get("protocol").and_then(|v| v.as_str()) {
        Some(p) => Protocol::parse(p),
        None => Protocol::parse(&own_chain.protocol),
    };
    let local_connect_timeout = proxy
        .config
        .get("local_connect_timeout_ms")
        .and_then(serde_json::Value::as_i64)
        .map_or(DEFAULT_LOCAL_CONNECT_TIMEOUT, GoDuration::from_millis);
    let bind = proxy.config.get("bind_address").and_then(|v| v.as_str()).unwrap_or("0.0.0.0");
    let bind_port = proxy
        .config
        .get("bind_port")
        .and_then(serde_json::Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(sidecar.port);
    let local_addr = if proxy.local_service_address.is_empty() {
        "127.0.0.1"
    } else {
        proxy.local_service_address.as_str()
    };

    let mut upstreams = Vec::new();
    for up in &proxy.upstreams {
        if !(up.destination_type.is_empty() || up.destination_type == "service") {
            // Prepared-query upstreams have no discovery chain; Proconsul does not serve them.
            continue;
        }
        let dest = name("Proxy.Upstreams.DestinationName", &up.destination_name)?;
        let up_dc = if up.datacenter.is_empty() {
            None
        } else {
            Some(Datacenter::new(&up.datacenter).map_err(|e| ProxyError::BadName {
                field: "Proxy.Upstreams.Datacenter".into(),
                reason: e.to_string(),
            })?)
        };
        let eval_dc = up_dc.clone().unwrap_or_else(|| dc.clone());
        let chain = compile(entries, &dest, &Namespace::default(), &eval_dc, inputs.trust_domain)
            .map_err(|error| ProxyError::Chain { upstream: dest.to_string(), error })?;
        let endpoints = target_endpoints(view, &chain, &dc);
        let bind_addr =
            if up.local_bind_address.is_empty() { "127.0.0.1" } else { &up.local_bind_address };
        upstreams.push(UpstreamSnapshot {
            destination: dest,
            datacenter: up_dc,
            local_bind: HostPort::new(bind_addr, up.local_bind_port),
            mesh_gateway_mode: up.mesh_gateway.mode,
            chain: Arc::new(chain),
            endpoints,
        });
    }

    let gateways = GatewayEndpoints {
        local: view.mesh_gateways().iter().map(|h| endpoint(h, None)).collect(),
        remote: BTreeMap::new(),
    };
    let intentions = Intention::all(entries)
        .into_iter()
        .filter(|i| i.destination_name == service.as_str() || i.destination_name == "*")
        .collect();
    Ok(ProxySnapshot {
        proxy_id: sidecar.id.clone(),
        service,
        service_id: proxy.destination_service_id.clone(),
        datacenter: dc,
        trust_domain: inputs.trust_domain.clone(),
        public_listener: HostPort::new(bind, bind_port),
        local_app: HostPort::new(local_addr, proxy.local_service_port),
        local_connect_timeout,
        protocol,
        upstreams,
        gateways,
        mesh_gateway_mode: proxy.mesh_gateway.mode,
        leaf: inputs.leaf,
        roots: inputs.roots,
        intentions,
        default_policy: inputs.default_policy,
    })
}

fn name(field: &str, value: &str) -> Result<ServiceName, ProxyError> {
    ServiceName::new(value)
        .map_err(|e| ProxyError::BadName { field: field.into(), reason: e.to_string() })
}

/// Instances per local target of `chain`, filtered by each target's subset. Targets in other
/// datacenters get none here: they are reached through mesh gateways.
pub fn target_endpoints(
    view: &dyn CatalogView,
    chain: &CompiledChain,
    local_dc: &Datacenter,
) -> BTreeMap<String, Vec<Endpoint>> {
    let mut by_service: BTreeMap<&str, Vec<ServiceHealth>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (id, target) in &chain.targets {
        if target.datacenter != local_dc.as_str() || !target.peer.is_empty() || target.external {
            continue;
        }
        let instances = by_service
            .entry(target.service.as_str())
            .or_insert_with(|| view.connect_instances(&target.service));
        // A filter that does not parse was refused when the resolver was written.
        let filter = match target.subset.filter.as_str() {
            "" => None,
            f => Filter::parse(f).ok(),
        };
        let eps: Vec<Endpoint> = instances
            .iter()
            .filter(|h| filter.as_ref().is_none_or(|f| f.matches(&filter_instance(h))))
            .map(|h| endpoint(h, None))
            .filter(|e| !(target.subset.only_passing && e.health == CheckHealth::Warning))
            .collect();
        out.insert(id.clone(), eps);
    }
    out
}

/// The endpoint of one instance: its service address (or its node's) and port, with the
/// worst of its checks as health. `wan` overrides the WAN address.
pub fn endpoint(h: &ServiceHealth, wan: Option<HostPort>) -> Endpoint {
    let host = if h.service.address.is_empty() { &h.node.address } else { &h.service.address };
    let worst =
        h.checks.iter().map(|c| c.status).fold(HealthStatus::Passing, |acc, s| match (acc, s) {
            (HealthStatus::Critical, _) | (_, HealthStatus::Critical) => HealthStatus::Critical,
            (HealthStatus::Warning, _) | (_, HealthStatus::Warning) => HealthStatus::Warning,
            _ => HealthStatus::Passing,
        });
    let (health, weight) = match worst {
        HealthStatus::Passing => (CheckHealth::Passing, h.service.weights.passing),
        HealthStatus::Warning => (CheckHealth::Warning, h.service.weights.warning),
        HealthStatus::Critical => (CheckHealth::Critical, 0),
    };
    let wan_address = wan.or_else(|| {
        h.service.tagged_addresses.get("wan").map(|a| HostPort::new(a.address.clone(), a.port))
    });
    Endpoint { address: HostPort::new(host.clone(), h.service.port), wan_address, health, weight }
}

/// The instance as the filter language sees it (`Service.Meta.version`, `Node.Node`, ...).
pub fn filter_instance(h: &ServiceHealth) -> ServiceInstance {
    let s = &h.service;
    ServiceInstance {
        node: NodeInfo {
            id: h.node.id.clone(),
            node: h.node.node.clone(),
            address: h.node.address.clone(),
            datacenter: h.node.datacenter.clone(),
            partition: String::new(),
            tagged_addresses: h.node.tagged_addresses.clone(),
            meta: h.node.meta.clone(),
        },
        service: ServiceInfo {
            id: s.id.clone(),
            service: s.service.clone(),
            tags: s.tags.clone(),
            address: s.address.clone(),
            port: s.port,
            meta: s.meta.clone(),
            kind: s.kind.as_str().to_owned(),
            tagged_addresses: s
                .tagged_addresses
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        crate::filter::ServiceAddress { address: a.address.clone(), port: a.port },
                    )
                })
                .collect(),
            namespace: String::new(),
            partition: String::new(),
            weights: crate::filter::Weights {
                passing: s.weights.passing,
                warning: s.weights.warning,
            },
            connect: crate::filter::ConnectInfo { native: s.connect.native },
            proxy: crate::filter::ProxyInfo {
                destination_service_name: s
                    .proxy
                    .as_ref()
                    .map(|p| p.destination_service_name.clone())
                    .unwrap_or_default(),
            },
        },
        checks: h
            .checks
            .iter()
            .map(|c| CheckInfo {
                check_id: c.check_id.clone(),
                name: c.name.clone(),
                status: c.status.as_str().to_owned(),
                service_id: c.service_id.clone(),
                service_name: c.service_name.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::ServiceDefinition;
    use crate::state::{Check, Command};
    use serde_json::json;

    fn register(sm: &mut StateMachine, index: u64, node: &str, addr: &str, def: serde_json::Value) {
        let node = Node {
            node: node.into(),
            address: addr.into(),
            datacenter: "dc1".into(),
            ..Node::default()
        };
        let def = ServiceDefinition::from_json(def).unwrap();
        for (i, e) in def.expand(&|_| false).unwrap().into_iter().enumerate() {
            let cmd =
                Command::Register { node: node.clone(), service: Some(e.service), checks: vec![] };
            assert!(sm.apply(index + i as u64, &cmd).unwrap().succeeded);
        }
    }

    fn inputs<'a>(node: &'a Node, sidecar: &'a Service, td: &'a TrustDomain) -> SidecarInputs<'a> {
        SidecarInputs {
            node,
            sidecar,
            trust_domain: td,
            leaf: LeafCert { cert_chain_pem: "leaf".into(), private_key_pem: "key".into() },
            roots: vec!["root".into()],
            default_policy: DefaultPolicy::Allow,
        }
    }

    #[test]
    fn sidecar_snapshot_has_upstream_endpoints_and_public_listener() {
        let mut sm = StateMachine::new(Datacenter::new("dc1").unwrap());
        register(
            &mut sm,
            1,
            "n1",
            "10.0.0.1",
            json!({
                "Name": "dashboard", "Port": 9002,
                "Connect": {"SidecarService": {"Port": 21000, "Proxy": {"Upstreams": [
                    {"DestinationName": "counting", "LocalBindPort": 9191}]}}}
            }),
        );
        register(
            &mut sm,
            10,
            "n2",
            "10.0.0.2",
            json!({
                "Name": "counting", "Port": 9003, "Connect": {"SidecarService": {"Port": 21001}}
            }),
        );
        let td = TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").unwrap();
        let node = sm.node("n1").unwrap().clone();
        let sidecar = sm.service("n1", "dashboard-sidecar-proxy").unwrap().clone();
        let snap = sidecar_snapshot(&sm, inputs(&node, &sidecar, &td)).unwrap();
        assert_eq!(snap.service.as_str(), "dashboard");
        assert_eq!(snap.public_listener, HostPort::new("0.0.0.0", 21000));
        assert_eq!(snap.local_app, HostPort::new("127.0.0.1", 9002));
        let up = &snap.upstreams[0];
        assert_eq!(up.local_bind, HostPort::new("127.0.0.1", 9191));
        let eps = &up.endpoints["counting.default.default.dc1"];
        assert_eq!(eps, &vec![Endpoint::new("10.0.0.2", 21001)]);

        // A critical check on counting's sidecar makes its endpoint critical (weight 0).
        let check = Check {
            check_id: "c".into(),
            service_id: "counting-sidecar-proxy".into(),
            status: HealthStatus::Critical,
            ..Check::default()
        };
        let node2 = sm.node("n2").unwrap().clone();
        let cmd = Command::Register { node: node2, service: None, checks: vec![check] };
        assert!(sm.apply(20, &cmd).unwrap().succeeded);
        let snap = sidecar_snapshot(&sm, inputs(&node, &sidecar, &td)).unwrap();
        let ep = &snap.upstreams[0].endpoints["counting.default.default.dc1"][0];
        assert_eq!((ep.health, ep.weight), (CheckHealth::Critical, 0));
    }

    #[test]
    fn a_typical_service_has_no_snapshot() {
        let mut sm = StateMachine::new(Datacenter::new("dc1").unwrap());
        register(&mut sm, 1, "n1", "10.0.0.1", json!({"Name": "web", "Port": 80}));
        let td = TrustDomain::new("11111111-2222-3333-4444-555555555555.consul").unwrap();
        let node = sm.node("n1").unwrap().clone();
        let web = sm.service("n1", "web").unwrap().clone();
        let err = sidecar_snapshot(&sm, inputs(&node, &web, &td)).unwrap_err();
        assert_eq!(err, ProxyError::NotAProxy("web".into()));
    }
}
