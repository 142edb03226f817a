//! `/v1/agent/self`, `members`, `metrics`, `join`, `leave`, `force-leave`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openraft::async_runtime::WatchReceiver;
use proconsul_core::gossip::Member;
use serde_json::{Value, json};

use crate::agent::{Agent, CONSUL_COMPATIBLE_VERSION};
use crate::http::{ApiError, Params, json};

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

/// `?wan` lists the WAN pool. Proconsul has no WAN gossip yet: a server reports the
/// servers of its own datacenter under their WAN names (`node.dc`), which is what Consul's
/// WAN pool holds for a single datacenter; a client agent has no WAN pool (empty list).
pub(super) async fn members(
    State(agent): State<Arc<Agent>>,
    q: Query<Vec<(String, String)>>,
) -> Response {
    let wan = Params::from_query(q).has("wan");
    let members = agent.members();
    let out: Vec<Value> = if wan {
        if !agent.opts.server {
            return json(&Vec::<Value>::new());
        }
        members
            .iter()
            .filter(|m| m.is_server())
            .map(|m| {
                let mut v = member_json(&agent, m);
                v["Name"] = Value::String(format!("{}.{}", m.name.as_str(), m.datacenter.as_str()));
                if let Some(port) = agent.opts.serf_wan_port {
                    v["Port"] = Value::from(port);
                }
                v
            })
            .collect()
    } else {
        members.iter().map(|m| member_json(&agent, m)).collect()
    };
    json(&out)
}

/// `PUT /v1/agent/force-leave/:node`: a member that gossip knows is accepted (a failed one
/// is reaped by the leader's reconciliation); an unknown name is an error, as in Consul.
pub(super) async fn force_leave(
    State(agent): State<Arc<Agent>>,
    Path(node): Path<String>,
) -> Result<Response, ApiError> {
    if agent.members().iter().any(|m| m.name.as_str() == node) {
        return Ok(StatusCode::OK.into_response());
    }
    Err(ApiError::Internal(format!("agent: No node found with name '{node}'")))
}

/// `GET /v1/agent/monitor?loglevel=...`: the level is checked as Consul checks it; the log
/// itself is not streamed over the API (it goes to the agent's stderr).
pub(super) async fn monitor(q: Query<Vec<(String, String)>>) -> Result<Response, ApiError> {
    let params = Params::from_query(q);
    let level = params.get("loglevel").unwrap_or("info").to_ascii_lowercase();
    if !matches!(level.as_str(), "trace" | "debug" | "info" | "warn" | "error") {
        return Err(ApiError::BadRequest(format!("Unknown log level: {level}")));
    }
    Err(ApiError::Internal(
        "log streaming over the API is not supported: read the agent's stderr".into(),
    ))
}

/// `PUT /v1/agent/token/:type`: ACLs are disabled, so Consul's 401 `ACL support disabled`.
pub(super) async fn token(Path(_kind): Path<String>) -> Response {
    (StatusCode::UNAUTHORIZED, "ACL support disabled").into_response()
}

/// `PUT /v1/agent/reload`: re-reads the config files the agent started with and registers
/// the services and checks they define (existing ones are updated in place).
pub(super) async fn reload(State(agent): State<Arc<Agent>>) -> Result<Response, ApiError> {
    let opts = agent.reload_options().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    for def in opts.services {
        agent.register_service(def, false).await?;
    }
    for def in &opts.checks {
        agent.register_check(def).await?;
    }
    agent.sync_after_change().await;
    Ok(StatusCode::OK.into_response())
}

/// `GET /`: what Consul's agent answers there without its UI.
pub(super) async fn index() -> Response {
    (
        StatusCode::OK,
        "Proconsul Agent: UI disabled. Use the HTTP API under /v1/ or the proconsul CLI.",
    )
        .into_response()
}

pub(super) async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    let local = agent.local();
    let gauge = |name: &str, value: usize| json!({"Name": name, "Value": value, "Labels": {}});
    let proxies = local.services().values().filter(|s| s.service.proxy.is_some()).count();
    json(&json!({
        "Timestamp": agent.options().env.clock.unix().0.to_string(),
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
