//! A small client for Consul's HTTP API (CONSUL-FACTS.md §8), for the CLI and for agents
//! that talk to servers.
//!
//! ```text
//!  ApiClient::new("127.0.0.1:8500" | "http://host:port")
//!     .get(path, &Query::new().index(i).wait(d)) ─► Response { status, index, body }
//!     .put(path, &query, body) / .delete(path, &query) / .get_json::<T>(path, &query)
//!  non-2xx ─► ApiError::Status { status, message, index }  ("Unexpected response code: 400 (reason)")
//! ```
//!
//! Contract:
//! - Every call is bounded: connecting, sending and reading the whole body must finish within
//!   the client's timeout, plus, for a blocking query (`?index=`), the wait the server may
//!   hold it for (Consul's `wait`, 5 min by default, at most 10 min, plus up to 1/16 jitter).
//! - Only 2xx is success. Any other status is [`ApiError::Status`] with Consul's plain-text
//!   body as the message, exactly as the consul CLI prints it, and the `X-Consul-Index` the
//!   server sent: Consul answers a read of something absent with 404 *and* an index, so a
//!   caller can block until it appears.
//! - Bodies are capped at [`MAX_BODY_BYTES`], so a misbehaving peer cannot exhaust memory.
//! - Paths and query values are percent-encoded here; callers pass them raw (`kv/a b`).
//!
//! Only plain HTTP: the HTTP API has no TLS listener in Proconsul, so `https://` and
//! `unix://` addresses are refused with a clear error rather than tried.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
/// The HTTP method type [`ApiClient::call`] takes.
pub use hyper::Method;
use hyper::Request;
use hyper::body::Bytes;
use hyper::http::uri::{Authority, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::env::{Net, NetConnector, TokioNet};
use serde::de::DeserializeOwned;

/// Where the CLI looks when neither `-http-addr` nor an environment variable names an agent.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8500";

/// Environment variables naming the agent's HTTP address, in order of precedence. Consul's
/// own variable comes second so one shell can drive both tools.
pub const HTTP_ADDR_ENV: [&str; 2] = ["PROCONSUL_HTTP_ADDR", "CONSUL_HTTP_ADDR"];

/// How long a non-blocking call may take, end to end, unless [`ApiClient::with_timeout`]
/// says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest response body read; larger answers fail with [`ApiError::Transport`].
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The server's `wait` when a blocking query names none (Consul's `default_query_time`).
const SERVER_DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
/// The longest `wait` a server honours (Consul's `max_query_time`).
const SERVER_MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// The agent address to use: the flag if given, else the first non-empty variable of
/// [`HTTP_ADDR_ENV`] as `env` reports it, else [`DEFAULT_HTTP_ADDR`].
///
/// `env` is a parameter so the precedence is testable without touching the process
/// environment; the CLI passes `|k| std::env::var(k).ok()`.
pub fn resolve_http_addr(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> String {
    if let Some(addr) = flag.filter(|a| !a.trim().is_empty()) {
        return addr.to_owned();
    }
    HTTP_ADDR_ENV
        .iter()
        .filter_map(|name| env(name))
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_owned())
}

/// Query parameters of one call, in the order added.
///
/// Consul reads flags by presence (`?recurse`, `?stale`), so a flag has no value at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, Option<String>)>,
    /// `?index=`: the call may block on the server.
    blocking: bool,
    /// `?wait=` as given, to size the call's deadline.
    wait: Option<Duration>,
}

