//! `proconsul kv get|put|delete`: Consul's KV store from the shell, with the consul CLI's
//! flags, output and messages (`Success! Data written to: foo`, `Error! No key exists at:
//! foo`), so scripts written against `consul kv` keep working.
//!
//! Values are bytes: `get` writes them unchanged (plus a newline, as consul does) and `put`
//! reads them from the argument, a file (`@path`) or stdin (`-`).

use std::io::{self, Read, Write};

use base64::Engine as _;
use clap::{Args, Subcommand};

use crate::api_client::{ApiClient, Query};

use super::Exit;
use super::columns::tabwrite;
use super::http_flags::{HttpFlags, block_on, fail};

/// `proconsul kv ...`.
#[derive(Debug, Subcommand)]
pub(super) enum KvCommand {
    /// Print a key's value, or every key under a prefix with -recurse.
    ///
    /// A missing key is an error (exit 1); a key with an empty value prints an empty line.
    Get(GetArgs),
    /// Write a value: `kv put KEY [VALUE | @FILE | -]` (`-` reads stdin; no value writes an
    /// empty one).
    Put(PutArgs),
    /// Delete a key, or every key under a prefix with -recurse. Deleting a missing key
    /// succeeds.
    Delete(DeleteArgs),
}

/// Arguments of `kv get`.
#[derive(Debug, Args)]
pub(super) struct GetArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Print every key under the prefix as `key:value`.
    #[arg(long)]
    recurse: bool,
    /// Print the key's metadata (indexes, flags, session) with its value.
    #[arg(long)]
    detailed: bool,
    /// Print only the keys under the prefix, up to the next -separator.
    #[arg(long)]
    keys: bool,
    /// With -keys: list keys only up to the first separator after the prefix.
    #[arg(long, value_name = "SEP", default_value = "/")]
    separator: String,
    /// Print values base64-encoded.
    #[arg(long)]
    base64: bool,
    /// Let any server answer from its local state.
    #[arg(long)]
    stale: bool,
    /// The key, or the prefix with -recurse or -keys (empty: the whole store).
    #[arg(value_name = "KEY")]
    key: Option<String>,
}

/// Arguments of `kv put`.
#[derive(Debug, Args)]
pub(super) struct PutArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Write only if the key's ModifyIndex still equals -modify-index (0: only if absent).
    #[arg(long)]
    cas: bool,
    /// The ModifyIndex -cas compares against.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    modify_index: u64,
    /// An opaque number stored with the value for the application's own use.
    #[arg(long, value_name = "N", default_value_t = 0)]
    flags: u64,
    /// The value is base64; store the decoded bytes.
    #[arg(long)]
    base64: bool,
    /// The key to write.
    #[arg(value_name = "KEY")]
    key: Option<String>,
    /// The value, `@FILE` for a file's contents, or `-` for stdin.
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    value: Option<String>,
}

/// Arguments of `kv delete`.
#[derive(Debug, Args)]
pub(super) struct DeleteArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Delete every key that starts with KEY.
    #[arg(long)]
    recurse: bool,
    /// Delete only if the key's ModifyIndex still equals -modify-index.
    #[arg(long)]
    cas: bool,
    /// The ModifyIndex -cas compares against.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    modify_index: u64,
    /// The key, or the prefix with -recurse.
    #[arg(value_name = "KEY")]
    key: Option<String>,
}

/// Runs one `kv` subcommand.
pub(super) fn run(
    command: &KvCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        KvCommand::Get(args) => get(args, out, err),
        KvCommand::Put(args) => put(args, out, err),
        KvCommand::Delete(args) => delete(args, out, err),
    }
}

/// One entry as `/v1/kv` returns it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvPair {
    key: String,
    flags: u64,
    /// Base64; `null` for an empty value.
    value: Option<String>,
    create_index: u64,
    modify_index: u64,
    lock_index: u64,
    session: String,
}

