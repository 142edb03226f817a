//! `proconsul services register|deregister`: service definitions on the local agent
//! (`PUT /v1/agent/service/register`, `PUT /v1/agent/service/deregister/:id`), as
//! `consul services` manages them.
//!
//! Definition files are agent config files holding `service { ... }` blocks or a
//! `services = [...]` list, in HCL or JSON (CONSUL-FACTS.md §8 for the fields). Every
//! definition in every file is checked with core's [`ServiceDefinition`] before anything is
//! sent, so a typo in the third file registers nothing rather than two services out of three.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use proconsul_core::agent::{RegistrationError, ServiceDefinition};
use proconsul_core::config::hcl1;
use serde_json::{Map, Value};

use crate::api_client::Query;

use super::Exit;
use super::http_flags::{HttpFlags, block_on, fail};

/// `proconsul services ...`.
#[derive(Debug, Subcommand)]
pub(super) enum ServicesCommand {
    /// Register services with the local agent, from definition files or flags.
    Register(RegisterArgs),
    /// Deregister services from the local agent, by -id or by their definition files.
    Deregister(DeregisterArgs),
}

/// Arguments of `services register`.
#[derive(Debug, Args)]
pub(super) struct RegisterArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Name of a service to register from flags (instead of files).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Its instance ID (defaults to the name).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Its address (defaults to the node's).
    #[arg(long, value_name = "ADDR")]
    address: Option<String>,
    /// Its port.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// A tag; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Metadata as key=value; repeat for more.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Its kind (connect-proxy, mesh-gateway; empty for a typical service).
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// Definition files (.hcl or .json; other names are sniffed).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Arguments of `services deregister`.
#[derive(Debug, Args)]
pub(super) struct DeregisterArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// The instance ID to deregister (instead of files).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Definition files whose services to deregister.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Runs one `services` subcommand.
pub(super) fn run(
    command: &ServicesCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        ServicesCommand::Register(args) => register(args, out, err),
        ServicesCommand::Deregister(args) => deregister(args, out, err),
    }
}

/// A checked definition and the JSON sent for it.
struct Definition {
    parsed: ServiceDefinition,
    body: Value,
}

impl Definition {
    fn check(body: Value) -> Result<Self, String> {
        let parsed = ServiceDefinition::from_json(body.clone()).map_err(|e| match e {
            RegistrationError::Decode(d) => d.to_string(),
            other => other.to_string(),
        })?;
        // The full registration checks (name, ports, sidecar) without a port allocator:
        // the agent picks the sidecar port.
        parsed.expand(&|_| false).map_err(|e| e.to_string())?;
        Ok(Definition { parsed, body })
    }

    /// The instance id the agent registers it under.
    fn id(&self) -> &str {
        if self.parsed.id.is_empty() { &self.parsed.name } else { &self.parsed.id }
    }
}

/// Every service definition in `path`, in file order.
fn definitions_in(path: &Path) -> Result<Vec<Definition>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => true,
        Some(ext) if ext.eq_ignore_ascii_case("hcl") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let document = if json {
        serde_json::from_str::<Value>(text).map_err(|e| format!("{shown}: {e}"))?
    } else {
        hcl1::parse(text).map_err(|e| format!("{shown}: {e}"))?
    };
    let Value::Object(document) = document else {
        return Err(format!("{shown}: the top level must be an object"));
    };
    let mut found = Vec::new();
    for (key, value) in document {
        if !(key.eq_ignore_ascii_case("service") || key.eq_ignore_ascii_case("services")) {
            continue;
        }
        let items = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        for (i, item) in items.into_iter().enumerate() {
            let definition =
                Definition::check(item).map_err(|e| format!("{shown}: {key}[{i}]: {e}"))?;
            found.push(definition);
        }
    }
    if found.is_empty() {
        return Err(format!(
            "{shown}: no service definitions (expected a service block or a services list)"
        ));
    }
    Ok(found)
}

/// Every definition of every file, or the first problem.
fn definitions(files: &[PathBuf]) -> Result<Vec<Definition>, String> {
    let mut all = Vec::new();
    for path in files {
        all.extend(definitions_in(path)?);
    }
    Ok(all)
}

