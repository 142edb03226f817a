//! The Connect CA endpoints (CONSUL-FACTS.md §6, §8): `GET /v1/connect/ca/roots[?pem]`,
//! `GET|PUT /v1/connect/ca/configuration[?cas]`, and the servers' internal signing endpoint
//! for client agents, `PUT /v1/internal/connect/ca/sign`.
//!
//! Roots and configuration are reads of the replicated state, so every server answers them
//! (blocking on [`WatchKey::CaRoots`]/[`WatchKey::CaConfig`]). Changing the configuration
//! and signing need the server's [`CaManager`], handed over with [`with_connect_ca`]; a
//! follower's manager forwards both to the leader, and a request that arrives forwarded
//! ([`FORWARDED_HEADER`]) is answered locally or refused, never forwarded again.
//!
//! Status codes: 400 with the core's message for a bad CSR, a wrong identity or an invalid
//! configuration; 429 when `CSRMaxPerSecond` is reached; 500 for raft and leadership errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Router};
use proconsul_core::ca::{CaConfig, CaError, RootsResponse, pem_decode_all};
use proconsul_core::ids::TrustDomain;
use proconsul_core::state::WatchKey;
use serde_json::Value;

use super::{ApiError, ApiState, Params, blocking, json, with_meta};
use crate::ca_manager::{
    CaManager, CaManagerError, FORWARDED_HEADER, IssuedCertJson, NOT_LEADER_HEADER, SignRequest,
};
use crate::raft::NodeError;

type RawQuery = Query<Vec<(String, String)>>;
type Ca = Option<Extension<Arc<CaManager>>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/connect/ca/roots", get(roots))
        .route("/v1/connect/ca/configuration", get(configuration).put(set_configuration))
        .route("/v1/internal/connect/ca/sign", put(sign))
}

/// Serves the CA endpoints that change or use the CA through `ca` (the router's state is
/// built inside [`super::router`], so the manager travels as a request extension):
/// `with_connect_ca(http::router(node, seed), manager)`.
pub fn with_connect_ca(router: Router, ca: Arc<CaManager>) -> Router {
    router.layer(Extension(ca))
}

/// Why a CA request failed: the API's usual errors, or the CA manager's.
enum Failure {
    Api(ApiError),
    Ca(CaManagerError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<CaManagerError> for Failure {
    fn from(e: CaManagerError) -> Self {
        Failure::Ca(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Api(e) => e.into_response(),
            Failure::Ca(e) => ca_error(e),
        }
    }
}

/// A CA manager error as Consul would answer it. Leadership errors carry
/// [`NOT_LEADER_HEADER`] so a forwarding follower retries on the new leader.
fn ca_error(e: CaManagerError) -> Response {
    let leader_moved = matches!(
        e,
        CaManagerError::NotLeader { .. }
            | CaManagerError::NoLeader
            | CaManagerError::Raft(NodeError::NotLeader { .. } | NodeError::NoLeader)
    );
    let mut response = ca_error_response(e);
    if leader_moved {
        response.headers_mut().insert(NOT_LEADER_HEADER, HeaderValue::from_static("true"));
    }
    response
}

fn ca_error_response(e: CaManagerError) -> Response {
    let (status, message) = match e {
        CaManagerError::Refused(e) => (StatusCode::BAD_REQUEST, e.to_string()),
        CaManagerError::RateLimited(e) => (StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        CaManagerError::Raft(e) => return ApiError::from(e).into_response(),
        CaManagerError::Leader { status, message } => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
        }
        CaManagerError::NoLeader | CaManagerError::NotLeader { leader: None } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader".to_owned())
        }
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    };
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

fn manager(ca: Ca) -> Result<Arc<CaManager>, ApiError> {
    ca.map(|Extension(ca)| ca)
        .ok_or_else(|| ApiError::Internal("Connect CA is not enabled on this server".into()))
}

fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

/// Go's `strconv.ParseBool`; Consul reads an empty `?pem=` as false.
fn pem_flag(params: &Params) -> Result<bool, ApiError> {
    match params.get("pem") {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(_) => {
            Err(ApiError::BadRequest("The 'pem' query parameter must be a boolean value".into()))
        }
    }
}

/// Consul's roots JSON: the core's record plus `CreateIndex`/`ModifyIndex` on each root
/// (the roots table's index: roots carry no index of their own here).
fn roots_json(roots: &RootsResponse, index: u64) -> Value {
    let mut value = serde_json::to_value(roots).unwrap_or(Value::Null);
    if let Some(Value::Array(list)) = value.get_mut("Roots") {
        for root in list.iter_mut().filter_map(Value::as_object_mut) {
            root.insert("CreateIndex".into(), index.into());
            root.insert("ModifyIndex".into(), index.into());
        }
    }
    value
}

/// `GET /v1/connect/ca/roots[?pem=true]`: the trust bundle, active root first; with `pem`,
/// every root and intermediate as one PEM chain.
async fn roots(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let pem = pem_flag(&params)?;
    let opts = params.query_options()?;
    let (roots, index) =
        blocking::query(&state, &opts, &WatchKey::CaRoots, |sm| sm.ca_roots().cloned()).await?;
    let roots = roots.unwrap_or(RootsResponse {
        active_root_id: String::new(),
        trust_domain: String::new(),
        roots: Vec::new(),
    });
    if pem {
        let mut chain = String::new();
        for root in &roots.roots {
            chain.push_str(&root.root_cert);
            root.intermediate_certs.iter().for_each(|c| chain.push_str(c));
        }
        let content_type = HeaderValue::from_static("application/pem-certificate-chain");
        return Ok(with_meta(&state, index, ([(header::CONTENT_TYPE, content_type)], chain)));
    }
    Ok(with_meta(&state, index, json(&roots_json(&roots, index))))
}

/// Go prints `72h0m0s`; Consul echoes the configuration as written (`72h`). Dropping zero
/// minutes and seconds after a larger unit gives the same duration in Consul's form.
fn short_duration(text: &str) -> String {
    let mut s = text.to_owned();
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if s.ends_with("h0m") {
        s.truncate(s.len() - 2);
    }
    s
}

/// `GET /v1/connect/ca/configuration`: `Provider`, `Config`, `State` (never served),
/// `ForceWithoutCrossSigning`, `ClusterID`, `CreateIndex`, `ModifyIndex`.
async fn configuration(
    State(state): State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let opts = Params::from_query(query).query_options()?;
    let read = |sm: &proconsul_core::state::StateMachine| {
        let cluster = sm.ca_roots().and_then(|r| TrustDomain::new(&r.trust_domain).ok());
        (sm.ca_config().cloned(), cluster.map(|td| td.cluster_id().to_owned()))
    };
    let ((config, cluster_id), index) =
        blocking::query(&state, &opts, &WatchKey::CaConfig, read).await?;
    let config =
        config.ok_or_else(|| ApiError::Internal("Connect CA is not initialized yet".into()))?;
    let mut value = serde_json::to_value(&config).unwrap_or(Value::Null);
    if let Some(Value::Object(settings)) = value.get_mut("Config") {
        for (_, v) in settings.iter_mut() {
            if let Value::String(text) = v {
                *text = short_duration(text);
            }
        }
    }
    if let Value::Object(map) = &mut value {
        map.insert("ClusterID".into(), cluster_id.unwrap_or_default().into());
        map.insert("State".into(), Value::Null);
        map.insert("CreateIndex".into(), index.into());
        map.insert("ModifyIndex".into(), index.into());
    }
    Ok(with_meta(&state, index, json(&value)))
}

fn decode_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("Request decode failed: {e}"))
}

