//! The proxy manager (Consul's `proxycfg.Manager`): keeps every local sidecar's xDS
//! resources current. After any change that can matter (an applied raft entry, a local
//! registration, a renewed leaf) it rebuilds each sidecar's snapshot with core's
//! `sidecar_snapshot`, and only when the snapshot differs from the last one regenerates the
//! resources and hands them to the ADS streams, which send the delta.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proconsul_core::agent::{SidecarInputs, sidecar_snapshot};
use proconsul_core::discovery_chain::compile;
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, TrustDomain};
use proconsul_core::state::{Service, ServiceKind};
use proconsul_core::xds::generate::generate;
use proconsul_core::xds::snapshot::{LeafCert, ProxySnapshot};

use super::Agent;

/// The services whose instances the local proxies need: every target service of every
/// upstream's chain, as the agent's view compiles it (the upstream names alone before the
/// first view arrives). A client agent's cache watches exactly these.
pub(crate) fn watched_services(agent: &Agent) -> BTreeSet<String> {
    let sidecars: Vec<Service> = agent
        .local()
        .services()
        .values()
        .filter(|s| s.service.kind == ServiceKind::ConnectProxy)
        .map(|s| s.service.clone())
        .collect();
    let mut out = BTreeSet::new();
    let cached = agent.remote.as_ref().and_then(|r| r.cached());
    for sidecar in &sidecars {
        let Some(proxy) = &sidecar.proxy else { continue };
        for up in &proxy.upstreams {
            out.insert(up.destination_name.clone());
            let (Some(cache), Ok(name)) = (&cached, ServiceName::new(&up.destination_name)) else {
                continue;
            };
            let dc = if up.datacenter.is_empty() {
                agent.opts.datacenter.clone()
            } else {
                match Datacenter::new(&up.datacenter) {
                    Ok(dc) => dc,
                    Err(_) => continue,
                }
            };
            let td = cache.roots.as_ref().and_then(|r| TrustDomain::new(&r.trust_domain).ok());
            let Some(td) = td else { continue };
            if let Ok(chain) = compile(&cache.entries, &name, &Namespace::default(), &dc, &td) {
                out.extend(chain.targets.values().map(|t| t.service.clone()));
            }
        }
    }
    out
}

/// Rebuilds until the agent stops.
pub(crate) async fn run(agent: Arc<Agent>) {
    let Some(mut applied) = agent.view_changes() else { return };
    let mut stop = agent.shutdown.subscribe();
    let mut changes = agent.changes.subscribe();
    let mut last: BTreeMap<String, ProxySnapshot> = BTreeMap::new();
    loop {
        changes.mark_unchanged();
        applied.mark_unchanged();
        rebuild(&agent, &mut last).await;
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = changes.changed() => {}
            _ = applied.changed() => {}
        }
    }
}

/// One pass over the local sidecars.
async fn rebuild(agent: &Agent, last: &mut BTreeMap<String, ProxySnapshot>) {
    let sidecars: Vec<Service> = agent
        .local()
        .services()
        .values()
        .filter(|s| s.service.kind == ServiceKind::ConnectProxy)
        .map(|s| s.service.clone())
        .collect();
    let gone: Vec<String> =
        last.keys().filter(|id| !sidecars.iter().any(|s| &s.id == *id)).cloned().collect();
    for id in gone {
        last.remove(&id);
        agent.snapshots.remove(&id);
    }
    let destinations: Vec<String> =
        sidecars.iter().filter_map(|s| s.proxy_destination().map(str::to_owned)).collect();
    agent.leaves.retain(|svc| destinations.iter().any(|d| d == svc));

    for sidecar in sidecars {
        let Some(dest) = sidecar.proxy_destination().map(str::to_owned) else { continue };
        let leaf = match agent.leaves.get(&agent.opts.datacenter, &dest).await {
            Ok(leaf) => leaf,
            Err(e) => {
                tracing::warn!("proxy {}: no leaf for {dest} yet: {e}", sidecar.id);
                continue;
            }
        };
        let node = agent.node.clone();
        let default_policy = agent.opts.default_policy;
        let built = agent
            .with_view(|view, roots| {
                let roots = roots.ok_or("the CA has published no roots yet")?;
                let trust_domain =
                    TrustDomain::new(&roots.trust_domain).map_err(|_| "bad trust domain")?;
                let mut pems: Vec<Arc<str>> = Vec::new();
                for r in roots.roots.iter().filter(|r| r.active) {
                    pems.push(r.root_cert.as_str().into());
                }
                for r in roots.roots.iter().filter(|r| !r.active) {
                    pems.push(r.root_cert.as_str().into());
                }
                let inputs = SidecarInputs {
                    node: &node,
                    sidecar: &sidecar,
                    trust_domain: &trust_domain,
                    leaf: LeafCert {
                        cert_chain_pem: leaf.cert.cert_pem.as_str().into(),
                        private_key_pem: leaf.private_key_pem.as_str().into(),
                    },
                    roots: pems,
                    default_policy,
                };
                sidecar_snapshot(view, inputs).map_err(|e| {
                    tracing::warn!("proxy {}: {e}", sidecar.id);
                    "configuration error"
                })
            })
            .await;
        match built {
            Some(Ok(snapshot)) => {
                if last.get(&sidecar.id) != Some(&snapshot) {
                    agent.snapshots.set(&sidecar.id, generate(&snapshot));
                    last.insert(sidecar.id.clone(), snapshot);
                }
            }
            Some(Err(why)) => tracing::debug!("proxy {} not configured: {why}", sidecar.id),
            None => tracing::debug!("proxy {}: no view of the catalog yet", sidecar.id),
        }
    }
}
