//! `/v1/agent/self`, `members`, `metrics`, `join`, `leave`, `force-leave`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openraft::async_runtime::WatchReceiver;
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
        "Member": member_json(&agent),
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

/// This agent as a gossip member.
fn member_json(agent: &Agent) -> Value {
    let o = &agent.opts;
    let role = if o.server { "consul" } else { "node" };
    let port = o.serf_lan_port.unwrap_or(0);
    json!({
        "Name": agent.node.node,
        "Addr": o.advertise.to_string(),
        "Port": port,
        "Tags": {
            "role": role,
            "dc": o.datacenter.as_str(),
            "id": agent.node.id,
            "port": o.server_port.to_string(),
            "build": CONSUL_COMPATIBLE_VERSION,
            "vsn": "2", "vsn_min": "2", "vsn_max": "3",
            "segment": "",
        },
        "Status": 1,
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

pub(super) async fn members(State(agent): State<Arc<Agent>>) -> Response {
    json(&vec![member_json(&agent)])
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
    State(_agent): State<Arc<Agent>>,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    Err(ApiError::Internal(format!("joining {address}: this agent has no gossip pool yet")))
}

pub(super) async fn force_leave(
    State(_agent): State<Arc<Agent>>,
    Path(node): Path<String>,
) -> Result<Response, ApiError> {
    Err(ApiError::Internal(format!("force-leave {node}: this agent has no gossip pool yet")))
}

/// Leaves gracefully and stops the agent, as `consul leave` does.
pub(super) async fn leave(State(agent): State<Arc<Agent>>) -> Response {
    let stopping = agent.clone();
    crate::agent::spawn(async move {
        // Let the response go out first.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stopping.shutdown().await;
    });
    StatusCode::OK.into_response()
}
