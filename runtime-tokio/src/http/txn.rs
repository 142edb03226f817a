//! `PUT /v1/txn` (Consul's `txn_endpoint.go`): a JSON array of `{"KV": {...}}`,
//! `{"Node": {...}}`, `{"Service": {...}}` and `{"Check": {...}}` operations.
//!
//! ```text
//!  body ─► decode (400) ─► > 128 ops or a value > 512 KiB (413) ─► unknown verbs (409)
//!     ├─ reads only ─► StateMachine::txn_read on this server's state (no raft)
//!     └─ any write  ─► Command::Txn through raft ─► ApplyOutput::Txn
//!  Committed  ─► 200 {"Results": [...], "Errors": null}
//!  RolledBack ─► 409 {"Results": null, "Errors": [{"OpIndex", "What"}]}
//! ```
//!
//! KV values travel base64-encoded both ways (`null` for empty), as in `/v1/kv`. Field names
//! match without case, except inside a `Service` payload (Consul's casing only).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use base64::Engine as _;
use proconsul_core::state::{
    ApplyOutput, CatalogVerb, Command, KvVerb, TXN_MAX_OPS, Txn, TxnCheckOp, TxnError, TxnKvOp,
    TxnNodeOp, TxnOp, TxnOutcome, TxnResult, TxnServiceOp,
};
use serde_json::{Map, Value};

use super::catalog_body::Shape::{Keep, Object};
use super::catalog_body::{Shape, canonical};
use super::kv::{KvJson, MAX_VALUE_BYTES};
use super::{ApiError, ApiState, Params, json, with_meta};
use crate::raft::WriteOutcome;

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/txn", put(txn))
}

const NODE: Shape = Object(&[
    ("ID", Keep),
    ("Node", Keep),
    ("Address", Keep),
    ("Datacenter", Keep),
    ("TaggedAddresses", Keep),
    ("Meta", Keep),
    ("CreateIndex", Keep),
    ("ModifyIndex", Keep),
]);

const CHECK: Shape = Object(&[
    ("Node", Keep),
    ("CheckID", Keep),
    ("Name", Keep),
    ("Status", Keep),
    ("Notes", Keep),
    ("Output", Keep),
    ("ServiceID", Keep),
    ("ServiceName", Keep),
    ("CreateIndex", Keep),
    ("ModifyIndex", Keep),
]);

/// One operation's fields; a `Service` payload is read in Consul's casing only.
const OP: Shape = Object(&[
    (
        "KV",
        Object(&[
            ("Verb", Keep),
            ("Key", Keep),
            ("Value", Keep),
            ("Flags", Keep),
            ("Index", Keep),
            ("Session", Keep),
        ]),
    ),
    ("Node", Object(&[("Verb", Keep), ("Node", NODE)])),
    ("Service", Object(&[("Verb", Keep), ("Node", Keep), ("Service", Keep)])),
    ("Check", Object(&[("Verb", Keep), ("Check", CHECK)])),
]);

/// A KV op's body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvBody {
    verb: String,
    key: String,
    value: Option<String>,
    flags: u64,
    index: u64,
    session: String,
}

/// A catalog op's body in Consul's casing; the payload is decoded per kind.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CatalogBody {
    verb: String,
    #[serde(default)]
    node: Value,
    #[serde(default)]
    service: Value,
    #[serde(default)]
    check: Value,
}

/// Why an op could not become a core op: a request error, or (as in Consul) an unknown
/// verb reported as a transaction error.
enum Bad {
    Request(ApiError),
    Verb(String),
}

fn decode_failed(e: impl std::fmt::Display) -> Bad {
    Bad::Request(ApiError::BadRequest(format!("Failed to parse body: {e}")))
}

fn kv_op(inner: Value) -> Result<TxnOp, Bad> {
    let b: KvBody = serde_json::from_value(inner).map_err(decode_failed)?;
    let verb = KvVerb::ALL
        .into_iter()
        .find(|v| v.as_str() == b.verb)
        .ok_or_else(|| Bad::Verb(format!("unknown KV verb {:?}", b.verb)))?;
    let value = match b.value.as_deref() {
        None | Some("") => Vec::new(),
        Some(v) => base64::engine::general_purpose::STANDARD.decode(v).map_err(decode_failed)?,
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(Bad::Request(ApiError::TooLarge(format!(
            "Value for key {:?} is too large ({} > {MAX_VALUE_BYTES} bytes)",
            b.key,
            value.len()
        ))));
    }
    let (key, flags, index, session) = (b.key, b.flags, b.index, b.session);
    Ok(TxnOp::Kv(TxnKvOp { verb, key, value, flags, index, session }))
}

