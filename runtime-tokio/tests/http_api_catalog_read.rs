//! Catalog and health reads: datacenters, nodes, a node's services, a service's and its
//! Connect instances, gateway services; health of a node, of a service's checks, by state,
//! ingress; with `?tag`, `?node-meta`, `?peer` and `?filter` (400 on a bad expression).

mod http_api_support;

use axum::http::StatusCode;
use http_api_support::Cluster;
use serde_json::{Value, json};

fn names(rows: &Value, field: &str) -> Vec<String> {
    rows.as_array().unwrap().iter().map(|r| r[field].as_str().unwrap().to_owned()).collect()
}

async fn seed(c: &Cluster) {
    c.register(json!({"Node": "n1", "Address": "10.1.10.11", "NodeMeta": {"rack": "r1"},
        "Service": {"Service": "web", "ID": "web1", "Tags": ["prod"], "Port": 80},
        "Checks": [{"CheckID": "serfHealth", "Name": "Serf", "Status": "passing"},
                   {"CheckID": "service:web1", "Name": "web", "Status": "passing",
                    "ServiceID": "web1"}]}))
        .await;
    c.register(json!({"Node": "n2", "Address": "10.1.10.12", "NodeMeta": {"rack": "r2"},
        "Service": {"Service": "web", "ID": "web2", "Tags": ["Staging"], "Port": 80},
        "Check": {"CheckID": "service:web2", "Name": "web", "Status": "critical",
                  "ServiceID": "web2"}}))
        .await;
    c.register(json!({"Node": "n2", "Address": "10.1.10.12", "NodeMeta": {"rack": "r2"},
        "Service": {"Kind": "connect-proxy", "Service": "web-sidecar-proxy",
                    "ID": "web2-sidecar-proxy", "Port": 21000,
                    "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": "web2"}}}))
        .await;
}

