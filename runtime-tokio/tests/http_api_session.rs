//! `/v1/session/*` and KV `?acquire`/`?release` over an in-process raft server: py-consul's
//! session and lock flows, Consul's create defaults and case-insensitive bodies, invalidation
//! by the catalog with lock-delay, blocking reads, and TTL expiry on the leader's timer.

mod http_api_support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_api_support::{Cluster, Reply};
use serde_json::{Value, json};

/// The node sessions default to (the router's default agent node name).
const AGENT: &str = "proconsul-dev";

async fn with_agent_node() -> Cluster {
    let c = Cluster::start(1).await;
    register_node(&c, AGENT, "passing").await;
    c
}

async fn register_node(c: &Cluster, node: &str, serf: &str) {
    c.register(json!({
        "Node": node,
        "Address": "127.0.0.1",
        "Check": {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": serf},
    }))
    .await;
}

async fn put(c: &Cluster, uri: &str, body: &str) -> Reply {
    c.call(Method::PUT, uri, body.to_owned()).await
}

async fn create(c: &Cluster, body: &str) -> String {
    let r = put(c, "/v1/session/create", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["ID"].as_str().expect("an ID").to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    id
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s["Name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn session_lifecycle_as_py_consul_drives_it() {
    let c = with_agent_node().await;
    let r = put(&c, "/v1/session/create", r#"{"node": "n2"}"#).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "Missing node registration")
    );
    let r = put(&c, "/v1/session/create?dc=dc2", "").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "No path to datacenter")
    );
    let id = create(&c, r#"{"name": "my-session"}"#).await;

    let list = c.get("/v1/session/list").await;
    assert_eq!(names(&list.json()), ["my-session"]);
    assert!(list.index.unwrap() > 1);
    let r = c.get(&format!("/v1/session/info/{}", "1".repeat(36))).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    let info = c.get(&format!("/v1/session/info/{id}")).await.json();
    let s = &info[0];
    assert_eq!((s["ID"].as_str(), s["Node"].as_str()), (Some(id.as_str()), Some(AGENT)));
    assert_eq!(s["LockDelay"], 15_000_000_000u64, "Consul's default, in nanoseconds");
    assert_eq!((s["Behavior"].as_str(), s["TTL"].as_str()), (Some("release"), Some("")));
    assert_eq!(s["NodeChecks"], json!(["serfHealth"]));
    assert_eq!(names(&c.get(&format!("/v1/session/node/{AGENT}")).await.json()), ["my-session"]);
    assert_eq!(c.get("/v1/session/node/other").await.json(), json!([]));

    let r = put(&c, &format!("/v1/session/destroy/{id}"), "").await;
    assert_eq!(r.json(), json!(true));
    assert_eq!(c.get("/v1/session/list").await.json(), json!([]));
    let r = put(&c, "/v1/session/destroy/", "").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::BAD_REQUEST, "Missing session"));
    c.shutdown().await;
}

#[tokio::test]
async fn create_bodies_match_without_case_and_are_validated() {
    let c = with_agent_node().await;
    let body = r#"{"NAME": "locker", "lockdelay": "30s", "Behavior": "delete", "ttl": "20s",
                   "nodechecks": ["serfHealth"]}"#;
    let id = create(&c, body).await;
    let s = c.get(&format!("/v1/session/info/{id}")).await.json()[0].clone();
    assert_eq!(s["Name"], "locker");
    assert_eq!(s["LockDelay"], 30_000_000_000u64);
    assert_eq!((s["Behavior"].as_str(), s["TTL"].as_str()), (Some("delete"), Some("20s")));
    let id = create(&c, r#"{"LockDelay": 5, "Checks": []}"#).await;
    let s = c.get(&format!("/v1/session/info/{id}")).await.json()[0].clone();
    assert_eq!(s["LockDelay"], 5_000_000_000u64, "a small number means seconds");
    assert_eq!(s["NodeChecks"], json!([]), "an explicit empty Checks drops serfHealth");

    let cases = [
        (
            r#"{"behavior": "keep"}"#,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid Behavior setting 'keep'",
        ),
        (
            r#"{"ttl": "5s"}"#,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]",
        ),
        (
            r#"{"checks": ["nope"]}"#,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Missing check 'nope' registration",
        ),
        (
            r#"{"lockdelay": "soon"}"#,
            StatusCode::BAD_REQUEST,
            "Request decode failed: LockDelay invalid duration \"soon\"",
        ),
    ];
    for (body, status, message) in cases {
        let r = put(&c, "/v1/session/create", body).await;
        assert_eq!((r.status, r.text().as_str()), (status, message), "{body}");
    }
    let r = put(&c, "/v1/session/create", "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Request decode failed: "), "{}", r.text());
    c.shutdown().await;
}

