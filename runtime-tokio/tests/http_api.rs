//! The HTTP API slice over a single-node raft (tempfile redb), driven with
//! `tower::ServiceExt::oneshot`: catalog and health, KV with CAS/recurse/keys, config entries
//! (both casings, graph refusals), `X-Consul-Index` and blocking queries.

mod raft_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use openraft::BasicNode;
use proconsul_runtime_tokio::http::router;
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use raft_support::{WAIT, start};
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Api {
    app: Router,
    node: Arc<RaftNode>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    index: Option<u64>,
    known_leader: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemRouter::new();
    let node = start(1, &dir.path().join("raft.redb"), &mem).await;
    let members = BTreeMap::from([(node.id(), BasicNode::default())]);
    node.raft().initialize(members).await.expect("initialize");
    node.raft().wait(Some(WAIT)).current_leader(node.id(), "self-elected").await.expect("leader");
    let node = Arc::new(node);
    Api { app: router(node.clone(), 7), node, _dir: dir }
}

impl Api {
    async fn call(&self, method: Method, uri: &str, body: impl Into<Body>) -> Reply {
        let req = Request::builder().method(method).uri(uri).body(body.into()).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let index = header("X-Consul-Index").map(|v| v.parse().unwrap());
        let known_leader = header("X-Consul-KnownLeader");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, index, known_leader, body }
    }
    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, Body::empty()).await
    }
    async fn put(&self, uri: &str, body: impl Into<Body>) -> Reply {
        self.call(Method::PUT, uri, body).await
    }
    async fn put_json(&self, uri: &str, body: Value) -> Reply {
        self.put(uri, body.to_string()).await
    }
    async fn delete(&self, uri: &str) -> Reply {
        self.call(Method::DELETE, uri, Body::empty()).await
    }
    async fn shutdown(self) {
        self.node.shutdown().await.unwrap();
    }
}

fn register_body(node: &str, addr: &str, check_status: &str) -> Value {
    json!({
        "Node": node,
        "Address": addr,
        "NodeMeta": {"rack": "r1"},
        "Service": {"ID": "web1", "Service": "web", "Tags": ["v1"], "Port": 8080},
        "Check": {"CheckID": "web-alive", "Name": "web alive", "Status": check_status,
                  "ServiceID": "web1"}
    })
}

fn node_names(rows: &Value) -> Vec<String> {
    rows.as_array().unwrap().iter().map(|r| r["Node"]["Node"].as_str().unwrap().into()).collect()
}

#[tokio::test]
async fn registered_instances_show_in_catalog_and_health_with_passing_filter() {
    let api = api().await;
    let r = api.put_json("/v1/catalog/register", register_body("n1", "10.0.0.1", "passing")).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());
    let r = api.put_json("/v1/catalog/register", register_body("n2", "10.0.0.2", "critical")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let services = api.get("/v1/catalog/services").await;
    assert_eq!(services.status, StatusCode::OK);
    assert_eq!(services.json(), json!({"web": ["v1"]}));
    assert!(services.index.unwrap() >= 1);
    assert_eq!(services.known_leader.as_deref(), Some("true"));

    let all = api.get("/v1/health/service/web").await;
    assert_eq!(node_names(&all.json()), ["n1", "n2"]);
    let row = &all.json()[0];
    assert_eq!(row["Node"]["Address"], "10.0.0.1");
    assert_eq!(row["Node"]["Meta"]["rack"], "r1");
    assert_eq!(row["Service"]["Port"], 8080);
    assert_eq!(row["Checks"][0]["CheckID"], "web-alive");
    assert_eq!(row["Checks"][0]["Status"], "passing");

    for q in ["?passing", "?passing=true", "?passing=1"] {
        let passing = api.get(&format!("/v1/health/service/web{q}")).await;
        assert_eq!(node_names(&passing.json()), ["n1"], "{q}");
    }
    let not_filtered = api.get("/v1/health/service/web?passing=false").await;
    assert_eq!(node_names(&not_filtered.json()), ["n1", "n2"]);
    let bad = api.get("/v1/health/service/web?passing=bogus").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.text(), "Invalid value for ?passing");
    let none = api.get("/v1/health/service/nope").await;
    assert_eq!((none.status, none.json()), (StatusCode::OK, json!([])));

    // A sidecar makes web reachable through /v1/health/connect.
    assert!(api.get("/v1/health/connect/web").await.json().as_array().unwrap().is_empty());
    let sidecar = json!({
        "Node": "n1", "Address": "10.0.0.1",
        "Service": {"Kind": "connect-proxy", "ID": "web1-sidecar-proxy",
                    "Service": "web-sidecar-proxy", "Port": 21000,
                    "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": "web1",
                              "LocalServicePort": 8080}}
    });
    let r = api.put_json("/v1/catalog/register", sidecar).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let connect = api.get("/v1/health/connect/web").await.json();
    assert_eq!(node_names(&connect), ["n1"]);
    assert_eq!(connect[0]["Service"]["Kind"], "connect-proxy");
    assert_eq!(connect[0]["Service"]["Port"], 21000);

    // Deregistering n2's instance leaves n1's.
    let r =
        api.put_json("/v1/catalog/deregister", json!({"Node": "n2", "ServiceID": "web1"})).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)));
    assert_eq!(node_names(&api.get("/v1/health/service/web").await.json()), ["n1"]);

    // Decode errors are 400; a registration the state machine refuses is a 500.
    let r = api.put("/v1/catalog/register", "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Request decoding failed"), "{}", r.text());
    let r = api.put_json("/v1/catalog/register", json!({"Node": "n3"})).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "Must provide address")
    );
    api.shutdown().await;
}

