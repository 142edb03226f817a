//! `proconsul config validate` and `proconsul config compile`: the checks a server runs on
//! `consul config write`, and the chain `GET /v1/discovery-chain/:service` returns, without
//! a server. Both share the loading ([`super::files`]) and the write-order checks
//! ([`super::check`]), so a directory `compile` accepts is exactly one `validate` accepts.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use proconsul_core::discovery_chain;
use proconsul_core::ids::{Datacenter, Namespace, ServiceName, TrustDomain};

use super::problem::report;
use super::{Exit, check, files};

/// Arguments of `config validate`.
#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// Datacenter the entries would be written to; chains are checked in it.
    #[arg(long, value_name = "DC", default_value = "dc1")]
    datacenter: Datacenter,
    /// Entry files in write order: .hcl (one entry), .json (an entry or an array of them),
    /// or a directory (its *.hcl and *.json files by name). Other names are sniffed.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `config compile`.
#[derive(Debug, Args)]
pub(super) struct CompileArgs {
    /// Directory whose *.hcl and *.json entries are read, in file-name order.
    #[arg(long, value_name = "DIR")]
    entries: PathBuf,
    /// Datacenter the chain is compiled in (the caller's datacenter).
    #[arg(long, value_name = "DC")]
    datacenter: Datacenter,
    /// Trust domain in the targets' SNI names, e.g. `<cluster id>.consul`.
    #[arg(long, value_name = "TD", default_value = "consul")]
    trust_domain: TrustDomain,
    /// Namespace of SERVICE.
    #[arg(long, value_name = "NS", default_value = "default")]
    namespace: Namespace,
    /// Service whose chain to compile.
    #[arg(value_name = "SERVICE")]
    service: ServiceName,
}

/// Prints every problem to stdout (the report is the output) and `N config entries valid`
/// when there are none.
pub(super) fn validate(args: &ValidateArgs, out: &mut dyn Write) -> io::Result<Exit> {
    let checked = check::accept_writes(files::load(&args.files), &args.datacenter);
    if !checked.problems.is_empty() {
        report(&checked.problems, out)?;
        return Ok(Exit::Failure);
    }
    let n = checked.entries.len();
    writeln!(out, "{n} config {} valid", if n == 1 { "entry" } else { "entries" })?;
    Ok(Exit::Success)
}

/// Prints the chain as pretty JSON to stdout. Problems and compile errors go to stderr, so
/// stdout is always either nothing or a whole JSON document a pipeline can parse.
pub(super) fn compile(
    args: &CompileArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let loaded = files::load(std::slice::from_ref(&args.entries));
    let checked = check::accept_writes(loaded, &args.datacenter);
    if !checked.problems.is_empty() {
        report(&checked.problems, err)?;
        return Ok(Exit::Failure);
    }
    let compiled = discovery_chain::compile(
        &checked.entries,
        &args.service,
        &args.namespace,
        &args.datacenter,
        &args.trust_domain,
    );
    let chain = match compiled {
        Ok(chain) => chain,
        Err(e) => {
            writeln!(err, "error: discovery chain {:?}: {e}", args.service.as_str())?;
            return Ok(Exit::Failure);
        }
    };
    // The same envelope as `GET /v1/discovery-chain/:service`, so tooling reads either.
    match serde_json::to_string_pretty(&serde_json::json!({ "Chain": chain })) {
        Ok(json) => writeln!(out, "{json}")?,
        Err(e) => {
            writeln!(err, "error: encoding the chain as JSON: {e}")?;
            return Ok(Exit::Failure);
        }
    }
    Ok(Exit::Success)
}
