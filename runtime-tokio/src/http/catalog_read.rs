//! Catalog reads (Consul's `catalog_endpoint.go`): datacenters, nodes, one node's services
//! (as a map and as a list), a service's instances, its Connect-capable instances, and the
//! services a gateway fronts. Rows are in Consul's JSON shapes; `?filter` is evaluated against
//! each row in that shape, so selectors are the ones Consul documents for the endpoint.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use proconsul_core::filter::Schema;
use proconsul_core::state::{Node, Service, ServiceHealth, StateMachine, WatchKey};
use serde_json::{Value, json};

use super::selection::{Rows, Selection, respond_rows};
use super::{ApiError, ApiState, blocking, json, with_meta};
use crate::raft::ReadConsistency;

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/catalog/datacenters", get(datacenters))
        .route("/v1/catalog/nodes", get(nodes))
        .route("/v1/catalog/node/{node}", get(node))
        .route("/v1/catalog/node-services/{node}", get(node_services))
        .route("/v1/catalog/service/{service}", get(service))
        .route("/v1/catalog/connect/{service}", get(connect))
        .route("/v1/catalog/gateway-services/{gateway}", get(gateway_services))
}

/// `GET /v1/catalog/datacenters`: the datacenters this server knows, nearest first. Without
/// WAN federation that is its own.
async fn datacenters(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let dc = state.node.read(ReadConsistency::Stale, |sm| sm.datacenter().to_string()).await?;
    Ok(json(&[dc]))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    // Catalog rows are plain structs with string keys: serializing cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `GET /v1/catalog/nodes[?node-meta=k:v][&filter=][&near=]`.
async fn nodes(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::Node))?;
    let opts = params.query_options()?;
    respond_rows(&state, &opts, &sel, &WatchKey::Nodes, |sm| {
        sm.nodes()
            .filter(|n| sel.local() && sel.node_matches(n))
            .map(to_value)
            .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
            .collect()
    })
    .await
}

/// The node's services as Consul's `NodeService` rows, each kept if it passes `?filter`.
fn node_service_rows(sm: &StateMachine, node: &str, sel: &Selection) -> Vec<Value> {
    sm.node_services(node)
        .map(to_value)
        .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
        .collect()
}

/// `GET /v1/catalog/node/{node}`: `{"Node", "Services": {id: NodeService}}`, or `null` (200)
/// for an unknown node. `?filter` applies to each service.
async fn node(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::NodeService))?;
    let opts = params.query_options()?;
    let keys = [WatchKey::Nodes, WatchKey::Services];
    let (body, index) = blocking::query_keys(&state, &opts, &keys, |sm| {
        let node = sm.node(&name)?;
        let services: serde_json::Map<String, Value> = node_service_rows(sm, &name, &sel)
            .into_iter()
            .map(|v| (v["ID"].as_str().unwrap_or_default().to_owned(), v))
            .collect();
        Some(json!({"Node": node, "Services": services}))
    })
    .await?;
    Ok(with_meta(&state, index, json(&body)))
}

/// `GET /v1/catalog/node-services/{node}`: `{"Node", "Services": [NodeService]}`; an unknown
/// node gives `{"Node": null, "Services": []}`.
async fn node_services(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::NodeService))?;
    let opts = params.query_options()?;
    let keys = [WatchKey::Nodes, WatchKey::Services];
    let (body, index) = blocking::query_keys(
        &state,
        &opts,
        &keys,
        |sm| json!({"Node": sm.node(&name), "Services": node_service_rows(sm, &name, &sel)}),
    )
    .await?;
    Ok(with_meta(&state, index, json(&body)))
}

/// One `ServiceNode` row (`/v1/catalog/service/...`): the node's fields, then the instance's
/// under `Service*` names.
pub(crate) fn service_node(node: &Node, s: &Service) -> Value {
    json!({
        "ID": node.id,
        "Node": node.node,
        "Address": node.address,
        "Datacenter": node.datacenter,
        "TaggedAddresses": node.tagged_addresses,
        "NodeMeta": node.meta,
        "ServiceKind": s.kind,
        "ServiceID": s.id,
        "ServiceName": s.service,
        "ServiceTags": s.tags,
        "ServiceAddress": s.address,
        "ServiceTaggedAddresses": s.tagged_addresses,
        "ServiceWeights": s.weights,
        "ServiceMeta": s.meta,
        "ServicePort": s.port,
        "ServiceEnableTagOverride": false,
        "ServiceProxy": s.proxy.clone().unwrap_or_default(),
        "ServiceConnect": s.connect,
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// Instances that pass `?tag`, `?node-meta`, `?peer` and `?filter`, as `ServiceNode` rows.
pub(crate) fn service_nodes(rows: Vec<ServiceHealth>, sel: &Selection) -> Vec<Value> {
    rows.into_iter()
        .filter(|r| sel.local() && sel.node_matches(&r.node) && sel.tags_match(&r.service))
        .map(|r| service_node(&r.node, &r.service))
        .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
        .collect()
}

/// `GET /v1/catalog/service/{service}[?tag=][&node-meta=][&filter=]`.
async fn service(
    state: State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read_service(state, name, query, false).await
}

/// `GET /v1/catalog/connect/{service}`: the service's sidecars and Connect-native instances.
async fn connect(
    state: State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read_service(state, name, query, true).await
}

async fn read_service(
    State(state): State<ApiState>,
    name: String,
    query: RawQuery,
    connect: bool,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::ServiceNode))?;
    // `?merge-central-config` only changes proxies' `ServiceProxy`; validated as a flag.
    params.bool_flag("merge-central-config")?;
    let opts = params.query_options()?;
    let key = if connect {
        WatchKey::ConnectService(name.clone())
    } else {
        WatchKey::ServiceName(name.clone())
    };
    respond_rows(&state, &opts, &sel, &key, |sm| {
        let rows =
            if connect { sm.health_connect(&name, false) } else { sm.health_service(&name, false) };
        service_nodes(rows, &sel)
    })
    .await
}

/// `GET /v1/catalog/gateway-services/{gateway}`: the services an ingress gateway's config
/// entry exposes (wildcards expanded over the catalog); `[]` for a gateway without one, as
/// Consul answers.
async fn gateway_services(
    State(state): State<ApiState>,
    Path(gateway): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::GatewayService))?;
    let opts = params.query_options()?;
    let keys = [WatchKey::ConfigEntries, WatchKey::Services];
    let (rows, index) = blocking::query_keys(&state, &opts, &keys, |sm| {
        sm.gateway_services(&gateway)
            .iter()
            .map(|g| g.to_value())
            .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(with_meta(&state, index, json(&rows)))
}

/// Service name → union of its tags over the instances that pass `sel` (`/v1/catalog/services`
/// with `?node-meta` or `?filter`; the filter sees `ServiceNode` rows).
pub(crate) fn services_selected(
    sm: &StateMachine,
    sel: &Selection,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for name in sm.catalog_services().keys() {
        for row in service_nodes(sm.health_service(name, false), sel) {
            let tags = out.entry(name.clone()).or_default();
            if let Some(list) = row["ServiceTags"].as_array() {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_owned)));
            }
        }
    }
    out.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect()
}