impl KvPair {
    fn bytes(&self) -> Vec<u8> {
        let encoded = self.value.as_deref().unwrap_or("");
        // The server always sends valid base64; anything else is shown as sent.
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| encoded.as_bytes().to_vec())
    }

    /// The value as printed: raw bytes, or base64 with -base64.
    fn shown(&self, base64: bool) -> Vec<u8> {
        if base64 {
            base64::engine::general_purpose::STANDARD.encode(self.bytes()).into_bytes()
        } else {
            self.bytes()
        }
    }

    /// consul's `-detailed` block: one `Label<pad>value` line per field, sorted by label.
    fn detailed(&self, base64: bool) -> Vec<u8> {
        let session = if self.session.is_empty() { "-" } else { &self.session };
        let rows = [
            ("CreateIndex", self.create_index.to_string()),
            ("Flags", self.flags.to_string()),
            ("Key", self.key.clone()),
            ("LockIndex", self.lock_index.to_string()),
            ("ModifyIndex", self.modify_index.to_string()),
            ("Session", session.to_owned()),
            ("Value", String::new()),
        ];
        let rows: Vec<(String, String)> =
            rows.into_iter().map(|(label, value)| (label.to_owned(), value)).collect();
        // The value goes last and raw: it may be binary or span lines.
        let mut text = tabwrite(&rows).into_bytes();
        text.extend(self.shown(base64));
        text
    }
}

/// `/v1/kv/<key>`.
fn kv_path(key: &str) -> String {
    format!("/v1/kv/{key}")
}

/// Keys cannot start with `/`, but users type them that way; consul strips one too.
fn strip_slash(key: Option<&str>) -> String {
    let key = key.unwrap_or("");
    key.strip_prefix('/').unwrap_or(key).to_owned()
}

fn get(args: &GetArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let key = strip_slash(args.key.as_deref());
    if key.is_empty() && !(args.recurse || args.keys) {
        writeln!(err, "Error! Missing KEY argument")?;
        return Ok(Exit::Failure);
    }
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.stale { Query::new().stale() } else { Query::new() };
    block_on(async {
        if args.keys {
            let query = query.clone().flag("keys").param("separator", &args.separator);
            let keys: Vec<String> = match list(&client, &key, &query).await {
                Ok(keys) => keys,
                Err(e) => return fail(err, "Error querying Consul agent", &e),
            };
            keys.iter().try_for_each(|k| writeln!(out, "{k}"))?;
            return Ok(Exit::Success);
        }
        if args.recurse {
            let pairs: Vec<KvPair> = match list(&client, &key, &query.clone().flag("recurse")).await
            {
                Ok(pairs) => pairs,
                Err(e) => return fail(err, "Error querying Consul agent", &e),
            };
            for (i, pair) in pairs.iter().enumerate() {
                if args.detailed {
                    out.write_all(&pair.detailed(args.base64))?;
                    out.write_all(if i + 1 < pairs.len() { b"\n\n" } else { b"\n" })?;
                } else {
                    write!(out, "{}:", pair.key)?;
                    out.write_all(&pair.shown(args.base64))?;
                    writeln!(out)?;
                }
            }
            return Ok(Exit::Success);
        }
        let pairs: Vec<KvPair> = match client.get_json(&kv_path(&key), &query).await {
            Ok(pairs) => pairs,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return fail(err, "Error querying Consul agent", &e),
        };
        let Some(pair) = pairs.first() else {
            writeln!(err, "Error! No key exists at: {key}")?;
            return Ok(Exit::Failure);
        };
        let shown =
            if args.detailed { pair.detailed(args.base64) } else { pair.shown(args.base64) };
        out.write_all(&shown)?;
        writeln!(out)?;
        Ok(Exit::Success)
    })
}

