//! `/v1/status/*` and `/v1/operator/*` over in-process raft servers: leader and peers, the raft
//! configuration, peer removal and leadership transfer refusals and success, autopilot
//! configuration (CAS) and health, usage counts, and the keyring without encryption.

mod http_api_support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_api_support::{Cluster, WAIT, rpc_addr};
use serde_json::json;

#[tokio::test]
async fn status_reports_the_leaders_rpc_address_and_the_voters() {
    let c = Cluster::start(3).await;
    let leader_id = c.nodes[c.leader()].id();
    for i in 0..3 {
        // A follower learns the leader from its first heartbeat; until then it answers "".
        let deadline = tokio::time::Instant::now() + WAIT;
        let answer = loop {
            let r = c.call_on(i, Method::GET, "/v1/status/leader", Body::empty()).await;
            assert_eq!(r.status, StatusCode::OK);
            let answer = r.json();
            if answer != json!("") || tokio::time::Instant::now() > deadline {
                break answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(answer, json!(rpc_addr(leader_id)), "every server names the same leader");
    }
    let peers = c.get("/v1/status/peers").await.json();
    assert_eq!(peers, json!([rpc_addr(1), rpc_addr(2), rpc_addr(3)]));
    c.shutdown().await;
}

#[tokio::test]
async fn raft_configuration_names_servers_from_the_catalog() {
    let c = Cluster::start(1).await;
    let before = c.get("/v1/operator/raft/configuration").await.json();
    assert_eq!(before["Index"], 0, "Consul's GetConfiguration never sets an index");
    let local = proconsul_runtime_tokio::http::DEFAULT_NODE_NAME;
    assert_eq!(before["Servers"][0]["Node"], local, "unregistered: the agent's node name");
    assert_eq!(before["Servers"][0]["ID"], "1", "unregistered: the raft id");
    c.register_servers().await;
    let config = c.get("/v1/operator/raft/configuration").await.json();
    assert_eq!(
        config["Servers"],
        json!([{"ID": "00000000-0000-0000-0000-000000000001", "Node": "server1",
                "Address": rpc_addr(1), "Leader": true, "ProtocolVersion": "3", "Voter": true}])
    );
    c.shutdown().await;
}

#[tokio::test]
async fn removing_an_unknown_peer_or_the_last_voter_is_an_error() {
    let c = Cluster::start(1).await;
    let r = c.delete("/v1/operator/raft/peer").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Must specify either ?id"), "{}", r.text());
    let r = c.delete("/v1/operator/raft/peer?address=10.255.255.1:8300").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.text(), r#"address "10.255.255.1:8300" was not found in the Raft configuration"#);
    let r = c.delete("/v1/operator/raft/peer?id=00000000-0000-0000-0000-000000000099").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("was not found in the Raft configuration"), "{}", r.text());
    let r = c.delete(&format!("/v1/operator/raft/peer?address={}", rpc_addr(1))).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "raft refuses an empty voter set");
    assert_eq!(c.get("/v1/status/peers").await.json(), json!([rpc_addr(1)]));
    c.shutdown().await;
}

#[tokio::test]
async fn a_follower_can_be_removed_by_id() {
    let c = Cluster::start(3).await;
    let follower = c.nodes.iter().map(|n| n.id()).find(|id| *id != c.nodes[c.leader()].id());
    let follower = follower.unwrap();
    let r = c.delete(&format!("/v1/operator/raft/peer?id={follower}")).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());
    let peers = c.get("/v1/status/peers").await.json();
    assert_eq!(peers.as_array().unwrap().len(), 2);
    assert!(!peers.as_array().unwrap().contains(&json!(rpc_addr(follower))));
    c.shutdown().await;
}

#[tokio::test]
async fn leadership_transfer_needs_another_voter_and_moves_the_leader() {
    let single = Cluster::start(1).await;
    let r = single.call(Method::POST, "/v1/operator/raft/transfer-leader", Body::empty()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().starts_with("cannot find peer"), "{}", r.text());
    let uri = "/v1/operator/raft/transfer-leader?id=00000000-0000-0000-0000-000000000099";
    let r = single.call(Method::POST, uri, Body::empty()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    single.shutdown().await;

    let c = Cluster::start(3).await;
    let old = c.nodes[c.leader()].id();
    let target = if old == 3 { 2 } else { 3 };
    let uri = format!("/v1/operator/raft/transfer-leader?id={target}");
    let r = c.call(Method::POST, &uri, Body::empty()).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({"Success": true})), "{}", r.text());
    // The old leader hands over and steps down; which voter wins the following election is
    // the raft network's business (the in-memory one does not carry TransferLeader RPCs).
    let w = c.nodes[0].raft().wait(Some(WAIT));
    let moved = |m: &openraft::RaftMetrics<_>| m.current_leader.is_some_and(|l| l != old);
    w.metrics(moved, "new leader").await.expect("leadership moved");
    c.shutdown().await;
}

