//! The check runner against real local servers: an HTTP server whose status flips, a TCP
//! listener that closes, an HTTPS server with a self-signed certificate, redirects, TTL
//! expiry and reaping. Intervals are 1s (Consul's floor), so each test takes a few seconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use proconsul_core::checks::{CheckDefinition, SchedulerConfig, StatusChange};
use proconsul_core::state::HealthStatus::{self, Critical, Passing, Warning};
use proconsul_runtime_tokio::checks::{
    CheckEvent, CheckRunner, CheckRunnerConfig, CheckRunnerError,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Two intervals and a margin: every expected change must arrive within this.
const WITHIN: Duration = Duration::from_secs(3);

fn def(body: Value) -> CheckDefinition {
    CheckDefinition::from_json(&body).unwrap()
}

/// Waits for `check` to report `status`, skipping other events; panics with what it saw.
async fn expect_status(
    events: &mut mpsc::Receiver<CheckEvent>,
    check: &str,
    status: HealthStatus,
) -> StatusChange {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(event) = events.recv().await {
            match event {
                CheckEvent::StatusChanged(c)
                    if c.check_id.as_str() == check && c.status == status =>
                {
                    return Some(c);
                }
                other => seen.push(other),
            }
        }
        None
    };
    match tokio::time::timeout(WITHIN, wait).await {
        Ok(Some(change)) => change,
        _ => panic!("no {status:?} for {check} within {WITHIN:?}; saw {seen:?}"),
    }
}

#[allow(clippy::disallowed_methods, reason = "test servers run in their own tasks")]
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn flipping_server() -> (SocketAddr, Arc<AtomicU16>) {
    let code = Arc::new(AtomicU16::new(200));
    let app = Router::new()
        .route(
            "/health",
            get(|State(code): State<Arc<AtomicU16>>| async move {
                let code = code.load(Ordering::SeqCst);
                (StatusCode::from_u16(code).unwrap(), format!("status {code}")).into_response()
            }),
        )
        .route("/old", get(|| async { Redirect::temporary("/health") }))
        .with_state(code.clone());
    (serve(app).await, code)
}

#[tokio::test]
async fn http_check_reports_passing_critical_then_warning_as_the_server_flips() {
    let (addr, code) = flipping_server().await;
    let (checks, mut events) = CheckRunner::start(1);
    let url = format!("http://{addr}/health");
    checks.add(def(json!({"Name": "web", "HTTP": url, "Interval": "1s"}))).await.unwrap();

    let change = expect_status(&mut events, "web", Passing).await;
    assert_eq!(change.output, format!("HTTP GET {url}: 200 OK Output: status 200"));
    code.store(500, Ordering::SeqCst);
    let change = expect_status(&mut events, "web", Critical).await;
    assert_eq!(
        change.output,
        format!("HTTP GET {url}: 500 Internal Server Error Output: status 500")
    );
    code.store(429, Ordering::SeqCst);
    let change = expect_status(&mut events, "web", Warning).await;
    assert_eq!(change.output, format!("HTTP GET {url}: 429 Too Many Requests Output: status 429"));

    let statuses = checks.statuses().await.unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].status, Warning);
}

#[tokio::test]
async fn tcp_check_goes_critical_when_the_listener_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (checks, mut events) = CheckRunner::start(2);
    checks
        .add(def(json!({"Name": "db", "TCP": addr.to_string(), "Interval": "1s", "Timeout": "1s"})))
        .await
        .unwrap();
    let change = expect_status(&mut events, "db", Passing).await;
    assert_eq!(change.output, format!("TCP connect {addr}: Success"));
    drop(listener);
    let change = expect_status(&mut events, "db", Critical).await;
    assert_eq!(change.output, format!("dial tcp {addr}: connect: connection refused"));
}

#[tokio::test]
async fn ttl_check_expires_critical_and_update_ttl_passes_it_again() {
    let (checks, mut events) = CheckRunner::start(3);
    checks.add(def(json!({"Name": "app", "TTL": "1s", "Status": "passing"}))).await.unwrap();
    let change = expect_status(&mut events, "app", Critical).await;
    assert_eq!(change.output, "TTL expired");

    checks.update_ttl("app", Passing, "all good").await.unwrap();
    let change = expect_status(&mut events, "app", Passing).await;
    assert_eq!(change.output, "all good");
    let change = expect_status(&mut events, "app", Critical).await;
    assert_eq!(change.output, "TTL expired (last output before timeout follows): all good");

    let refused = checks.update_ttl("nope", Passing, "").await.unwrap_err();
    assert!(matches!(refused, CheckRunnerError::NoTtl(_)));
    assert_eq!(refused.to_string(), "CheckID \"nope\" does not have associated TTL");
    assert!(checks.remove("app").await.unwrap());
    assert!(checks.statuses().await.unwrap().is_empty());
}

