//! `PUT /v1/txn` over an in-process raft server: py-consul's set/get flow, rollback with
//! every op error (409), Consul's limits (413) and unknown verbs, catalog ops with bodies in
//! any casing, locks inside a transaction, and read-only transactions served without raft.

mod http_api_support;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use http_api_support::{Cluster, Reply};
use serde_json::{Value, json};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn txn(c: &Cluster, ops: Value) -> Reply {
    c.put_json("/v1/txn", ops).await
}

#[tokio::test]
async fn set_then_get_as_py_consul_does() {
    let c = Cluster::start(1).await;
    let value = b64("1");
    let r = txn(&c, json!([{"KV": {"Verb": "set", "Key": "asdf", "Value": value}}])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["Errors"], Value::Null);
    assert_eq!(body["Results"][0]["KV"]["Key"], "asdf");
    assert_eq!(body["Results"][0]["KV"]["Value"], Value::Null, "set results carry no value");
    let r = txn(&c, json!([{"KV": {"Verb": "get", "Key": "asdf"}}])).await;
    assert_eq!(r.json()["Results"][0]["KV"]["Value"], value);
    assert!(r.index.is_some(), "read-only transactions are reads, with an index");
    assert_eq!(c.get("/v1/kv/asdf").await.json()[0]["Value"], value);
    c.shutdown().await;
}

#[tokio::test]
async fn a_failed_op_rolls_everything_back_with_409_and_all_errors() {
    let c = Cluster::start(1).await;
    txn(&c, json!([{"KV": {"Verb": "set", "Key": "a", "Value": b64("old")}}])).await;
    let before = c.get("/v1/kv/?recurse").await;
    let ops = json!([
        {"KV": {"Verb": "set", "Key": "a", "Value": b64("new")}},
        {"KV": {"Verb": "set", "Key": "b", "Value": b64("x")}},
        {"KV": {"Verb": "cas", "Key": "a", "Value": b64("y"), "Index": 1}},
        {"KV": {"Verb": "check-not-exists", "Key": "b"}},
    ]);
    let r = txn(&c, ops).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.json(),
        json!({"Results": null, "Errors": [
            {"OpIndex": 2, "What": "failed to set key \"a\", index is stale"},
            {"OpIndex": 3, "What": "key \"b\" exists"},
        ]})
    );
    let after = c.get("/v1/kv/?recurse").await;
    assert_eq!((after.json(), after.index), (before.json(), before.index), "nothing changed");
    c.shutdown().await;
}

#[tokio::test]
async fn limits_bad_bodies_and_unknown_verbs() {
    let c = Cluster::start(1).await;
    let many: Vec<Value> =
        (0..129).map(|i| json!({"KV": {"Verb": "get", "Key": format!("k{i}")}})).collect();
    let r = txn(&c, Value::Array(many)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.text(), "Transaction contains too many operations (129 > 128)");
    let big = b64(&"x".repeat(512 * 1024 + 1));
    let r = txn(&c, json!([{"KV": {"Verb": "set", "Key": "big", "Value": big}}])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().starts_with("Value for key \"big\" is too large"), "{}", r.text());
    let r = txn(&c, json!([{"KV": {"Verb": "frob", "Key": "k"}}, {"Node": {"Verb": "zap"}}])).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.json()["Errors"],
        json!([{"OpIndex": 0, "What": "unknown KV verb \"frob\""},
               {"OpIndex": 1, "What": "unknown Node verb \"zap\""}])
    );
    for body in ["{}", "[1]", "[{\"Bogus\": {}}]", "not json"] {
        let r = c.call(Method::PUT, "/v1/txn", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert!(r.text().starts_with("Failed to parse body: "), "{}", r.text());
    }
    c.shutdown().await;
}

#[tokio::test]
async fn catalog_ops_in_any_casing_and_in_one_commit_with_kv() {
    let c = Cluster::start(1).await;
    let ops = json!([
        {"node": {"verb": "set", "node": {"node": "n1", "address": "10.0.0.1", "meta": {"Rack": "r1"}}}},
        {"Service": {"Verb": "set", "Node": "n1", "Service": {"ID": "web1", "Service": "web", "Port": 80}}},
        {"check": {"verb": "set", "check": {"node": "n1", "checkid": "alive", "serviceid": "web1", "status": "passing"}}},
        {"kv": {"verb": "set", "key": "web/config", "value": b64("v")}},
    ]);
    let r = txn(&c, ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let results = r.json()["Results"].clone();
    assert_eq!(results[0]["Node"]["Meta"], json!({"Rack": "r1"}), "user keys keep their case");
    assert_eq!(results[1]["Service"]["ID"], "web1");
    assert_eq!(results[2]["Check"]["ServiceName"], "web");
    let health = c.get("/v1/health/service/web?passing").await.json();
    assert_eq!(health.as_array().unwrap().len(), 1);

    let r = txn(
        &c,
        json!([
            {"Node": {"Verb": "delete", "Node": {"Node": "n1"}}},
            {"Node": {"Verb": "cas", "Node": {"Node": "n9", "Address": "x", "ModifyIndex": 7}}},
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["Errors"][0]["What"], "failed to set node \"n9\", index is stale");
    assert_eq!(
        c.get("/v1/health/service/web").await.json().as_array().unwrap().len(),
        1,
        "n1 is back"
    );
    let r =
        txn(&c, json!([{"Check": {"Verb": "get", "Check": {"Node": "n1", "CheckID": "alive"}}}]))
            .await;
    assert_eq!(r.json()["Results"][0]["Check"]["Status"], "passing");
    c.shutdown().await;
}

#[tokio::test]
async fn locks_inside_a_transaction() {
    let c = Cluster::start(1).await;
    c.register(json!({"Node": "proconsul-dev", "Address": "127.0.0.1",
                      "Check": {"CheckID": "serfHealth", "Status": "passing"}}))
        .await;
    let s = c.call(Method::PUT, "/v1/session/create", "").await.json()["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let ops = json!([
        {"KV": {"Verb": "lock", "Key": "l", "Value": b64("me"), "Session": s}},
        {"KV": {"Verb": "check-session", "Key": "l", "Session": s}},
    ]);
    let r = txn(&c, ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["Results"][0]["KV"]["Session"], s.as_str());
    assert_eq!(r.json()["Results"][0]["KV"]["LockIndex"], 1);
    let r =
        txn(&c, json!([{"KV": {"Verb": "unlock", "Key": "l", "Session": "someone-else"}}])).await;
    assert_eq!(
        r.json()["Errors"][0]["What"],
        "failed to unlock key \"l\", lock isn't held, or is held by another session"
    );
    let r = txn(&c, json!([{"KV": {"Verb": "unlock", "Key": "l", "Session": s}}])).await;
    assert_eq!(r.status, StatusCode::OK);
    c.shutdown().await;
}
