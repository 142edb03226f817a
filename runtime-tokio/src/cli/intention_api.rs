//! `proconsul intention create|delete|list`, and `intention check` without `--intentions`:
//! intentions on a running cluster, with the consul CLI's output (`Created: web => db
//! (allow)`, `Intention deleted.`, the `ID  Source  Action  Destination  Precedence` table).
//!
//! Writes go through `/v1/connect/intentions/exact`, which stores them in the destination's
//! `service-intentions` config entry as Consul 1.9+ does. Like consul, `create` refuses to
//! overwrite an intention unless `-replace` is given, and on replacing it prints nothing.
//!
//! Exit codes follow this CLI's contract (see `cli`): `check` exits 2 only for "denied" and
//! 1 for errors (consul itself uses 1 and 2 the other way round), and an empty `list` is a
//! success, not consul's exit 2, so 2 never means anything but a denial.

use std::io::{self, Write};

use clap::{Args, Subcommand};
use serde_json::json;

use crate::api_client::{ApiClient, ApiError, Query};

use super::Exit;
use super::columns::columnize;
use super::http_flags::{HttpFlags, block_on, fail};

/// The `intention` subcommands that call the HTTP API.
#[derive(Debug, Subcommand)]
pub(super) enum IntentionApiCommand {
    /// Create an intention from SOURCE to DESTINATION (allow unless -deny).
    Create(CreateArgs),
    /// Delete the intention from SOURCE to DESTINATION (or, given one argument, by ID).
    Delete(DeleteArgs),
    /// List every intention.
    List(ListArgs),
}

/// Arguments of `intention create`.
#[derive(Debug, Args)]
pub(super) struct CreateArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Allow matching connections (the default).
    #[arg(long)]
    allow: bool,
    /// Deny matching connections.
    #[arg(long)]
    deny: bool,
    /// Overwrite an existing intention between the same services.
    #[arg(long)]
    replace: bool,
    /// Caller: `name`, `namespace/name` or `partition/namespace/name`; `*` for any.
    #[arg(value_name = "SOURCE")]
    source: Option<String>,
    /// Service being called, in the same forms.
    #[arg(value_name = "DESTINATION")]
    destination: Option<String>,
}

/// Arguments of `intention delete`.
#[derive(Debug, Args)]
pub(super) struct DeleteArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// SOURCE DESTINATION, or a legacy intention ID.
    #[arg(value_name = "SOURCE DESTINATION | ID", num_args = 0..)]
    targets: Vec<String>,
}

/// Arguments of `intention list`.
#[derive(Debug, Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    http: HttpFlags,
}

/// Runs one of these subcommands.
pub(super) fn run(
    command: &IntentionApiCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        IntentionApiCommand::Create(args) => create(args, out, err),
        IntentionApiCommand::Delete(args) => delete(args, out, err),
        IntentionApiCommand::List(args) => list(args, out, err),
    }
}

/// One side of an intention, as `ParseIntentionTarget` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    partition: String,
    namespace: String,
    name: String,
}

impl Target {
    /// `name`, `namespace/name` or `partition/namespace/name`.
    fn parse(input: &str) -> Result<Self, String> {
        let parts: Vec<&str> = input.split('/').collect();
        let owned = |s: &str| s.to_owned();
        match parts.as_slice() {
            [name] => {
                Ok(Target { partition: String::new(), namespace: String::new(), name: owned(name) })
            }
            [ns, name] => {
                Ok(Target { partition: String::new(), namespace: owned(ns), name: owned(name) })
            }
            [ap, ns, name] => {
                Ok(Target { partition: owned(ap), namespace: owned(ns), name: owned(name) })
            }
            _ => Err("input can contain at most two '/'".into()),
        }
    }
}

/// As consul's `Intention.String` shows a side: default partition and namespace elided.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &str| !s.is_empty() && s != "default";
        if set(&self.partition) {
            write!(f, "{}/{}/{}", self.partition, self.namespace, self.name)
        } else if set(&self.namespace) {
            write!(f, "{}/{}", self.namespace, self.name)
        } else {
            f.write_str(&self.name)
        }
    }
}

/// The query naming one intention by its two sides, as given on the command line.
fn exact(source: &str, destination: &str) -> Query {
    Query::new().param("source", source).param("destination", destination)
}

/// `src => dst (action)`, consul's `Intention.String`.
fn describe(source: &Target, destination: &Target, action: &str) -> String {
    format!("{source} => {destination} ({action})")
}