#[tokio::test]
async fn acquire_and_release_follow_consul() {
    let c = with_agent_node().await;
    let r = put(&c, "/v1/kv/foo?acquire=foo", "bar").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "invalid session \"foo\"")
    );
    let s1 = create(&c, "").await;
    let s2 = create(&c, "").await;
    assert_eq!(put(&c, &format!("/v1/kv/foo?acquire={s1}"), "1").await.json(), json!(true));
    assert_eq!(put(&c, &format!("/v1/kv/foo?acquire={s2}"), "2").await.json(), json!(false));
    assert_eq!(put(&c, &format!("/v1/kv/foo?acquire={s1}"), "1").await.json(), json!(true));
    let entry = c.get("/v1/kv/foo").await.json()[0].clone();
    assert_eq!(
        (entry["Session"].as_str(), entry["LockIndex"].as_u64()),
        (Some(s1.as_str()), Some(1))
    );
    assert_eq!(put(&c, "/v1/kv/foo?release=foo", "1").await.json(), json!(false));
    assert_eq!(put(&c, &format!("/v1/kv/foo?release={s2}"), "2").await.json(), json!(false));
    assert_eq!(put(&c, &format!("/v1/kv/foo?release={s1}"), "2").await.json(), json!(true));
    let entry = c.get("/v1/kv/foo").await.json()[0].clone();
    assert!(entry.get("Session").is_none(), "unlocked entries carry no Session: {entry}");
    assert_eq!(entry["LockIndex"], 1);
    let r = put(&c, &format!("/v1/kv/foo?acquire={s1}&release={s1}"), "x").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::BAD_REQUEST, "Conflicting flags: acquire and release")
    );
    for s in [&s1, &s2] {
        assert_eq!(put(&c, &format!("/v1/session/destroy/{s}"), "").await.json(), json!(true));
    }
    c.shutdown().await;
}

#[tokio::test]
async fn delete_behavior_ttl_and_renew() {
    let c = with_agent_node().await;
    let s = create(&c, r#"{"behavior": "delete", "ttl": "20s"}"#).await;
    let r = put(&c, &format!("/v1/session/renew/{}", "1".repeat(36)), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text(), format!("Session id '{}' not found", "1".repeat(36)));
    let r = put(&c, &format!("/v1/session/renew/{s}"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    let renewed = r.json()[0].clone();
    assert_eq!(
        (renewed["Behavior"].as_str(), renewed["TTL"].as_str()),
        (Some("delete"), Some("20s"))
    );
    assert_eq!(put(&c, &format!("/v1/kv/foo?acquire={s}"), "1").await.json(), json!(true));
    assert_eq!(c.get("/v1/kv/foo").await.json()[0]["Value"], "MQ==");
    put(&c, &format!("/v1/session/destroy/{s}"), "").await;
    assert_eq!(c.get("/v1/kv/foo").await.status, StatusCode::NOT_FOUND, "deleted with its session");
    c.shutdown().await;
}

#[tokio::test]
async fn a_failing_node_releases_its_locks_behind_a_lock_delay() {
    let c = with_agent_node().await;
    register_node(&c, "worker", "passing").await;
    let worker = create(&c, r#"{"node": "worker", "lockdelay": "1s"}"#).await;
    let other = create(&c, "").await;
    assert_eq!(put(&c, &format!("/v1/kv/leader?acquire={worker}"), "w").await.json(), json!(true));
    let before = c.get("/v1/kv/leader").await.index.unwrap();

    register_node(&c, "worker", "critical").await;
    assert_eq!(c.get(&format!("/v1/session/info/{worker}")).await.json(), json!([]));
    let entry = c.get("/v1/kv/leader").await;
    assert!(entry.index.unwrap() > before, "the release moved the key's index");
    assert!(entry.json()[0].get("Session").is_none());
    assert_eq!(entry.json()[0]["Value"], "dw==", "release keeps the value");
    assert_eq!(put(&c, &format!("/v1/kv/leader?acquire={other}"), "o").await.json(), json!(false));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(put(&c, &format!("/v1/kv/leader?acquire={other}"), "o").await.json(), json!(true));
    c.shutdown().await;
}

#[tokio::test]
async fn session_reads_block_until_the_table_changes() {
    let c = with_agent_node().await;
    let first = c.get("/v1/session/list").await;
    let index = first.index.unwrap();
    let blocked = c.get_owned(format!("/v1/session/list?index={index}&wait=5s"));
    let writer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        create(&c, r#"{"name": "late"}"#).await
    };
    let (woken, _) = tokio::join!(blocked, writer);
    assert!(woken.index.unwrap() > index);
    assert_eq!(names(&woken.json()), ["late"]);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn ttl_sessions_expire_twice_the_ttl_after_their_last_renewal() {
    let c = with_agent_node().await;
    let s = create(&c, r#"{"ttl": "10s"}"#).await;
    let info = format!("/v1/session/info/{s}");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(put(&c, &format!("/v1/session/renew/{s}"), "").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let alive = c.get(&info).await.json();
    assert_eq!(alive.as_array().unwrap().len(), 1, "renewed at 15 s: alive at 30 s");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(c.get(&info).await.json(), json!([]), "expired by 35 s (15 s + 2 × 10 s)");
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_session_paths_answer_like_consul() {
    let c = with_agent_node().await;
    let r = c.call(Method::GET, "/v1/session/node/", Body::empty()).await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::BAD_REQUEST, "Missing node name"));
    let r = c.call(Method::GET, "/v1/session/info/", Body::empty()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    c.shutdown().await;
}
