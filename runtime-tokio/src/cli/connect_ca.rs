//! `proconsul connect ca get-config|set-config`: the Connect CA's configuration
//! (`/v1/connect/ca/configuration`, CONSUL-FACTS.md §6.1), as `consul connect ca` shows
//! and changes it.
//!
//! Both sides use the shape of Consul's `api.CAConfig` (`Provider`, `Config`, `State`,
//! `ForceWithoutCrossSigning`, `CreateIndex`, `ModifyIndex`): `get-config` prints it
//! tab-indented with `Config`'s keys sorted, as Go prints a map, and `set-config` sends it
//! in that shape whatever the casing of the file's keys.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::api_client::Query;

use super::Exit;
use super::config_api::pretty;
use super::http_flags::{HttpFlags, block_on, fail};

const PATH: &str = "/v1/connect/ca/configuration";

/// `proconsul connect ca ...`.
#[derive(Debug, Subcommand)]
pub(super) enum CaCommand {
    /// Print the CA configuration as JSON.
    GetConfig(GetConfigArgs),
    /// Replace the CA configuration with a JSON file's.
    SetConfig(SetConfigArgs),
}

/// Arguments of `connect ca get-config`.
#[derive(Debug, Args)]
pub(super) struct GetConfigArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Let any server answer from its local state.
    #[arg(long)]
    stale: bool,
}

/// Arguments of `connect ca set-config`.
#[derive(Debug, Args)]
pub(super) struct SetConfigArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// JSON file with the new configuration (`{"Provider": "consul", "Config": {...}}`).
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Go ahead even if the current CA cannot cross-sign the new root (risks connection
    /// failures until every proxy has seen the new root).
    #[arg(long)]
    force_without_cross_signing: bool,
}

/// Runs one `connect ca` subcommand.
pub(super) fn run(
    command: &CaCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        CaCommand::GetConfig(args) => get_config(args, out, err),
        CaCommand::SetConfig(args) => set_config(args, out, err),
    }
}

/// `api.CAConfig`'s fields in its order: the JSON both commands speak.
const FIELDS: [&str; 6] =
    ["Provider", "Config", "State", "ForceWithoutCrossSigning", "CreateIndex", "ModifyIndex"];

/// Fields the server reports that are not part of the configuration a user sets: dropped,
/// as consul's `api.CAConfig` has no place for them.
const SERVER_ONLY: [&str; 1] = ["ClusterID"];

/// How [`ca_config`] treats keys that are not [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// A server's answer: newer servers may add fields, so they are dropped.
    Drop,
    /// A user's file: a misspelt field would silently reset a setting, so it is refused
    /// (only [`SERVER_ONLY`] fields, from pasting a server's answer, are dropped).
    Refuse,
}

/// `value` in `api.CAConfig`'s shape: its fields in order (keys matched without regard to
/// case, as Go's decoder matches them), missing ones at their zero value, `Config`'s keys
/// sorted. A value of the wrong type is refused, naming the field.
fn ca_config(value: Value, unknown: Unknown) -> Result<Value, String> {
    let Value::Object(given) = value else { return Err("expected a JSON object".into()) };
    let mut fields: [Option<Value>; 6] = Default::default();
    for (key, value) in given {
        match FIELDS.iter().position(|f| f.eq_ignore_ascii_case(&key)) {
            Some(i) => fields[i] = Some(value),
            None if unknown == Unknown::Drop => {}
            None if SERVER_ONLY.iter().any(|f| f.eq_ignore_ascii_case(&key)) => {}
            None => {
                let expected = FIELDS.join(", ");
                return Err(format!("unknown field {key:?} (expected one of {expected})"));
            }
        }
    }
    let mut out = Map::new();
    for (name, value) in FIELDS.iter().zip(fields) {
        let value = match (*name, value) {
            (_, None | Some(Value::Null)) => zero(name),
            ("Provider", Some(v @ Value::String(_))) => v,
            ("Config", Some(Value::Object(m))) => {
                let mut sorted: Vec<(String, Value)> =
                    m.into_iter().map(|(k, v)| (k, whole_floats_as_integers(v))).collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(sorted.into_iter().collect())
            }
            ("State", Some(v @ Value::Object(_))) => v,
            ("ForceWithoutCrossSigning", Some(v @ Value::Bool(_))) => v,
            ("CreateIndex" | "ModifyIndex", Some(v @ Value::Number(_))) if v.is_u64() => v,
            (name, Some(other)) => {
                return Err(format!("{name}: unexpected value {other} ({})", expected(name)));
            }
        };
        out.insert((*name).to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// `50.0` as `50`: Go decodes `Config`'s numbers into `float64` and prints whole ones
/// without a fraction, so that is what consul users see and diff against.
fn whole_floats_as_integers(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            // Within ±2^53 every whole f64 is exactly an i64.
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(whole_floats_as_integers).collect())
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, whole_floats_as_integers(v))).collect())
        }
        other => other,
    }
}