#[tokio::test]
async fn kv_crud_with_cas_recurse_keys_and_raw() {
    let api = api().await;
    let r = api.put("/v1/kv/app/b", "1").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)));
    let got = api.get("/v1/kv/app/b").await;
    assert_eq!(got.status, StatusCode::OK);
    let entry = got.json()[0].clone();
    assert_eq!(entry["Key"], "app/b");
    assert_eq!(entry["Value"], "MQ==", "values are base64 in JSON");
    assert_eq!(entry["Flags"], 0);
    let modify = entry["ModifyIndex"].as_u64().unwrap();
    assert_eq!(got.index, Some(modify));
    let raw = api.get("/v1/kv/app/b?raw").await;
    assert_eq!((raw.status, raw.body.as_slice()), (StatusCode::OK, b"1".as_slice()));

    // CAS: 0 writes only an absent key; N only at ModifyIndex N.
    assert_eq!(api.put("/v1/kv/app/b?cas=0", "x").await.json(), json!(false));
    assert_eq!(
        api.put(&format!("/v1/kv/app/b?cas={}", modify + 100), "x").await.json(),
        json!(false)
    );
    let r = api.put(&format!("/v1/kv/app/b?cas={modify}&flags=42"), "2").await;
    assert_eq!(r.json(), json!(true));
    let entry = api.get("/v1/kv/app/b").await.json()[0].clone();
    assert_eq!((entry["Value"].as_str(), entry["Flags"].as_u64()), (Some("Mg=="), Some(42)));
    assert_eq!(api.put("/v1/kv/app/new?cas=0", "").await.json(), json!(true));
    assert_eq!(api.get("/v1/kv/app/new").await.json()[0]["Value"], Value::Null);

    api.put("/v1/kv/app/c", "3").await;
    api.put("/v1/kv/app/d/e", "4").await;
    api.put("/v1/kv/other", "5").await;
    let listed = api.get("/v1/kv/app/?recurse").await.json();
    let keys: Vec<&str> =
        listed.as_array().unwrap().iter().map(|e| e["Key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["app/b", "app/c", "app/d/e", "app/new"]);
    let keys = api.get("/v1/kv/app/?keys&separator=/").await.json();
    assert_eq!(keys, json!(["app/b", "app/c", "app/d/", "app/new"]));
    let keys = api.get("/v1/kv/?keys").await.json();
    assert_eq!(keys, json!(["app/b", "app/c", "app/d/e", "app/new", "other"]));

    // Deletes: CAS mismatch refuses; a miss is 404 that still carries the index.
    assert_eq!(api.delete("/v1/kv/app/c?cas=1").await.json(), json!(false));
    assert_eq!(api.delete("/v1/kv/app/c").await.json(), json!(true));
    let miss = api.get("/v1/kv/app/c").await;
    assert_eq!(miss.status, StatusCode::NOT_FOUND);
    assert!(miss.index.unwrap() >= 1);
    assert_eq!(api.delete("/v1/kv/app?recurse").await.json(), json!(true));
    assert_eq!(api.get("/v1/kv/app/?recurse").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/v1/kv/app/?keys").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/v1/kv/other").await.status, StatusCode::OK);

    assert_eq!(api.put("/v1/kv/", "x").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.delete("/v1/kv/").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.put("/v1/kv/k?cas=abc", "x").await.status, StatusCode::BAD_REQUEST);
    api.shutdown().await;
}

