//! `/v1/operator/usage`: counts of nodes, services and instances, by Connect kind, the way
//! Consul's `ServiceUsage` reports them (billable instances exclude the `consul` servers and
//! the mesh's own proxies and gateways).

use std::collections::BTreeMap;

use super::StateMachine;
use super::model::ServiceKind;

/// The service every Consul server is registered as; never billable.
const SERVER_SERVICE: &str = "consul";

/// One datacenter's usage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Usage {
    /// Distinct service names.
    pub services: u64,
    /// Service instances of every kind.
    pub service_instances: u64,
    /// Instances by Connect kind (`connect-proxy`, `connect-native`, `mesh-gateway`, ...).
    pub connect_service_instances: BTreeMap<String, u64>,
    /// Instances that are neither servers nor the mesh's proxies and gateways.
    pub billable_service_instances: u64,
    /// Catalog nodes.
    pub nodes: u64,
}

/// The Connect kinds Consul always lists, even at zero.
const CONNECT_KINDS: [&str; 6] = [
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
];

impl StateMachine {
    /// Usage counts ([`super::WatchKey::Services`] and [`super::WatchKey::Nodes`]).
    pub fn usage(&self) -> Usage {
        let mut connect: BTreeMap<String, u64> =
            CONNECT_KINDS.iter().map(|k| ((*k).to_owned(), 0)).collect();
        let (mut instances, mut billable) = (0u64, 0u64);
        for s in self.services.values().flat_map(|m| m.values()) {
            instances += 1;
            let kind = match s.kind {
                ServiceKind::Typical if s.connect.native => Some("connect-native"),
                ServiceKind::Typical => None,
                other => Some(other.as_str()),
            };
            if let Some(kind) = kind {
                *connect.entry(kind.to_owned()).or_default() += 1;
            }
            let mesh_infrastructure = s.kind != ServiceKind::Typical;
            if !mesh_infrastructure && s.service != SERVER_SERVICE {
                billable += 1;
            }
        }
        Usage {
            services: self.by_name.len() as u64,
            service_instances: instances,
            connect_service_instances: connect,
            billable_service_instances: billable,
            nodes: self.nodes.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::state::tests::{dc1, register, sidecar, svc};
    use crate::state::{Service, ServiceConnect, StateMachine};

    #[test]
    fn counts_services_instances_kinds_and_billable() {
        let mut sm = StateMachine::new(dc1());
        let empty = sm.usage();
        assert_eq!((empty.services, empty.nodes, empty.service_instances), (0, 0, 0));
        assert_eq!(empty.connect_service_instances.len(), 6, "every kind listed at zero");

        let native = Service { connect: ServiceConnect { native: true }, ..svc("api1", "api") };
        let cmds = [
            register("srv", Some(svc("consul", "consul")), vec![]),
            register("n1", Some(svc("web1", "web")), vec![]),
            register("n1", Some(sidecar("web1-sidecar-proxy", "web")), vec![]),
            register("n2", Some(svc("web2", "web")), vec![]),
            register("n2", Some(native), vec![]),
        ];
        for (i, cmd) in cmds.iter().enumerate() {
            let _ = sm.apply(i as u64 + 1, cmd).unwrap();
        }
        let u = sm.usage();
        assert_eq!(u.nodes, 3);
        assert_eq!(u.services, 4, "consul, web, web-sidecar-proxy, api");
        assert_eq!(u.service_instances, 5);
        assert_eq!(u.connect_service_instances["connect-proxy"], 1);
        assert_eq!(u.connect_service_instances["connect-native"], 1);
        assert_eq!(u.connect_service_instances["mesh-gateway"], 0);
        assert_eq!(u.billable_service_instances, 3, "web1, web2, api1");
    }
}
