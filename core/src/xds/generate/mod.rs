//! Generation: a snapshot in, every Envoy resource of that proxy out, each with its content
//! hash as version. Pure functions, as Consul's `agent/xds/{listeners,clusters,endpoints,
//! routes}.go` (CONSUL-FACTS.md §5), with Consul's names so operators' dashboards and
//! tools carry over.
//!
//! ```text
//!  ProxySnapshot ─┬─ public_listener:<addr>:<port> ── mTLS (client cert required) ── RBAC ── local_app
//!                 ├─ local_app (STATIC)
//!                 └─ per upstream: <EnvoyID>:<addr>:<port> ── tcp_proxy | HCM (RDS <EnvoyID>)
//!                        per resolver node: EDS cluster <target SNI> (SNI + SPIFFE SAN)
//!                        with failover:    aggregate <base> ── failover-target~<i>~<base>
//!  MeshGatewaySnapshot ── <name>:<addr>:<port> (tls_inspector; *.<dc>.internal.<td> per remote
//!                         dc; sni_cluster catch-all) ── clusters per remote dc and local service
//! ```
//!
//! Every generated set has an entry (possibly empty) for clusters, endpoints, listeners and
//! routes, so a state-of-the-world session can tell "none" from "not generated". Secrets are
//! never generated: TLS material is inline, as in Consul.
//!
//! Endpoint churn is the hot path: [`EndpointTable`] builds each load assignment once per
//! cluster and endpoint source and shares it between every sidecar that uses it, giving
//! the same resources and versions as generating from each snapshot.

mod chain;
mod clusters;
mod endpoints;
mod listeners;
mod mesh_gateway;
mod names;
mod rbac;
mod routes;
mod table;

use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::model::{
    CertificateValidationContext, CommonTlsContext, Pem, Resource, SanMatcher, TlsCertificate,
};
use super::snapshot::{MeshGatewaySnapshot, ProxySnapshot, UpstreamSnapshot};
use super::{ResourceSet, TypeUrl, Versioned};

pub use names::customize_cluster_name;
pub use rbac::intention_rbac;
pub use table::{AssignmentId, EndpointTable, Rebuild};

/// The types generation produces, in push order.
pub const GENERATED_TYPES: [TypeUrl; 4] = [
    TypeUrl::Cluster,
    TypeUrl::ClusterLoadAssignment,
    TypeUrl::Listener,
    TypeUrl::RouteConfiguration,
];

/// Every resource of a sidecar proxy.
pub fn generate(snap: &ProxySnapshot) -> ResourceSet<Resource> {
    let ctx = Sidecar::new(snap);
    GENERATED_TYPES.into_iter().map(|t| (t, ctx.resources(t))).collect()
}

/// The resources of one type of a sidecar: what an endpoint-only change needs to rebuild.
pub fn generate_type(
    snap: &ProxySnapshot,
    type_url: TypeUrl,
) -> BTreeMap<String, Versioned<Resource>> {
    Sidecar::new(snap).resources(type_url)
}

/// The load assignments fed by one target of one upstream (its own cluster, or the
/// `failover-target~<i>~` clusters it appears in): all a change of that target's instances
/// needs to rebuild. Each equals the same-named entry of [`generate`] (when no later
/// upstream produced a cluster of that name). Changes of gateway endpoints affect every
/// cross-datacenter target: rebuild with [`generate_type`] instead. With many subscribers
/// per target, [`EndpointTable`] rebuilds once for all of them.
pub fn generate_target_endpoints(
    snap: &ProxySnapshot,
    upstream: &UpstreamSnapshot,
    target_id: &str,
) -> Vec<Versioned<Resource>> {
    endpoints::for_target(snap, upstream, target_id)
        .into_iter()
        .map(|cla| Resource::ClusterLoadAssignment(cla).into_versioned())
        .collect()
}

/// Every resource of a mesh gateway.
pub fn generate_mesh_gateway(snap: &MeshGatewaySnapshot) -> ResourceSet<Resource> {
    let mut set: ResourceSet<Resource> =
        GENERATED_TYPES.into_iter().map(|t| (t, BTreeMap::new())).collect();
    insert_all(&mut set, mesh_gateway::resources(snap));
    set
}

/// Versions and files resources by type and name. A later resource with the same type and
/// name replaces an earlier one (two upstreams to one target yield identical clusters).
pub fn insert_all(set: &mut ResourceSet<Resource>, resources: impl IntoIterator<Item = Resource>) {
    for r in resources {
        let v = r.into_versioned();
        set.entry(v.resource.type_url()).or_default().insert(v.resource.name().to_owned(), v);
    }
}

/// A sidecar snapshot with its TLS material prepared on first use: every upstream cluster
/// shares the same `Pem`s (digested once, cloned as `Arc`s), and an endpoints-only or
/// routes-only rebuild never digests certificates at all.
pub(crate) struct Sidecar<'a> {
    pub(crate) snap: &'a ProxySnapshot,
    tls: OnceCell<(TlsCertificate, Pem)>,
}

impl<'a> Sidecar<'a> {
    pub(crate) fn new(snap: &'a ProxySnapshot) -> Self {
        Sidecar { snap, tls: OnceCell::new() }
    }

    fn leaf_and_roots(&self) -> &(TlsCertificate, Pem) {
        self.tls.get_or_init(|| {
            let leaf = TlsCertificate {
                certificate_chain: Pem::certificate(self.snap.leaf.cert_chain_pem.clone()),
                private_key: Pem::private_key(self.snap.leaf.private_key_pem.clone()),
            };
            (leaf, Pem::certificate(root_bundle(&self.snap.roots)))
        })
    }

    /// The proxy's leaf and the roots, checking the peer against `sans` (none: any
    /// certificate from the roots, as on `public_listener` where RBAC decides).
    pub(crate) fn tls_context(&self, sans: Vec<SanMatcher>) -> CommonTlsContext {
        let (leaf, roots) = self.leaf_and_roots();
        CommonTlsContext {
            tls_certificates: vec![leaf.clone()],
            validation_context: Some(CertificateValidationContext {
                trusted_ca: roots.clone(),
                match_typed_subject_alt_names: sans,
            }),
            alpn_protocols: Vec::new(),
        }
    }

    fn resources(&self, type_url: TypeUrl) -> BTreeMap<String, Versioned<Resource>> {
        let resources: Vec<Resource> = match type_url {
            TypeUrl::Cluster => {
                clusters::sidecar(self).into_iter().map(Resource::Cluster).collect()
            }
            TypeUrl::ClusterLoadAssignment => endpoints::sidecar(self.snap)
                .into_iter()
                .map(Resource::ClusterLoadAssignment)
                .collect(),
            TypeUrl::Listener => {
                listeners::sidecar(self).into_iter().map(Resource::Listener).collect()
            }
            TypeUrl::RouteConfiguration => {
                routes::sidecar(self.snap).into_iter().map(Resource::RouteConfiguration).collect()
            }
            TypeUrl::Secret => Vec::new(),
        };
        let mut out = BTreeMap::new();
        for r in resources {
            let v = r.into_versioned();
            out.insert(v.resource.name().to_owned(), v);
        }
        out
    }
}

/// All roots in one PEM bundle (Envoy's `trusted_ca` takes one string), each block ending
/// in a newline so blocks never run together.
fn root_bundle(roots: &[std::sync::Arc<str>]) -> String {
    let mut out = String::with_capacity(roots.iter().map(|r| r.len() + 1).sum());
    for r in roots {
        out.push_str(r);
        if !r.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
