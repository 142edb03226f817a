//! `/v1/coordinate/*`: servers at serf's starting coordinate per datacenter; agents' written
//! coordinates read back (per node, all nodes, blocking); unknown nodes skipped; bad
//! coordinates refused.

mod http_api_support;

use std::time::Duration;

use axum::http::StatusCode;
use http_api_support::Cluster;
use serde_json::json;

fn coord(error: f64) -> serde_json::Value {
    json!({"Adjustment": 0.0, "Error": error, "Height": 0.0, "Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]})
}

#[tokio::test]
async fn datacenters_list_the_servers_by_node_name() {
    let c = Cluster::start(1).await;
    c.register_servers().await;
    let dcs = c.get("/v1/coordinate/datacenters").await.json();
    assert_eq!(dcs[0]["Datacenter"], "dc1");
    assert_eq!(dcs[0]["AreaID"], "wan");
    assert_eq!(dcs[0]["Coordinates"][0]["Node"], "server1");
    assert_eq!(dcs[0]["Coordinates"][0]["Coord"]["Error"], 1.5);
    assert_eq!(dcs[0]["Coordinates"][0]["Coord"]["Vec"].as_array().unwrap().len(), 8);
    c.shutdown().await;
}

#[tokio::test]
async fn written_coordinates_read_back_and_unknown_nodes_have_none() {
    let c = Cluster::start(1).await;
    c.register_servers().await;
    assert_eq!(c.get("/v1/coordinate/nodes").await.json(), json!([]));
    let miss = c.get("/v1/coordinate/node/server1").await;
    assert_eq!(miss.status, StatusCode::NOT_FOUND);
    assert!(miss.index.is_some());

    let r =
        c.put_json("/v1/coordinate/update", json!({"Node": "server1", "Coord": coord(0.25)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let node = c.get("/v1/coordinate/node/server1").await;
    assert_eq!(node.status, StatusCode::OK);
    assert_eq!(node.json(), json!([{"Node": "server1", "Segment": "", "Coord": coord(0.25)}]));

    let r =
        c.put_json("/v1/coordinate/update", json!({"Node": "ghost", "Coord": coord(0.3)})).await;
    assert_eq!(r.status, StatusCode::OK, "accepted, as Consul queues it");
    assert_eq!(c.get("/v1/coordinate/node/ghost").await.status, StatusCode::NOT_FOUND);
    let all = c.get("/v1/coordinate/nodes").await.json();
    assert_eq!(all.as_array().unwrap().len(), 1);

    let short = json!({"Node": "server1", "Coord": {"Vec": [0, 0], "Error": 1.5}});
    let r = c.put_json("/v1/coordinate/update", short).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "incompatible coordinate")
    );
    let r = c.put_json("/v1/coordinate/update", json!({"Coord": coord(0.1)})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.put_json("/v1/coordinate/update", json!("not an object")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Deregistering the node drops its coordinate.
    let r = c.put_json("/v1/catalog/deregister", json!({"Node": "server1"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get("/v1/coordinate/nodes").await.json(), json!([]));
    c.shutdown().await;
}

#[tokio::test]
async fn coordinate_reads_block_until_a_coordinate_changes() {
    let c = Cluster::start(1).await;
    c.register_servers().await;
    let index = c.get("/v1/coordinate/nodes").await.index.unwrap();
    let blocked = c.get_owned(format!("/v1/coordinate/nodes?index={index}&wait=5s"));
    let writer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.put_json("/v1/coordinate/update", json!({"Node": "server1", "Coord": coord(0.5)})).await
    };
    let (reply, _) = tokio::join!(blocked, writer);
    assert_eq!(reply.json()[0]["Coord"]["Error"], 0.5);
    assert!(reply.index.unwrap() > index);
    c.shutdown().await;
}

#[tokio::test]
async fn near_orders_rows_by_round_trip_from_a_node_or_the_agent() {
    let c = Cluster::start(1).await;
    let agent = proconsul_runtime_tokio::http::DEFAULT_NODE_NAME;
    for (node, x) in [("far", 0.9), ("mid", 0.4), (agent, 0.0), ("near", 0.1), ("unknown", -1.0)] {
        c.register(json!({"Node": node, "Address": "10.0.0.1",
            "Service": {"Service": "web", "ID": format!("web-{node}"), "Port": 80},
            "Check": {"CheckID": format!("chk-{node}"), "Name": "c", "Status": "passing",
                      "ServiceID": format!("web-{node}")}}))
            .await;
        if x >= 0.0 {
            let mut coord = coord(1.5);
            coord["Vec"][0] = json!(x);
            c.put_json("/v1/coordinate/update", json!({"Node": node, "Coord": coord})).await;
        }
    }
    let order = |rows: serde_json::Value,
                 pick: &dyn Fn(&serde_json::Value) -> String|
     -> Vec<String> { rows.as_array().unwrap().iter().map(pick).collect() };
    let by_node = |v: &serde_json::Value| v["Node"].as_str().unwrap().to_owned();
    let expected = [agent, "near", "mid", "far", "unknown"];
    let nodes = c.get("/v1/catalog/nodes?near=_agent").await.json();
    assert_eq!(order(nodes, &by_node), expected);
    let from_far = c.get("/v1/catalog/nodes?near=far").await.json();
    assert_eq!(order(from_far, &by_node), ["far", "mid", "near", agent, "unknown"]);
    let service = c.get(&format!("/v1/catalog/service/web?near={agent}")).await.json();
    assert_eq!(order(service, &by_node), expected);
    let health = c.get("/v1/health/service/web?near=_agent").await.json();
    let health_nodes = order(health, &|v| v["Node"]["Node"].as_str().unwrap().to_owned());
    assert_eq!(health_nodes, expected);
    let checks = c.get("/v1/health/state/passing?near=_agent").await.json();
    assert_eq!(order(checks, &by_node), expected);
    let unsorted = c.get("/v1/catalog/nodes?near=unknown").await.json();
    let mut names = order(unsorted, &by_node);
    let as_listed = names.clone();
    names.sort();
    assert_eq!(as_listed, names, "a node without a coordinate leaves the order alone");
    c.shutdown().await;
}
