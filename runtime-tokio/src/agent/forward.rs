//! A client agent answers the HTTP API endpoints that are not its own by asking a server,
//! as Consul's client agents forward them over RPC: the request goes through unchanged and
//! the server's status, Consul headers and body come back.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::Agent;
use crate::env::NetConnector;

/// Largest request body forwarded (Consul's KV limit is 512 KiB; transactions and
/// snapshots are larger).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Bound on one forwarded request; blocking queries wait at most 10 minutes plus jitter.
const TIMEOUT: Duration = Duration::from_secs(11 * 60);
/// Bound on connecting to one server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A tower service for `Router::fallback_service`.
pub(super) fn to_servers(agent: Arc<Agent>) -> axum::routing::MethodRouter {
    let connector = NetConnector::new(agent.opts.env.net.clone(), CONNECT_TIMEOUT);
    let client: Client<NetConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    axum::routing::any(move |req: Request<Body>| {
        let (agent, client) = (agent.clone(), client.clone());
        async move { forward(&agent, &client, req).await }
    })
}

fn plain(status: StatusCode, msg: String) -> Response<Body> {
    let mut r = Response::new(Body::from(msg));
    *r.status_mut() = status;
    r
}

async fn forward(
    agent: &Agent,
    client: &Client<NetConnector, Full<Bytes>>,
    req: Request<Body>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return plain(StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let Some(remote) = &agent.remote else {
        return plain(StatusCode::NOT_FOUND, "404 page not found".into());
    };
    let mut last = "no known server".to_owned();
    for server in remote.server_addrs(agent) {
        let uri = format!("http://{server}{path}");
        let mut builder = Request::builder().method(parts.method.clone()).uri(&uri);
        for (name, value) in &parts.headers {
            if name != "host" && name != "connection" {
                builder = builder.header(name, value);
            }
        }
        let Ok(request) = builder.body(Full::new(body.clone())) else {
            return plain(StatusCode::BAD_REQUEST, format!("cannot forward {path}"));
        };
        match tokio::time::timeout(TIMEOUT, client.request(request)).await {
            Ok(Ok(resp)) => {
                let (rparts, rbody) = resp.into_parts();
                let bytes = match rbody.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(e) => return plain(StatusCode::BAD_GATEWAY, format!("server answer: {e}")),
                };
                let mut out = Response::new(Body::from(bytes));
                *out.status_mut() = rparts.status;
                for (name, value) in &rparts.headers {
                    let keep = name == "content-type"
                        || name.as_str().starts_with("x-consul-")
                        || *name == HeaderName::from_static("x-cache");
                    if keep {
                        out.headers_mut().insert(name, value.clone());
                    }
                }
                return out;
            }
            Ok(Err(e)) => last = format!("{server}: {e}"),
            Err(_) => last = format!("{server}: timed out"),
        }
    }
    plain(StatusCode::INTERNAL_SERVER_ERROR, format!("No known Consul servers ({last})"))
}