/// The configuration a client sent, without the fields `GET` adds: `ClusterID` (not
/// changeable), the indexes, and `State` (read-only: refused unless empty, as Consul does).
fn decode_config(body: &[u8]) -> Result<CaConfig, Failure> {
    let mut value: Value = serde_json::from_slice(body).map_err(decode_failed)?;
    let Value::Object(map) = &mut value else {
        return Err(decode_failed("the body must be a JSON object").into());
    };
    for key in ["ClusterID", "CreateIndex", "ModifyIndex"] {
        map.remove(key);
    }
    if map.remove("State").is_some_and(|s| !s.is_null() && s != Value::Object(Default::default())) {
        return Err(ApiError::BadRequest(
            "Provider State is read-only. It must be omitted or identical to the current value"
                .into(),
        )
        .into());
    }
    CaConfig::from_value(value).map_err(|e| CaManagerError::Refused(CaError::from(e)).into())
}

/// `PUT /v1/connect/ca/configuration[?cas=N]`: 200 with an empty body once applied.
async fn set_configuration(
    ca: Ca,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, Failure> {
    let ca = manager(ca)?;
    let params = Params::from_query(query);
    let cas = params.u64("cas", "Request decode failed: invalid cas")?;
    let config = decode_config(&body)?;
    let now = ca.now();
    let result = if forwarded(&headers) {
        ca.set_config_local(config, cas, now).await
    } else {
        ca.set_config(config, cas, now).await
    };
    result?;
    Ok(StatusCode::OK.into_response())
}

/// `PUT /v1/internal/connect/ca/sign`: `{"CSR": "<PEM>", "Requester": ...}` to Consul's
/// `IssuedCert` JSON.
async fn sign(ca: Ca, headers: HeaderMap, body: Bytes) -> Result<Response, Failure> {
    let ca = manager(ca)?;
    let request: SignRequest = serde_json::from_slice(&body).map_err(decode_failed)?;
    let csr = pem_decode_all(&request.csr)
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .ok_or_else(|| {
            CaManagerError::Refused(CaError::BadCsr(
                "CSR must be one PEM-encoded CERTIFICATE REQUEST".into(),
            ))
        })?;
    let requester = (&request.requester).into();
    let now = ca.now();
    let result = if forwarded(&headers) {
        ca.sign_local(&csr, &requester, now).await
    } else {
        ca.sign(&csr, &requester, now).await
    };
    let leaf = result?;
    Ok(json(&IssuedCertJson::from(&leaf)))
}

#[cfg(test)]
mod tests {
    use super::short_duration;

    #[test]
    fn durations_print_as_consul_echoes_them() {
        assert_eq!(short_duration("72h0m0s"), "72h");
        assert_eq!(short_duration("1h30m0s"), "1h30m");
        assert_eq!(short_duration("30m0s"), "30m");
        assert_eq!(short_duration("1h0m30s"), "1h0m30s");
        assert_eq!(short_duration("0s"), "0s");
        assert_eq!(short_duration("ec"), "ec");
    }
}
