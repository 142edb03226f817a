//! `proconsul leave`: ask the agent to leave the cluster gracefully and shut down
//! (`PUT /v1/agent/leave`), as `consul leave` does.

use std::io::{self, Write};

use clap::Args;

use crate::api_client::Query;

use super::Exit;
use super::http_flags::{HttpFlags, block_on, fail};

/// Arguments of `leave`.
#[derive(Debug, Args)]
pub(super) struct LeaveArgs {
    #[command(flatten)]
    http: HttpFlags,
}

/// Prints `Graceful leave complete` once the agent has acknowledged.
pub(super) fn leave(
    args: &LeaveArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        match client.put("/v1/agent/leave", &Query::new(), Vec::new()).await {
            Ok(_) => {
                writeln!(out, "Graceful leave complete")?;
                Ok(Exit::Success)
            }
            Err(e) => fail(err, "Error leaving", &e),
        }
    })
}
