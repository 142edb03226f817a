//! `/v1/agent/self`, `members`, `metrics`, `join`, `leave`, `force-leave`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openraft::async_runtime::WatchReceiver;
use proconsul_core::gossip::Member;
use serde_json::{Value, json};

use crate::agent::{Agent, CONSUL_COMPATIBLE_VERSION};
use crate::http::{ApiError, json};

/// The raft leader's server RPC address, if one is known.
fn leader_addr(agent: &Agent) -> Option<String> {
    let raft = agent.raft.as_ref()?;
    let metrics = raft.raft().metrics().borrow_watched().clone();
    let leader = metrics.current_leader?;
    metrics.membership_config.membership().get_node(&leader).map(|n| n.addr.clone())
}

pub(super) async fn agent_self(State(agent): State<Arc<Agent>>) -> Response {
    let o = &agent.opts;
    let node = &agent.node;
    let addrs = agent.addrs();
    let leader = leader_addr(&agent);
    let grpc = addrs.grpc.map_or(-1, |a| i64::from(a.port()));
    json(&json!({
        "Config": {
            "Datacenter": o.datacenter.as_str(),
            "PrimaryDatacenter": o.datacenter.as_str(),
            "NodeName": node.node,
            "NodeID": node.id,
            "Server": o.server,
            "Revision": "proconsul",
            "Version": CONSUL_COMPATIBLE_VERSION,
            "BuildDate": "",
        },
        "DebugConfig": {
            "Datacenter": o.datacenter.as_str(),
            "NodeName": node.node,
            "ServerMode": o.server,
            "DevMode": o.dev,
            "BootstrapExpect": o.bootstrap_expect,
            "ClientAddrs": [o.client.to_string()],
            "BindAddr": o.bind.to_string(),
            "AdvertiseAddrLAN": o.advertise.to_string(),
            "DNSDomain": format!("{}.", o.domain),
            "HTTPPort": addrs.http.map_or(-1, |a| i64::from(a.port())),
            "GRPCPort": grpc,
            "DNSPort": addrs.dns.map_or(-1, |a| i64::from(a.port())),
            "ServerPort": addrs.server.map_or(-1, |a| i64::from(a.port())),
            "ProxyProtocol": "envoy",
        },
        "Coord": Value::Null,
        "Member": self_member(&agent),
        "Stats": {
            "agent": {"check_monitors": "0", "checks": agent.local().checks().len().to_string(),
                      "services": agent.local().services().len().to_string()},
            "consul": {
                "server": o.server.to_string(),
                "bootstrap": (o.bootstrap_expect == 1).to_string(),
                "known_datacenters": "1",
                "leader": (leader.is_some() && leader == addrs.server.map(|a| a.to_string())).to_string(),
                "leader_addr": leader.unwrap_or_default(),
            },
        },
        "Meta": node.meta,
        "xDS": {
            "SupportedProxies": {"envoy": ["1.40.0"]},
            "Port": grpc,
            "Ports": {"Plaintext": grpc, "TLS": -1},
        },
    }))
}

/// A gossip member in the shape of `/v1/agent/members`.
fn member_json(agent: &Agent, m: &Member) -> Value {
    let role = if m.is_server() { "consul" } else { "node" };
    let mut tags = serde_json::Map::new();
    for (k, v) in &m.tags {
        tags.insert(k.clone(), Value::String(v.clone()));
    }
    tags.insert("role".into(), role.into());
    tags.insert("dc".into(), m.datacenter.as_str().into());
    tags.insert("build".into(), CONSUL_COMPATIBLE_VERSION.into());
    tags.insert("vsn".into(), "2".into());
    tags.insert("vsn_min".into(), "2".into());
    tags.insert("vsn_max".into(), "3".into());
    tags.insert("segment".into(), "".into());
    if let Some(rpc) = m.rpc_addr() {
        tags.insert("port".into(), rpc.port().to_string().into());
    }
    let _ = agent;
    json!({
        "Name": m.name.as_str(),
        "Addr": m.addr.ip().to_string(),
        "Port": m.addr.port(),
        "Tags": tags,
        "Status": m.status.serf_code(),
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

/// This agent as a member.
fn self_member(agent: &Agent) -> Value {
    let members = agent.members();
    members
        .iter()
        .find(|m| m.name.as_str() == agent.opts.node_name)
        .map_or(Value::Null, |m| member_json(agent, m))
}

pub(super) async fn members(State(agent): State<Arc<Agent>>) -> Response {
    let out: Vec<Value> = agent.members().iter().map(|m| member_json(&agent, m)).collect();
    json(&out)
}

pub(super) async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    let local = agent.local();
    let gauge = |name: &str, value: usize| json!({"Name": name, "Value": value, "Labels": {}});
    let proxies = local.services().values().filter(|s| s.service.proxy.is_some()).count();
    json(&json!({
        "Timestamp": crate::agent::leaves::now_unix().0.to_string(),
        "Gauges": [
            gauge("consul.agent.local.services", local.services().len()),
            gauge("consul.agent.local.checks", local.checks().len()),
            gauge("consul.agent.local.proxies", proxies),
        ],
        "Points": [],
        "Counters": [],
        "Samples": [],
    }))
}

pub(super) async fn join(
    State(agent): State<Arc<Agent>>,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    if crate::agent::pool::join(&agent, std::slice::from_ref(&address)).await == 0 {
        return Err(ApiError::Internal(format!(
            "1 error occurred:\n\t* Failed to join {address}: no answer"
        )));
    }
    Ok(StatusCode::OK.into_response())
}

/// Leaves gracefully and stops the agent, as `consul leave` does.
pub(super) async fn leave(State(agent): State<Arc<Agent>>) -> Response {
    let stopping = agent.clone();
    crate::agent::spawn(async move {
        // Let the response go out first.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stopping.leave().await;
    });
    StatusCode::OK.into_response()
}