#[tokio::test]
async fn autopilot_configuration_reads_defaults_and_writes_with_cas() {
    let c = Cluster::start(1).await;
    let config = c.get("/v1/operator/autopilot/configuration").await.json();
    assert_eq!(config["CleanupDeadServers"], true);
    assert_eq!(config["LastContactThreshold"], "200ms");
    assert_eq!(config["ServerStabilizationTime"], "10s");
    assert_eq!(config["MaxTrailingLogs"], 250);
    let modify = config["ModifyIndex"].as_u64().unwrap();

    let uri = format!("/v1/operator/autopilot/configuration?cas={}", modify + 1000);
    let r = c.put_json(&uri, json!({"CleanupDeadServers": false})).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(false)));
    let r = c
        .put_json("/v1/operator/autopilot/configuration", json!({"CleanupDeadServers": false}))
        .await;
    assert_eq!(r.json(), json!(true));
    let updated = c.get("/v1/operator/autopilot/configuration").await;
    let body = updated.json();
    assert_eq!(body["CleanupDeadServers"], false);
    assert_eq!(body["LastContactThreshold"], "0s", "a PUT replaces the whole record");
    let modify = body["ModifyIndex"].as_u64().unwrap();
    assert_eq!(updated.index, Some(modify));
    let uri = format!("/v1/operator/autopilot/configuration?cas={modify}");
    let r =
        c.put_json(&uri, json!({"CleanupDeadServers": true, "LastContactThreshold": "1s"})).await;
    assert_eq!(r.json(), json!(true));
    let body = c.get("/v1/operator/autopilot/configuration").await.json();
    assert_eq!(
        (body["CleanupDeadServers"].clone(), body["LastContactThreshold"].clone()),
        (json!(true), json!("1s"))
    );

    let r = c.put_json("/v1/operator/autopilot/configuration", json!({"MinQuorum": "three"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Error parsing autopilot config: MinQuorum"), "{}", r.text());
    let r = c.put_json("/v1/operator/autopilot/configuration?cas=x", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    c.shutdown().await;
}

#[tokio::test]
async fn autopilot_health_reports_every_server_from_the_leader() {
    let c = Cluster::start(3).await;
    c.register_servers().await;
    let mut health = c.get("/v1/operator/autopilot/health").await;
    for _ in 0..50 {
        if health.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        health = c.get("/v1/operator/autopilot/health").await;
    }
    let body = health.json();
    assert_eq!(health.status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["Healthy"].clone(), body["FailureTolerance"].clone()),
        (json!(true), json!(1))
    );
    let servers = body["Servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3);
    let leaders: Vec<_> = servers.iter().filter(|s| s["Leader"] == true).collect();
    assert_eq!(leaders.len(), 1);
    assert!(servers.iter().all(|s| s["Healthy"] == true && s["Voter"] == true));
    assert!(servers.iter().any(|s| s["Name"] == "server1"));

    // A follower does not see replication progress: it names the leader instead.
    let follower = (0..3).find(|i| *i != c.leader()).unwrap();
    let r = c.call_on(follower, Method::GET, "/v1/operator/autopilot/health", Body::empty()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);

    // Isolate a follower: once its contact is older than the threshold it is unhealthy and
    // the report is a 429 with the same body shape.
    let lost = c.nodes[follower].id();
    c.mem.set_isolated(lost, true);
    let mut r = c.get("/v1/operator/autopilot/health").await;
    for _ in 0..50 {
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r = c.get("/v1/operator/autopilot/health").await;
    }
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    let body = r.json();
    assert_eq!(
        (body["Healthy"].clone(), body["FailureTolerance"].clone()),
        (json!(false), json!(0))
    );
    c.mem.set_isolated(lost, false);
    c.shutdown().await;
}

#[tokio::test]
async fn usage_counts_nodes_services_and_instances() {
    let c = Cluster::start(1).await;
    c.register_servers().await;
    c.register(json!({"Node": "n1", "Address": "10.0.0.1",
        "Service": {"Service": "web", "ID": "web1", "Port": 80}}))
        .await;
    c.register(json!({"Node": "n1", "Address": "10.0.0.1",
        "Service": {"Kind": "connect-proxy", "Service": "web-sidecar-proxy", "Port": 21000,
                    "Proxy": {"DestinationServiceName": "web"}}}))
        .await;
    let r = c.get("/v1/operator/usage").await;
    let body = r.json();
    let dc1 = &body["Usage"]["dc1"];
    assert_eq!((dc1["Nodes"].clone(), dc1["Services"].clone()), (json!(2), json!(3)));
    assert_eq!(dc1["ServiceInstances"], 3);
    assert_eq!(dc1["BillableServiceInstances"], 1);
    assert_eq!(dc1["ConnectServiceInstances"]["connect-proxy"], 1);
    assert_eq!(body["KnownLeader"], true);
    assert_eq!(body["Index"].as_u64(), r.index);
    let stale = c.get("/v1/operator/usage?global=true&stale=true").await.json();
    assert_eq!(stale["ConsistencyLevel"], "stale");
    assert!(stale["Usage"]["dc1"].is_object());
    c.shutdown().await;
}

#[tokio::test]
async fn keyring_operations_fail_without_gossip_encryption() {
    let c = Cluster::start(1).await;
    let key = json!({"Key": "8CooQRX1+VK7MsQQK6lx2LhumpSfQzUjE63HdAu2hgA="}).to_string();
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let r = c.call(method.clone(), "/v1/operator/keyring", key.clone()).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{method}");
        assert!(r.text().contains("Keyring is empty (encryption not enabled)"), "{}", r.text());
        assert!(r.text().contains("dc1 (LAN) error"), "{}", r.text());
    }
    c.shutdown().await;
}
