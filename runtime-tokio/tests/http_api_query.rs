//! `/v1/query` over an in-process raft server: py-consul's create/get/explain/delete flow
//! (its lower-case bodies always carry a `name_prefix_match` template), execution against
//! the health table with OnlyPassing, tags and `?limit`, updates, refusals and 404s, and a
//! query that goes with its session.

mod http_api_support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_api_support::{Cluster, Reply};
use serde_json::{Value, json};

async fn post(c: &Cluster, body: Value) -> Reply {
    c.call(Method::POST, "/v1/query", body.to_string()).await
}

async fn create(c: &Cluster, body: Value) -> String {
    let r = post(c, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["ID"].as_str().unwrap().to_owned()
}

/// Four `web` instances: passing, warning, critical, and a passing canary.
async fn web_instances(c: &Cluster) {
    let rows = [
        ("n1", "w1", "passing", "v1"),
        ("n2", "w2", "warning", "v1"),
        ("n3", "w3", "critical", "v1"),
        ("n4", "w4", "passing", "canary"),
    ];
    for (node, id, status, tag) in rows {
        c.register(json!({
            "Node": node, "Address": "10.0.0.1",
            "Service": {"ID": id, "Service": "web", "Port": 80, "Tags": [tag]},
            "Check": {"CheckID": format!("{id}-alive"), "ServiceID": id, "Status": status},
        }))
        .await;
    }
}

fn ids(out: &Value) -> Vec<String> {
    let mut ids: Vec<String> = out["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Service"]["ID"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn create_get_explain_delete_as_py_consul_does() {
    let c = Cluster::start(1).await;
    let r = c.get("/v1/query").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    let body = json!({"name": "fooquery", "service": {"service": "foo", "failover": {}},
                      "template": {"type": "name_prefix_match"}});
    let id = create(&c, body).await;
    let got = c.get(&format!("/v1/query/{id}")).await.json();
    assert_eq!(got.as_array().unwrap().len(), 1);
    assert_eq!(
        (got[0]["ID"].as_str(), got[0]["Name"].as_str()),
        (Some(id.as_str()), Some("fooquery"))
    );
    assert_eq!(got[0]["Service"]["Service"], "foo");
    assert_eq!(got[0]["Template"]["Type"], "name_prefix_match");
    let explained = c.get("/v1/query/fooquery/explain").await.json();
    assert_eq!(explained["Query"]["ID"], id.as_str(), "explained by name");
    let r = c.delete(&format!("/v1/query/{id}")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    let r = c.get(&format!("/v1/query/{id}")).await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::NOT_FOUND, "Query not found"));
    c.shutdown().await;
}

#[tokio::test]
async fn execute_returns_healthy_instances_filtered_and_limited() {
    let c = Cluster::start(1).await;
    web_instances(&c).await;
    create(&c, json!({"Name": "web-all", "Service": {"Service": "web"}})).await;
    create(&c, json!({"name": "web-passing", "service": {"service": "web", "onlypassing": true, "tags": ["!canary"]}})).await;
    let out = c.get("/v1/query/web-all/execute").await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text());
    let out = out.json();
    assert_eq!(ids(&out), ["w1", "w2", "w4"], "critical instances never come back");
    assert_eq!((out["Service"].as_str(), out["Datacenter"].as_str()), (Some("web"), Some("dc1")));
    assert_eq!(out["Failovers"], 0);
    assert_eq!(ids(&c.get("/v1/query/web-passing/execute").await.json()), ["w1"]);
    let limited = c.get("/v1/query/web-all/execute?limit=2").await.json();
    assert_eq!(limited["Nodes"].as_array().unwrap().len(), 2);
    let r = c.get("/v1/query/nothing/execute").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::NOT_FOUND, "Query not found"));
    c.shutdown().await;
}

#[tokio::test]
async fn templates_render_for_the_name_they_are_called_by() {
    let c = Cluster::start(1).await;
    web_instances(&c).await;
    create(
        &c,
        json!({"Name": "geo-", "Template": {"Type": "name_prefix_match"},
                      "Service": {"Service": "${name.suffix}", "Tags": ["v1"]}}),
    )
    .await;
    let explained = c.get("/v1/query/geo-web/explain").await.json();
    assert_eq!(explained["Query"]["Service"]["Service"], "web");
    assert_eq!(ids(&c.get("/v1/query/geo-web/execute").await.json()), ["w1", "w2"]);
    assert_eq!(c.get("/v1/query/geo-db/execute").await.json()["Nodes"], json!([]));
    c.shutdown().await;
}

#[tokio::test]
async fn updates_refusals_and_unknown_ids() {
    let c = Cluster::start(1).await;
    let id = create(&c, json!({"Name": "q", "Service": {"Service": "web"}})).await;
    let r = c
        .put_json(&format!("/v1/query/{id}"), json!({"Name": "q", "Service": {"Service": "db"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(c.get(&format!("/v1/query/{id}")).await.json()[0]["Service"]["Service"], "db");
    let cases = [
        (json!({"Name": "x"}), "Must provide a Service name to query"),
        (
            json!({"Name": "Q", "Service": {"Service": "web"}}),
            "name 'Q' aliases an existing query name",
        ),
        (
            json!({"Service": {"Service": "web"}, "DNS": {"TTL": "soon"}}),
            "Bad DNS TTL 'soon': invalid duration \"soon\"",
        ),
        (json!({"Service": {"Service": "web"}, "Session": "ghost"}), "invalid session \"ghost\""),
    ];
    for (body, message) in cases {
        let r = post(&c, body.clone()).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, message),
            "{body}"
        );
    }
    let r = c.put_json("/v1/query/nope", json!({"Service": {"Service": "web"}})).await;
    assert_eq!(r.text(), "Cannot modify non-existent prepared query: 'nope'");
    let r = c.call(Method::DELETE, "/v1/query/nope", Body::empty()).await;
    assert_eq!(r.text(), "Cannot delete non-existent prepared query: 'nope'");
    assert_eq!(c.get("/v1/query").await.json().as_array().unwrap().len(), 1);
    c.shutdown().await;
}

#[tokio::test]
async fn a_query_bound_to_a_session_is_deleted_with_it() {
    let c = Cluster::start(1).await;
    c.register(json!({"Node": "proconsul-dev", "Address": "127.0.0.1",
                      "Check": {"CheckID": "serfHealth", "Status": "passing"}}))
        .await;
    let s = c.call(Method::PUT, "/v1/session/create", "").await.json()["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    create(&c, json!({"Name": "bound", "Session": s, "Service": {"Service": "web"}})).await;
    let listed = c.get("/v1/query").await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    c.call(Method::PUT, &format!("/v1/session/destroy/{s}"), "").await;
    let after = c.get("/v1/query").await;
    assert_eq!(after.json(), json!([]));
    assert!(after.index > listed.index);
    c.shutdown().await;
}
