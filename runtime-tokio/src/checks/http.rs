//! One HTTP check probe: a fresh connection per request (Consul disables keep-alive for
//! checks so an idle-timeout can't fail them), `https` through rustls, up to 10 redirects as
//! Go's client follows them, and only the last `body_limit` bytes of the body kept.
//!
//! hyper's connection API is used directly rather than the pooled legacy client: there is
//! nothing to pool, and it lets the TLS settings (skip-verify, SNI) vary per check.

use std::pin::pin;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HOST, HeaderName, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use proconsul_core::checks::{ProbeKind, ProbeResult, ProbeTls};
use tokio::io::{AsyncRead, AsyncWrite};

use super::probe::{failed, io_text};
use super::tls::ProbeDialer;

/// Go's `http.Client` gives up after this many redirects.
const MAX_REDIRECTS: usize = 10;

/// Headers Go drops when a redirect leaves the original host.
const SENSITIVE: &[&str] = &["authorization", "www-authenticate", "cookie", "cookie2"];

/// One request as it goes on the wire.
struct Exchange<'a> {
    target: Uri,
    method: Method,
    headers: Vec<(&'a str, &'a str)>,
    body: Bytes,
}

/// What came back from one hop.
struct Answer {
    status: StatusCode,
    reason: String,
    location: Option<String>,
    body_tail: Vec<u8>,
}

/// Runs an HTTP probe (the caller bounds it with the probe's timeout).
pub(super) async fn probe(kind: &ProbeKind, tls: &ProbeDialer) -> ProbeResult {
    let ProbeKind::Http {
        url,
        method,
        headers,
        body,
        tls: settings,
        follow_redirects,
        body_limit,
        ..
    } = kind
    else {
        return failed("not an HTTP probe".to_owned());
    };
    let target = match parse_url(url) {
        Ok(uri) => uri,
        Err(e) => return failed(e),
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return failed(format!("net/http: invalid method {method:?}"));
    };
    let original_host = target.host().unwrap_or_default().to_owned();
    let mut exchange = Exchange {
        target,
        method,
        headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
        body: Bytes::from(body.clone()),
    };
    for hop in 0..=MAX_REDIRECTS {
        let answer = match send(&exchange, settings, *follow_redirects, *body_limit, tls).await {
            Ok(answer) => answer,
            Err(e) => return failed(e),
        };
        let location = answer.location.filter(|_| *follow_redirects && is_redirect(answer.status));
        let Some(location) = location else {
            return ProbeResult::HttpResponse {
                status: answer.status.as_u16(),
                reason: answer.reason,
                body_tail: answer.body_tail,
            };
        };
        if hop == MAX_REDIRECTS {
            return failed(format!("stopped after {MAX_REDIRECTS} redirects"));
        }
        exchange.target = match resolve(&exchange.target, &location) {
            Ok(next) => next,
            Err(e) => return failed(e),
        };
        if matches!(answer.status.as_u16(), 301..=303) && exchange.method != Method::HEAD {
            exchange.method = Method::GET;
            exchange.body = Bytes::new();
        }
        if exchange.target.host().unwrap_or_default() != original_host {
            exchange.headers.retain(|(n, _)| !SENSITIVE.contains(&n.to_ascii_lowercase().as_str()));
        }
    }
    failed(format!("stopped after {MAX_REDIRECTS} redirects"))
}

fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("unsupported protocol scheme {other:?}")),
        None => return Err(format!("parse {url:?}: missing protocol scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("http: no Host in request URL {url:?}"));
    }
    Ok(uri)
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A `Location` against the URL that answered it: absolute, scheme-relative, absolute-path
/// or relative-path references.
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let joined = if location.contains("://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    };
    parse_url(&joined).map_err(|e| format!("failed to follow redirect: {e}"))
}

async fn send(
    exchange: &Exchange<'_>,
    settings: &ProbeTls,
    follow_redirects: bool,
    body_limit: usize,
    tls: &ProbeDialer,
) -> Result<Answer, String> {
    let uri = &exchange.target;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let dial_host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tls
        .dial(dial_host, port)
        .await
        .map_err(|e| format!("dial tcp {host}:{port}: {}", io_text(&e)))?;
    let request = build_request(exchange)?;
    if https {
        let stream = tls.handshake(tcp, host, settings).await?;
        exchange_on(stream, request, follow_redirects, body_limit).await
    } else {
        exchange_on(tcp, request, follow_redirects, body_limit).await
    }
}

fn build_request(exchange: &Exchange<'_>) -> Result<Request<Full<Bytes>>, String> {
    let uri = &exchange.target;
    let origin_form = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder().method(exchange.method.clone()).uri(origin_form);
    let mut has_host = false;
    for (name, value) in &exchange.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("net/http: invalid header field name {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("net/http: invalid header field value for {name:?}"))?;
        has_host |= name == HOST;
        builder = builder.header(name, value);
    }
    if !has_host {
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        builder = builder.header(HOST, authority);
    }
    builder.body(Full::new(exchange.body.clone())).map_err(|e| format!("net/http: {e}"))
}

/// Sends the request over `io` and reads the answer while driving the connection in the
/// same task (no spawn: the connection lives exactly as long as the probe).
async fn exchange_on<T>(
    io: T,
    request: Request<Full<Bytes>>,
    follow_redirects: bool,
    body_limit: usize,
) -> Result<Answer, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| e.to_string())?;
    let work = async move {
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        Ok::<Answer, String>(read_answer(response, follow_redirects, body_limit).await)
    };
    let mut work = pin!(work);
    let mut connection = pin!(connection);
    let finished = tokio::select! {
        answer = &mut work => Some(answer),
        _ = &mut connection => None,
    };
    // The connection may end first (server closed after the body); the answer is then
    // already buffered, or the request reports why it failed.
    match finished {
        Some(answer) => answer,
        None => work.await,
    }
}

async fn read_answer(response: Response<Incoming>, follow: bool, body_limit: usize) -> Answer {
    let status = response.status();
    let reason = match response.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(phrase) => String::from_utf8_lossy(phrase.as_bytes()).into_owned(),
        None => status.canonical_reason().unwrap_or_default().to_owned(),
    };
    let location =
        response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body_tail = Vec::new();
    if !(follow && is_redirect(status) && location.is_some()) {
        let mut body = response.into_body();
        // A body that breaks off keeps what arrived, as Consul logs and reports it.
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                body_tail.extend_from_slice(&data);
                let excess = body_tail.len().saturating_sub(body_limit);
                body_tail.drain(..excess);
            }
        }
    }
    Answer { status, reason, location, body_tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn redirect_locations_resolve_like_a_browser() {
        let base = uri("http://a:8080/x/y?q=1");
        let cases = [
            ("https://b/z", "https://b/z"),
            ("//c:9/w", "http://c:9/w"),
            ("/root", "http://a:8080/root"),
            ("sibling?k=v", "http://a:8080/x/sibling?k=v"),
        ];
        for (location, want) in cases {
            assert_eq!(resolve(&base, location).unwrap(), uri(want), "{location}");
        }
        assert_eq!(resolve(&uri("http://a"), "here").unwrap(), uri("http://a/here"));
    }

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert!(parse_url("http://127.0.0.1:8500/v1/status/leader").is_ok());
        assert_eq!(parse_url("ftp://a/b").unwrap_err(), "unsupported protocol scheme \"ftp\"");
        assert_eq!(parse_url("/health").unwrap_err(), "parse \"/health\": missing protocol scheme");
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn consuls_host_header_overrides_the_url_authority() {
        let exchange = Exchange {
            target: uri("http://10.0.0.1:8080/health?full=1"),
            method: Method::GET,
            headers: vec![("Host", "web.internal"), ("X-Check", "1")],
            body: Bytes::new(),
        };
        let request = build_request(&exchange).unwrap();
        assert_eq!(request.uri(), "/health?full=1");
        assert_eq!(request.headers()[HOST], "web.internal");
        let exchange = Exchange { headers: vec![], ..exchange };
        assert_eq!(build_request(&exchange).unwrap().headers()[HOST], "10.0.0.1:8080");
        let bad = Exchange { headers: vec![("Bad Header", "x")], ..exchange };
        assert_eq!(
            build_request(&bad).unwrap_err(),
            "net/http: invalid header field name \"Bad Header\""
        );
    }
}