/// The definition `register`'s flags describe.
fn from_flags(args: &RegisterArgs) -> Result<Definition, String> {
    let mut body = Map::new();
    let mut set = |key: &str, value: Value| {
        body.insert(key.to_owned(), value);
    };
    set("Name", args.name.clone().unwrap_or_default().into());
    if let Some(id) = &args.id {
        set("ID", id.clone().into());
    }
    if let Some(address) = &args.address {
        set("Address", address.clone().into());
    }
    if let Some(port) = args.port {
        set("Port", port.into());
    }
    if let Some(kind) = &args.kind {
        set("Kind", kind.clone().into());
    }
    if !args.tags.is_empty() {
        set("Tags", args.tags.clone().into());
    }
    let mut meta = Map::new();
    for pair in &args.meta {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("-meta {pair:?}: expected key=value"));
        };
        meta.insert(k.to_owned(), v.into());
    }
    if !meta.is_empty() {
        set("Meta", Value::Object(meta));
    }
    Definition::check(Value::Object(body))
}

fn register(args: &RegisterArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    if args.files.is_empty() && args.name.is_none() {
        writeln!(err, "Service registration requires at least one argument or flags.")?;
        return Ok(Exit::Failure);
    }
    if !args.files.is_empty() && args.name.is_some() {
        writeln!(err, "Service registration requires arguments or -id, not both.")?;
        return Ok(Exit::Failure);
    }
    let found = if args.files.is_empty() {
        from_flags(args).map(|d| vec![d])
    } else {
        definitions(&args.files)
    };
    let found = match found {
        Ok(found) => found,
        Err(message) => {
            writeln!(err, "Error: {message}")?;
            return Ok(Exit::Failure);
        }
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        for definition in &found {
            let name = &definition.parsed.name;
            let body = definition.body.to_string();
            if let Err(e) = client.put("/v1/agent/service/register", &Query::new(), body).await {
                return fail(err, &format!("Error registering service {name:?}"), &e);
            }
            writeln!(out, "Registered service: {name}")?;
        }
        Ok(Exit::Success)
    })
}

fn deregister(args: &DeregisterArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    if args.files.is_empty() && args.id.is_none() {
        writeln!(err, "Service deregistration requires at least one argument or -id.")?;
        return Ok(Exit::Failure);
    }
    if !args.files.is_empty() && args.id.is_some() {
        writeln!(err, "Service deregistration requires arguments or -id, not both.")?;
        return Ok(Exit::Failure);
    }
    let ids: Vec<String> = match &args.id {
        Some(id) => vec![id.clone()],
        None => match definitions(&args.files) {
            Ok(found) => found.iter().map(|d| d.id().to_owned()).collect(),
            Err(message) => {
                writeln!(err, "Error: {message}")?;
                return Ok(Exit::Failure);
            }
        },
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        for id in ids.iter().filter(|id| !id.is_empty()) {
            let path = format!("/v1/agent/service/deregister/{id}");
            if let Err(e) = client.put(&path, &Query::new(), Vec::new()).await {
                return fail(err, &format!("Error deregistering service {id:?}"), &e);
            }
            writeln!(out, "Deregistered service: {id}")?;
        }
        Ok(Exit::Success)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn hcl_blocks_and_json_lists_both_hold_definitions() {
        let dir = tempfile::tempdir().unwrap();
        let hcl = file(
            dir.path(),
            "web.hcl",
            "service {\n  name = \"web\"\n  port = 8080\n  connect { sidecar_service {} }\n}\n",
        );
        let json = file(
            dir.path(),
            "more.json",
            r#"{"services": [{"ID": "db-1", "Name": "db", "Port": 5432}, {"name": "cache"}]}"#,
        );
        let found = definitions(&[hcl, json]).unwrap();
        let ids: Vec<&str> = found.iter().map(Definition::id).collect();
        assert_eq!(ids, ["web", "db-1", "cache"]);
    }

    #[test]
    fn a_bad_definition_names_the_file_and_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let bad = file(dir.path(), "bad.json", r#"{"service": {"port": 80}}"#);
        let e = definitions(std::slice::from_ref(&bad)).err().unwrap();
        assert_eq!(e, format!("{}: service[0]: Missing service name", bad.display()));
        let typo = file(dir.path(), "typo.hcl", "service {\n  name = \"x\"\n  prot = 1\n}\n");
        let e = definitions(&[typo]).err().unwrap();
        assert!(e.contains("typo.hcl: service[0]: ") && e.contains("prot"), "{e}");
        let empty = file(dir.path(), "empty.hcl", "datacenter = \"dc1\"\n");
        assert!(definitions(&[empty]).err().unwrap().contains("no service definitions"));
    }
}
