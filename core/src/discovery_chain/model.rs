//! The compiled discovery chain, shaped like Consul's `GET /v1/discovery-chain/:service`
//! response (`{"Chain": {...}}`), so tools written against Consul read ours unchanged.

use std::collections::BTreeMap;

use crate::config::{
    GoDuration, HttpHeaderModifiers, LoadBalancer, MeshGatewayConfig, ResolverSubset, ServiceRoute,
    ServiceSplit,
};

/// The graph of routers, splitters and resolvers one upstream's traffic flows through, and
/// the targets at its leaves.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompiledChain {
    /// The service that was compiled.
    pub service_name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its partition.
    pub partition: String,
    /// The datacenter the chain was compiled for.
    pub datacenter: String,
    /// Set when upstream overrides changed the result; prefixes cluster names as `<hash>~`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub customization_hash: String,
    /// True when nothing but defaults apply (the start node is the service's own default
    /// resolver).
    pub default: bool,
    /// The protocol every service along the chain shares.
    pub protocol: String,
    /// Metadata of the compiled service.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_meta: BTreeMap<String, String>,
    /// Key of the first node.
    pub start_node: String,
    /// Nodes by key (`router:...`, `splitter:...`, `resolver:...`).
    pub nodes: BTreeMap<String, ChainNode>,
    /// Targets by id.
    pub targets: BTreeMap<String, ChainTarget>,
}

/// One node of the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainNode {
    /// `router`, `splitter` or `resolver`.
    pub r#type: NodeType,
    /// `<svc>.<ns>.<ap>` for routers and splitters, the target id for resolvers.
    pub name: String,
    /// Router nodes: routes in match order, the catch-all last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<ChainRoute>,
    /// Splitter nodes: flattened legs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<ChainSplit>,
    /// Resolver nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<ChainResolver>,
    /// Load balancer of the target's resolver (splitters inherit the first hash-based one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
}

/// Node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// A `service-router`.
    Router,
    /// A `service-splitter`.
    Splitter,
    /// A `service-resolver` (explicit or default).
    Resolver,
}

impl NodeType {
    /// The key prefix: `router`, `splitter` or `resolver`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Router => "router",
            NodeType::Splitter => "splitter",
            NodeType::Resolver => "resolver",
        }
    }
}

/// One compiled route.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainRoute {
    /// The route as configured (the catch-all is synthesized).
    pub definition: ServiceRoute,
    /// Key of the node matching requests go to.
    pub next_node: String,
}

/// One compiled split leg.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainSplit {
    /// The leg as configured, with headers inherited through flattening.
    pub definition: ServiceSplit,
    /// Effective percentage after flattening nested splitters.
    #[serde(serialize_with = "crate::config::serialize_weight")]
    pub weight: f64,
    /// Key of the node this leg goes to.
    pub next_node: String,
}

/// What a resolver node resolved to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainResolver {
    /// The resolver was implicit or had nothing but a name.
    pub default: bool,
    /// Connect timeout to the target (default 5s).
    pub connect_timeout: GoDuration,
    /// Request timeout, when configured.
    #[serde(skip_serializing_if = "GoDuration::is_zero_ref")]
    pub request_timeout: GoDuration,
    /// Target id.
    pub target: String,
    /// Failover targets, in the order to try them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<ChainFailover>,
}

/// Failover of a resolver node.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainFailover {
    /// Target ids in order.
    pub targets: Vec<String>,
}

/// A resolved target: one service (or subset) in one datacenter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainTarget {
    /// Target id, `[<subset>.]<svc>.<ns>.<ap>.<dc>`.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service.
    pub service: String,
    /// Subset name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Namespace.
    pub namespace: String,
    /// Partition.
    pub partition: String,
    /// Datacenter (empty for peer targets).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Cluster peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// How proxies reach it when it is in another datacenter.
    pub mesh_gateway: MeshGatewayConfig,
    /// The subset's definition.
    pub subset: ResolverSubset,
    /// Connect timeout.
    pub connect_timeout: GoDuration,
    /// The service lives outside the mesh (its SNI comes from `ExternalSNI`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// The TLS server name proxies send.
    #[serde(rename = "SNI", skip_serializing_if = "String::is_empty")]
    pub sni: String,
    /// The internal SNI, used to name Envoy clusters even when `SNI` is external.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Merges header manipulation of a flattened leg: the child's keys win.
pub(crate) fn merge_headers(
    parent: Option<&HttpHeaderModifiers>,
    child: Option<&HttpHeaderModifiers>,
) -> Option<HttpHeaderModifiers> {
    match (parent, child) {
        (None, None) => None,
        (Some(p), None) => Some(p.clone()),
        (None, Some(c)) => Some(c.clone()),
        (Some(p), Some(c)) => {
            let mut out = p.clone();
            out.add.extend(c.add.clone());
            out.set.extend(c.set.clone());
            for r in &c.remove {
                if !out.remove.contains(r) {
                    out.remove.push(r.clone());
                }
            }
            Some(out)
        }
    }
}
