//! The seeds' single-datacenter walk through a real `proconsul agent -dev` and real Envoy:
//! dashboard → its sidecar (upstream `counting` on 9191) → mTLS → counting's sidecar →
//! counting. Services are registered through the agent API with `sidecar_service`, the
//! bootstraps come from `proconsul connect envoy -bootstrap -sidecar-for`, and everything
//! else (leaves, roots, endpoints, intentions) reaches Envoy through the agent's proxy
//! manager and ADS. A deny intention written through the API cuts the traffic, an allow
//! restores it, without restarting anything.

mod agent_support;
mod envoy_support;

use std::time::Duration;

use agent_support::{AgentProcess, echo_app, echoes, free_port, sidecar_bootstrap};
use envoy_support::{Envoy, envoy_binary};
use serde_json::json;

/// The upstream port of the seeds' dashboard.
const COUNTING_UPSTREAM_PORT: u16 = 9191;

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
    let counting_envoy = Envoy::start(&envoy, sidecar_bootstrap("counting", grpc));
    let dashboard_envoy = Envoy::start(&envoy, sidecar_bootstrap("dashboard", grpc));

    // The sidecars' listening checks pass once Envoy listens (10 s interval), then the
    // endpoint is healthy and the walk goes through.
    dashboard_envoy.wait_until(
        Duration::from_secs(60),
        "dashboard → counting via the mesh",
        |_| echoes(COUNTING_UPSTREAM_PORT),
    );
    let health = agent.http("GET", "/v1/health/connect/counting?passing", "").json();
    assert_eq!(health.as_array().map(Vec::len), Some(1), "{health}");

    intention(&agent, "deny");
    counting_envoy.wait_until(Duration::from_secs(20), "the deny intention to take effect", |e| {
        !echoes(COUNTING_UPSTREAM_PORT) && e.stat("connect_authz.rbac.denied").unwrap_or(0) > 0
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
    dashboard_envoy.wait_until(Duration::from_secs(20), "traffic again after allowing", |_| {
        echoes(COUNTING_UPSTREAM_PORT)
    });
    for e in [&counting_envoy, &dashboard_envoy] {
        assert_eq!(e.stat("listener_manager.lds.update_rejected"), Some(0), "{}", e.log());
        assert_eq!(e.stat("cluster_manager.cds.update_rejected"), Some(0), "{}", e.log());
    }
}