fn create(args: &CreateArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    if args.allow && args.deny {
        writeln!(err, "Only one of -allow or -deny may be specified.")?;
        return Ok(Exit::Failure);
    }
    let action = if args.deny { "deny" } else { "allow" };
    let (Some(src_arg), Some(dst_arg)) = (&args.source, &args.destination) else {
        writeln!(err, "Error: Must specify two arguments: source and destination")?;
        return Ok(Exit::Failure);
    };
    let parsed = Target::parse(src_arg)
        .map_err(|e| format!("Invalid intention source: {e}"))
        .and_then(|s| {
            Target::parse(dst_arg)
                .map(|d| (s, d))
                .map_err(|e| format!("Invalid intention destination: {e}"))
        });
    let (source, destination) = match parsed {
        Ok(pair) => pair,
        Err(message) => {
            writeln!(err, "Error: {message}")?;
            return Ok(Exit::Failure);
        }
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let shown = describe(&source, &destination, action);
    block_on(async {
        let query = exact(src_arg, dst_arg);
        let existing = match existing_action(&client, &query).await {
            Ok(existing) => existing,
            Err(e) if args.replace => {
                let context = format!(
                    "Error looking up intention for replacement with source {src_arg:?} and \
                     destination {dst_arg:?}"
                );
                return fail(err, &context, &e);
            }
            Err(e) => return fail(err, &format!("Error creating intention {shown:?}"), &e),
        };
        if let (Some(old), false) = (&existing, args.replace) {
            let old = describe(&source, &destination, old);
            writeln!(err, "Error creating intention {shown:?}: duplicate intention found: {old}")?;
            return Ok(Exit::Failure);
        }
        let body = json!({"SourceType": "consul", "Action": action}).to_string();
        if let Err(e) = client.put("/v1/connect/intentions/exact", &query, body).await {
            let context = match existing {
                Some(_) => format!(
                    "Error replacing intention with source {src_arg:?} and destination {dst_arg:?}"
                ),
                None => format!("Error creating intention {shown:?}"),
            };
            return fail(err, &context, &e);
        }
        // consul reports only new intentions; a replacement succeeds silently.
        if existing.is_none() {
            writeln!(out, "Created: {shown}")?;
        }
        Ok(Exit::Success)
    })
}

/// The action of the intention `query` names, `None` if there is none.
async fn existing_action(client: &ApiClient, query: &Query) -> Result<Option<String>, ApiError> {
    match client.get_json::<serde_json::Value>("/v1/connect/intentions/exact", query).await {
        Ok(found) => {
            let action = found.get("Action").and_then(|a| a.as_str()).unwrap_or("");
            Ok(Some(if action.is_empty() {
                "L7 permissions".to_owned()
            } else {
                action.to_owned()
            }))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn delete(args: &DeleteArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let (path, query) = match args.targets.as_slice() {
        [id] => (format!("/v1/connect/intentions/{id}"), Query::new()),
        [source, destination] => {
            ("/v1/connect/intentions/exact".to_owned(), exact(source, destination))
        }
        _ => {
            writeln!(err, "command requires exactly 1 or 2 arguments")?;
            return Ok(Exit::Failure);
        }
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        match client.delete(&path, &query).await {
            Ok(_) => {
                writeln!(out, "Intention deleted.")?;
                Ok(Exit::Success)
            }
            Err(e) => fail(err, "Error deleting the intention", &e),
        }
    })
}

/// One row of `GET /v1/connect/intentions`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Listed {
    #[serde(rename = "ID")]
    id: String,
    source_name: String,
    destination_name: String,
    action: String,
    precedence: i64,
}

fn list(args: &ListArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        let listed =
            match client.get_json::<Vec<Listed>>("/v1/connect/intentions", &Query::new()).await {
                Ok(listed) => listed,
                Err(e) => return fail(err, "Failed to retrieve the intentions list", &e),
            };
        if listed.is_empty() {
            writeln!(err, "There are no intentions.")?;
            return Ok(Exit::Success);
        }
        let header = ["ID", "Source", "Action", "Destination", "Precedence"];
        let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
        rows.extend(listed.into_iter().map(|i| {
            vec![i.id, i.source_name, i.action, i.destination_name, i.precedence.to_string()]
        }));
        writeln!(out, "{}", columnize(&rows))?;
        Ok(Exit::Success)
    })
}

/// `intention check SOURCE DESTINATION` against the agent: prints `Allowed` (exit 0) or
/// `Denied` (exit 2), as `/v1/connect/intentions/check` decides.
pub(super) fn check(
    http: &HttpFlags,
    source: &str,
    destination: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let Some(client) = http.client(err)? else { return Ok(Exit::Failure) };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Checked {
        allowed: bool,
    }
    block_on(async {
        let query = exact(source, destination).param("source-type", "consul");
        match client.get_json::<Checked>("/v1/connect/intentions/check", &query).await {
            Ok(Checked { allowed: true }) => {
                writeln!(out, "Allowed")?;
                Ok(Exit::Success)
            }
            Ok(Checked { allowed: false }) => {
                writeln!(out, "Denied")?;
                Ok(Exit::Denied)
            }
            Err(e) => fail(err, "Error checking the connection", &e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_partition_namespace_and_name() {
        let t = Target::parse("ap/ns/web").unwrap();
        assert_eq!(
            (t.partition.as_str(), t.namespace.as_str(), t.name.as_str()),
            ("ap", "ns", "web")
        );
        assert_eq!(Target::parse("ns/web").unwrap().namespace, "ns");
        assert_eq!(Target::parse("a/b/c/d").unwrap_err(), "input can contain at most two '/'");
    }

    #[test]
    fn defaults_are_elided_when_an_intention_is_shown() {
        let show = |s: &str, d: &str| {
            describe(&Target::parse(s).unwrap(), &Target::parse(d).unwrap(), "allow")
        };
        assert_eq!(show("web", "db"), "web => db (allow)");
        assert_eq!(show("default/web", "default/default/db"), "web => db (allow)");
        assert_eq!(show("team/web", "ap/team/db"), "team/web => ap/team/db (allow)");
    }
}