fn catalog_op(kind: &str, inner: Value) -> Result<TxnOp, Bad> {
    let b: CatalogBody = serde_json::from_value(inner).map_err(decode_failed)?;
    let verb = CatalogVerb::ALL
        .into_iter()
        .find(|v| v.as_str() == b.verb)
        .ok_or_else(|| Bad::Verb(format!("unknown {kind} verb {:?}", b.verb)))?;
    let payload = |v: Value| if v.is_null() { Value::Object(Map::new()) } else { v };
    Ok(match kind {
        "Node" => {
            let node = serde_json::from_value(payload(b.node)).map_err(decode_failed)?;
            TxnOp::Node(TxnNodeOp { verb, node })
        }
        "Service" => {
            let node = serde_json::from_value(payload(b.node)).map_err(decode_failed)?;
            let service = serde_json::from_value(payload(b.service)).map_err(decode_failed)?;
            TxnOp::Service(Box::new(TxnServiceOp { verb, node, service }))
        }
        _ => {
            let check = serde_json::from_value(payload(b.check)).map_err(decode_failed)?;
            TxnOp::Check(TxnCheckOp { verb, check })
        }
    })
}

fn op(value: Value) -> Result<TxnOp, Bad> {
    let Value::Object(map) = canonical(value, OP) else {
        return Err(decode_failed("each operation must be an object"));
    };
    let mut kinds = map.into_iter();
    let (Some((kind, inner)), None) = (kinds.next(), kinds.next()) else {
        return Err(decode_failed(
            "each operation must have exactly one of KV, Node, Service, Check",
        ));
    };
    match kind.as_str() {
        "KV" => kv_op(inner),
        "Node" | "Service" | "Check" => catalog_op(&kind, inner),
        other => Err(decode_failed(format!("unknown operation type {other:?}"))),
    }
}

/// Why the body never reached the state machine.
enum Rejected {
    /// 400 or 413.
    Request(ApiError),
    /// 409: unknown verbs, reported per op as Consul does.
    Verbs(Vec<TxnError>),
}

/// The ops, or why there are none to run.
fn decode(body: &[u8]) -> Result<Vec<TxnOp>, Rejected> {
    let values: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        Rejected::Request(ApiError::BadRequest(format!("Failed to parse body: {e}")))
    })?;
    if values.len() > TXN_MAX_OPS {
        let msg =
            format!("Transaction contains too many operations ({} > {TXN_MAX_OPS})", values.len());
        return Err(Rejected::Request(ApiError::TooLarge(msg)));
    }
    let (mut ops, mut errors) = (Vec::new(), Vec::new());
    for (op_index, value) in values.into_iter().enumerate() {
        match op(value) {
            Ok(o) => ops.push(o),
            Err(Bad::Request(e)) => return Err(Rejected::Request(e)),
            Err(Bad::Verb(what)) => errors.push(TxnError { op_index, what }),
        }
    }
    if !errors.is_empty() {
        return Err(Rejected::Verbs(errors));
    }
    Ok(ops)
}

fn result_json(r: &TxnResult) -> Value {
    let (kind, value) = match r {
        TxnResult::Kv(e) => ("KV", serde_json::to_value(KvJson::from(e))),
        TxnResult::Node(n) => ("Node", serde_json::to_value(n)),
        TxnResult::Service(s) => ("Service", serde_json::to_value(s)),
        TxnResult::Check(c) => ("Check", serde_json::to_value(c)),
    };
    let mut map = Map::new();
    map.insert(kind.into(), value.unwrap_or(Value::Null));
    Value::Object(map)
}

fn outcome_response(outcome: TxnOutcome) -> Response {
    match outcome {
        TxnOutcome::Committed(results) => {
            let results: Vec<Value> = results.iter().map(result_json).collect();
            json(&serde_json::json!({ "Results": results, "Errors": null }))
        }
        TxnOutcome::RolledBack(errors) => {
            let body = serde_json::json!({ "Results": null, "Errors": errors });
            (StatusCode::CONFLICT, json(&body)).into_response()
        }
    }
}

/// `PUT /v1/txn`.
async fn txn(
    State(state): State<ApiState>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let ops = match decode(&body) {
        Ok(ops) => ops,
        Err(Rejected::Request(e)) => return Err(e),
        Err(Rejected::Verbs(errors)) => {
            return Ok(outcome_response(TxnOutcome::RolledBack(errors)));
        }
    };
    if !ops.iter().any(TxnOp::is_write) {
        let opts = params.query_options()?;
        let (outcome, index) =
            state.node.read(opts.consistency, |sm| (sm.txn_read(&ops), sm.last_index())).await?;
        return Ok(with_meta(&state, index, outcome_response(outcome)));
    }
    let resp = state.node.write(Command::Txn(Txn { ops, now_ms: state.now_ms() })).await?;
    match (resp.outcome, resp.output) {
        (WriteOutcome::Applied { .. }, Some(ApplyOutput::Txn(outcome))) => {
            Ok(outcome_response(outcome))
        }
        (WriteOutcome::Refused { reason }, _) => Err(ApiError::Internal(reason)),
        _ => Err(ApiError::Internal("transaction applied without an outcome".into())),
    }
}
