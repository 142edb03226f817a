//! The seeds' L7 discovery chain with real Envoys and real HTTP:
//!
//! ```text
//!  client ─► web sidecar: upstream `counting`, routes over RDS from the compiled chain
//!              ├─ /admin…  prefix_rewrite "/", split ─┬─ 80% ══► counting-admin v1 sidecar ─► app
//!              │                                      └─ 20% ══► counting-admin v2 sidecar ─► app
//!              └─ anything else ═════════════════════════════► counting sidecar ─► app
//!  ══ mTLS between web's sidecar and the target's, SAN-checked (counting / counting-admin)
//! ```
//!
//! The chain is compiled from `core/src/discovery_chain/testdata/counting/*.hcl`; each
//! target's endpoint is its own Envoy sidecar (protocol http, default deny, an allow
//! intention from `web`), and each app answers with its name, the path it received and the
//! caller's `x-forwarded-client-cert`. The failover targets (dc-aws, dc-gcp) have no
//! endpoints.

mod envoy_mesh_support;
mod envoy_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_mesh_support::{
    HttpClient, Mesh, Pki, READY, Reply, assert_nothing_rejected, chain, entries, intentions, svc,
    wait_live,
};
use envoy_support::{envoy_binary, free_port};
use proconsul_core::config::MeshGatewayMode;
use proconsul_core::xds::generate::generate;
use proconsul_core::xds::snapshot::{Endpoint, HostPort, Protocol, UpstreamSnapshot};

/// Requests sent to `/admin/x` to measure the split.
const REQUESTS: u32 = 1000;
/// The splitter's v1 weight.
const V1_SHARE: f64 = 0.80;
/// Allowed deviation of the measured v1 share: with n = 1000 the standard deviation of the
/// share is sqrt(0.8 · 0.2 / 1000) ≈ 0.0126, so 0.065 is a 5.1-sigma bound (a false failure
/// about once in 3 million runs). Envoy draws the split from its own unseeded random
/// generator, so the counts, not a seed, are what the failure message reports.
const TOLERANCE: f64 = 0.065;

