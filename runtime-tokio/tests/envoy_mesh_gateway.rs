//! Mesh gateways with real Envoys: `web` (dc1) calls its upstream `api` in dc2, and the
//! mesh gateways route web's sidecar TLS by SNI without terminating it, so the mTLS session
//! is between the two sidecars:
//!
//! ```text
//!  remote: web sidecar ══ SNI api.default.dc2.internal.<td> ══► dc2 gateway ══► api sidecar ─► app
//!  local:  web sidecar ══► dc1 gateway (*.dc2…) ══► dc2 gateway (by SNI) ══► api sidecar ─► app
//!          └───── one TLS session: web's leaf ⇄ api's leaf (with dc2's intermediate) ─────┘
//! ```
//!
//! The gateways have no TLS anywhere (no `transport_socket`, no `ssl` stats) yet count the
//! connections on their clusters; `api`'s sidecar does the handshakes, sees web's SPIFFE ID
//! (forwarded to the app in `x-forwarded-client-cert`) and, under default deny, lets only
//! `web` in: denying `web` turns the same path into 403s.
//!
//! Gateways and instances have LAN and WAN addresses on loopback where only the one the
//! mode must pick is listening, so a wrong address choice fails the traffic.

mod envoy_mesh_support;
mod envoy_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_mesh_support::{
    HttpClient, Mesh, Pki, READY, Reply, assert_nothing_rejected, chain, dc, entries, intentions,
    svc, wait_live,
};
use envoy_support::{Envoy, envoy_binary, free_port};
use proconsul_core::config::{GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::CompiledChain;
use proconsul_core::ids::TrustDomain;
use proconsul_core::xds::generate::{generate, generate_mesh_gateway};
use proconsul_core::xds::snapshot::{
    Endpoint, GatewayService, HostPort, MeshGatewaySnapshot, Protocol, ProxySnapshot,
    UpstreamSnapshot,
};

/// `api`'s chain as web's sidecar sees it (compiled in dc2): http, with `mode` from
/// service-defaults.
fn api_chain(mode: &str, td: &TrustDomain) -> CompiledChain {
    let defaults = format!(
        "Kind = \"service-defaults\"\nName = \"api\"\nProtocol = \"http\"\n\
         MeshGateway = {{\n  Mode = \"{mode}\"\n}}\n"
    );
    chain(&entries(&[&defaults]), "api", "dc2", td)
}

fn gateway(
    datacenter: &str,
    listener: u16,
    services: BTreeMap<&str, u16>,
    remote: (&str, Endpoint),
    td: &TrustDomain,
) -> MeshGatewaySnapshot {
    MeshGatewaySnapshot {
        datacenter: dc(datacenter),
        trust_domain: td.clone(),
        listener_name: "default".into(),
        listener: HostPort::new("127.0.0.1", listener),
        connect_timeout: GoDuration::from_secs(5),
        services: services
            .into_iter()
            .map(|(name, port)| {
                let service = GatewayService {
                    connect_timeout: GoDuration::from_secs(5),
                    endpoints: vec![Endpoint::new("127.0.0.1", port)],
                    ..Default::default()
                };
                (svc(name), service)
            })
            .collect(),
        remote_datacenters: BTreeMap::from([(dc(remote.0), vec![remote.1])]),
    }
}

/// `client` with the upstream `api?dc=dc2` (its instance: api's sidecar) on `bind`.
fn with_api_upstream(
    client: &ProxySnapshot,
    mode: &str,
    api_public: u16,
    bind: u16,
) -> ProxySnapshot {
    let chain = api_chain(mode, &client.trust_domain);
    let target = chain.targets.keys().next().unwrap().clone();
    assert_eq!(target, "api.default.default.dc2");
    let mut client = client.clone();
    client.upstreams = vec![UpstreamSnapshot {
        destination: svc("api"),
        datacenter: Some(dc("dc2")),
        local_bind: HostPort::new("127.0.0.1", bind),
        mesh_gateway_mode: MeshGatewayMode::Default,
        chain: Arc::new(chain),
        endpoints: BTreeMap::from([(target, vec![Endpoint::new("127.0.0.1", api_public)])]),
    }];
    client
}

/// The HTTP RBAC filter's denials on an http `public_listener`.
const RBAC_DENIED: &str = "http.public_listener.rbac.denied";

fn counter(envoy: &Envoy, name: &str) -> u64 {
    envoy.stat(name).unwrap_or(0)
}

#[test]
fn mesh_gateways_route_sidecar_mtls_by_sni_without_terminating_it() {
    let Some(binary) = envoy_binary() else { return };
    let mut pki = Pki::new();
    let td = pki.td();
    let mesh = Mesh::start();
    let (gw1_port, gw2_port) = (free_port(), free_port());
    // Nothing listens here: a LAN address where the WAN one must be used, and vice versa.
    let (dead1, dead2) = (free_port(), free_port());

    // api in dc2: its leaf comes from dc2's CA (chain: leaf + dc2 intermediate), default
    // deny, only web allowed.
    let api_app = mesh.app("api");
    let api_public = free_port();
    let mut api = pki.sidecar("api", "dc2", Protocol::Http, api_public, api_app);
    api.intentions = intentions("api", "web", "allow");
    mesh.snapshots.set("api-sidecar-proxy", generate(&api));

    // web in dc1, upstream api?dc=dc2; dc1's gateways at their LAN address (mode local),
    // dc2's at their WAN address (mode remote).
    let mut web = pki.sidecar("web", "dc1", Protocol::Http, free_port(), free_port());
    web.gateways.local = vec![Endpoint::new("127.0.0.1", gw1_port).with_wan("127.0.0.1", dead1)];
    web.gateways
        .remote
        .insert(dc("dc2"), vec![Endpoint::new("127.0.0.1", dead2).with_wan("127.0.0.1", gw2_port)]);
    let web_bind = free_port();
    mesh.snapshots.set(
        "web-sidecar-proxy",
        generate(&with_api_upstream(&web, "remote", api_public, web_bind)),
    );

    // billing in dc1, the same upstream through the same dc2 gateway; no intention allows it.
    let mut billing = pki.sidecar("billing", "dc1", Protocol::Http, free_port(), free_port());
    billing.gateways = web.gateways.clone();
    let billing_bind = free_port();
    let billing_snap = with_api_upstream(&billing, "remote", api_public, billing_bind);
    mesh.snapshots.set("billing-sidecar-proxy", generate(&billing_snap));

    // The gateways: each knows its local sidecars and the other datacenter's gateway (WAN).
    let gw1 = gateway(
        "dc1",
        gw1_port,
        BTreeMap::from([("web", web.public_listener.port)]),
        ("dc2", Endpoint::new("127.0.0.1", dead2).with_wan("127.0.0.1", gw2_port)),
        &td,
    );
    let gw2 = gateway(
        "dc2",
        gw2_port,
        BTreeMap::from([("api", api_public)]),
        ("dc1", Endpoint::new("127.0.0.1", dead1).with_wan("127.0.0.1", gw1_port)),
        &td,
    );
    mesh.snapshots.set("mesh-gateway-dc1", generate_mesh_gateway(&gw1));
    mesh.snapshots.set("mesh-gateway-dc2", generate_mesh_gateway(&gw2));

    let api_env = mesh.envoy(&binary, "api-sidecar-proxy", "api", "dc2");
    let gw2_env = mesh.envoy(&binary, "mesh-gateway-dc2", "mesh-gateway", "dc2");
    let gw1_env = mesh.envoy(&binary, "mesh-gateway-dc1", "mesh-gateway", "dc1");
    let web_env = mesh.envoy(&binary, "web-sidecar-proxy", "web", "dc1");
    let billing_env = mesh.envoy(&binary, "billing-sidecar-proxy", "billing", "dc1");
    let envoys = [
        ("api sidecar", &api_env),
        ("dc2 gateway", &gw2_env),
        ("dc1 gateway", &gw1_env),
        ("web sidecar", &web_env),
        ("billing sidecar", &billing_env),
    ];
    for (name, envoy) in envoys {
        wait_live(name, envoy);
    }

    let api_sni = format!("api.default.dc2.internal.{td}");
    let dc2_cluster = format!("dc2.internal.{td}");
    let gw2_cx = format!("cluster.{api_sni}.upstream_cx_total");
    let gw1_cx = format!("cluster.{dc2_cluster}.upstream_cx_total");
    let api_handshakes = format!("listener.127.0.0.1_{api_public}.ssl.handshake");
    let web_handshakes = format!("cluster.{api_sni}.ssl.handshake");
    let web_uri = format!("URI=spiffe://{td}/ns/default/dc/dc1/svc/web");
    let api_uri = format!("By=spiffe://{td}/ns/default/dc/dc2/svc/api");
    let ok = |r: &Reply| r.status == 200 && r.field("app").as_deref() == Some("api");
    // A request on a fresh connection (so it opens a new TLS session through the gateways).
    let request = || HttpClient::new(web_bind).get("/hello");
    let check_reply = |mode: &str| {
        let reply = request().unwrap_or_else(|| panic!("{mode}: no response"));
        assert!(ok(&reply), "{mode}: {reply:?}");
        assert_eq!(reply.field("path").as_deref(), Some("/hello"), "{mode}: {reply:?}");
        let xfcc = reply.field("xfcc").unwrap_or_default();
        assert!(
            xfcc.contains(&web_uri) && xfcc.contains(&api_uri),
            "{mode}: api's sidecar must see web's certificate, not a gateway's: xfcc {xfcc:?}"
        );
    };

    // Mode remote: web's sidecar dials dc2's gateway (WAN), which routes by SNI.
    web_env.wait_until(READY, "traffic web → dc2 gateway → api", |_| {
        request().is_some_and(|r| ok(&r))
    });
    check_reply("remote");
    assert!(counter(&gw2_env, &gw2_cx) > 0, "dc2 gateway counted no connection on {gw2_cx}");
    assert_eq!(counter(&gw1_env, &gw1_cx), 0, "mode remote bypasses dc1's gateway");
    assert!(counter(&api_env, &api_handshakes) > 0, "api's sidecar terminates the TLS");
    assert!(counter(&web_env, &web_handshakes) > 0, "web's sidecar originates the TLS");
    for (name, gw, cluster) in
        [("dc1 gateway", &gw1_env, &dc2_cluster), ("dc2 gateway", &gw2_env, &api_sni)]
    {
        // Its whole configuration: the bootstrap and every listener and cluster we sent.
        let dump = gw.admin("/config_dump");
        assert!(!dump.contains("\"transport_socket\""), "{name} has a TLS context:\n{dump}");
        assert!(dump.contains("envoy.filters.listener.tls_inspector"), "{name} reads SNI");
        assert!(dump.contains(&format!("\"{cluster}\"")), "{name}: {cluster} in the dump");
        let ssl: Vec<_> = gw.admin("/stats?filter=\\.ssl\\.").lines().map(str::to_owned).collect();
        assert!(ssl.is_empty(), "{name} has TLS stats: {ssl:?}");
    }
    let ssl = api_env.admin("/stats?filter=\\.ssl\\.");
    assert!(ssl.contains(&api_handshakes), "the same stats filter finds api's TLS stats: {ssl}");
    let gw2_listener = format!("listener.127.0.0.1_{gw2_port}.downstream_cx_total");
    assert!(counter(&gw2_env, &gw2_listener) > 0, "{gw2_listener}");

    // Mode local: the same clusters, only the endpoints change: dc1's gateway (LAN), which
    // forwards *.dc2 to dc2's gateway (WAN), which routes by SNI to api's sidecar.
    let gw2_before = counter(&gw2_env, &gw2_cx);
    let handshakes_before = counter(&api_env, &api_handshakes);
    mesh.snapshots.set(
        "web-sidecar-proxy",
        generate(&with_api_upstream(&web, "local", api_public, web_bind)),
    );
    let via_gw1 = format!("{api_sni}::127.0.0.1:{gw1_port}::health_flags::healthy");
    web_env.wait_until(READY, &via_gw1, |e| e.admin("/clusters").contains(&via_gw1));
    web_env.wait_until(READY, "traffic web → dc1 gateway → dc2 gateway → api", |_| {
        request().is_some_and(|r| ok(&r)) && counter(&gw1_env, &gw1_cx) > 0
    });
    check_reply("local");
    assert!(counter(&gw2_env, &gw2_cx) > gw2_before, "dc2 gateway still routes by SNI");
    assert!(counter(&api_env, &api_handshakes) > handshakes_before, "api's sidecar handshakes");

    // Another caller through the same dc2 gateway: api's sidecar sees billing's identity,
    // which no intention allows, and refuses it (the gateway, having no certificate, cannot
    // stand in for either caller).
    let gw2_before = counter(&gw2_env, &gw2_cx);
    let billing_request = || HttpClient::new(billing_bind).get("/hello");
    billing_env.wait_until(READY, "billing → dc2 gateway → api: refused", |_| {
        billing_request().is_some_and(|r| r.status == 403)
    });
    let reply = billing_request().expect("billing: an answer from api's sidecar");
    assert_eq!((reply.status, reply.body.as_str()), (403, "RBAC: access denied"), "{reply:?}");
    assert!(counter(&api_env, RBAC_DENIED) > 0, "api's sidecar counts the denial");
    assert!(counter(&gw2_env, &gw2_cx) > gw2_before, "billing's TLS went through dc2's gateway");
    check_reply("web after billing");

    for (name, envoy) in envoys {
        assert_nothing_rejected(name, envoy);
    }
}