/// A field's zero value, as Go leaves an absent field.
fn zero(name: &str) -> Value {
    match name {
        "Provider" => Value::String(String::new()),
        "ForceWithoutCrossSigning" => Value::Bool(false),
        "CreateIndex" | "ModifyIndex" => Value::from(0u64),
        _ => Value::Null,
    }
}

fn expected(name: &str) -> &'static str {
    match name {
        "Provider" => "expected a string",
        "Config" | "State" => "expected an object",
        "ForceWithoutCrossSigning" => "expected true or false",
        _ => "expected an unsigned integer",
    }
}

fn get_config(args: &GetConfigArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.stale { Query::new().stale() } else { Query::new() };
    block_on(async {
        let config = match client.get_json::<Value>(PATH, &query).await {
            Ok(config) => config,
            Err(e) => return fail(err, "Error querying CA configuration", &e),
        };
        match ca_config(config, Unknown::Drop) {
            Ok(config) => {
                writeln!(out, "{}", pretty(&config, b"\t"))?;
                Ok(Exit::Success)
            }
            Err(e) => {
                writeln!(err, "Error formatting CA configuration: {e}")?;
                Ok(Exit::Failure)
            }
        }
    })
}

fn set_config(args: &SetConfigArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let Some(path) = &args.config_file else {
        writeln!(err, "The -config-file flag is required")?;
        return Ok(Exit::Failure);
    };
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) => {
            writeln!(err, "Error reading config file: {}: {e}", path.display())?;
            return Ok(Exit::Failure);
        }
    };
    let parsed = serde_json::from_slice::<Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| ca_config(v, Unknown::Refuse));
    let mut config = match parsed {
        Ok(config) => config,
        Err(e) => {
            writeln!(err, "Error parsing config file: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    config["ForceWithoutCrossSigning"] = Value::Bool(args.force_without_cross_signing);
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    block_on(async {
        match client.put(PATH, &Query::new(), config.to_string()).await {
            Ok(_) => {
                writeln!(out, "Configuration updated!")?;
                Ok(Exit::Success)
            }
            Err(e) => fail(err, "Error setting CA configuration", &e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_casing_becomes_consuls_shape_with_config_keys_sorted() {
        let given = json!({"provider": "consul", "config": {"RootCertTTL": "87600h", "LeafCertTTL": "72h"}});
        let shaped = ca_config(given, Unknown::Refuse).unwrap();
        assert_eq!(
            shaped.to_string(),
            r#"{"Provider":"consul","Config":{"LeafCertTTL":"72h","RootCertTTL":"87600h"},"State":null,"ForceWithoutCrossSigning":false,"CreateIndex":0,"ModifyIndex":0}"#
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused_by_name() {
        let refuse = |v: Value| ca_config(v, Unknown::Refuse).unwrap_err();
        let e = refuse(json!({"Provider": "consul", "LeafTTL": "1h"}));
        assert!(e.starts_with("unknown field \"LeafTTL\""), "{e}");
        let e = refuse(json!({"Config": "72h"}));
        assert_eq!(e, "Config: unexpected value \"72h\" (expected an object)");
        assert_eq!(refuse(json!([])), "expected a JSON object");
    }

    #[test]
    fn whole_numbers_in_config_print_without_a_fraction_as_go_prints_them() {
        let given = json!({"Config": {"CSRMaxPerSecond": 50.0, "Rate": 0.5, "Bits": 256}});
        let shaped = ca_config(given, Unknown::Drop).unwrap();
        assert_eq!(shaped["Config"].to_string(), r#"{"Bits":256,"CSRMaxPerSecond":50,"Rate":0.5}"#);
    }

    #[test]
    fn fields_only_a_server_reports_are_dropped() {
        let answer = json!({"Provider": "consul", "ClusterID": "abc", "NewField": 1});
        let shown = ca_config(answer.clone(), Unknown::Drop).unwrap();
        assert_eq!(shown["Provider"], "consul");
        assert!(shown.get("ClusterID").is_none() && shown.get("NewField").is_none());
        let pasted = json!({"Provider": "consul", "ClusterID": "abc"});
        assert!(ca_config(pasted, Unknown::Refuse).is_ok());
        assert!(ca_config(answer, Unknown::Refuse).unwrap_err().contains("NewField"));
    }
}
