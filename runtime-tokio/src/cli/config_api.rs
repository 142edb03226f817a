//! `proconsul config write|read|list|delete`: config entries on a running cluster, as
//! `consul config` manages them (`Config entry written: service-defaults/web`).
//!
//! `write` decodes the file with core's config entry decoder before sending, so a typo'd
//! field or kind is reported from the file (`Failed to decode config entry input: ...`)
//! without a round trip; the server still normalizes and validates, exactly as Consul's
//! servers do, and its refusal is printed with its reason.

use std::io::{self, Read, Write};

use clap::{Args, Subcommand};
use proconsul_core::config::{ConfigEntry, hcl1};
use serde_json::Value;

use crate::api_client::Query;

use super::Exit;
use super::http_flags::{HttpFlags, block_on, fail};

/// The `config` subcommands that call the HTTP API.
#[derive(Debug, Subcommand)]
pub(super) enum ConfigApiCommand {
    /// Create or update one config entry from an HCL or JSON file (`-` reads stdin).
    Write(WriteArgs),
    /// Print one config entry as JSON.
    Read(ReadArgs),
    /// Print the names of every config entry of a kind.
    List(ListArgs),
    /// Delete one config entry, named by -kind and -name or by the file that defines it.
    Delete(DeleteArgs),
}

/// Arguments of `config write`.
#[derive(Debug, Args)]
pub(super) struct WriteArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Write only if the entry's ModifyIndex still equals -modify-index (0: only if absent).
    #[arg(long)]
    cas: bool,
    /// The ModifyIndex -cas compares against.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    modify_index: u64,
    /// The entry: an .hcl or .json file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    file: String,
}

/// Arguments of `config read`.
#[derive(Debug, Args)]
pub(super) struct ReadArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// The entry's kind, e.g. service-defaults.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// The entry's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// Arguments of `config list`.
#[derive(Debug, Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// The kind to list, e.g. service-router.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
}

/// Arguments of `config delete`.
#[derive(Debug, Args)]
pub(super) struct DeleteArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// The entry's kind.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// The entry's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Delete the entry this file defines (instead of -kind and -name).
    #[arg(long, value_name = "FILE")]
    filename: Option<String>,
    /// Delete only if the entry's ModifyIndex still equals -modify-index.
    #[arg(long)]
    cas: bool,
    /// The ModifyIndex -cas compares against.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    modify_index: u64,
}

/// Runs one of these subcommands.
pub(super) fn run(
    command: &ConfigApiCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        ConfigApiCommand::Write(args) => write(args, out, err),
        ConfigApiCommand::Read(args) => read(args, out, err),
        ConfigApiCommand::List(args) => list(args, out, err),
        ConfigApiCommand::Delete(args) => delete(args, out, err),
    }
}

/// Why an entry file could not be used, worded as consul words it.
enum LoadError {
    /// The file (or stdin) could not be read.
    Load(String),
    /// It was read but is not one config entry.
    Decode(String),
}

impl LoadError {
    fn print(&self, err: &mut dyn Write) -> io::Result<Exit> {
        match self {
            LoadError::Load(e) => writeln!(err, "Failed to load data: {e}")?,
            LoadError::Decode(e) => writeln!(err, "Failed to decode config entry input: {e}")?,
        }
        Ok(Exit::Failure)
    }
}

/// Reads one entry from a file or stdin (`-`): JSON if it starts with `{` or `[`, else HCL.
fn load_entry(source: &str) -> Result<ConfigEntry, LoadError> {
    let text = if source == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map_err(|e| LoadError::Load(e.to_string()))?;
        text
    } else {
        std::fs::read_to_string(source).map_err(|e| LoadError::Load(format!("{source}: {e}")))?
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let value = match text.trim_start().chars().next() {
        Some('{' | '[') => {
            serde_json::from_str::<Value>(text).map_err(|e| LoadError::Decode(e.to_string()))?
        }
        _ => hcl1::parse(text).map_err(|e| LoadError::Decode(e.to_string()))?,
    };
    if value.is_array() {
        return Err(LoadError::Decode(
            "expected one config entry (an object), found an array".into(),
        ));
    }
    ConfigEntry::decode(value).map_err(|e| LoadError::Decode(e.to_string()))
}

