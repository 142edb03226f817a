//! `GET|PUT|DELETE /v1/kv/{*key}` (Consul's `kvs_endpoint.go`): `?recurse`, `?keys` with
//! `?separator`, `?raw`, `?cas`, `?flags`, and session locks with `?acquire=<session>` /
//! `?release=<session>`. Entries are JSON arrays with the value in base64 (`null` when
//! empty) and `Session` when locked; a missing key, an empty prefix listing or no keys is a
//! 404. PUT and DELETE answer `true`/`false` (false: the CAS did not match, the lock is
//! held by another session or inside its lock-delay, or the releasing session does not
//! hold it).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use proconsul_core::state::{Command, KvEntry, KvLock, KvUnlock, WatchKey};

use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};

/// Largest value accepted (Consul's `kv_max_value_size` default, 512 KiB).
pub(super) const MAX_VALUE_BYTES: usize = 512 * 1024;

type RawQuery = Query<Vec<(String, String)>>;

/// One entry as `/v1/kv` (and `/v1/txn`) returns it.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KvJson<'a> {
    lock_index: u64,
    key: &'a str,
    flags: u64,
    value: Option<String>,
    /// The lock holder; omitted when unlocked, as Consul does.
    #[serde(skip_serializing_if = "str::is_empty")]
    session: &'a str,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a KvEntry> for KvJson<'a> {
    fn from(e: &'a KvEntry) -> Self {
        let value = (!e.value.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&e.value));
        KvJson {
            lock_index: e.lock_index,
            key: &e.key,
            flags: e.flags,
            value,
            session: &e.session,
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}

/// What a GET read: a listing of keys, of entries, or one entry.
enum Found {
    Keys(Vec<String>),
    Entries(Vec<KvEntry>),
}

/// `GET /v1/kv/{*key}`.
pub(crate) async fn get(
    state: State<ApiState>,
    Path(key): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read(state, key, query).await
}

/// `GET /v1/kv/` (the empty key: only useful with `?recurse` or `?keys`).
pub(crate) async fn get_root(
    state: State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    read(state, String::new(), query).await
}

async fn read(
    State(state): State<ApiState>,
    key: String,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let watch = WatchKey::KvPrefix(key.clone());
    let (found, index) = if params.has("keys") {
        let sep = params.get("separator").map(str::to_owned);
        blocking::query(&state, &opts, &watch, |sm| Found::Keys(sm.kv_keys(&key, sep.as_deref())))
            .await?
    } else if params.has("recurse") {
        blocking::query(&state, &opts, &watch, |sm| {
            Found::Entries(sm.kv_list(&key).into_iter().cloned().collect())
        })
        .await?
    } else {
        blocking::query(&state, &opts, &watch, |sm| {
            Found::Entries(sm.kv_get(&key).cloned().into_iter().collect())
        })
        .await?
    };
    let body = match found {
        Found::Keys(keys) if keys.is_empty() => None,
        Found::Keys(keys) => Some(json(&keys)),
        Found::Entries(entries) if entries.is_empty() => None,
        Found::Entries(entries) if params.has("raw") && !params.has("recurse") => Some(
            ([(header::CONTENT_TYPE, "application/octet-stream")], entries[0].value.clone())
                .into_response(),
        ),
        Found::Entries(entries) => {
            Some(json(&entries.iter().map(KvJson::from).collect::<Vec<_>>()))
        }
    };
    // Consul answers a miss with 404 and an empty body, but still with the index, so a
    // client can block on a key that does not exist yet.
    let body = body.unwrap_or_else(|| axum::http::StatusCode::NOT_FOUND.into_response());
    Ok(with_meta(&state, index, body))
}

/// `PUT /v1/kv/{*key}?cas=&flags=&acquire=&release=`: the body is the raw value.
pub(crate) async fn put(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let cas = params.u64("cas", "Invalid cas value")?;
    let flags = params.u64("flags", "Invalid flags value")?.unwrap_or(0);
    if body.len() > MAX_VALUE_BYTES {
        return Err(ApiError::TooLarge(format!(
            "Request body({} bytes) too large, max size: {MAX_VALUE_BYTES} bytes.",
            body.len()
        )));
    }
    let value = body.to_vec();
    let command = match (params.get("acquire"), params.get("release"), cas) {
        (Some(_), Some(_), _) => {
            return Err(ApiError::BadRequest("Conflicting flags: acquire and release".into()));
        }
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("Conflicting flags: cas and acquire/release".into()));
        }
        (Some(session), None, None) => {
            let session = session.to_owned();
            Command::KvLock(KvLock { key, value, flags, session, now_ms: state.now_ms() })
        }
        (None, Some(session), None) => {
            Command::KvUnlock(KvUnlock { key, value, flags, session: session.to_owned() })
        }
        (None, None, cas) => Command::KvSet { key, value, flags, cas },
    };
    let ok = write(&state, command).await?;
    Ok(json(&ok))
}

/// `PUT /v1/kv/`: Consul refuses the empty key.
pub(crate) async fn put_root() -> ApiError {
    ApiError::BadRequest("Missing key name".into())
}

/// `DELETE /v1/kv/{*key}?recurse&cas=`.
pub(crate) async fn delete(
    state: State<ApiState>,
    Path(key): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    remove(state, key, query).await
}

/// `DELETE /v1/kv/?recurse`: the whole store.
pub(crate) async fn delete_root(
    state: State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    remove(state, String::new(), query).await
}

async fn remove(
    State(state): State<ApiState>,
    key: String,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let recurse = params.has("recurse");
    if key.is_empty() && !recurse {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    let cas = params.u64("cas", "Invalid cas value")?;
    let ok = write(&state, Command::KvDelete { key, recurse, cas }).await?;
    Ok(json(&ok))
}
