//! `PUT /v1/catalog/register`, `PUT /v1/catalog/deregister`, `GET /v1/catalog/services`
//! (CONSUL-FACTS.md §8; `?node-meta` and `?filter` narrow the instances whose tags count). Register and deregister answer `true`; a registration the state
//! machine refuses is a 500 with its message, as Consul surfaces `Catalog.Register` errors.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use proconsul_core::state::{Check, Command, Node, Service, WatchKey};

use proconsul_core::filter::Schema;

use super::catalog_body::{DEREGISTER, REGISTER, Shape, canonical};
use super::catalog_read::services_selected;
use super::dc::{NO_PATH, is_remote};
use super::selection::{Rows, Selection};
use super::{ApiError, ApiState, blocking, json, with_meta, write};
use crate::raft::ReadConsistency;

/// Consul's `structs.RegisterRequest` body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RegisterBody {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    datacenter: String,
    tagged_addresses: BTreeMap<String, String>,
    node_meta: BTreeMap<String, String>,
    service: Option<Service>,
    check: Option<Check>,
    checks: Vec<Check>,
    /// Leave an existing node's row as it is (register only the service and checks).
    skip_node_update: bool,
}

/// Consul's `structs.DeregisterRequest` body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeregisterBody {
    node: String,
    datacenter: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
    #[serde(rename = "CheckID")]
    check_id: String,
}

/// Consul decodes any body as JSON whatever its `Content-Type` (clients often send none),
/// with field names matched without regard to case.
fn decoded<T: serde::de::DeserializeOwned>(body: &[u8], shape: Shape) -> Result<T, ApiError> {
    let failed =
        |e: serde_json::Error| ApiError::BadRequest(format!("Request decoding failed: {e}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(failed)?;
    serde_json::from_value(canonical(value, shape)).map_err(failed)
}

/// Consul's `Catalog.Register` fix-ups: a check without an id takes its name as id.
fn fill_check_id(mut check: Check) -> Check {
    if check.check_id.is_empty() {
        check.check_id = check.name.clone();
    }
    check
}

/// `PUT /v1/catalog/register`.
pub(crate) async fn register(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: RegisterBody = decoded(&body, REGISTER)?;
    if is_remote(&state, &b.datacenter) {
        return Err(ApiError::Internal(NO_PATH.into()));
    }
    let existing = if b.skip_node_update {
        let name = b.node.clone();
        state.node.read(ReadConsistency::Consistent, |sm| sm.node(&name).cloned()).await?
    } else {
        None
    };
    let node = existing.unwrap_or(Node {
        id: b.id,
        node: b.node,
        address: b.address,
        datacenter: b.datacenter,
        tagged_addresses: b.tagged_addresses,
        meta: b.node_meta,
        ..Node::default()
    });
    let checks = b.check.into_iter().chain(b.checks).map(fill_check_id).collect();
    let ok = write(&state, Command::Register { node, service: b.service, checks }).await?;
    Ok(json(&ok))
}

/// `PUT /v1/catalog/deregister`: a check if `CheckID`, else an instance if `ServiceID`,
/// else the whole node.
pub(crate) async fn deregister(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: DeregisterBody = decoded(&body, DEREGISTER)?;
    if is_remote(&state, &b.datacenter) {
        return Err(ApiError::Internal(NO_PATH.into()));
    }
    if b.node.is_empty() {
        return Err(ApiError::BadRequest("Missing node name".into()));
    }
    let command = if !b.check_id.is_empty() {
        Command::DeregisterCheck { node: b.node, check_id: b.check_id }
    } else if !b.service_id.is_empty() {
        Command::DeregisterService { node: b.node, service_id: b.service_id }
    } else {
        Command::DeregisterNode { node: b.node }
    };
    let ok = write(&state, command).await?;
    Ok(json(&ok))
}

/// `GET /v1/catalog/services`: service name → union of its tags.
pub(crate) async fn services(
    State(state): State<ApiState>,
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::ServiceNode))?;
    let opts = params.query_options()?;
    let narrowed = !sel.node_meta.is_empty() || sel.filter.is_some() || !sel.local();
    let (services, index) = blocking::query(&state, &opts, &WatchKey::Services, |sm| {
        if narrowed { services_selected(sm, &sel) } else { sm.catalog_services() }
    })
    .await?;
    Ok(with_meta(&state, index, json(&services)))
}