fn write(args: &WriteArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let entry = match load_entry(&args.file) {
        Ok(entry) => entry,
        Err(e) => return e.print(err),
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let (kind, name) = (entry.kind(), entry.name().to_owned());
    let query = if args.cas { Query::new().param("cas", args.modify_index) } else { Query::new() };
    let body = entry.to_value().to_string();
    block_on(async {
        let written = client.put("/v1/config", &query, body).await.and_then(|r| r.json("config"));
        match written {
            Ok(true) => {
                writeln!(out, "Config entry written: {kind}/{name}")?;
                Ok(Exit::Success)
            }
            Ok(false) => {
                writeln!(err, "Config entry not updated: {kind}/{name}")?;
                Ok(Exit::Failure)
            }
            Err(e) => fail(err, &format!("Error writing config entry {kind}/{name}"), &e),
        }
    })
}

/// The value of a flag consul requires, or its message.
fn required<'a>(value: &'a Option<String>, flag: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("Must specify the -{flag} parameter"))
}

fn read(args: &ReadArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let (kind, name) = match required(&args.kind, "kind")
        .and_then(|k| required(&args.name, "name").map(|n| (k, n)))
    {
        Ok(pair) => pair,
        Err(message) => {
            writeln!(err, "{message}")?;
            return Ok(Exit::Failure);
        }
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        let path = format!("/v1/config/{kind}/{name}");
        match client.get_json::<Value>(&path, &Query::new()).await {
            Ok(entry) => {
                writeln!(out, "{}", pretty(&entry, b"    "))?;
                Ok(Exit::Success)
            }
            Err(e) => fail(err, &format!("Error reading config entry {kind}/{name}"), &e),
        }
    })
}

/// JSON indented with `indent`, as Go's `json.MarshalIndent` lays it out.
pub(super) fn pretty(value: &Value, indent: &[u8]) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut serializer = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // A `Value` always serializes, into a Vec always succeeds, and is always UTF-8.
    let _ = serde::Serialize::serialize(value, &mut serializer);
    String::from_utf8(buf).unwrap_or_default()
}

fn list(args: &ListArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let kind = match required(&args.kind, "kind") {
        Ok(kind) => kind,
        Err(message) => {
            writeln!(err, "{message}")?;
            return Ok(Exit::Failure);
        }
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        let path = format!("/v1/config/{kind}");
        match client.get_json::<Vec<Value>>(&path, &Query::new()).await {
            Ok(entries) => {
                for entry in &entries {
                    let name = entry.get("Name").and_then(Value::as_str).unwrap_or("");
                    writeln!(out, "{name}")?;
                }
                Ok(Exit::Success)
            }
            Err(e) => fail(err, &format!("Error listing config entries for kind {kind:?}"), &e),
        }
    })
}

/// Why `config delete` cannot start.
enum Refusal {
    /// The flags do not name one entry; consul's message.
    Usage(String),
    /// -filename could not be read as an entry.
    File(LoadError),
}

/// The kind and name `config delete` acts on, from its flags or its file.
fn delete_target(args: &DeleteArgs) -> Result<(String, String), Refusal> {
    let given = [&args.filename, &args.kind, &args.name].iter().filter(|v| v.is_some()).count();
    let refuse = |m: &str| Err(Refusal::Usage(m.to_owned()));
    if args.filename.is_some() && given > 1 {
        return refuse("filename can't be used with kind or name");
    }
    if given == 0 {
        return refuse("Must specify the -kind or -filename parameter");
    }
    if args.cas && args.modify_index == 0 {
        return refuse("Must specify a -modify-index greater than 0 with -cas");
    }
    if args.modify_index != 0 && !args.cas {
        return refuse("Cannot specify -modify-index without -cas");
    }
    if let Some(file) = &args.filename {
        let entry = load_entry(file).map_err(Refusal::File)?;
        return Ok((entry.kind().to_string(), entry.name().to_owned()));
    }
    let kind = required(&args.kind, "kind").map_err(Refusal::Usage)?;
    let name = required(&args.name, "name").map_err(Refusal::Usage)?;
    Ok((kind.to_owned(), name.to_owned()))
}

