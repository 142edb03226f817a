//! `GET /v1/discovery-chain/{service}[?compile-dc=]` and `POST` with upstream overrides
//! (`{"OverrideProtocol", "OverrideConnectTimeout", "OverrideMeshGateway": {"Mode"}}`):
//! the core's compiler over the replicated config entries, answered as `{"Chain": {...}}`.
//!
//! The chain depends on every config entry, so reads block on the config-entry table. Targets'
//! SNI names need the trust domain, which exists once the CA has published roots; before that
//! the read fails as Consul's does without a CA configuration. A chain that does not compile
//! is a 500 with the compiler's message (Consul's RPC error).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use proconsul_core::config::{GoDuration, MeshGatewayMode};
use proconsul_core::discovery_chain::{CompileRequest, Overrides, compile_with};
use proconsul_core::ids::{Datacenter, Namespace, Partition, ServiceName, TrustDomain};
use proconsul_core::state::{StateMachine, WatchKey};
use serde_json::json;

use super::{ApiError, ApiState, Params, blocking, json, with_meta};

type RawQuery = Query<Vec<(String, String)>>;

pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/discovery-chain/{service}", get(read).post(read_with_overrides))
}

/// The POST body (Consul's `discoveryChainReadRequest`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct OverrideBody {
    override_protocol: String,
    override_connect_timeout: Option<GoDuration>,
    override_mesh_gateway: MeshGatewayBody,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MeshGatewayBody {
    mode: MeshGatewayMode,
}

async fn read(
    state: State<ApiState>,
    Path(service): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    answer(state, service, query, Overrides::default()).await
}

async fn read_with_overrides(
    state: State<ApiState>,
    Path(service): Path<String>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: OverrideBody = if body.is_empty() {
        OverrideBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("Request decoding failed: {e}")))?
    };
    if b.override_connect_timeout.is_some_and(|d| d.is_negative()) {
        return Err(ApiError::BadRequest(
            "Request decoding failed: OverrideConnectTimeout must not be negative".into(),
        ));
    }
    let overrides = Overrides {
        protocol: Some(b.override_protocol.to_lowercase()).filter(|p| !p.is_empty()),
        connect_timeout: b.override_connect_timeout.filter(|d| !d.is_zero()),
        mesh_gateway: b.override_mesh_gateway.mode,
    };
    answer(state, service, query, overrides).await
}

async fn answer(
    State(state): State<ApiState>,
    service: String,
    query: RawQuery,
    overrides: Overrides,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let service = ServiceName::new(service.as_str())
        .map_err(|e| ApiError::BadRequest(format!("Invalid service name: {e}")))?;
    let compile_dc = params
        .get("compile-dc")
        .filter(|dc| !dc.is_empty())
        .map(|dc| {
            Datacenter::new(dc)
                .map_err(|e| ApiError::BadRequest(format!("Invalid compile-dc: {e}")))
        })
        .transpose()?;
    let (compiled, index) = blocking::query(&state, &opts, &WatchKey::ConfigEntries, |sm| {
        compile(sm, &service, compile_dc.as_ref(), &overrides)
    })
    .await?;
    let chain = compiled?;
    Ok(with_meta(&state, index, json(&json!({"Chain": chain}))))
}

fn compile(
    sm: &StateMachine,
    service: &ServiceName,
    compile_dc: Option<&Datacenter>,
    overrides: &Overrides,
) -> Result<proconsul_core::discovery_chain::CompiledChain, ApiError> {
    let roots = sm
        .ca_roots()
        .filter(|r| !r.trust_domain.is_empty())
        .ok_or_else(|| ApiError::Internal("no cluster ca config setup".into()))?;
    let trust_domain = TrustDomain::new(&roots.trust_domain)
        .map_err(|e| ApiError::Internal(format!("CA trust domain: {e}")))?;
    let request = CompileRequest {
        entries: sm.config_entry_set(),
        service,
        namespace: &Namespace::default(),
        partition: &Partition::default(),
        datacenter: compile_dc.unwrap_or(sm.datacenter()),
        trust_domain: &trust_domain,
        overrides: overrides.clone(),
    };
    compile_with(&request).map_err(|e| ApiError::Internal(e.to_string()))
}