#[test]
fn counting_chain_rewrites_admin_paths_and_splits_them_80_20_across_real_envoys() {
    let Some(binary) = envoy_binary() else { return };
    let mut pki = Pki::new();
    let td = pki.td();
    let mesh = Mesh::start();
    let seeds = entries(&[
        include_str!("../../core/src/discovery_chain/testdata/counting/admin-defaults.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/defaults.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/resolver.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/router.hcl"),
        include_str!("../../core/src/discovery_chain/testdata/counting/splitter.hcl"),
    ]);

    // The backends: (app and proxy name, service, chain target it serves).
    let backends = [
        ("counting", "counting", "counting.default.default.dc1"),
        ("counting-admin-v1", "counting-admin", "v1.counting-admin.default.default.dc1"),
        ("counting-admin-v2", "counting-admin", "v2.counting-admin.default.default.dc1"),
    ];
    let mut endpoints = BTreeMap::new();
    let mut public_ports = Vec::new();
    for (name, service, target) in backends {
        let app = mesh.app(name);
        let public = free_port();
        let mut snap = pki.sidecar(service, "dc1", Protocol::Http, public, app);
        snap.proxy_id = format!("{name}-sidecar-proxy");
        snap.service_id = name.to_owned();
        snap.intentions = intentions(service, "web", "allow");
        mesh.snapshots.set(&snap.proxy_id, generate(&snap));
        endpoints.insert(target.to_owned(), vec![Endpoint::new("127.0.0.1", public)]);
        public_ports.push(public);
    }

    let counting = chain(&seeds, "counting", "dc1", &td);
    let targets: Vec<&str> = counting.targets.keys().map(String::as_str).collect();
    for (_, _, target) in backends {
        assert!(targets.contains(&target), "{target} not among the chain's targets {targets:?}");
    }
    assert!(targets.len() > backends.len(), "failover targets (no endpoints) too: {targets:?}");
    let mut web = pki.sidecar("web", "dc1", Protocol::Http, free_port(), free_port());
    let upstream_port = free_port();
    web.upstreams.push(UpstreamSnapshot {
        destination: svc("counting"),
        datacenter: None,
        local_bind: HostPort::new("127.0.0.1", upstream_port),
        mesh_gateway_mode: MeshGatewayMode::Default,
        chain: Arc::new(counting),
        endpoints,
    });
    mesh.snapshots.set("web-sidecar-proxy", generate(&web));

    let mut envoys = Vec::new();
    for (name, service, _) in backends {
        let proxy = format!("{name}-sidecar-proxy");
        envoys.push((proxy.clone(), mesh.envoy(&binary, &proxy, service, "dc1")));
    }
    envoys
        .push(("web-sidecar-proxy".into(), mesh.envoy(&binary, "web-sidecar-proxy", "web", "dc1")));
    for (name, envoy) in &envoys {
        wait_live(name, envoy);
    }
    let (_, web_envoy) = envoys.last().unwrap();
    for port in &public_ports {
        let host = format!("::127.0.0.1:{port}::health_flags::healthy");
        web_envoy.wait_until(READY, &format!("web's clusters to have {host}"), |e| {
            e.admin("/clusters").contains(&host)
        });
    }
    web_envoy.wait_until(READY, "a first request through web's sidecar to counting", |_| {
        HttpClient::new(upstream_port).get("/").is_some_and(|r| r.status == 200)
    });
    let mut client = HttpClient::new(upstream_port);

    let get = |client: &mut HttpClient, path: &str| -> Reply {
        let reply = client.get(path).unwrap_or_else(|| panic!("GET {path}: no response"));
        assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
        reply
    };
    // Other paths reach counting untouched.
    for path in ["/", "/foo", "/foo/admin", "/Admin"] {
        let reply = get(&mut client, path);
        assert_eq!(reply.field("app").as_deref(), Some("counting"), "GET {path}: {reply:?}");
        assert_eq!(reply.field("path").as_deref(), Some(path), "GET {path}: {reply:?}");
    }
    // `/admin…` reaches counting-admin with Envoy's prefix_rewrite of the matched `/admin`
    // by `/`: the rest of the path is appended as is, so `/admin/x` arrives as `//x`
    // (Envoy's documented behaviour; a route needs a trailing slash in both to strip one).
    for (path, rewritten) in [
        ("/admin", "/"),
        ("/admin/x", "//x"),
        ("/admin?q=1", "/?q=1"),
        ("/administrator", "/istrator"),
    ] {
        let reply = get(&mut client, path);
        let app = reply.field("app").unwrap_or_default();
        assert!(app.starts_with("counting-admin-v"), "GET {path}: {reply:?}");
        assert_eq!(reply.field("path").as_deref(), Some(rewritten), "GET {path}: {reply:?}");
    }
    // The split, over one keep-alive connection (Envoy picks a cluster per request).
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..REQUESTS {
        let reply = get(&mut client, "/admin/x");
        assert_eq!(reply.field("path").as_deref(), Some("//x"), "{reply:?}");
        *seen.entry(reply.field("app").unwrap_or_default()).or_default() += 1;
    }
    let (v1, v2) = (seen.get("counting-admin-v1").copied(), seen.get("counting-admin-v2").copied());
    let (v1, v2) = (v1.unwrap_or(0), v2.unwrap_or(0));
    let share = f64::from(v1) / f64::from(REQUESTS);
    eprintln!("split of {REQUESTS} requests to /admin/x: {seen:?} (v1 share {share:.3})");
    assert_eq!(v1 + v2, REQUESTS, "every request reached v1 or v2: {seen:?}");
    assert!(
        (share - V1_SHARE).abs() <= TOLERANCE,
        "v1 share {share:.3} outside {V1_SHARE} ± {TOLERANCE} (5.1 sigma for n = {REQUESTS}): \
         v1 = {v1}, v2 = {v2}, all = {seen:?}; Envoy's split randomness is unseeded"
    );

    // The backends saw web's identity, forwarded by their own sidecar's mTLS.
    let xfcc = get(&mut client, "/admin/x").field("xfcc").unwrap_or_default();
    let web_uri = format!("URI=spiffe://{td}/ns/default/dc/dc1/svc/web");
    assert!(xfcc.contains(&web_uri), "x-forwarded-client-cert {xfcc:?} lacks {web_uri}");

    for (name, envoy) in &envoys {
        assert_nothing_rejected(name, envoy);
    }
}