#[tokio::test]
async fn catalog_lists_nodes_and_services_with_meta_tag_peer_and_filter() {
    let c = Cluster::start(1).await;
    seed(&c).await;
    assert_eq!(c.get("/v1/catalog/datacenters").await.json(), json!(["dc1"]));

    let nodes = c.get("/v1/catalog/nodes").await;
    assert_eq!(names(&nodes.json(), "Node"), ["n1", "n2"]);
    assert!(nodes.index.unwrap() > 1);
    assert_eq!(nodes.json()[0]["Meta"]["rack"], "r1");
    assert_eq!(names(&c.get("/v1/catalog/nodes?node-meta=rack:r2").await.json(), "Node"), ["n2"]);
    let filtered = c.get("/v1/catalog/nodes?filter=Node%20%3D%3D%20%22n1%22").await;
    assert_eq!(names(&filtered.json(), "Node"), ["n1"]);
    let bad = c.get("/v1/catalog/nodes?filter=not%20a%20valid%20expression((").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let unknown = c.get("/v1/catalog/nodes?filter=Nod%20%3D%3D%20x").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.text().contains(r#"Selector "Nod" is not valid"#), "{}", unknown.text());

    let services = c.get("/v1/catalog/services?filter=%22prod%22%20in%20ServiceTags").await;
    assert_eq!(services.json(), json!({"web": ["prod"]}));
    let services = c.get("/v1/catalog/services?node-meta=rack:r2").await.json();
    assert_eq!(services, json!({"web": ["Staging"], "web-sidecar-proxy": []}));

    let web = c.get("/v1/catalog/service/web").await.json();
    assert_eq!(names(&web, "Node"), ["n1", "n2"]);
    assert_eq!(web[0]["ServiceID"], "web1");
    assert_eq!(web[0]["ServicePort"], 80);
    assert_eq!(web[0]["NodeMeta"]["rack"], "r1");
    assert_eq!(web[0]["Address"], "10.1.10.11");
    let staging = c.get("/v1/catalog/service/web?tag=staging").await.json();
    assert_eq!(names(&staging, "Node"), ["n2"], "tags match without regard to case");
    assert_eq!(c.get("/v1/catalog/service/web?tag=prod&tag=staging").await.json(), json!([]));
    assert_eq!(
        names(&c.get("/v1/catalog/service/web?node-meta=rack:r1").await.json(), "Node"),
        ["n1"]
    );
    let prod = c.get("/v1/catalog/service/web?filter=%22prod%22%20in%20ServiceTags").await.json();
    assert_eq!(names(&prod, "Node"), ["n1"]);
    assert_eq!(c.get("/v1/catalog/service/web?peer=unknown-peer").await.json(), json!([]));
    let merged = c.get("/v1/catalog/service/web?merge-central-config").await.json();
    assert_eq!(names(&merged, "Node"), ["n1", "n2"]);

    let connect = c.get("/v1/catalog/connect/web").await.json();
    assert_eq!(names(&connect, "ServiceID"), ["web2-sidecar-proxy"]);
    assert_eq!(connect[0]["ServiceKind"], "connect-proxy");
    assert_eq!(connect[0]["ServiceProxy"]["DestinationServiceName"], "web");
    let none = c.get("/v1/catalog/connect/web?filter=%22prod%22%20in%20ServiceTags").await;
    assert_eq!((none.status, none.json()), (StatusCode::OK, json!([])));
    assert_eq!(c.get("/v1/catalog/gateway-services/ingress-gateway-1").await.json(), json!([]));
    c.shutdown().await;
}

#[tokio::test]
async fn catalog_node_views_and_unknown_nodes() {
    let c = Cluster::start(1).await;
    seed(&c).await;
    let node = c.get("/v1/catalog/node/n2").await.json();
    assert_eq!(node["Node"]["Address"], "10.1.10.12");
    let ids: Vec<&String> = node["Services"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["web2", "web2-sidecar-proxy"]);
    assert_eq!(node["Services"]["web2"]["Tags"], json!(["Staging"]));
    let filtered = c.get("/v1/catalog/node/n2?filter=Service%20%3D%3D%20%22web%22").await.json();
    let ids: Vec<&String> = filtered["Services"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["web2"], "the filter applies to each service of the node");
    let nothing = c.get("/v1/catalog/node/n2?filter=Service%20%3D%3D%20%22x%22").await.json();
    assert_eq!(nothing["Services"], json!({}));
    let missing = c.get("/v1/catalog/node/n3").await;
    assert_eq!((missing.status, missing.json()), (StatusCode::OK, Value::Null));

    let list = c.get("/v1/catalog/node-services/n1").await.json();
    assert_eq!(list["Node"]["Node"], "n1");
    assert_eq!(names(&list["Services"], "ID"), ["web1"]);
    let empty = c.get("/v1/catalog/node-services/n3").await.json();
    assert_eq!(empty, json!({"Node": null, "Services": []}));
    c.shutdown().await;
}

#[tokio::test]
async fn health_checks_by_node_service_and_state_with_filters() {
    let c = Cluster::start(1).await;
    seed(&c).await;
    let n1 = c.get("/v1/health/node/n1").await.json();
    assert_eq!(names(&n1, "CheckID"), ["serfHealth", "service:web1"]);
    assert_eq!(n1[1]["ServiceTags"], json!(["prod"]));
    assert_eq!(n1[0]["ServiceTags"], json!([]));
    let none = c.get("/v1/health/node/n1?filter=Node%20%3D%3D%20%22x%22").await.json();
    assert_eq!(none, json!([]));
    assert_eq!(c.get("/v1/health/node/ghost").await.json(), json!([]));

    let web = c.get("/v1/health/checks/web").await.json();
    assert_eq!(names(&web, "CheckID"), ["service:web1", "service:web2"]);
    let one = c.get("/v1/health/checks/web?filter=CheckID%20%3D%3D%20%22service%3Aweb2%22").await;
    assert_eq!(names(&one.json(), "ServiceID"), ["web2"]);
    let r2 = c.get("/v1/health/checks/web?node-meta=rack:r2").await.json();
    assert_eq!(names(&r2, "Node"), ["n2"]);

    let any = c.get("/v1/health/state/any").await.json();
    assert_eq!(names(&any, "CheckID"), ["serfHealth", "service:web1", "service:web2"]);
    let passing = c.get("/v1/health/state/passing").await.json();
    assert_eq!(names(&passing, "ServiceID"), ["", "web1"]);
    let critical = c.get("/v1/health/state/critical?filter=ServiceID%20%3D%3D%20%22web2%22").await;
    assert_eq!(names(&critical.json(), "ServiceID"), ["web2"]);
    assert_eq!(c.get("/v1/health/state/warning").await.json(), json!([]));
    let bad = c.get("/v1/health/state/unknown").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("any, passing, warning or critical"), "{}", bad.text());
    c.shutdown().await;
}