fn delete(args: &DeleteArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let (kind, name) = match delete_target(args) {
        Ok(target) => target,
        Err(Refusal::Usage(message)) => {
            writeln!(err, "{message}")?;
            return Ok(Exit::Failure);
        }
        Err(Refusal::File(e)) => return e.print(err),
    };
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.cas { Query::new().param("cas", args.modify_index) } else { Query::new() };
    block_on(async {
        let path = format!("/v1/config/{kind}/{name}");
        // Without CAS Consul answers `{}`; with it, whether the delete happened.
        let deleted = client.delete(&path, &query).await.and_then(|r| match args.cas {
            true => r.json::<bool>(&path),
            false => Ok(true),
        });
        match deleted {
            Ok(true) => {
                writeln!(out, "Config entry deleted: {kind}/{name}")?;
                Ok(Exit::Success)
            }
            Ok(false) => {
                writeln!(err, "Config entry not deleted: {kind}/{name}")?;
                Ok(Exit::Failure)
            }
            Err(e) => fail(err, &format!("Error deleting config entry {kind}/{name}"), &e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[test]
    fn entries_load_from_hcl_and_json_files() {
        let dir = tempfile::tempdir().unwrap();
        let hcl = write_file(dir.path(), "a", "Kind = \"service-defaults\"\nName = \"web\"\n");
        let entry = load_entry(&hcl).ok().unwrap();
        assert_eq!((entry.kind().as_str(), entry.name()), ("service-defaults", "web"));
        let json = write_file(
            dir.path(),
            "b",
            "\u{feff} {\"kind\": \"proxy-defaults\", \"name\": \"global\"}",
        );
        let entry = load_entry(&json).ok().unwrap();
        assert_eq!((entry.kind().as_str(), entry.name()), ("proxy-defaults", "global"));
    }

    #[test]
    fn an_array_or_an_unknown_kind_is_a_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let array = write_file(dir.path(), "a.json", "[{\"Kind\": \"service-defaults\"}]");
        assert!(matches!(load_entry(&array), Err(LoadError::Decode(m)) if m.contains("array")));
        let typo = write_file(dir.path(), "b.hcl", "Kind = \"service-routr\"\nName = \"x\"");
        assert!(
            matches!(load_entry(&typo), Err(LoadError::Decode(m)) if m.contains("service-routr"))
        );
        let missing = dir.path().join("none.hcl").display().to_string();
        assert!(matches!(load_entry(&missing), Err(LoadError::Load(m)) if m.contains("none.hcl")));
    }

    #[test]
    fn pretty_json_uses_the_given_indent() {
        let v = serde_json::json!({"Kind": "service-defaults", "Meta": {"a": "b"}});
        assert_eq!(
            pretty(&v, b"    "),
            "{\n    \"Kind\": \"service-defaults\",\n    \"Meta\": {\n        \"a\": \"b\"\n    }\n}"
        );
    }

    fn delete_args(kind: Option<&str>, name: Option<&str>, cas: bool, index: u64) -> DeleteArgs {
        DeleteArgs {
            http: HttpFlags::default(),
            kind: kind.map(str::to_owned),
            name: name.map(str::to_owned),
            filename: None,
            cas,
            modify_index: index,
        }
    }

    #[test]
    fn delete_requires_kind_and_name_and_an_index_with_cas() {
        let message = |a: &DeleteArgs| match delete_target(a) {
            Err(Refusal::Usage(m)) => m,
            Ok(target) => panic!("accepted {target:?}"),
            Err(Refusal::File(_)) => panic!("no file was given"),
        };
        assert_eq!(
            message(&delete_args(None, None, false, 0)),
            "Must specify the -kind or -filename parameter"
        );
        assert_eq!(
            message(&delete_args(Some("k"), None, false, 0)),
            "Must specify the -name parameter"
        );
        assert_eq!(
            message(&delete_args(Some("k"), Some("n"), true, 0)),
            "Must specify a -modify-index greater than 0 with -cas"
        );
        assert_eq!(
            message(&delete_args(Some("k"), Some("n"), false, 3)),
            "Cannot specify -modify-index without -cas"
        );
        let ok = delete_target(&delete_args(Some("k"), Some("n"), true, 3)).ok();
        assert_eq!(ok, Some(("k".to_owned(), "n".to_owned())));
    }
}