impl Query {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// `key=value`.
    #[must_use]
    pub fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.pairs.push((key.to_owned(), Some(value.to_string())));
        self
    }

    /// A bare flag, `?key`.
    #[must_use]
    pub fn flag(mut self, key: &str) -> Self {
        self.pairs.push((key.to_owned(), None));
        self
    }

    /// `?index=N`: block until the result's index exceeds `index` (or the wait ends). The
    /// call's deadline grows by the server's wait.
    #[must_use]
    pub fn index(mut self, index: u64) -> Self {
        self.blocking = true;
        self.param("index", index)
    }

    /// `?wait=`: how long the server may block; capped by the server at 10 minutes. Sent in
    /// milliseconds, a Go duration every Consul version parses.
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self.param("wait", format!("{}ms", wait.as_millis()))
    }

    /// `?stale`: any server may answer from its local state.
    #[must_use]
    pub fn stale(self) -> Self {
        self.flag("stale")
    }

    /// How long the server may hold this call before it answers.
    fn server_hold(&self) -> Duration {
        if !self.blocking {
            return Duration::ZERO;
        }
        let wait = match self.wait {
            Some(w) if !w.is_zero() => w.min(SERVER_MAX_WAIT),
            _ => SERVER_DEFAULT_WAIT,
        };
        wait + wait / 16
    }

    /// `?a=1&b` with every key and value percent-encoded; empty when there are none.
    fn encoded(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            encode_into(&mut out, key, false);
            if let Some(value) = value {
                out.push('=');
                encode_into(&mut out, value, false);
            }
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` in paths).
fn encode_into(out: &mut String, text: &str, keep_slash: bool) {
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// One HTTP answer that was a success (2xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// `X-Consul-Index`, when the server sent one (reads do; writes usually do not).
    pub index: Option<u64>,
    /// The whole body.
    pub body: Bytes,
}

impl Response {
    /// The body decoded as JSON into `T`; `path` names the call in the error.
    pub fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::Decode { path: path.to_owned(), message: e.to_string() })
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The address is not one this client can talk to. Nothing was sent; fix the address.
    #[error("invalid HTTP address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection failed or broke. A write may or may not have been applied; retrying an
    /// idempotent call is safe.
    #[error("{op} \"{url}\": {message}")]
    Transport {
        /// Go's spelling of the method (`Get`, `Put`), as Consul's errors show it.
        op: String,
        /// The URL called.
        url: String,
        /// The underlying errors, outermost first.
        message: String,
    },
    /// No complete answer within the call's deadline; as with `Transport`, a write may have
    /// been applied.
    #[error("{op} \"{url}\": no answer within {after:?}")]
    Timeout {
        /// Go's spelling of the method.
        op: String,
        /// The URL called.
        url: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server answered with a status other than 2xx; `message` is its plain-text body.
    #[error("Unexpected response code: {status} ({message})")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The body, as text.
        message: String,
        /// `X-Consul-Index`, if sent (404s on reads carry one, for blocking on absence).
        index: Option<u64>,
    },
    /// A success whose body was not the JSON the caller expected.
    #[error("decoding the answer of {path}: {message}")]
    Decode {
        /// The path called.
        path: String,
        /// serde_json's message.
        message: String,
    },
}

impl ApiError {
    /// The server's status code, if it answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 404: the thing asked for does not exist (or the endpoint does not).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A Consul HTTP API client bound to one agent or server address. Cheap to clone: clones
/// share one connection pool.
#[derive(Clone)]
pub struct ApiClient {
    /// `http://host:port`, no trailing slash.
    base: String,
    http: Client<NetConnector, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client for `addr`: `host:port`, `host` (port 80, as a URL would), or
    /// `http://host[:port][/]`. IPv6 hosts go in brackets (`[::1]:8500`).
    ///
    /// MUST be called inside a tokio runtime: the connection pool spawns its tasks there.
    pub fn new(addr: &str) -> Result<Self, ApiError> {
        Self::with_net(addr, Arc::new(TokioNet))
    }

    /// [`ApiClient::new`] dialling through `net`.
    pub fn with_net(addr: &str, net: Arc<dyn Net>) -> Result<Self, ApiError> {
        let authority = parse_addr(addr)?;
        let connector = NetConnector::new(net, DEFAULT_TIMEOUT);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(ApiClient { base: format!("http://{authority}"), http, timeout: DEFAULT_TIMEOUT })
    }

    /// The same client with another end-to-end deadline for non-blocking calls (blocking
    /// queries get the server's wait on top).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `http://host:port` this client calls.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path?query`; 2xx or an error.
    pub async fn get(&self, path: &str, query: &Query) -> Result<Response, ApiError> {
        self.call(Method::GET, path, query, Bytes::new()).await
    }

    /// `GET path?query`, with the body decoded as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<T, ApiError> {
        self.get(path, query).await?.json(path)
    }

    /// `PUT path?query` with `body` as is (JSON, or a raw KV value).
    pub async fn put(
        &self,
        path: &str,
        query: &Query,
        body: impl Into<Bytes>,
    ) -> Result<Response, ApiError> {
        self.call(Method::PUT, path, query, body.into()).await
    }

    /// `DELETE path?query`.
    pub async fn delete(&self, path: &str, query: &Query) -> Result<Response, ApiError> {
        self.call(Method::DELETE, path, query, Bytes::new()).await
    }

    /// One call of any method; what `get`, `put` and `delete` share.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let url = self.url(path, query);
        let op = go_op(&method);
        let deadline = self.timeout + query.server_hold();
        let exchange = self.exchange(method, &url, body);
        match tokio::time::timeout(deadline, exchange).await {
            Ok(Ok((status, index, body))) if (200..300).contains(&status) => {
                Ok(Response { status, index, body })
            }
            Ok(Ok((status, index, body))) => {
                let message = String::from_utf8_lossy(&body).trim_end().to_owned();
                Err(ApiError::Status { status, message, index })
            }
            Ok(Err(message)) => Err(ApiError::Transport { op, url, message }),
            Err(_) => Err(ApiError::Timeout { op, url, after: deadline }),
        }
    }

    fn url(&self, path: &str, query: &Query) -> String {
        let mut url = self.base.clone();
        if !path.starts_with('/') {
            url.push('/');
        }
        encode_into(&mut url, path, true);
        url.push_str(&query.encoded());
        url
    }

    /// Sends the request and reads the whole answer: status, index and body.
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
    ) -> Result<(u16, Option<u64>, Bytes), String> {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header("User-Agent", concat!("proconsul/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|e| error_chain(&e))?;
        let response = self.http.request(request).await.map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let index = response
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {}", error_chain(&*e)))?
            .to_bytes();
        Ok((status, index, body))
    }
}

/// Checks an address and returns its `host[:port]` part.
fn parse_addr(addr: &str) -> Result<Authority, ApiError> {
    let invalid = |reason: &str| ApiError::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = addr.trim();
    let rest = match trimmed.split_once("://") {
        None => trimmed,
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
            return Err(invalid("HTTPS is not supported: the HTTP API listens on plain HTTP"));
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("unix") => {
            return Err(invalid("unix sockets are not supported: use host:port"));
        }
        Some((scheme, _)) => {
            return Err(invalid(&format!("unknown scheme {scheme:?}: use http:// or host:port")));
        }
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    if authority.contains(['/', '?', '#', '@']) {
        return Err(invalid("expected host:port with no path, query or user"));
    }
    let authority: Authority = authority.parse().map_err(|e| invalid(&format!("{e}")))?;
    if authority.host().is_empty() {
        return Err(invalid("no host"));
    }
    // `http` accepts any text after the colon and leaves the port unparsed.
    let after_host = authority.as_str().rsplit_once(']').map_or(authority.as_str(), |(_, p)| p);
    if let Some((_, port)) = after_host.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(invalid(&format!("invalid port {port:?}")));
    }
    // A URI must accept it too, or every call would fail later with a worse message.
    Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|e| invalid(&e.to_string()))?;
    Ok(authority)
}

