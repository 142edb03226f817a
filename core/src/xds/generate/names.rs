//! Names Consul gives Envoy resources and stats (CONSUL-FACTS.md §1.5): kept in one place
//! because dashboards, `proconsul` tooling and the mesh gateways' SNI routing all read them.

use crate::discovery_chain::CompiledChain;
use crate::ids::{Datacenter, Namespace, Partition, ServiceName, Sni, SpiffeId, TrustDomain};

/// Name of the local app cluster.
pub(crate) const LOCAL_APP: &str = "local_app";

/// Name and stat prefix of the inbound listener, its route configuration and virtual host.
pub(crate) const PUBLIC_LISTENER: &str = "public_listener";

/// Stat prefix of the network RBAC filter (`connect_authz.rbac.denied`).
pub(crate) const CONNECT_AUTHZ: &str = "connect_authz";

/// Prefix of the per-target clusters under an aggregate (failover) cluster.
pub(crate) const FAILOVER_TARGET_PREFIX: &str = "failover-target~";

/// Consul's `CustomizeClusterName`: a chain compiled with overrides that changed something
/// names its clusters `<hash>~<name>`, so two upstreams of one service with different
/// overrides never share (and fight over) a cluster.
pub fn customize_cluster_name(name: &str, chain: &CompiledChain) -> String {
    if chain.customization_hash.is_empty() {
        name.to_owned()
    } else {
        format!("{}~{name}", chain.customization_hash)
    }
}

/// `failover-target~<i>~<base>`: target `i` (0 = primary) of an aggregate cluster.
pub(crate) fn failover_cluster_name(index: usize, base: &str) -> String {
    format!("{FAILOVER_TARGET_PREFIX}{index}~{base}")
}

/// `upstream.<svc>.<ns>.<ap>.<dc>`: stat prefix of an upstream's tcp_proxy or HCM.
pub(crate) fn upstream_stat_prefix(chain: &CompiledChain) -> String {
    format!("upstream.{}", chain_filter_name(chain))
}

/// `<svc>.<ns>.<ap>.<dc>`: Consul's filter name of a chain (also the inline virtual host's).
pub(crate) fn chain_filter_name(chain: &CompiledChain) -> String {
    format!("{}.{}.{}.{}", chain.service_name, chain.namespace, chain.partition, chain.datacenter)
}

/// The SPIFFE ID a target's certificates carry: `spiffe://<td>[/ap/<ap>]/ns/<ns>/dc/<dc>/
/// svc/<svc>`. Names in a compiled chain are already valid; the raw fallback only keeps a
/// malformed one from panicking (the peer then simply fails the SAN check).
pub(crate) fn service_spiffe_uri(
    trust_domain: &TrustDomain,
    partition: &str,
    namespace: &str,
    datacenter: &str,
    service: &str,
) -> String {
    let parts = (
        Partition::or_default(partition),
        Namespace::or_default(namespace),
        Datacenter::new(datacenter),
        ServiceName::new(service),
    );
    match parts {
        (Ok(partition), Ok(namespace), Ok(datacenter), Ok(service)) => SpiffeId::Service {
            trust_domain: trust_domain.clone(),
            partition,
            namespace,
            datacenter,
            service,
        }
        .to_string(),
        _ => format!("spiffe://{trust_domain}/ns/{namespace}/dc/{datacenter}/svc/{service}"),
    }
}

/// `GatewaySNI`: `<dc>.internal.<td>`, the cluster mesh gateways send a datacenter's
/// traffic to.
pub(crate) fn gateway_sni(datacenter: &Datacenter, trust_domain: &TrustDomain) -> String {
    Sni::gateway(&Partition::default(), datacenter, trust_domain).to_string()
}

/// `ServiceSNI` of a local service (or subset) in the gateway's datacenter.
pub(crate) fn service_sni(
    service: &ServiceName,
    subset: Option<&str>,
    datacenter: &Datacenter,
    trust_domain: &TrustDomain,
) -> String {
    Sni::service(
        service,
        subset,
        &Namespace::default(),
        &Partition::default(),
        datacenter,
        trust_domain,
    )
    .to_string()
}
