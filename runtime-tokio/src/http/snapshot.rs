//! `GET /v1/snapshot` and `PUT /v1/snapshot` (Consul's `snapshot_endpoint.go`): save and
//! restore the whole replicated state.
//!
//! The archive is the core's versioned snapshot document, gzip-compressed (clients such as
//! py-consul check the gzip magic; the contents are ours, not Consul's tar layout). Save
//! reads the leader's state (`?stale` reads this server's). Restore decompresses, checks
//! the document restores into a scratch state (400 if not), and proposes it through raft
//! as one `SnapshotRestore` command, so every server replaces its state at the same index.

use std::io::{Read as _, Write as _};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use proconsul_core::state::{Command, SnapshotRestore, StateMachine};

use super::local::empty_ok;
use super::{ApiError, ApiState, Params, with_meta, write};

type RawQuery = Query<Vec<(String, String)>>;

/// Largest archive a restore accepts.
pub const MAX_ARCHIVE_BYTES: usize = 256 * 1024 * 1024;
/// Largest document an archive may expand to (a bound on decompression bombs).
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024 * 1024;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/snapshot", get(save).put(restore))
        .layer(DefaultBodyLimit::max(MAX_ARCHIVE_BYTES))
}

fn gzip(document: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(document)
        .and_then(|()| encoder.finish())
        .map_err(|e| ApiError::Internal(format!("compressing the snapshot: {e}")))
}

fn gunzip(archive: &[u8]) -> Result<Vec<u8>, ApiError> {
    let bad = |why: String| ApiError::BadRequest(format!("Snapshot restore failed: {why}"));
    let mut document = Vec::new();
    GzDecoder::new(archive)
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut document)
        .map_err(|e| bad(format!("not a gzip archive: {e}")))?;
    if document.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(bad(format!("archive expands beyond {MAX_DOCUMENT_BYTES} bytes")));
    }
    Ok(document)
}

/// `GET /v1/snapshot[?stale]`: the gzip archive, with `X-Consul-Index`.
async fn save(State(state): State<ApiState>, query: RawQuery) -> Result<Response, ApiError> {
    let params = Params::from_query(query);
    let opts = params.query_options()?;
    let (document, index) =
        state.node.read(opts.consistency, |sm| (sm.snapshot(), sm.last_index())).await?;
    let archive = gzip(&document)?;
    let body = ([(header::CONTENT_TYPE, "application/x-gzip")], archive).into_response();
    Ok(with_meta(&state, index, body))
}

/// `PUT /v1/snapshot`: the body is an archive from `GET /v1/snapshot`; 200 with no body.
async fn restore(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let document = gunzip(&body)?;
    let snapshot = String::from_utf8(document)
        .map_err(|_| ApiError::BadRequest("Snapshot restore failed: not UTF-8 JSON".into()))?;
    let datacenter = state.read_local(|sm| sm.datacenter().clone()).await?;
    StateMachine::new(datacenter)
        .restore(snapshot.as_bytes())
        .map_err(|e| ApiError::BadRequest(format!("Snapshot restore failed: {e}")))?;
    let cmd = Command::SnapshotRestore(SnapshotRestore { snapshot, now_ms: state.now_ms() });
    write(&state, cmd).await?;
    Ok(empty_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_gzip_and_round_trip() {
        let archive = gzip(b"{\"Version\":2}").unwrap();
        assert_eq!(&archive[..2], b"\x1f\x8b", "gzip magic");
        assert_eq!(gunzip(&archive).unwrap(), b"{\"Version\":2}");
        assert!(matches!(gunzip(b"plain text"), Err(ApiError::BadRequest(_))));
    }
}
