//! What simulated proxies hold, read the way a scenario asks about it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use proconsul_runtime_sim::World;
use proconsul_runtime_sim::proxy::ProxyView;

/// The healthy endpoints `host`'s proxy `proxy` routes to for upstream `service` (its EDS
/// cluster is named `service.<namespace>.<dc>.internal.<trust domain>`).
pub fn upstream_endpoints(
    world: &World,
    host: &str,
    proxy: &str,
    service: &str,
) -> Option<Vec<SocketAddr>> {
    upstream(world, host, proxy, service, |v| &v.healthy)
}

/// Every endpoint (healthy or not) `host`'s proxy `proxy` holds for upstream `service`:
/// the configuration it was sent, whatever the checks say.
pub fn upstream_configured(
    world: &World,
    host: &str,
    proxy: &str,
    service: &str,
) -> Option<Vec<SocketAddr>> {
    upstream(world, host, proxy, service, |v| &v.endpoints)
}

fn upstream(
    world: &World,
    host: &str,
    proxy: &str,
    service: &str,
    pick: impl Fn(&ProxyView) -> &BTreeMap<String, Vec<SocketAddr>>,
) -> Option<Vec<SocketAddr>> {
    let view = world.proxy(host, proxy)?;
    let prefix = format!("{service}.");
    pick(&view).iter().find(|(name, _)| name.starts_with(&prefix)).map(|(_, eps)| eps.clone())
}

/// The IP of `host` in the simulation.
pub fn ip(world: &World, host: &str) -> Option<std::net::IpAddr> {
    world.hosts().find(|h| h.name == host).map(|h| std::net::IpAddr::V4(h.ip))
}
