//! A client agent (no `-server`) between its proxies and the servers. Its sidecars are
//! configured from its cache; when the only server is killed, the client keeps answering
//! `/v1/agent/connect/authorize` and Envoy keeps carrying traffic; when the server comes back
//! from its data directory, the client catches up: a deny intention written after the
//! restart reaches the client's Envoy.

mod agent_support;
mod envoy_support;

use std::time::Duration;

use agent_support::{AgentProcess, Ports, echo_app, echoes, free_port, sidecar_bootstrap};
use envoy_support::{Envoy, envoy_binary};
use serde_json::json;

fn args(base: &[&str], dir: &std::path::Path, ports: &Ports) -> Vec<String> {
    let mut a: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    a.extend(["-data-dir".into(), dir.display().to_string()]);
    a.extend(ports.args());
    a
}

fn authorized(client: &AgentProcess, trust_domain: &str) -> Option<bool> {
    let body = json!({
        "Target": "api",
        "ClientCertURI": format!("spiffe://{trust_domain}/ns/default/dc/dc1/svc/web"),
    });
    let r = client.try_http("POST", "/v1/agent/connect/authorize", &body.to_string())?;
    (r.status == 200).then(|| r.json()["Authorized"].as_bool()).flatten()
}

#[test]
fn client_agent_serves_from_its_cache_while_the_server_is_down_and_catches_up() {
    let Some(envoy) = envoy_binary() else { return };
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let (sp, cp) = (Ports::free(), Ports::free());
    let server_args = args(
        &["agent", "-server", "-bootstrap-expect", "1", "-bind", "127.0.0.1", "-node", "server-1"],
        server_dir.path(),
        &sp,
    );
    let mut server = AgentProcess::spawn(server_args.clone(), sp, None);
    let mut client_args =
        args(&["agent", "-bind", "127.0.0.1", "-node", "client-1"], client_dir.path(), &cp);
    client_args.extend(["-retry-join".into(), format!("127.0.0.1:{}", sp.serf_lan)]);
    let client = AgentProcess::spawn(client_args, cp, None);

    let app = echo_app();
    let (api_side, web_side, upstream) = (free_port(), free_port(), free_port());
    for def in [
        json!({"Name": "api", "Port": app, "Connect": {"SidecarService": {"Port": api_side}}}),
        json!({"Name": "web", "Port": free_port(), "Connect": {"SidecarService": {"Port": web_side,
            "Proxy": {"Upstreams": [{"DestinationName": "api", "LocalBindPort": upstream}]}}}}),
    ] {
        let r = client.http("PUT", "/v1/agent/service/register", &def.to_string());
        assert_eq!(r.status, 200, "{r:?}");
    }
    // The client's registrations reach the server's catalog.
    server.wait_until(Duration::from_secs(20), "the client's services in the catalog", |s| {
        s.try_http("GET", "/v1/catalog/service/api", "")
            .is_some_and(|r| r.body.contains("client-1"))
    });
    // The client's cache holds the roots once its first long-poll answer is in.
    client.wait_until(Duration::from_secs(20), "the CA roots in the client's cache", |c| {
        c.try_http("GET", "/v1/agent/connect/ca/roots", "").is_some_and(|r| r.status == 200)
    });
    let trust_domain = client.http("GET", "/v1/agent/connect/ca/roots", "").json()["TrustDomain"]
        .as_str()
        .unwrap()
        .to_owned();

    let api_envoy = Envoy::start(&envoy, sidecar_bootstrap("api", cp.grpc));
    let web_envoy = Envoy::start(&envoy, sidecar_bootstrap("web", cp.grpc));
    web_envoy.wait_until(Duration::from_secs(60), "web → api via the client's proxies", |_| {
        echoes(upstream)
    });
    assert_eq!(authorized(&client, &trust_domain), Some(true));

    // The server goes away: the client still authorizes and its Envoys keep working.
    server.kill();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(authorized(&client, &trust_domain), Some(true), "{}", client.log());
    assert!(echoes(upstream), "traffic through the mesh while the server is down");
    let api_config = api_envoy.admin("/config_dump?resource=dynamic_listeners");
    assert!(api_config.contains("public_listener"), "api's Envoy keeps its listener");

    // Back from disk; a deny written now reaches the client's Envoy.
    let server = AgentProcess::spawn(server_args, sp, None);
    let entry = json!({"Kind": "service-intentions", "Name": "api",
        "Sources": [{"Name": "web", "Action": "deny"}]});
    server.wait_until(Duration::from_secs(20), "the intention written", |s| {
        s.try_http("PUT", "/v1/config", &entry.to_string()).is_some_and(|r| r.status == 200)
    });
    api_envoy.wait_until(Duration::from_secs(60), "the client to catch up with the deny", |e| {
        !echoes(upstream) && e.stat("connect_authz.rbac.denied").unwrap_or(0) > 0
    });
    assert_eq!(authorized(&client, &trust_domain), Some(false));
}
