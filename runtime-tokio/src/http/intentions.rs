//! Intentions over `service-intentions` config entries (CONSUL-FACTS.md §2, §8), in Consul's
//! legacy `Intention` JSON: `GET /v1/connect/intentions[?filter=]`,
//! `GET|PUT|DELETE /v1/connect/intentions/exact?source=&destination=`,
//! `GET /v1/connect/intentions/check?source=&destination=` → `{"Allowed": bool}`, and
//! `GET /v1/connect/intentions/match?by=source|destination&name=` → `{name: [Intention]}`.
//!
//! An exact write edits the destination's entry with the core's pure helpers and writes it
//! back with a CAS on the entry's index, retrying when another write got there first, so
//! concurrent edits of one destination never drop each other's sources. Validation is the
//! config entry's (500 with its message, as Consul's RPC errors are).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use proconsul_core::config::{ConfigEntry, Kind, ServiceIntentions, SourceIntention};
use proconsul_core::filter::Schema;
use proconsul_core::intentions::{
    DefaultPolicy, Intention, find_source, remove_source, upsert_source,
};
use proconsul_core::state::{Command, StateMachine, WatchKey};
use serde_json::{Value, json};

use super::selection::{Rows, Selection};
use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};
use crate::raft::ReadConsistency;

type RawQuery = Query<Vec<(String, String)>>;

/// CAS attempts for one exact write before giving up (each loses only to another write).
const CAS_ATTEMPTS: usize = 8;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/connect/intentions", get(list))
        .route("/v1/connect/intentions/exact", get(read_exact).put(put_exact).delete(delete_exact))
        .route("/v1/connect/intentions/check", get(check))
        .route("/v1/connect/intentions/match", get(matches))
}

/// One source of one entry as Consul's `structs.Intention` JSON.
fn intention_json(entry: &ServiceIntentions, s: &SourceIntention, indexes: (u64, u64)) -> Value {
    let ns = |v: &str| if v.is_empty() { "default".to_owned() } else { v.to_owned() };
    let mut v = json!({
        "ID": s.legacy_id,
        "Description": s.description,
        "SourceNS": ns(&s.namespace),
        "SourceName": s.name,
        "DestinationNS": ns(&entry.namespace),
        "DestinationName": entry.name,
        "SourceType": if s.r#type.is_empty() { "consul" } else { s.r#type.as_str() },
        "Action": s.action,
        "Meta": s.legacy_meta,
        "Precedence": Intention::from_source(entry, s).precedence,
        "CreateIndex": indexes.0,
        "ModifyIndex": indexes.1,
    });
    if let Value::Object(map) = &mut v {
        if !s.peer.is_empty() {
            map.insert("SourcePeer".into(), s.peer.clone().into());
        }
        if !s.permissions.is_empty() {
            map.insert("Permissions".into(), json!(s.permissions));
        }
        for (key, time) in
            [("CreatedAt", &s.legacy_create_time), ("UpdatedAt", &s.legacy_update_time)]
        {
            if let Some(t) = time {
                map.insert(key.into(), t.clone().into());
            }
        }
    }
    v
}

/// Every intention, highest precedence first (Consul's `IntentionPrecedenceSorter`).
fn all_intentions(sm: &StateMachine) -> Vec<(Intention, Value)> {
    let mut out = Vec::new();
    for stored in sm.config_entries(Some(Kind::ServiceIntentions)) {
        let ConfigEntry::ServiceIntentions(entry) = &stored.entry else { continue };
        for s in &entry.sources {
            let row = intention_json(entry, s, (stored.create_index, stored.modify_index));
            out.push((Intention::from_source(entry, s), row));
        }
    }
    out.sort_by(|a, b| Intention::evaluation_order(&a.0, &b.0));
    out
}

async fn list(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let (params, sel) = Selection::parse(query, Rows::Records(Schema::Intention))?;
    let opts = params.query_options()?;
    let (rows, index) = blocking::query(&state, &opts, &WatchKey::Intentions, |sm| {
        all_intentions(sm)
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| sel.record_filter().is_none_or(|f| f.matches(v)))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(with_meta(&state, index, json(&rows)))
}

/// A required query parameter (Consul's wording when absent), as a CE name: `ns/name` is
/// accepted for the default namespace only.
fn name_param(params: &Params, key: &str) -> Result<String, ApiError> {
    let raw = params
        .get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("required query parameter '{key}' not set")))?;
    match raw.split_once('/') {
        None => Ok(raw.to_owned()),
        Some(("default" | "*", name)) if !name.is_empty() && !name.contains('/') => {
            Ok(name.to_owned())
        }
        Some(_) => Err(ApiError::BadRequest(format!(
            "Invalid {key} {raw:?}: namespaces other than \"default\" are not supported"
        ))),
    }
}

/// The destination's entry with its indexes.
fn entry_of(sm: &StateMachine, destination: &str) -> Option<(ServiceIntentions, u64, u64)> {
    let stored = sm.config_entry(Kind::ServiceIntentions, destination)?;
    match stored.entry {
        ConfigEntry::ServiceIntentions(e) => Some((e, stored.create_index, stored.modify_index)),
        _ => None,
    }
}