#[tokio::test]
async fn config_entries_write_read_list_delete_and_graph_refusal() {
    let api = api().await;
    let web = json!({"Kind": "service-defaults", "Name": "web", "Protocol": "HTTP"});
    let r = api.put_json("/v1/config", web).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());
    let api_entry = json!({"kind": "service-defaults", "name": "api", "protocol": "tcp"});
    let r = api.put_json("/v1/config", api_entry).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());

    let got = api.get("/v1/config/service-defaults/web").await;
    assert_eq!(got.status, StatusCode::OK);
    let e = got.json();
    assert_eq!((e["Kind"].as_str(), e["Name"].as_str()), (Some("service-defaults"), Some("web")));
    assert_eq!(e["Protocol"], "http", "normalized on write");
    let modify = e["ModifyIndex"].as_u64().unwrap();
    assert!(e["CreateIndex"].as_u64().unwrap() >= 1);
    assert_eq!(got.index, Some(modify));

    let list = api.get("/v1/config/service-defaults").await.json();
    let names: Vec<&str> =
        list.as_array().unwrap().iter().map(|e| e["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(api.get("/v1/config/service-router").await.json(), json!([]));

    // CAS.
    let update = json!({"Kind": "service-defaults", "Name": "web", "Protocol": "grpc"});
    assert_eq!(api.put_json("/v1/config?cas=0", update.clone()).await.json(), json!(false));
    assert_eq!(api.put_json(&format!("/v1/config?cas={modify}"), update).await.json(), json!(true));
    assert_eq!(api.get("/v1/config/service-defaults/web").await.json()["Protocol"], "grpc");

    // The graph refuses a router on a tcp service: 500 with Consul's message.
    let router_entry = json!({"Kind": "service-router", "Name": "api", "Routes": []});
    let r = api.put_json("/v1/config", router_entry).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("does not permit advanced routing"), "{}", r.text());
    assert_eq!(api.get("/v1/config/service-router/api").await.status, StatusCode::NOT_FOUND);

    // Decode errors are 400.
    for bad in ["{", r#"{"Name": "x"}"#, r#"{"Kind": "service-defaults", "Name": "x", "Bogus": 1}"#]
    {
        let r = api.put("/v1/config", bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.text().starts_with("Request decoding failed: "), "{}", r.text());
    }

    // Delete: `{}` without CAS, a boolean with it.
    assert_eq!(api.delete("/v1/config/service-defaults/web?cas=1").await.json(), json!(false));
    let r = api.delete("/v1/config/service-defaults/api").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    let miss = api.get("/v1/config/service-defaults/api").await;
    assert_eq!(miss.status, StatusCode::NOT_FOUND);
    assert_eq!(miss.text(), r#"Config entry not found for "service-defaults" / "api""#);
    assert!(miss.index.unwrap() >= 1);
    assert_eq!(api.get("/v1/config/bogus-kind").await.status, StatusCode::BAD_REQUEST);
    api.shutdown().await;
}

#[tokio::test]
async fn consul_index_is_present_never_zero_and_monotonic() {
    let api = api().await;
    let empty = api.get("/v1/catalog/services").await;
    assert_eq!(empty.json(), json!({}));
    assert!(empty.index.unwrap() >= 1, "X-Consul-Index is never 0");
    let mut last = 0;
    for i in 0..4 {
        api.put(&format!("/v1/kv/mono/{i}"), "v").await;
        let r = api.get("/v1/kv/mono/?recurse").await;
        let index = r.index.expect("X-Consul-Index on every read");
        assert!(index > last, "index went from {last} to {index}");
        last = index;
    }
    let stale = api.get("/v1/kv/mono/?recurse&stale").await;
    assert_eq!(stale.index, Some(last));
    let conflict = api.get("/v1/kv/mono/?stale&consistent").await;
    assert_eq!(conflict.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/v1/nope").await.status, StatusCode::NOT_FOUND);
    api.shutdown().await;
}

#[tokio::test]
async fn blocking_query_returns_when_its_key_changes_and_times_out_otherwise() {
    let api = api().await;
    api.put("/v1/kv/watched", "old").await;
    let index = api.get("/v1/kv/watched").await.index.unwrap();

    // Returns early on a matching write; an unrelated write does not wake it for good.
    let started = tokio::time::Instant::now();
    let uri = format!("/v1/kv/watched?index={index}&wait=10s");
    let blocked = api.get(&uri);
    let writer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.put("/v1/kv/unrelated", "x").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.put("/v1/kv/watched", "new").await
    };
    let (reply, write) = tokio::join!(blocked, writer);
    assert_eq!(write.json(), json!(true));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "returned before the write: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "did not return early: {elapsed:?}");
    assert_eq!(reply.json()[0]["Value"], "bmV3");
    let new_index = reply.index.unwrap();
    assert!(new_index > index);

    // Nothing changes: returns after `wait` (+ at most wait/16) with the same index.
    let started = tokio::time::Instant::now();
    let r = api.get(&format!("/v1/kv/watched?index={new_index}&wait=300ms")).await;
    let elapsed = started.elapsed();
    assert_eq!((r.status, r.index), (StatusCode::OK, Some(new_index)));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    // Blocking on the catalog works the same way.
    let services = api.get("/v1/catalog/services").await.index.unwrap();
    let uri = format!("/v1/catalog/services?index={services}&wait=10s");
    let blocked = api.get(&uri);
    let writer = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        api.put_json("/v1/catalog/register", register_body("n1", "10.0.0.1", "passing")).await
    };
    let (reply, _) = tokio::join!(blocked, writer);
    assert_eq!(reply.json(), json!({"web": ["v1"]}));
    assert!(reply.index.unwrap() > services);

    let bad = api.get("/v1/kv/watched?index=1&wait=forever").await;
    assert_eq!((bad.status, bad.text().as_str()), (StatusCode::BAD_REQUEST, "Invalid wait time"));
    api.shutdown().await;
}

#[tokio::test]
async fn follower_serves_stale_reads_and_refuses_consistent_ones_naming_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemRouter::new();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, &dir.path().join(format!("n{id}.redb")), &mem).await);
    }
    let members: BTreeMap<_, _> = (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[0].raft().initialize(members).await.expect("initialize");
    let w = nodes[0].raft().wait(Some(WAIT));
    let leader_id = w.metrics(|m| m.current_leader.is_some(), "leader").await.unwrap();
    let leader_id = leader_id.current_leader.unwrap();
    let nodes: Vec<Arc<RaftNode>> = nodes.into_iter().map(Arc::new).collect();
    let leader = router(nodes.iter().find(|n| n.id() == leader_id).unwrap().clone(), 1);
    let follower_node = nodes.iter().find(|n| n.id() != leader_id).unwrap().clone();
    let follower = Api { app: router(follower_node.clone(), 2), node: follower_node, _dir: dir };

    let req = Request::put("/v1/kv/shared").body(Body::from("v")).unwrap();
    assert_eq!(leader.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    let req = Request::get("/v1/kv/shared").body(Body::empty()).unwrap();
    let index: u64 = leader.clone().oneshot(req).await.unwrap().headers()["X-Consul-Index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    // A stale blocking read on the follower wakes when the write is applied there.
    let stale = follower.get(&format!("/v1/kv/shared?stale&index={}&wait=5s", index - 1)).await;
    assert_eq!(stale.status, StatusCode::OK, "{}", stale.text());
    assert_eq!(stale.json()[0]["Value"], "dg==");
    assert_eq!(stale.index, Some(index));
    assert_eq!(stale.known_leader.as_deref(), Some("true"));

    let consistent = follower.get("/v1/kv/shared").await;
    assert_eq!(consistent.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        consistent.text().contains(&format!("leader is node {leader_id}")),
        "{}",
        consistent.text()
    );
    let write = follower.put("/v1/kv/other", "x").await;
    assert_eq!(write.status, StatusCode::INTERNAL_SERVER_ERROR);
    for node in &nodes {
        node.shutdown().await.unwrap();
    }
}