#[tokio::test]
async fn health_service_takes_tag_meta_peer_and_instance_filters() {
    let c = Cluster::start(1).await;
    seed(&c).await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|r| r["Service"]["ID"].as_str().unwrap().into()).collect()
    };
    assert_eq!(ids(&c.get("/v1/health/service/web?tag=prod").await.json()), ["web1"]);
    assert_eq!(ids(&c.get("/v1/health/service/web?node-meta=rack:r2").await.json()), ["web2"]);
    let f = c.get("/v1/health/service/web?filter=%22prod%22%20in%20Service.Tags").await.json();
    assert_eq!(ids(&f), ["web1"]);
    let none = c.get("/v1/health/service/web?filter=%22x%22%20in%20Service.Tags").await.json();
    assert_eq!(none, json!([]));
    assert_eq!(c.get("/v1/health/service/web?peer=non-existent-peer").await.json(), json!([]));
    assert_eq!(
        ids(&c.get("/v1/health/service/web?merge-central-config").await.json()),
        ["web1", "web2"]
    );
    let bad = c.get("/v1/health/service/web?filter=Service.Tagz%20contains%20x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.get("/v1/health/ingress/web").await.json(), json!([]));
    let ingress = c.get("/v1/health/ingress/web?filter=Node.Node%20!%3D%20%60%60").await;
    assert_eq!((ingress.status, ingress.json()), (StatusCode::OK, json!([])));
    c.shutdown().await;
}

#[tokio::test]
async fn registration_bodies_match_fields_without_case_and_checks_default_their_id() {
    let c = Cluster::start(1).await;
    let body = json!({"node": "n1", "address": "10.1.10.11", "datacenter": "dc1",
        "service": {"service": "s1", "tags": ["master"]}, "check": {"name": "c1"},
        "WriteRequest": {"Token": "ignored"}, "SkipNodeUpdate": false});
    c.register(body).await;
    let node = c.get("/v1/catalog/node/n1").await.json();
    assert_eq!(node["Services"]["s1"]["Tags"], json!(["master"]), "the id defaults to the name");
    let checks = c.get("/v1/health/node/n1").await.json();
    assert_eq!(names(&checks, "CheckID"), ["c1"], "a check's id defaults to its name");
    assert_eq!(checks[0]["Status"], "critical");
    let r = c.put_json("/v1/catalog/deregister", json!({"node": "n1", "checkid": "c1"})).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)));
    assert_eq!(c.get("/v1/health/node/n1").await.json(), json!([]));
    c.shutdown().await;
}

