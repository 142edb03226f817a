//! Reading a compiled discovery chain the way Consul's generators do: which clusters each
//! resolver node needs (one, or an aggregate over `failover-target~<i>~` clusters), and
//! where each target's endpoints come from (its instances, or mesh gateways).

use super::names::{customize_cluster_name, failover_cluster_name};
use crate::config::{GoDuration, MeshGatewayMode};
use crate::discovery_chain::{ChainNode, ChainTarget, CompiledChain, NodeType};
use crate::xds::model::{HealthStatus, LbEndpoint, LbPolicy, SocketAddress};
use crate::xds::snapshot::{
    CheckHealth, Endpoint, GatewayEndpoints, ProxySnapshot, UpstreamSnapshot,
};

/// The clusters one resolver node turns into.
pub(crate) struct ResolverClusters<'c> {
    /// The name routes and listeners point at: the primary target's (customized) name, which
    /// is the aggregate cluster's when failing over.
    pub(crate) base_name: String,
    /// Connect timeout of the resolver (every target's cluster uses it, as Consul).
    pub(crate) connect_timeout: GoDuration,
    /// Load balancer of the node.
    pub(crate) lb_policy: LbPolicy,
    /// True when there are failover targets: `base_name` is then an aggregate cluster.
    pub(crate) failover: bool,
    /// EDS clusters: name and target, primary first.
    pub(crate) targets: Vec<(String, &'c ChainTarget)>,
}

/// The clusters of every resolver node of a chain, in node-key order. Targets without a
/// cluster name (cluster peers: not supported) are left out.
pub(crate) fn resolver_clusters(chain: &CompiledChain) -> Vec<ResolverClusters<'_>> {
    let mut out = Vec::new();
    for node in chain.nodes.values() {
        let Some(resolver) = node.resolver.as_ref().filter(|_| node.r#type == NodeType::Resolver)
        else {
            continue;
        };
        let Some(primary) = chain.targets.get(&resolver.target).filter(|t| !t.name.is_empty())
        else {
            continue;
        };
        let base_name = customize_cluster_name(&primary.name, chain);
        let failover_ids = resolver.failover.as_ref().map(|f| f.targets.as_slice()).unwrap_or(&[]);
        let failover_targets: Vec<&ChainTarget> = failover_ids
            .iter()
            .filter_map(|id| chain.targets.get(id))
            .filter(|t| !t.name.is_empty())
            .collect();
        let targets = if failover_targets.is_empty() {
            vec![(base_name.clone(), primary)]
        } else {
            std::iter::once(primary)
                .chain(failover_targets)
                .enumerate()
                .map(|(i, t)| (failover_cluster_name(i, &base_name), t))
                .collect()
        };
        out.push(ResolverClusters {
            failover: targets.len() > 1,
            base_name,
            connect_timeout: resolver.connect_timeout,
            lb_policy: lb_policy(node),
            targets,
        });
    }
    out
}

fn lb_policy(node: &ChainNode) -> LbPolicy {
    node.load_balancer.as_ref().map_or(LbPolicy::RoundRobin, |lb| LbPolicy::from_consul(&lb.policy))
}

/// The cluster a route or listener sends a resolver node's traffic to.
pub(crate) fn resolver_node_cluster(chain: &CompiledChain, node_key: &str) -> Option<String> {
    let node = chain.nodes.get(node_key)?;
    let target = chain.targets.get(&node.resolver.as_ref()?.target)?;
    (!target.name.is_empty()).then(|| customize_cluster_name(&target.name, chain))
}

/// The mesh gateway mode that applies to a target: the upstream's, else the proxy's, else
/// the one the chain compiled in (service-defaults, proxy-defaults).
pub(crate) fn gateway_mode(
    snap: &ProxySnapshot,
    upstream: &UpstreamSnapshot,
    target: &ChainTarget,
) -> MeshGatewayMode {
    [upstream.mesh_gateway_mode, snap.mesh_gateway_mode, target.mesh_gateway.mode]
        .into_iter()
        .find(|m| !m.is_default())
        .unwrap_or_default()
}

