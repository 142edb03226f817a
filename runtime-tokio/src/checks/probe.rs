//! Runs one [`Probe`] with real sockets and reports what happened. Verdicts and output
//! wording are the core's; this only describes failures (`dial tcp <addr>: ...`).

use std::io;
use std::time::Duration;

use proconsul_core::checks::{Probe, ProbeKind, ProbeResult, ProbeTls};
use proconsul_core::config::GoDuration;

use super::http;
use super::tls::ProbeDialer;

/// Runs `probe` to completion within its timeout.
pub(super) async fn run(probe: Probe, tls: ProbeDialer) -> (Probe, ProbeResult) {
    let result = match &probe.kind {
        ProbeKind::Http { timeout, .. } => {
            let timeout = *timeout;
            match tokio::time::timeout(timeout, http::probe(&probe.kind, &tls)).await {
                Ok(result) => result,
                Err(_) => failed(format!(
                    "context deadline exceeded (Client.Timeout {} exceeded)",
                    go_duration(timeout)
                )),
            }
        }
        ProbeKind::Tcp { addr, timeout, tls: handshake } => {
            match tokio::time::timeout(*timeout, tcp(addr, handshake.as_ref(), &tls)).await {
                Ok(result) => result,
                Err(_) => failed(format!("dial tcp {addr}: i/o timeout")),
            }
        }
    };
    (probe, result)
}

async fn tcp(addr: &str, handshake: Option<&ProbeTls>, tls: &ProbeDialer) -> ProbeResult {
    let Some((host, port)) = addr.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse().ok()?)))
    else {
        return failed(format!("dial tcp {addr}: missing port in address"));
    };
    let stream = match tls.dial(host, port).await {
        Ok(stream) => stream,
        Err(e) => return failed(format!("dial tcp {addr}: {}", io_text(&e))),
    };
    if let Some(settings) = handshake
        && let Err(e) = tls.handshake(stream, host, settings).await
    {
        return failed(e);
    }
    ProbeResult::Connected
}

pub(super) fn failed(error: String) -> ProbeResult {
    ProbeResult::Failed { error }
}

/// An I/O error the way Go words a dial failure: `connect: connection refused` rather than
/// `Connection refused (os error 111)`.
pub(super) fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => {
            let bare = text.trim_end_matches(&format!(" (os error {code})")).to_owned();
            let mut chars = bare.chars();
            let lowered: String = match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => bare,
            };
            format!("connect: {lowered}")
        }
        None => text,
    }
}

/// `10s`, `1.5s`, `250ms`: timeouts read as Go prints them.
fn go_duration(d: Duration) -> String {
    GoDuration::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn os_errors_read_like_go_dial_errors() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(io_text(&refused), "connect: connection refused");
        let custom = io::Error::other("failed to lookup address information");
        assert_eq!(io_text(&custom), "failed to lookup address information");
    }

    #[test]
    fn timeouts_print_as_go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }
}
