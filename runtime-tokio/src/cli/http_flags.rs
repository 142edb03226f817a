//! What every command that talks to an agent shares: the `-http-addr` flag, the client it
//! builds, and the small runtime a command's requests run on.
//!
//! The address comes from `-http-addr`, else `PROCONSUL_HTTP_ADDR`, else `CONSUL_HTTP_ADDR`,
//! else `127.0.0.1:8500` ([`resolve_http_addr`]), so scripts written for `consul` work
//! unchanged with only the binary name swapped.

use std::future::Future;
use std::io::{self, Write};

use clap::Args;

use crate::api_client::{ApiClient, ApiError, resolve_http_addr};

use super::Exit;

/// `-http-addr`, flattened into every command that calls the HTTP API.
#[derive(Debug, Clone, Default, Args)]
pub(super) struct HttpFlags {
    /// The agent's HTTP API: `host:port` or `http://host:port`. Defaults to
    /// $PROCONSUL_HTTP_ADDR, then $CONSUL_HTTP_ADDR, then 127.0.0.1:8500.
    #[arg(long = "http-addr", value_name = "ADDR")]
    http_addr: Option<String>,
}

impl HttpFlags {
    /// The client for the resolved address; an unusable address is printed as Consul prints
    /// it (`Error connecting to Consul agent: ...`) and gives `None`.
    pub(super) fn client(&self, err: &mut dyn Write) -> io::Result<Option<ApiClient>> {
        let addr = resolve_http_addr(self.http_addr.as_deref(), |k| std::env::var(k).ok());
        match ApiClient::new(&addr) {
            Ok(client) => Ok(Some(client)),
            Err(e) => {
                writeln!(err, "Error connecting to Consul agent: {e}")?;
                Ok(None)
            }
        }
    }
}

/// Runs one command's requests to completion on a single-threaded runtime: a CLI makes a
/// handful of sequential calls, so a thread pool would only add start-up time.
pub(super) fn block_on(work: impl Future<Output = io::Result<Exit>>) -> io::Result<Exit> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(work)
}

/// Prints `context: error` to stderr and gives the failure exit: the shape of every Consul
/// CLI error line (`Error querying Consul agent: Unexpected response code: 500 (...)`).
pub(super) fn fail(err: &mut dyn Write, context: &str, error: &ApiError) -> io::Result<Exit> {
    writeln!(err, "{context}: {error}")?;
    Ok(Exit::Failure)
}
