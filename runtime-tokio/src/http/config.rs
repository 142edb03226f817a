//! Config entries (CONSUL-FACTS.md §3): `PUT /v1/config[?cas=]`, `GET /v1/config/{kind}`,
//! `GET|DELETE /v1/config/{kind}/{name}`.
//!
//! As in Consul, decoding happens in the HTTP handler (400 `Request decoding failed: ...`)
//! while normalize/validate and the graph checks belong to the apply RPC, so their errors are
//! 500 with the plain message. Entries are returned in Consul casing with `CreateIndex` and
//! `ModifyIndex` alongside the entry's own fields.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use proconsul_core::config::{ConfigEntry, Kind};
use proconsul_core::state::{Command, StoredConfigEntry, WatchKey};
use serde_json::Value;

use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};

type RawQuery = Query<Vec<(String, String)>>;

fn decoding_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("Request decoding failed: {e}"))
}

fn parse_kind(kind: &str) -> Result<Kind, ApiError> {
    kind.parse::<Kind>().map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The entry's API JSON plus its raft indexes.
fn stored_json(stored: &StoredConfigEntry) -> Value {
    let mut value = stored.entry.to_value();
    if let Value::Object(map) = &mut value {
        map.insert("CreateIndex".into(), stored.create_index.into());
        map.insert("ModifyIndex".into(), stored.modify_index.into());
    }
    value
}

/// `PUT /v1/config[?cas=N]`: the body is one entry in Consul casing or snake_case.
pub(crate) async fn apply(
    State(state): State<ApiState>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let cas = params.u64("cas", "Invalid cas value")?;
    let value: Value = serde_json::from_slice(&body).map_err(decoding_failed)?;
    let mut entry = ConfigEntry::decode(value).map_err(decoding_failed)?;
    entry.normalize();
    entry.validate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let ok = write(&state, Command::ConfigEntrySet { entry, cas }).await?;
    Ok(json(&ok))
}

/// `GET /v1/config/{kind}`: every entry of the kind, `[]` when none.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let kind = parse_kind(&kind)?;
    let opts = Params::from_query(query).query_options()?;
    let (entries, index) = blocking::query(&state, &opts, &WatchKey::ConfigEntries, |sm| {
        sm.config_entries(Some(kind))
    })
    .await?;
    let body: Vec<Value> = entries.iter().map(stored_json).collect();
    Ok(with_meta(&state, index, json(&body)))
}

/// `GET /v1/config/{kind}/{name}`: 404 when absent (with the index, so clients can block).
pub(crate) async fn get(
    State(state): State<ApiState>,
    Path((kind_text, name)): Path<(String, String)>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let kind = parse_kind(&kind_text)?;
    let opts = Params::from_query(query).query_options()?;
    let key = WatchKey::ConfigEntry { kind, name: name.clone() };
    let (entry, index) =
        blocking::query(&state, &opts, &key, |sm| sm.config_entry(kind, &name)).await?;
    match entry {
        Some(stored) => Ok(with_meta(&state, index, json(&stored_json(&stored)))),
        None => {
            let msg = format!("Config entry not found for {kind_text:?} / {name:?}");
            Ok(with_meta(&state, index, ApiError::NotFound(msg)))
        }
    }
}

/// `DELETE /v1/config/{kind}/{name}[?cas=N]`: `{}` without CAS, `true`/`false` with it
/// (Consul keeps the old answer for callers that do not use CAS).
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let kind = parse_kind(&kind)?;
    let cas = Params::from_query(query).u64("cas", "Invalid cas value")?;
    let ok = write(&state, Command::ConfigEntryDelete { kind, name, cas }).await?;
    Ok(match cas {
        Some(_) => json(&ok),
        None => json(&serde_json::Map::new()),
    })
}