/// `Get`, `Put`, `Delete`: how Go's `url.Error` names the operation.
fn go_op(method: &Method) -> String {
    let name = method.as_str();
    let mut op = name[..1].to_owned();
    op.push_str(&name[1..].to_ascii_lowercase());
    op
}

/// An error and its sources, `outer: inner: innermost`, skipping hyper-util's generic
/// `client error (Connect)` wrapper when it has a more specific cause.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    if parts.len() > 1 && parts[0].starts_with("client error (") {
        parts.remove(0);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_flag_wins_over_both_environment_variables() {
        let env = env_of(&[("PROCONSUL_HTTP_ADDR", "a:1"), ("CONSUL_HTTP_ADDR", "b:2")]);
        assert_eq!(resolve_http_addr(Some("c:3"), &env), "c:3");
        assert_eq!(resolve_http_addr(None, &env), "a:1");
    }

    #[test]
    fn consuls_variable_is_used_when_ours_is_unset_or_empty() {
        let env = env_of(&[("PROCONSUL_HTTP_ADDR", " "), ("CONSUL_HTTP_ADDR", "b:2")]);
        assert_eq!(resolve_http_addr(None, env), "b:2");
        assert_eq!(resolve_http_addr(Some(""), env_of(&[])), DEFAULT_HTTP_ADDR);
    }

    #[test]
    fn addresses_with_and_without_a_scheme_are_accepted() {
        for (addr, want) in [
            ("127.0.0.1:8500", "127.0.0.1:8500"),
            ("http://localhost:18500", "localhost:18500"),
            ("HTTP://localhost:18500/", "localhost:18500"),
            ("[::1]:8500", "[::1]:8500"),
            (" consul.internal ", "consul.internal"),
        ] {
            assert_eq!(parse_addr(addr).unwrap().as_str(), want, "{addr}");
        }
    }

    #[test]
    fn unusable_addresses_are_refused_with_the_reason() {
        for (addr, reason) in [
            ("https://127.0.0.1:8501", "HTTPS is not supported"),
            ("unix:///tmp/consul.sock", "unix sockets are not supported"),
            ("ftp://x:1", "unknown scheme \"ftp\""),
            ("http://", "no host"),
            ("127.0.0.1:8500/v1", "no path"),
            ("127.0.0.1:http", "invalid port \"http\""),
            ("127.0.0.1:", "invalid port \"\""),
        ] {
            let e = parse_addr(addr).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid HTTP address {addr:?}: ")), "{e}");
            assert!(e.contains(reason), "{addr}: {e}");
        }
    }

    #[test]
    fn query_values_and_paths_are_percent_encoded() {
        let q = Query::new().flag("recurse").param("separator", "/").param("k", "a b&c");
        assert_eq!(q.encoded(), "?recurse&separator=%2F&k=a%20b%26c");
        assert_eq!(Query::new().encoded(), "");
        let mut path = String::new();
        encode_into(&mut path, "/v1/kv/a b/ü?", true);
        assert_eq!(path, "/v1/kv/a%20b/%C3%BC%3F");
    }

    #[test]
    fn only_blocking_queries_extend_the_deadline_by_the_servers_wait() {
        assert_eq!(Query::new().wait(Duration::from_secs(10)).server_hold(), Duration::ZERO);
        let q = Query::new().index(7).wait(Duration::from_secs(16));
        assert_eq!(q.server_hold(), Duration::from_secs(17));
        assert_eq!(q.encoded(), "?index=7&wait=16000ms");
        let default = Query::new().index(7).server_hold();
        assert_eq!(default, SERVER_DEFAULT_WAIT + SERVER_DEFAULT_WAIT / 16);
        let capped = Query::new().index(1).wait(Duration::from_secs(3600)).server_hold();
        assert_eq!(capped, SERVER_MAX_WAIT + SERVER_MAX_WAIT / 16);
    }

    #[test]
    fn methods_are_spelled_as_go_spells_them_in_errors() {
        assert_eq!(go_op(&Method::GET), "Get");
        assert_eq!(go_op(&Method::DELETE), "Delete");
    }

    /// Serves `app` on a free loopback port for the rest of the test.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        #[allow(clippy::disallowed_methods, reason = "a test server runs beside the client")]
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr.to_string()
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/v1/kv/{*key}",
                get(|axum::extract::Path(key): axum::extract::Path<String>| async move {
                    ([("X-Consul-Index", "42")], key)
                }),
            )
            .route(
                "/v1/missing",
                get(|| async {
                    (StatusCode::NOT_FOUND, [("X-Consul-Index", "9")], "nothing here\n")
                        .into_response()
                }),
            )
            .route(
                "/v1/bad",
                get(|| async { (StatusCode::BAD_REQUEST, "Invalid wait time").into_response() }),
            )
            .route("/v1/true", get(|| async { "true" }))
            .route(
                "/v1/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
    }

    #[tokio::test]
    async fn a_success_carries_status_index_and_the_decoded_path() {
        let client = ApiClient::new(&serve(app()).await).unwrap();
        let r = client.get("/v1/kv/a b/c", &Query::new()).await.unwrap();
        assert_eq!((r.status, r.index), (200, Some(42)));
        assert_eq!(&r.body[..], b"a b/c");
        assert!(client.get_json::<bool>("/v1/true", &Query::new()).await.unwrap());
    }

    #[tokio::test]
    async fn other_statuses_are_errors_with_consuls_message_and_the_index() {
        let client = ApiClient::new(&serve(app()).await).unwrap();
        let e = client.get("/v1/bad", &Query::new()).await.unwrap_err();
        assert_eq!(e.to_string(), "Unexpected response code: 400 (Invalid wait time)");
        let e = client.get("/v1/missing", &Query::new()).await.unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(
            e,
            ApiError::Status { status: 404, message: "nothing here".into(), index: Some(9) }
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_expected_json_is_a_decode_error() {
        let client = ApiClient::new(&serve(app()).await).unwrap();
        let e = client.get_json::<Vec<String>>("/v1/true", &Query::new()).await.unwrap_err();
        assert!(matches!(&e, ApiError::Decode { path, .. } if path == "/v1/true"), "{e}");
    }

    #[tokio::test]
    async fn a_slow_server_is_cut_off_at_the_deadline() {
        let client =
            ApiClient::new(&serve(app()).await).unwrap().with_timeout(Duration::from_millis(100));
        let e = client.get("/v1/slow", &Query::new()).await.unwrap_err();
        assert!(matches!(e, ApiError::Timeout { .. }), "{e}");
        assert!(e.to_string().starts_with("Get \"http://127.0.0.1:"), "{e}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error_naming_the_url() {
        // Bind and drop a listener so the port is (almost certainly) closed.
        let addr = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let client = ApiClient::new(&addr.to_string()).unwrap();
        let e = client.put("/v1/kv/x", &Query::new().param("cas", 0), "v").await.unwrap_err();
        let ApiError::Transport { op, url, message } = &e else { panic!("{e:?}") };
        assert_eq!((op.as_str(), url.as_str()), ("Put", &*format!("http://{addr}/v1/kv/x?cas=0")));
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }
}