/// A runner that sends output-only changes at once. With Consul's default
/// `check_update_interval` a check registered critical whose first result is also critical
/// only changes its output, which the catalog hears minutes later (the agent's local view,
/// `statuses()`, has it at once).
fn sync_outputs_at_once(seed: u64) -> CheckRunnerConfig {
    let mut config = CheckRunnerConfig::new(seed);
    config.scheduler.check_update_interval = Duration::ZERO;
    config
}

/// The first status each of `count` checks reports.
async fn first_statuses(
    events: &mut mpsc::Receiver<CheckEvent>,
    count: usize,
) -> BTreeMap<String, (HealthStatus, String)> {
    let mut outcomes = BTreeMap::new();
    let collect = async {
        while outcomes.len() < count {
            match events.recv().await {
                Some(CheckEvent::StatusChanged(c)) => {
                    outcomes.entry(c.check_id.to_string()).or_insert((c.status, c.output));
                }
                Some(CheckEvent::DeregisterService { .. }) => {}
                None => break,
            }
        }
    };
    if tokio::time::timeout(WITHIN, collect).await.is_err() {
        panic!("only {outcomes:?} within {WITHIN:?}");
    }
    outcomes
}

#[tokio::test]
async fn redirects_are_followed_unless_disabled() {
    let (addr, _code) = flipping_server().await;
    let (checks, mut events) = CheckRunner::start_with(sync_outputs_at_once(4)).unwrap();
    let url = format!("http://{addr}/old");
    checks.add(def(json!({"Name": "follow", "HTTP": url, "Interval": "1s"}))).await.unwrap();
    checks
        .add(def(json!({"Name": "stay", "HTTP": url, "Interval": "1s", "DisableRedirects": true})))
        .await
        .unwrap();
    let outcomes = first_statuses(&mut events, 2).await;
    assert_eq!(outcomes["follow"], (Passing, format!("HTTP GET {url}: 200 OK Output: status 200")));
    assert_eq!(
        outcomes["stay"],
        (Critical, format!("HTTP GET {url}: 307 Temporary Redirect Output: "))
    );
}

/// A one-response-per-connection HTTPS server with a self-signed `localhost` certificate.
#[allow(clippy::disallowed_methods, reason = "test server task")]
async fn https_server() -> (SocketAddr, CertificateDer<'static>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let reply =
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
                let _ = tls.write_all(reply).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, der)
}

#[tokio::test]
async fn https_checks_verify_against_the_configured_roots_or_skip_verification() {
    let (addr, cert) = https_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = CheckRunnerConfig { tls_roots: Some(Arc::new(roots)), ..sync_outputs_at_once(5) };
    let (checks, mut events) = CheckRunner::start_with(config).unwrap();
    let url = format!("https://{addr}/");
    for body in [
        json!({"Name": "skip", "HTTP": url, "Interval": "1s", "TLSSkipVerify": true}),
        json!({"Name": "named", "HTTP": url, "Interval": "1s", "TLSServerName": "localhost"}),
        json!({"Name": "wrong-name", "HTTP": url, "Interval": "1s"}),
        json!({"Name": "tcp-tls", "TCP": addr.to_string(), "TCPUseTLS": true,
               "TLSServerName": "localhost", "Interval": "1s"}),
    ] {
        checks.add(def(body)).await.unwrap();
    }
    let outcomes = first_statuses(&mut events, 4).await;
    let expected_ok = format!("HTTP GET {url}: 200 OK Output: secure");
    assert_eq!(outcomes["skip"], (Passing, expected_ok.clone()));
    assert_eq!(outcomes["named"], (Passing, expected_ok));
    let (status, output) = &outcomes["wrong-name"];
    assert_eq!(*status, Critical);
    assert!(output.starts_with(&format!("Get \"{url}\": tls: ")), "{output}");
    assert_eq!(outcomes["tcp-tls"], (Passing, format!("TCP+TLS connect {addr}: Success")));
}

#[tokio::test]
async fn a_service_critical_past_deregister_critical_service_after_is_reported_once() {
    let config = CheckRunnerConfig {
        scheduler: SchedulerConfig {
            deregister_critical_min: Duration::ZERO,
            ..SchedulerConfig::default()
        },
        ..CheckRunnerConfig::new(6)
    };
    let (checks, mut events) = CheckRunner::start_with(config).unwrap();
    checks
        .add(def(json!({"Name": "w", "TTL": "500ms", "ServiceID": "web1",
                        "DeregisterCriticalServiceAfter": "500ms"})))
        .await
        .unwrap();
    let reaped = tokio::time::timeout(WITHIN, async {
        loop {
            match events.recv().await {
                Some(CheckEvent::DeregisterService { service_id }) => return service_id,
                Some(_) => continue,
                None => panic!("runner stopped"),
            }
        }
    })
    .await
    .expect("deregistration within the wait");
    assert_eq!(reaped, "web1");
    assert!(checks.statuses().await.unwrap().is_empty(), "the reaped service's checks stopped");
}
