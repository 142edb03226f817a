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

mod chain;
mod clusters;
mod endpoints;
mod listeners;
mod mesh_gateway;
mod names;
mod rbac;
mod routes;

use std::collections::BTreeMap;

use super::model::{
    CertificateValidationContext, CommonTlsContext, Pem, Resource, SanMatcher, TlsCertificate,
};
use super::snapshot::{MeshGatewaySnapshot, ProxySnapshot};
use super::{ResourceSet, TypeUrl, Versioned};

pub use names::customize_cluster_name;
pub use rbac::intention_rbac;

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

/// A sidecar snapshot with its TLS material prepared once: every upstream cluster shares
/// the same `Pem`s (digested once, cloned as `Arc`s).
pub(crate) struct Sidecar<'a> {
    pub(crate) snap: &'a ProxySnapshot,
    pub(crate) leaf: TlsCertificate,
    pub(crate) roots: Pem,
}

impl<'a> Sidecar<'a> {
    pub(crate) fn new(snap: &'a ProxySnapshot) -> Self {
        Sidecar {
            snap,
            leaf: TlsCertificate {
                certificate_chain: Pem::certificate(snap.leaf.cert_chain_pem.clone()),
                private_key: Pem::private_key(snap.leaf.private_key_pem.clone()),
            },
            roots: Pem::certificate(root_bundle(&snap.roots)),
        }
    }

    /// The proxy's leaf and the roots, checking the peer against `sans` (none: any
    /// certificate from the roots, as on `public_listener` where RBAC decides).
    pub(crate) fn tls_context(&self, sans: Vec<SanMatcher>) -> CommonTlsContext {
        CommonTlsContext {
            tls_certificates: vec![self.leaf.clone()],
            validation_context: Some(CertificateValidationContext {
                trusted_ca: self.roots.clone(),
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
