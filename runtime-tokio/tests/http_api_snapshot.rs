//! `GET|PUT /v1/snapshot` over in-process raft servers: py-consul's save/change/restore flow,
//! a restore replicated to followers and waking a blocked read, and refusals of archives that
//! are not ours.

mod http_api_support;

use std::io::Write as _;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_api_support::Cluster;
use serde_json::json;

async fn put_kv(c: &Cluster, key: &str, value: &str) {
    let r = c.call(Method::PUT, &format!("/v1/kv/{key}"), value.to_owned()).await;
    assert_eq!(r.json(), json!(true));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn save_change_restore_as_py_consul_does() {
    let c = Cluster::start(1).await;
    put_kv(&c, "snapshot-test-key", "before-snapshot").await;
    let saved = c.get("/v1/snapshot").await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(&saved.body[..2], b"\x1f\x8b", "gzip magic");
    assert!(saved.index.is_some());
    put_kv(&c, "snapshot-test-key", "after-snapshot").await;
    put_kv(&c, "only-after", "x").await;

    let r = c.call(Method::PUT, "/v1/snapshot", saved.body.clone()).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0), "{}", r.text());
    let entry = c.get("/v1/kv/snapshot-test-key").await;
    assert_eq!(entry.json()[0]["Value"], "YmVmb3JlLXNuYXBzaG90", "before-snapshot");
    assert!(entry.index > saved.index, "the restore moved the key's index");
    assert_eq!(c.get("/v1/kv/only-after").await.status, StatusCode::NOT_FOUND);
    c.shutdown().await;
}

#[tokio::test]
async fn a_restore_reaches_followers_and_wakes_blocked_reads() {
    let c = Cluster::start(3).await;
    put_kv(&c, "k", "old").await;
    let saved = c.get("/v1/snapshot").await;
    put_kv(&c, "k", "new").await;
    let follower = (c.leader() + 1) % 3;
    let seen = c.get("/v1/kv/k").await;
    let uri = format!("/v1/kv/k?index={}&wait=5s", seen.index.unwrap());
    let blocked = c.get_owned(uri);
    let restore = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        c.call(Method::PUT, "/v1/snapshot", saved.body.clone()).await
    };
    let (woken, restored) = tokio::join!(blocked, restore);
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text());
    assert_eq!(woken.json()[0]["Value"], "b2xk", "old");
    let mut value = json!(null);
    for _ in 0..50 {
        let r = c.call_on(follower, Method::GET, "/v1/kv/k?stale", Body::empty()).await;
        value = r.json()[0]["Value"].clone();
        if value == "b2xk" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(value, "b2xk", "the follower applied the restore too");
    let r = c.call_on(follower, Method::GET, "/v1/snapshot?stale", Body::empty()).await;
    assert_eq!(&r.body[..2], b"\x1f\x8b", "a follower saves its own state with ?stale");
    c.shutdown().await;
}

#[tokio::test]
async fn archives_that_are_not_snapshots_are_refused() {
    let c = Cluster::start(1).await;
    put_kv(&c, "k", "v").await;
    let cases = [
        (b"plain text".to_vec(), "Snapshot restore failed: not a gzip archive"),
        (gzip(b"{\"Version\": 99}"), "Snapshot restore failed: unsupported snapshot version 99"),
        (gzip(b"[]"), "Snapshot restore failed: invalid snapshot"),
        (gzip(&[0xff, 0xfe]), "Snapshot restore failed: not UTF-8 JSON"),
    ];
    for (body, message) in cases {
        let r = c.call(Method::PUT, "/v1/snapshot", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().starts_with(message), "{message}: {}", r.text());
    }
    assert_eq!(c.get("/v1/kv/k").await.json()[0]["Value"], "dg==", "state untouched");
    let r = c.call(Method::GET, "/v1/snapshot?dc=dc2", Body::empty()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    c.shutdown().await;
}