/// A listing under `prefix`; Consul answers an empty one with 404, which is no error here.
async fn list<T: serde::de::DeserializeOwned>(
    client: &ApiClient,
    prefix: &str,
    query: &Query,
) -> Result<Vec<T>, crate::api_client::ApiError> {
    match client.get_json(&kv_path(prefix), query).await {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

fn put(args: &PutArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let Some(key) = args.key.as_deref() else {
        writeln!(err, "Error! Missing KEY argument")?;
        return Ok(Exit::Failure);
    };
    let key = strip_slash(Some(key));
    let mut value = match read_value(args.value.as_deref()) {
        Ok(value) => value,
        Err(message) => {
            writeln!(err, "Error! {message}")?;
            return Ok(Exit::Failure);
        }
    };
    if args.base64 {
        let text = String::from_utf8_lossy(&value);
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(decoded) => value = decoded,
            Err(e) => {
                writeln!(err, "Error! Cannot base 64 decode data: {e}")?;
                return Ok(Exit::Failure);
            }
        }
    }
    if args.cas && args.modify_index == 0 {
        writeln!(err, "Must specify -modify-index with -cas!")?;
        return Ok(Exit::Failure);
    }
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let mut query = Query::new();
    if args.flags != 0 {
        query = query.param("flags", args.flags);
    }
    if args.cas {
        query = query.param("cas", args.modify_index);
    }
    block_on(async {
        let written =
            client.put(&kv_path(&key), &query, value).await.and_then(|r| r.json::<bool>("kv"));
        match written {
            Ok(true) => {
                writeln!(out, "Success! Data written to: {key}")?;
                Ok(Exit::Success)
            }
            // Only a CAS write can be refused.
            Ok(false) => {
                writeln!(err, "Error! Did not write to {key}: CAS failed")?;
                Ok(Exit::Failure)
            }
            Err(e) if args.cas => fail(err, &format!("Error! Did not write to {key}"), &e),
            Err(e) => fail(err, "Error! Failed writing data", &e),
        }
    })
}

/// The value argument: literal, `@file`, `-` for stdin, or absent for an empty value.
fn read_value(arg: Option<&str>) -> Result<Vec<u8>, String> {
    match arg {
        None | Some("") => Ok(Vec::new()),
        Some("-") => {
            let mut buf = Vec::new();
            io::stdin().read_to_end(&mut buf).map_err(|e| format!("Failed to read stdin: {e}"))?;
            Ok(buf)
        }
        Some(arg) => match arg.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|e| format!("Failed to read file: {e}")),
            None => Ok(arg.as_bytes().to_vec()),
        },
    }
}

fn delete(args: &DeleteArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let key = strip_slash(args.key.as_deref());
    let refusal = if key.is_empty() && !args.recurse {
        Some("Error! Missing KEY argument")
    } else if args.cas && args.modify_index == 0 {
        Some(
            "Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.",
        )
    } else if args.modify_index != 0 && !args.cas {
        Some("Cannot specify -modify-index without -cas!")
    } else if args.recurse && args.cas {
        Some("Cannot specify both -cas and -recurse!")
    } else {
        None
    };
    if let Some(message) = refusal {
        writeln!(err, "{message}")?;
        return Ok(Exit::Failure);
    }
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.recurse {
        Query::new().flag("recurse")
    } else if args.cas {
        Query::new().param("cas", args.modify_index)
    } else {
        Query::new()
    };
    block_on(async {
        let deleted =
            client.delete(&kv_path(&key), &query).await.and_then(|r| r.json::<bool>("kv"));
        match deleted {
            Ok(true) if args.recurse => {
                writeln!(out, "Success! Deleted keys with prefix: {key}")?;
                Ok(Exit::Success)
            }
            Ok(true) => {
                writeln!(out, "Success! Deleted key: {key}")?;
                Ok(Exit::Success)
            }
            Ok(false) => {
                writeln!(err, "Error! Did not delete key {key}: CAS failed")?;
                Ok(Exit::Failure)
            }
            Err(e) if args.recurse => fail(err, &format!("Error! Did not delete prefix {key}"), &e),
            Err(e) if args.cas => fail(err, &format!("Error! Did not delete key {key}"), &e),
            Err(e) => fail(err, &format!("Error deleting key {key}"), &e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_output_lists_fields_sorted_with_a_dash_for_no_session() {
        let pair = KvPair {
            key: "foo".into(),
            value: Some("YmFy".into()),
            create_index: 5,
            modify_index: 7,
            ..KvPair::default()
        };
        let text = String::from_utf8(pair.detailed(false)).unwrap();
        assert_eq!(
            text,
            "CreateIndex      5\nFlags            0\nKey              foo\nLockIndex        0\n\
             ModifyIndex      7\nSession          -\nValue            bar"
        );
    }

    #[test]
    fn an_empty_value_is_null_on_the_wire_and_empty_when_shown() {
        let pair = KvPair { key: "k".into(), value: None, ..KvPair::default() };
        assert!(pair.shown(false).is_empty());
        assert!(pair.shown(true).is_empty());
    }

    #[test]
    fn values_come_from_the_argument_or_a_file() {
        assert_eq!(read_value(None).unwrap(), b"");
        assert_eq!(read_value(Some("5")).unwrap(), b"5");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, b"from file").unwrap();
        assert_eq!(read_value(Some(&format!("@{}", path.display()))).unwrap(), b"from file");
        let e = read_value(Some("@/nonexistent/file")).unwrap_err();
        assert!(e.starts_with("Failed to read file: "), "{e}");
    }
}
