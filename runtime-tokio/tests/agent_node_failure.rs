//! A client agent's node fails (SIGKILL): gossip declares it failed, the leader turns its
//! `serfHealth` critical, and its instances leave `?passing` health results (which is what
//! every proxy's endpoints are built from). A graceful `leave` instead removes the node.

mod agent_support;

use std::time::Duration;

use agent_support::{AgentProcess, Ports};
use serde_json::json;

fn client(name: &str, server_serf: u16) -> AgentProcess {
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::free();
    let mut args: Vec<String> =
        ["agent", "-bind", "127.0.0.1", "-node", name].iter().map(|s| s.to_string()).collect();
    args.extend(["-data-dir".into(), dir.path().display().to_string()]);
    args.extend(["-retry-join".into(), format!("127.0.0.1:{server_serf}")]);
    args.extend(ports.args());
    AgentProcess::spawn(args, ports, Some(dir))
}

fn passing(server: &AgentProcess, service: &str) -> usize {
    server
        .try_http("GET", &format!("/v1/health/service/{service}?passing"), "")
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(usize::MAX)
}

#[test]
fn a_failed_node_turns_serf_health_critical_and_its_instances_stop_passing() {
    let server = AgentProcess::dev("server-1", &[]);
    let mut web = client("web-node", server.ports.serf_lan);
    let r = web.http(
        "PUT",
        "/v1/agent/service/register",
        &json!({"Name": "web", "Port": 80}).to_string(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    server.wait_until(Duration::from_secs(20), "web passing on the server", |s| {
        passing(s, "web") == 1
    });

    web.kill();
    // LAN failure detection (probe 1 s, suspicion x4) plus the leader's reconcile.
    server.wait_until(Duration::from_secs(30), "web to stop passing", |s| passing(s, "web") == 0);
    let checks = server.http("GET", "/v1/health/node/web-node", "").json();
    let serf = checks.as_array().unwrap().iter().find(|c| c["CheckID"] == "serfHealth").cloned();
    assert_eq!(serf.as_ref().map(|c| c["Status"].clone()), Some(json!("critical")), "{checks}");
    let members = server.http("GET", "/v1/agent/members", "").json();
    let status = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "web-node")
        .map(|m| m["Status"].clone());
    assert_eq!(status, Some(json!(4)), "failed is serf status 4: {members}");

    // A graceful leave removes the node from the catalog altogether.
    let db = client("db-node", server.ports.serf_lan);
    let r = db.http(
        "PUT",
        "/v1/agent/service/register",
        &json!({"Name": "db", "Port": 5432}).to_string(),
    );
    assert_eq!(r.status, 200);
    server.wait_until(Duration::from_secs(20), "db passing", |s| passing(s, "db") == 1);
    assert_eq!(db.http("PUT", "/v1/agent/leave", "").status, 200);
    server.wait_until(Duration::from_secs(20), "db-node deregistered", |s| {
        s.try_http("GET", "/v1/catalog/node/db-node", "")
            .is_some_and(|r| r.status == 404 || r.body.trim() == "null")
    });
}