#[tokio::test]
async fn another_datacenter_has_no_path() {
    let c = Cluster::start(1).await;
    seed(&c).await;
    for uri in [
        "/v1/catalog/nodes?dc=dc2",
        "/v1/catalog/services?dc=dc2",
        "/v1/catalog/node/n1?dc=dc2",
        "/v1/catalog/service/web?dc=dc2",
        "/v1/health/service/web?dc=dc2",
    ] {
        let r = c.get(uri).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "No path to datacenter"),
            "{uri}"
        );
    }
    assert_eq!(c.get("/v1/catalog/nodes?dc=dc1").await.status, StatusCode::OK);
    let r = c
        .put_json(
            "/v1/catalog/register",
            json!({"Node": "x", "Address": "10.0.0.9", "Datacenter": "dc2"}),
        )
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "No path to datacenter")
    );
    let r = c.put_json("/v1/catalog/deregister", json!({"Node": "n1", "Datacenter": "dc2"})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(names(&c.get("/v1/catalog/nodes").await.json(), "Node"), ["n1", "n2"]);
    c.shutdown().await;
}

#[tokio::test]
async fn skip_node_update_keeps_the_stored_node() {
    let c = Cluster::start(1).await;
    let tagged = json!({"lan": "10.1.10.11", "wan": "10.1.10.21"});
    c.register(json!({"Node": "n", "Address": "10.1.10.11", "TaggedAddresses": tagged,
                      "Service": {"Service": "s"}}))
        .await;
    c.register(json!({"Node": "n", "Address": "10.9.9.9", "SkipNodeUpdate": true,
                      "Service": {"Service": "t"}}))
        .await;
    let node = c.get("/v1/catalog/node/n").await.json();
    assert_eq!(node["Node"]["Address"], "10.1.10.11");
    assert_eq!(node["Node"]["TaggedAddresses"], tagged);
    let ids: Vec<&String> = node["Services"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["s", "t"], "the service still registers");
    c.register(json!({"Node": "fresh", "Address": "10.2.2.2", "SkipNodeUpdate": true})).await;
    assert_eq!(c.get("/v1/catalog/node/fresh").await.json()["Node"]["Address"], "10.2.2.2");
    c.shutdown().await;
}

#[tokio::test]
async fn ingress_gateways_list_their_services_and_show_in_health_ingress() {
    let c = Cluster::start(1).await;
    assert_eq!(c.get("/v1/catalog/gateway-services/ingress-gateway-1").await.json(), json!([]));
    c.register(json!({"node": "n-gw", "address": "10.1.10.51",
        "service": {"service": "ingress-gateway-1", "kind": "ingress-gateway"}}))
        .await;
    c.register(json!({"node": "n-gw", "address": "10.1.10.51",
        "service": {"service": "web-gw", "port": 8080}}))
        .await;
    let entry = json!({"Kind": "ingress-gateway", "Name": "ingress-gateway-1",
        "Listeners": [{"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "web-gw"}]}]});
    let r = c.put_json("/v1/config", entry).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)), "{}", r.text());

    let rows = c.get("/v1/catalog/gateway-services/ingress-gateway-1").await.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["Service"]["Name"], "web-gw");
    assert_eq!(rows[0]["Gateway"]["Name"], "ingress-gateway-1");
    assert_eq!(rows[0]["GatewayKind"], "ingress-gateway");
    assert_eq!((rows[0]["Port"].clone(), rows[0]["Protocol"].clone()), (json!(8080), json!("tcp")));
    let none =
        c.get("/v1/catalog/gateway-services/ingress-gateway-1?filter=Port%20%3D%3D%201").await;
    assert_eq!(none.json(), json!([]));

    let ingress = c.get("/v1/health/ingress/web-gw").await.json();
    assert_eq!(ingress.as_array().unwrap().len(), 1);
    assert_eq!(ingress[0]["Service"]["Kind"], "ingress-gateway");
    assert_eq!(ingress[0]["Node"]["Node"], "n-gw");
    assert_eq!(c.get("/v1/health/ingress/other").await.json(), json!([]));
    let catalog = c.get("/v1/catalog/service/ingress-gateway-1").await.json();
    assert_eq!(catalog[0]["ServiceKind"], "ingress-gateway");
    c.shutdown().await;
}
