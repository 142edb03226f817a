//! The seeds' single-datacenter walk through a real `proconsul agent -dev` and real Envoy:
//! dashboard → its sidecar (upstream `counting` on 9191) → mTLS → counting's sidecar →
//! counting. Services are registered through the agent API with `sidecar_service`, the
//! bootstraps come from `proconsul connect envoy -bootstrap -sidecar-for`, and everything
//! else (leaves, roots, endpoints, intentions) reaches Envoy through the agent's proxy
//! manager and ADS. A deny intention written through the API cuts the traffic, an allow
//! restores it, without restarting anything.

mod agent_support;
mod envoy_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use agent_support::{AgentProcess, free_port};
use envoy_support::{Envoy, envoy_binary};
use serde_json::json;

/// The upstream port of the seeds' dashboard.
const COUNTING_UPSTREAM_PORT: u16 = 9191;

/// A TCP echo app standing in for `counting`.
fn echo_app() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    #[allow(clippy::disallowed_methods, reason = "the test hosts the echo app")]
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            #[allow(clippy::disallowed_methods, reason = "one thread per echo connection")]
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Sends a line through the dashboard's upstream listener; true when the echo comes back.
fn through_mesh() -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", COUNTING_UPSTREAM_PORT)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if s.write_all(b"count\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).is_ok() && &buf == b"count\n"
}

/// The bootstrap `proconsul connect envoy -bootstrap -sidecar-for SERVICE` prints.
fn bootstrap_for(service: &str, grpc_port: u16) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_proconsul"))
        .args(["connect", "envoy", "-bootstrap", "-sidecar-for", service])
        .args(["-grpc-addr", &format!("127.0.0.1:{grpc_port}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn intention(agent: &AgentProcess, action: &str) {
    let entry = json!({
        "Kind": "service-intentions", "Name": "counting",
        "Sources": [{"Name": "dashboard", "Action": action}]
    });
    let r = agent.http("PUT", "/v1/config", &entry.to_string());
    assert_eq!((r.status, r.body.trim()), (200, "true"), "{r:?}");
}

#[test]
fn dashboard_reaches_counting_through_envoy_sidecars_until_denied() {
    let Some(envoy) = envoy_binary() else { return };
    let counting_app = echo_app();
    let agent = AgentProcess::dev("walk", &[]);
    let (counting_side, dashboard_side) = (free_port(), free_port());
    let register = |def: serde_json::Value| {
        let r = agent.http("PUT", "/v1/agent/service/register", &def.to_string());
        assert_eq!(r.status, 200, "{r:?}");
    };
    register(json!({
        "Name": "counting", "Port": counting_app,
        "Connect": {"SidecarService": {"Port": counting_side}}
    }));
    register(json!({
        "Name": "dashboard", "Port": free_port(),
        "Connect": {"SidecarService": {"Port": dashboard_side, "Proxy": {"Upstreams": [
            {"DestinationName": "counting", "LocalBindPort": COUNTING_UPSTREAM_PORT}
        ]}}}
    }));
    let services = agent.http("GET", "/v1/agent/services", "").json();
    assert_eq!(services["counting-sidecar-proxy"]["Proxy"]["DestinationServiceName"], "counting");

    let grpc = agent.ports.grpc;
    let counting_envoy = Envoy::start(&envoy, bootstrap_for("counting", grpc));
    let dashboard_envoy = Envoy::start(&envoy, bootstrap_for("dashboard", grpc));

    // The sidecars' listening checks pass once Envoy listens (10 s interval), then the
    // endpoint is healthy and the walk goes through.
    dashboard_envoy.wait_until(
        Duration::from_secs(60),
        "dashboard → counting via the mesh",
        |_| through_mesh(),
    );
    let health = agent.http("GET", "/v1/health/connect/counting?passing", "").json();
    assert_eq!(health.as_array().map(Vec::len), Some(1), "{health}");

    intention(&agent, "deny");
    counting_envoy.wait_until(Duration::from_secs(20), "the deny intention to take effect", |e| {
        !through_mesh() && e.stat("connect_authz.rbac.denied").unwrap_or(0) > 0
    });
    let check = agent.http("POST", "/v1/agent/connect/authorize", &json!({
        "Target": "counting",
        "ClientCertURI": format!(
            "spiffe://{}/ns/default/dc/dc1/svc/dashboard",
            agent.http("GET", "/v1/agent/connect/ca/roots", "").json()["TrustDomain"].as_str().unwrap()
        ),
    }).to_string()).json();
    assert_eq!(check["Authorized"], false, "{check}");

    intention(&agent, "allow");
    dashboard_envoy
        .wait_until(Duration::from_secs(20), "traffic again after allowing", |_| through_mesh());
    for e in [&counting_envoy, &dashboard_envoy] {
        assert_eq!(e.stat("listener_manager.lds.update_rejected"), Some(0), "{}", e.log());
        assert_eq!(e.stat("cluster_manager.cds.update_rejected"), Some(0), "{}", e.log());
    }
}
