//! The boundary with the runtime's prober: what to probe, what came back, and how Consul
//! turns that into a status and an output line.
//!
//! The runtime only does I/O: it connects, sends, reads (keeping the body's last
//! `body_limit` bytes) and reports. Which statuses pass, how output reads and how long it
//! may be are decided here, so the simulation and production agree byte for byte.

use std::time::Duration;

use super::CheckId;
use super::definition::{DEFAULT_TIMEOUT, HttpCheck, TcpCheck, USER_AGENT};
use crate::state::HealthStatus;

/// One probe to run now. The runtime MUST answer every probe with exactly one
/// [`super::CheckScheduler::handle_probe_result`] for its `check_id` (a timeout is a
/// [`ProbeResult::Failed`]); the check's next probe is scheduled from that answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The check this probe belongs to.
    pub check_id: CheckId,
    /// What to do.
    pub kind: ProbeKind,
}

/// TLS settings of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeTls {
    /// Accept any server certificate (Go's `InsecureSkipVerify`).
    pub skip_verify: bool,
    /// SNI and the name to verify, instead of the target's host.
    pub server_name: Option<String>,
}

/// The I/O of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// One HTTP request on a fresh connection (Consul disables keep-alive for checks).
    Http {
        /// The URL as registered.
        url: String,
        /// Request method.
        method: String,
        /// Request headers in order, including Consul's `User-Agent` and `Accept` defaults.
        /// A `Host` entry overrides the URL's authority.
        headers: Vec<(String, String)>,
        /// Request body.
        body: String,
        /// Bound on the whole exchange: connect, request, headers and body.
        timeout: Duration,
        /// Used when the URL is `https`.
        tls: ProbeTls,
        /// Follow up to 10 redirects, as Go's client does, instead of reporting the 3xx.
        follow_redirects: bool,
        /// Keep only this many bytes from the end of the body.
        body_limit: usize,
    },
    /// A TCP connect to `addr` (`host:port`), with a TLS handshake when `tls` is set.
    Tcp {
        /// `host:port`.
        addr: String,
        /// Bound on connect (and handshake).
        timeout: Duration,
        /// Handshake settings for `TCPUseTLS` checks.
        tls: Option<ProbeTls>,
    },
}

/// What the runtime observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// An HTTP response arrived (the final one, after any redirects).
    HttpResponse {
        /// Status code.
        status: u16,
        /// Reason phrase (`OK`, `Too Many Requests`), the server's or the canonical one.
        reason: String,
        /// The body's last `body_limit` bytes.
        body_tail: Vec<u8>,
    },
    /// The TCP connection (and TLS handshake, if any) succeeded.
    Connected,
    /// The probe failed before a result: the error as the runtime words it
    /// (`dial tcp 127.0.0.1:1: connection refused`, `i/o timeout`).
    Failed {
        /// Human-readable cause.
        error: String,
    },
}

impl ProbeKind {
    pub(super) fn http(check: &HttpCheck, body_limit: usize) -> ProbeKind {
        let mut headers: Vec<(String, String)> = check
            .header
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.clone(), v.clone())))
            .collect();
        let has = |headers: &[(String, String)], name: &str| {
            headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has(&headers, "User-Agent") {
            headers.push(("User-Agent".to_owned(), USER_AGENT.to_owned()));
        }
        if !has(&headers, "Accept") {
            headers.push(("Accept".to_owned(), "text/plain, text/*, */*".to_owned()));
        }
        ProbeKind::Http {
            url: check.url.clone(),
            method: check.method.clone(),
            headers,
            body: check.body.clone(),
            timeout: check.timeout.unwrap_or(DEFAULT_TIMEOUT),
            tls: ProbeTls {
                skip_verify: check.tls_skip_verify,
                server_name: check.tls_server_name.clone(),
            },
            follow_redirects: !check.disable_redirects,
            body_limit,
        }
    }

    pub(super) fn tcp(check: &TcpCheck) -> ProbeKind {
        ProbeKind::Tcp {
            addr: check.addr.clone(),
            timeout: check.timeout.unwrap_or(DEFAULT_TIMEOUT),
            tls: check.use_tls.then(|| ProbeTls {
                skip_verify: check.tls_skip_verify,
                server_name: check.tls_server_name.clone(),
            }),
        }
    }
}

/// Consul's verdict on an HTTP check's result, with its output line
/// (`HTTP GET <url>: 200 OK Output: <body>`; errors read `Get "<url>": <error>`).
pub(super) fn http_verdict(
    check: &HttpCheck,
    result: ProbeResult,
    output_max: usize,
) -> (HealthStatus, String) {
    match result {
        ProbeResult::HttpResponse { status, reason, body_tail } => {
            let body = String::from_utf8_lossy(tail(&body_tail, output_max)).into_owned();
            let line = format!(
                "HTTP {} {}: {} Output: {}",
                check.method,
                check.url,
                format!("{status} {reason}").trim_end(),
                body
            );
            let verdict = match status {
                200..=299 => HealthStatus::Passing,
                429 => HealthStatus::Warning,
                _ => HealthStatus::Critical,
            };
            (verdict, line)
        }
        ProbeResult::Failed { error } => {
            (HealthStatus::Critical, format!("{} {:?}: {error}", go_op(&check.method), check.url))
        }
        ProbeResult::Connected => (
            HealthStatus::Critical,
            format!("{} {:?}: probe returned no HTTP response", go_op(&check.method), check.url),
        ),
    }
}

/// Consul's verdict on a TCP check's result (`TCP connect <addr>: Success`; failures carry
/// the runtime's error).
pub(super) fn tcp_verdict(check: &TcpCheck, result: ProbeResult) -> (HealthStatus, String) {
    let proto = if check.use_tls { "TCP+TLS" } else { "TCP" };
    match result {
        ProbeResult::Connected => {
            (HealthStatus::Passing, format!("{proto} connect {}: Success", check.addr))
        }
        ProbeResult::Failed { error } => (HealthStatus::Critical, error),
        ProbeResult::HttpResponse { .. } => (
            HealthStatus::Critical,
            format!("{proto} connect {}: probe returned an HTTP response", check.addr),
        ),
    }
}

/// Go's `url.Error` operation: the method with only its first letter upper-case (`Get`).
fn go_op(method: &str) -> String {
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

/// The last `max` bytes, as Consul's circular output buffer keeps them.
fn tail(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[bytes.len().saturating_sub(max)..]
}

/// A TTL update's output capped at `max` bytes the way Consul's `CheckTTL.SetStatus` does:
/// the head is kept and `... (captured <max> of <total> bytes)` appended. The cut moves back
/// to a character boundary so the output stays valid UTF-8.
pub(super) fn truncate_ttl_output(output: &str, max: usize) -> String {
    if output.len() <= max {
        return output.to_owned();
    }
    let mut cut = max;
    while !output.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ... (captured {max} of {} bytes)", &output[..cut], output.len())
}
