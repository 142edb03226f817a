//! `/v1/event/fire` and `/v1/event/list` over an in-process raft server: py-consul's fire and
//! list flows, filters matched against this agent's node and catalog services, blocking on
//! the id-derived index, the 256-event ring, validation, and the gossip seam.

mod http_api_support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use http_api_support::{Cluster, Reply};
use proconsul_runtime_tokio::http::{ApiState, LocalIdentity, UserEvent, router_with};
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn fire(c: &Cluster, uri: &str, payload: &str) -> Reply {
    c.call(Method::PUT, uri, payload.to_owned()).await
}

fn names(events: &Value) -> Vec<&str> {
    events.as_array().unwrap().iter().map(|e| e["Name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn fire_and_list_as_py_consul_does() {
    let c = Cluster::start(1).await;
    let r = fire(&c, "/v1/event/fire/fooname", "foobody").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let fired = r.json();
    assert_eq!(
        (fired["Name"].as_str(), fired["Payload"].as_str()),
        (Some("fooname"), Some("Zm9vYm9keQ=="))
    );
    assert_eq!((fired["Version"].as_u64(), fired["LTime"].as_u64()), (Some(1), Some(1)));
    assert_eq!(fired["ID"].as_str().unwrap().len(), 36);
    assert_eq!(fire(&c, "/v1/event/fire/fooname?dc=dc1", "again").await.status, StatusCode::OK);
    let r = fire(&c, "/v1/event/fire/fooname?dc=dc2", "x").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "No path to datacenter")
    );

    let all = c.get("/v1/event/list").await;
    assert_eq!(names(&all.json()), ["fooname", "fooname"]);
    assert_eq!(all.json()[1]["Payload"], "YWdhaW4=");
    assert_eq!(c.get("/v1/event/list?name=othername").await.json(), json!([]));
    let named = c.get("/v1/event/list?name=fooname&node=any&service=any&tag=any").await;
    assert_eq!(names(&named.json()).len(), 2, "node/service/tag are ignored when listing");
    let empty = fire(&c, "/v1/event/fire/nopayload", "").await.json();
    assert_eq!(empty["Payload"], Value::Null);
    c.shutdown().await;
}

#[tokio::test]
async fn filters_decide_whether_this_agent_keeps_the_event() {
    let c = Cluster::start(1).await;
    c.register(json!({"Node": "proconsul-dev", "Address": "127.0.0.1",
                      "Service": {"ID": "web-1", "Service": "web", "Tags": ["v2"], "Port": 80}}))
        .await;
    let cases = [
        ("?node=proconsul", true),
        ("?node=^other$", false),
        ("?service=web", true),
        ("?service=web&tag=v2", true),
        ("?service=web&tag=v9", false),
        ("?service=db", false),
    ];
    for (i, (filters, kept)) in cases.iter().enumerate() {
        let r = fire(&c, &format!("/v1/event/fire/e{i}{filters}"), "").await;
        assert_eq!(r.status, StatusCode::OK, "{filters}: {}", r.text());
        let listed = !c
            .get(&format!("/v1/event/list?name=e{i}"))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty();
        assert_eq!(listed, *kept, "{filters}");
    }
    let bad = [
        ("/v1/event/fire/x?tag=v1", "Cannot provide tag filter without service filter"),
        ("/v1/event/fire/x?node=(", "Invalid node filter: "),
    ];
    for (uri, message) in bad {
        let r = fire(&c, uri, "").await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.text().starts_with(message), "{uri}: {}", r.text());
    }
    let r = fire(&c, "/v1/event/fire/big", &"x".repeat(600)).await;
    assert_eq!(r.text(), "User event exceeds configured limit of 512 bytes");
    c.shutdown().await;
}

#[tokio::test]
async fn a_blocking_list_waits_for_the_next_event() {
    let c = Cluster::start(1).await;
    let empty = c.get("/v1/event/list").await;
    assert_eq!(empty.index, Some(1), "never 0, even with no events");
    fire(&c, "/v1/event/fire/first", "").await;
    let first = c.get("/v1/event/list").await;
    let index = first.index.unwrap();
    assert_ne!(index, 1);
    let timed_out = c.get(&format!("/v1/event/list?index={index}&wait=50ms")).await;
    assert_eq!(timed_out.index, Some(index), "nothing new: same answer after the wait");
    let blocked = c.get_owned(format!("/v1/event/list?index={index}&wait=5s"));
    let firer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fire(&c, "/v1/event/fire/second", "").await
    };
    let (woken, _) = tokio::join!(blocked, firer);
    assert_ne!(woken.index, Some(index));
    assert_eq!(names(&woken.json()), ["first", "second"]);
    c.shutdown().await;
}

#[tokio::test]
async fn the_ring_keeps_the_last_256_events() {
    let c = Cluster::start(1).await;
    for i in 0..260 {
        fire(&c, &format!("/v1/event/fire/e{i}"), "").await;
    }
    let events = c.get("/v1/event/list").await.json();
    let names = names(&events);
    assert_eq!(names.len(), 256);
    assert_eq!((names[0], names[255]), ("e4", "e259"));
    c.shutdown().await;
}

#[tokio::test]
async fn gossip_delivers_remote_events_through_the_seam() {
    let c = Cluster::start(1).await;
    let state = ApiState::new(c.nodes[0].clone(), 9).with_node_name("agent-a");
    let events = state.user_events();
    let mut outbound = events.outbound();
    let app = router_with(state);
    let local = LocalIdentity { node_name: "agent-a".into(), services: vec![] };
    let remote = UserEvent {
        id: "8a3f5c2e-0000-4000-8000-000000000001".into(),
        name: "deploy".into(),
        payload: b"v2".to_vec(),
        version: 1,
        ltime: 41,
        ..UserEvent::default()
    };
    events.deliver(remote.clone(), &local);
    events.deliver(remote, &local);
    let req = axum::http::Request::builder()
        .uri("/v1/event/list")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let listed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(names(&listed), ["deploy"], "delivered once despite the repeat");
    assert_eq!(listed[0]["LTime"], 41);
    let req = axum::http::Request::builder()
        .method(Method::PUT)
        .uri("/v1/event/fire/local")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let sent = outbound.try_recv().expect("the fired event is offered to gossip");
    assert_eq!((sent.name.as_str(), sent.ltime), ("local", 42), "the clock moved past 41");
    c.shutdown().await;
}