async fn read_exact(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (source, destination) =
        (name_param(&params, "source")?, name_param(&params, "destination")?);
    let key = WatchKey::ConfigEntry { kind: Kind::ServiceIntentions, name: destination.clone() };
    let (found, index) = blocking::query(&state, &opts, &key, |sm| {
        let (entry, create, modify) = entry_of(sm, &destination)?;
        find_source(&entry, &source).map(|s| intention_json(&entry, s, (create, modify)))
    })
    .await?;
    match found {
        Some(row) => Ok(with_meta(&state, index, json(&row))),
        None => Ok(with_meta(&state, index, ApiError::NotFound("Intention not found".into()))),
    }
}

/// The PUT body: the fields of a legacy intention that a source carries.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExactBody {
    action: String,
    description: String,
    permissions: Vec<proconsul_core::config::IntentionPermission>,
    meta: BTreeMap<String, String>,
    source_type: String,
}

async fn put_exact(
    State(state): State<ApiState>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let (source, destination) =
        (name_param(&params, "source")?, name_param(&params, "destination")?);
    let b: ExactBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    if !b.meta.is_empty() {
        return Err(ApiError::Internal("Meta must be omitted for Upsert operations".into()));
    }
    let new_source = SourceIntention {
        name: source,
        action: b.action,
        description: b.description,
        permissions: b.permissions,
        r#type: b.source_type,
        ..SourceIntention::default()
    };
    edit_entry(&state, &destination, |current| {
        Some(upsert_source(current, &destination, new_source.clone()))
    })
    .await?;
    Ok(json(&true))
}

async fn delete_exact(
    State(state): State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let (source, destination) =
        (name_param(&params, "source")?, name_param(&params, "destination")?);
    edit_entry(&state, &destination, |current| current.and_then(|e| remove_source(e, &source)))
        .await?;
    Ok(json(&true))
}

/// Read-modify-write of the destination's entry under CAS. `next` maps the current entry (or
/// none) to the new one, `None` meaning delete.
async fn edit_entry(
    state: &ApiState,
    destination: &str,
    next: impl Fn(Option<&ServiceIntentions>) -> Option<ServiceIntentions>,
) -> Result<(), ApiError> {
    for _ in 0..CAS_ATTEMPTS {
        let current =
            state.node.read(ReadConsistency::Consistent, |sm| entry_of(sm, destination)).await?;
        let cas = current.as_ref().map_or(0, |(_, _, modify)| *modify);
        let command = match next(current.as_ref().map(|(e, _, _)| e)) {
            Some(entry) => {
                let mut entry = ConfigEntry::ServiceIntentions(entry);
                entry.normalize();
                entry.validate().map_err(|e| ApiError::Internal(e.to_string()))?;
                Command::ConfigEntrySet { entry, cas: Some(cas) }
            }
            None if current.is_none() => return Ok(()),
            None => Command::ConfigEntryDelete {
                kind: Kind::ServiceIntentions,
                name: destination.to_owned(),
                cas: Some(cas),
            },
        };
        if write(state, command).await? {
            return Ok(());
        }
    }
    Err(ApiError::Internal(format!(
        "intentions for {destination:?} kept changing: gave up after {CAS_ATTEMPTS} attempts"
    )))
}

/// `GET /v1/connect/intentions/check`: would `source` be allowed to reach `destination`?
/// The first intention by precedence decides (an L7 one denies at this level), else the
/// default, which is allow while ACLs are disabled.
async fn check(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (source, destination) =
        (name_param(&params, "source")?, name_param(&params, "destination")?);
    if let Some(t) = params.get("source-type").filter(|t| !t.is_empty() && *t != "consul") {
        return Err(ApiError::BadRequest(format!("unsupported SourceType: {t:?}")));
    }
    let (allowed, index) = blocking::query(&state, &opts, &WatchKey::Intentions, |sm| {
        let all = Intention::all(sm.config_entry_set());
        let first = all.iter().find(|i| {
            i.matches_destination("default", &destination)
                && i.matches_source("default", "default", &source)
        });
        match first {
            Some(i) => matches!(i.action, proconsul_core::intentions::IntentionAction::Allow),
            None => DefaultPolicy::default() == DefaultPolicy::Allow,
        }
    })
    .await?;
    Ok(with_meta(&state, index, json(&json!({"Allowed": allowed}))))
}

/// `GET /v1/connect/intentions/match?by=source|destination&name=X[&name=Y]`.
async fn matches(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let Query(pairs) = query;
    let names: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "name" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let params = Params::from_query(Query(pairs));
    let opts = params.query_options()?;
    let by_source = match params.get("by") {
        None | Some("") => {
            return Err(ApiError::BadRequest("required query parameter 'by' not set".into()));
        }
        Some("source") => true,
        Some("destination") => false,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "'by' parameter must be one of 'source' or 'destination'".into(),
            ));
        }
    };
    if names.is_empty() {
        return Err(ApiError::BadRequest("required query parameter 'name' not set".into()));
    }
    let (body, index) = blocking::query(&state, &opts, &WatchKey::Intentions, |sm| {
        let all = all_intentions(sm);
        let mut out = serde_json::Map::new();
        for name in &names {
            let rows: Vec<Value> = all
                .iter()
                .filter(|(i, _)| {
                    if by_source {
                        i.matches_source("default", "default", name)
                    } else {
                        i.matches_destination("default", name)
                    }
                })
                .map(|(_, v)| v.clone())
                .collect();
            out.insert(name.clone(), rows.into());
        }
        Value::Object(out)
    })
    .await?;
    Ok(with_meta(&state, index, json(&body)).into_response())
}
