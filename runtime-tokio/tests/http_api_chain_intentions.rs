//! `/v1/discovery-chain/{service}` (GET and POST with overrides) and intentions over
//! `service-intentions` entries: exact CRUD, list with `?filter`, check and match.

mod http_api_support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_api_support::Cluster;
use proconsul_core::ca::RootsResponse;
use proconsul_core::state::Command;
use serde_json::{Value, json};

const TRUST_DOMAIN: &str = "11111111-2222-3333-4444-555555555555.consul";

async fn with_ca_roots(c: &Cluster) {
    let roots = RootsResponse {
        active_root_id: String::new(),
        trust_domain: TRUST_DOMAIN.into(),
        roots: Vec::new(),
    };
    let leader = &c.nodes[c.leader()];
    leader.write(Command::CaSetRoots { roots }).await.expect("roots written");
}

#[tokio::test]
async fn discovery_chain_compiles_with_and_without_overrides() {
    let c = Cluster::start(1).await;
    let r = c.get("/v1/discovery-chain/web").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "no cluster ca config setup")
    );
    with_ca_roots(&c).await;

    let r = c.get("/v1/discovery-chain/web").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let chain = &r.json()["Chain"];
    assert_eq!(chain["ServiceName"], "web");
    assert_eq!(chain["Protocol"], "tcp");
    assert_eq!(chain["StartNode"], "resolver:web.default.default.dc1");
    let target = &chain["Targets"]["web.default.default.dc1"];
    assert_eq!(target["SNI"], format!("web.default.dc1.internal.{TRUST_DOMAIN}"));
    assert!(r.index.is_some());

    let body = json!({"OverrideProtocol": "http", "OverrideConnectTimeout": "7s",
                      "OverrideMeshGateway": {"Mode": "local"}});
    let r = c.call(Method::POST, "/v1/discovery-chain/web", body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let chain = &r.json()["Chain"];
    assert_eq!(chain["ServiceName"], "web");
    assert_eq!(chain["Protocol"], "http");
    assert!(chain["CustomizationHash"].as_str().is_some_and(|h| !h.is_empty()));

    let r = c.get("/v1/discovery-chain/web?compile-dc=dc2").await.json();
    assert_eq!(r["Chain"]["Datacenter"], "dc2");
    let r = c.call(Method::POST, "/v1/discovery-chain/web", "{").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let bad_mode = json!({"OverrideMeshGateway": {"Mode": "sideways"}}).to_string();
    let r = c.call(Method::POST, "/v1/discovery-chain/web", bad_mode).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Config entries shape the chain: a resolver redirect loop is the compiler's error.
    for (name, to) in [("a", "b"), ("b", "a")] {
        let entry = json!({"Kind": "service-resolver", "Name": name, "Redirect": {"Service": to}});
        let r = c.put_json("/v1/config", entry).await;
        if r.status != StatusCode::OK {
            // The graph check refuses the loop at write time; nothing to compile.
            assert!(r.text().contains("circular"), "{}", r.text());
        }
    }
    let r = c
        .put_json(
            "/v1/config",
            json!({"Kind": "service-defaults", "Name": "api", "Protocol": "http"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get("/v1/discovery-chain/api").await.json()["Chain"]["Protocol"], "http");
    c.shutdown().await;
}

fn upsert(source: &str, destination: &str) -> String {
    format!("/v1/connect/intentions/exact?source={source}&destination={destination}")
}

#[tokio::test]
async fn exact_intentions_create_read_list_check_match_and_delete() {
    let c = Cluster::start(1).await;
    let r = c
        .put_json(
            &upsert("web", "db"),
            json!({"Action": "allow", "Description": "allow web to db"}),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());
    let r = c.put_json(&upsert("*", "db"), json!({"Action": "deny"})).await;
    assert_eq!(r.json(), json!(true));

    let read = c.get(&upsert("web", "db")).await;
    assert_eq!(read.status, StatusCode::OK);
    let ixn = read.json();
    assert_eq!(
        (ixn["SourceName"].clone(), ixn["DestinationName"].clone()),
        (json!("web"), json!("db"))
    );
    assert_eq!((ixn["Action"].clone(), ixn["Precedence"].clone()), (json!("allow"), json!(9)));
    assert_eq!(ixn["Description"], "allow web to db");
    assert_eq!(ixn["SourceNS"], "default");
    assert_eq!(ixn["SourceType"], "consul");

    let entry = c.get("/v1/config/service-intentions/db").await.json();
    assert_eq!(entry["Sources"].as_array().unwrap().len(), 2, "both live in one entry");

    let list = c.get("/v1/connect/intentions").await.json();
    let pairs: Vec<(String, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["SourceName"].as_str().unwrap().into(), i["Precedence"].as_i64().unwrap()))
        .collect();
    assert_eq!(pairs, [("web".into(), 9), ("*".into(), 8)], "highest precedence first");
    let denies = c.get("/v1/connect/intentions?filter=Action%20%3D%3D%20deny").await.json();
    assert_eq!(denies.as_array().unwrap().len(), 1);
    assert_eq!(
        c.get("/v1/connect/intentions?filter=Nope%20%3D%3D%201").await.status,
        StatusCode::BAD_REQUEST
    );

    let check = |src: &str, dst: &str| {
        format!("/v1/connect/intentions/check?source={src}&destination={dst}")
    };
    assert_eq!(c.get(&check("web", "db")).await.json(), json!({"Allowed": true}));
    assert_eq!(c.get(&check("api", "db")).await.json(), json!({"Allowed": false}));
    assert_eq!(
        c.get(&check("api", "cache")).await.json(),
        json!({"Allowed": true}),
        "default allow"
    );

    let matched = c.get("/v1/connect/intentions/match?by=destination&name=db").await.json();
    let sources: Vec<&str> = matched["db"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["SourceName"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["web", "*"]);
    let by_source = c.get("/v1/connect/intentions/match?by=source&name=web&name=api").await.json();
    assert_eq!(by_source["web"].as_array().unwrap().len(), 2, "web and the * source");
    assert_eq!(by_source["api"].as_array().unwrap().len(), 1);

    // Replacing keeps one source per name; deleting the last source deletes the entry.
    let r = c.put_json(&upsert("web", "db"), json!({"Action": "deny"})).await;
    assert_eq!(r.json(), json!(true));
    assert_eq!(c.get(&check("web", "db")).await.json(), json!({"Allowed": false}));
    assert_eq!(c.delete(&upsert("web", "db")).await.json(), json!(true));
    let gone = c.get(&upsert("web", "db")).await;
    assert_eq!((gone.status, gone.text().as_str()), (StatusCode::NOT_FOUND, "Intention not found"));
    assert_eq!(c.delete(&upsert("*", "db")).await.json(), json!(true));
    assert_eq!(c.get("/v1/config/service-intentions/db").await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.delete(&upsert("*", "db")).await.json(), json!(true), "deleting nothing is fine");
    assert_eq!(c.get("/v1/connect/intentions").await.json(), json!([]));
    c.shutdown().await;
}

#[tokio::test]
async fn intention_requests_with_bad_parameters_are_refused() {
    let c = Cluster::start(1).await;
    let r =
        c.put_json("/v1/connect/intentions/exact?destination=db", json!({"Action": "allow"})).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::BAD_REQUEST, "required query parameter 'source' not set")
    );
    let r = c.put_json(&upsert("web", "db"), json!({"Action": "maybe"})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("Action must be set to 'allow' or 'deny'"), "{}", r.text());
    let r = c.put_json(&upsert("we*b", "db"), json!({"Action": "allow"})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.text().contains("wildcard character '*' cannot be used with partial values"),
        "{}",
        r.text()
    );
    let r = c.call(Method::PUT, &upsert("web", "db"), Body::from("{")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.put_json(&upsert("web", "db"), json!({"Action": "allow", "Meta": {"a": "b"}})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let r = c.put_json(&upsert("other/web", "db"), json!({"Action": "allow"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for bad in ["", "?by=source", "?by=sideways&name=x", "?name=x"] {
        let r = c.get(&format!("/v1/connect/intentions/match{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = c.get("/v1/connect/intentions/check?source=web&destination=db&source-type=other").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.get("/v1/connect/intentions").await.json(), Value::Array(Vec::new()));
    c.shutdown().await;
}
