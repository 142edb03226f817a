//! `proconsul intention check`: would the destination's sidecar accept this caller?
//!
//! The same decision `/v1/agent/connect/authorize` makes (core's [`authorize`]), over
//! `service-intentions` entries read from files instead of the catalog, so intention
//! changes can be tested in CI before they are written.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use proconsul_core::config::ConfigEntry;
use proconsul_core::ids::{Datacenter, ServiceName, SpiffeId, TrustDomain};
use proconsul_core::intentions::{AuthorizeError, DefaultPolicy, Intention, authorize};

use super::problem::report;
use super::{Exit, check, files};

/// Arguments of `intention check`.
#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// service-intentions entries: an .hcl file, a .json object or array, or a directory
    /// of them. Repeat for more. Without it, the agent at -http-addr decides.
    #[arg(long = "intentions", value_name = "FILE")]
    intentions: Vec<PathBuf>,
    /// With --intentions: the decision when no intention matches [default: allow].
    #[arg(long, value_name = "POLICY", value_enum)]
    default_policy: Option<Policy>,
    #[command(flatten)]
    http: super::http_flags::HttpFlags,
    /// Caller: a service name (default namespace) or a full spiffe:// URI.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// Service being called.
    #[arg(value_name = "DESTINATION")]
    destination: ServiceName,
}

/// `--default-policy` values; a local enum so `--help` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Policy {
    Allow,
    Deny,
}

impl From<Policy> for DefaultPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Allow => DefaultPolicy::Allow,
            Policy::Deny => DefaultPolicy::Deny,
        }
    }
}

/// Prints `Allowed: <reason>` or `Denied: <reason>`; problems with the files or SOURCE go
/// to stderr with exit 1, so exit 2 always means a real denial.
pub(super) fn check(
    args: &CheckArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    if args.intentions.is_empty() {
        if args.default_policy.is_some() {
            // The agent applies its own configured default; silently ignoring ours would
            // answer a different question than the one asked.
            writeln!(err, "error: --default-policy needs --intentions (the agent uses its own)")?;
            return Ok(Exit::Failure);
        }
        let (source, destination) = (&args.source, args.destination.as_str());
        return super::intention_api::check(&args.http, source, destination, out, err);
    }
    let checked = check::accept_alone(files::load(&args.intentions));
    if !checked.problems.is_empty() {
        report(&checked.problems, err)?;
        return Ok(Exit::Failure);
    }
    // Directories often hold a whole config tree; other kinds play no part in the decision,
    // but say so, so a wrong path does not quietly fall through to the default policy.
    for entry in checked.entries.iter() {
        if !matches!(entry, ConfigEntry::ServiceIntentions(_)) {
            writeln!(
                err,
                "note: ignoring {} {:?}: not service-intentions",
                entry.kind(),
                entry.name()
            )?;
        }
    }
    let source = match parse_source(&args.source) {
        Ok(source) => source,
        Err(message) => {
            writeln!(err, "error: {message}")?;
            return Ok(Exit::Failure);
        }
    };
    let intentions = Intention::all(&checked.entries);
    let default_policy = args.default_policy.unwrap_or(Policy::Allow).into();
    match authorize(&intentions, &source, &args.destination, default_policy) {
        Ok(decision) if decision.authorized => {
            writeln!(out, "Allowed: {}", decision.reason)?;
            Ok(Exit::Success)
        }
        Ok(decision) => {
            writeln!(out, "Denied: {}", decision.reason)?;
            Ok(Exit::Denied)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Exit::Failure)
        }
    }
}

/// A SPIFFE URI as given, or a bare service name as the identity of that service in the
/// default namespace. Its trust domain and datacenter are placeholders: `authorize` checks
/// neither, exactly as Consul does not.
fn parse_source(source: &str) -> Result<SpiffeId, String> {
    if source.contains("://") {
        return source
            .parse::<SpiffeId>()
            .map_err(|e| format!("{}: {e}", AuthorizeError::InvalidUri));
    }
    let service = ServiceName::new(source).map_err(|e| format!("invalid SOURCE: {e}"))?;
    let trust_domain = TrustDomain::new("consul").map_err(|e| e.to_string())?;
    let datacenter = Datacenter::new("dc1").map_err(|e| e.to_string())?;
    Ok(SpiffeId::service(trust_domain, datacenter, service))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_service_name_is_that_service_in_the_default_namespace() {
        let id = parse_source("web").unwrap();
        assert_eq!(id.to_string(), "spiffe://consul/ns/default/dc/dc1/svc/web");
    }

    #[test]
    fn a_uri_that_is_not_a_spiffe_id_is_not_a_connect_identifier() {
        let e = parse_source("https://example.com/web").unwrap_err();
        assert!(e.starts_with("ClientCertURI not a valid Connect identifier"), "{e}");
    }
}