/// Where one target's cluster takes its endpoints from, as decided for one proxy and
/// upstream (Consul's `makeLoadAssignmentEndpointGroup`). It depends on the chain and the
/// gateway modes only, never on instances, so it is decided once per subscription and an
/// instance change only re-runs [`build_endpoints`].
///
/// Same datacenter, or another one in mode `none`: the instances themselves (their WAN
/// address across datacenters). Another datacenter in mode `local`: this datacenter's
/// gateways at their LAN address; mode `remote`: the target datacenter's gateways at their
/// WAN address. Through gateways the health of every endpoint is the target's overall
/// health (healthy iff any instance is), since the gateway itself says nothing about it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum EndpointSource {
    /// The target's instances, at their WAN address when dialled from another datacenter.
    Instances {
        /// The target is in another datacenter than the proxy.
        from_other_dc: bool,
        /// `OnlyPassing` subset: warning instances are unhealthy.
        only_passing: bool,
    },
    /// This datacenter's mesh gateways, at their LAN address (mode `local`).
    LocalGateways {
        /// `OnlyPassing` subset, for the target's overall health.
        only_passing: bool,
    },
    /// The target datacenter's mesh gateways, at their WAN address (mode `remote`).
    RemoteGateways {
        /// The target's datacenter.
        datacenter: String,
        /// `OnlyPassing` subset, for the target's overall health.
        only_passing: bool,
    },
}

/// How `upstream` of `snap` reaches `target`.
pub(crate) fn endpoint_source(
    snap: &ProxySnapshot,
    upstream: &UpstreamSnapshot,
    target: &ChainTarget,
) -> EndpointSource {
    let only_passing = target.subset.only_passing;
    let from_other_dc = target.datacenter != snap.datacenter.as_str();
    match gateway_mode(snap, upstream, target) {
        _ if !from_other_dc => EndpointSource::Instances { from_other_dc, only_passing },
        MeshGatewayMode::Local => EndpointSource::LocalGateways { only_passing },
        MeshGatewayMode::Remote => {
            EndpointSource::RemoteGateways { datacenter: target.datacenter.clone(), only_passing }
        }
        MeshGatewayMode::None | MeshGatewayMode::Default => {
            EndpointSource::Instances { from_other_dc, only_passing }
        }
    }
}

/// The endpoints of one target's cluster from `source`, the target's `instances` and the
/// mesh `gateways` known to the proxy.
pub(crate) fn build_endpoints(
    source: &EndpointSource,
    instances: &[Endpoint],
    gateways: &GatewayEndpoints,
) -> Vec<LbEndpoint> {
    let (gws, wan, only_passing) = match source {
        EndpointSource::Instances { from_other_dc, only_passing } => {
            return instances
                .iter()
                .map(|e| lb_endpoint(e, *from_other_dc, *only_passing, None))
                .collect();
        }
        EndpointSource::LocalGateways { only_passing } => {
            (gateways.local.as_slice(), false, *only_passing)
        }
        EndpointSource::RemoteGateways { datacenter, only_passing } => {
            let remote = gateways.remote.iter().find(|(dc, _)| dc.as_str() == datacenter);
            (remote.map_or(&[][..], |(_, eps)| eps.as_slice()), true, *only_passing)
        }
    };
    let healthy =
        instances.iter().any(|e| health_and_weight(e, only_passing).0 == HealthStatus::Healthy);
    let overall = if healthy { HealthStatus::Healthy } else { HealthStatus::Unhealthy };
    gws.iter().map(|e| lb_endpoint(e, wan, false, Some(overall))).collect()
}

/// The endpoints of one target's cluster, as `snap` and `upstream` see it.
pub(crate) fn target_endpoints(
    snap: &ProxySnapshot,
    upstream: &UpstreamSnapshot,
    target: &ChainTarget,
) -> Vec<LbEndpoint> {
    let instances = upstream.endpoints.get(&target.id).map(Vec::as_slice).unwrap_or(&[]);
    build_endpoints(&endpoint_source(snap, upstream, target), instances, &snap.gateways)
}

/// One endpoint as Envoy sees it, at its best address for where it is dialled from.
pub(crate) fn lb_endpoint(
    e: &Endpoint,
    from_other_dc: bool,
    only_passing: bool,
    override_health: Option<HealthStatus>,
) -> LbEndpoint {
    let (health, weight) = health_and_weight(e, only_passing);
    let addr = e.best_address(from_other_dc);
    LbEndpoint {
        address: SocketAddress::new(addr.host.clone(), addr.port),
        health_status: override_health.unwrap_or(health),
        load_balancing_weight: Some(weight),
    }
}

/// Consul's `calculateEndpointHealthAndWeight`: critical (or, for `OnlyPassing` subsets,
/// anything but passing) is unhealthy; weight 0 is unhealthy with weight 1; weights are
/// clamped to Envoy's 1..=128.
pub(crate) fn health_and_weight(e: &Endpoint, only_passing: bool) -> (HealthStatus, u32) {
    let mut health = match e.health {
        CheckHealth::Passing => HealthStatus::Healthy,
        CheckHealth::Warning if only_passing => HealthStatus::Unhealthy,
        CheckHealth::Warning => HealthStatus::Healthy,
        CheckHealth::Critical => HealthStatus::Unhealthy,
    };
    if e.weight < 1 {
        health = HealthStatus::Unhealthy;
    }
    (health, e.weight.clamp(1, 128))
}
