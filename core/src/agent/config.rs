//! The agent's configuration file format (Consul's agent config: `datacenter`, `node_name`,
//! `ports { http = 8500 }`, `services [...]`), read from JSON or HCL and merged in order.
//!
//! Reading is pure so `proconsul agent -config-file a.hcl -config-dir d/` and a test give the
//! same result: every file becomes a JSON value, the values are merged in the order given
//! (later scalars win, lists concatenate, objects merge key by key, as Consul does), and the
//! result is decoded once, naming any unknown key with its path. Flags are applied on top by
//! the runtime.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::{DecodeError, GoDuration, decode_value, hcl1};

/// Consul's default ports.
pub mod default_ports {
    /// HTTP API.
    pub const HTTP: i32 = 8500;
    /// gRPC (xDS).
    pub const GRPC: i32 = 8502;
    /// DNS.
    pub const DNS: i32 = 8600;
    /// Server RPC.
    pub const SERVER: i32 = 8300;
    /// LAN gossip.
    pub const SERF_LAN: i32 = 8301;
    /// WAN gossip.
    pub const SERF_WAN: i32 = 8302;
}

/// Every setting an agent config file may hold. Unset values are `None` so that merging with
/// flags and defaults keeps precedence explicit.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct AgentConfigFile {
    /// `datacenter`.
    pub datacenter: Option<String>,
    /// `primary_datacenter`.
    pub primary_datacenter: Option<String>,
    /// `node_name`.
    pub node_name: Option<String>,
    /// `node_id` (a UUID).
    pub node_id: Option<String>,
    /// `node_meta`.
    pub node_meta: BTreeMap<String, String>,
    /// `data_dir`.
    pub data_dir: Option<String>,
    /// `server`.
    pub server: Option<bool>,
    /// `bootstrap_expect`.
    pub bootstrap_expect: Option<u32>,
    /// `bootstrap` (same as `bootstrap_expect = 1`).
    pub bootstrap: Option<bool>,
    /// `bind_addr`.
    pub bind_addr: Option<String>,
    /// `advertise_addr`.
    pub advertise_addr: Option<String>,
    /// `client_addr`.
    pub client_addr: Option<String>,
    /// `retry_join`.
    pub retry_join: Vec<String>,
    /// `start_join` (joined once at start; kept for old configs).
    pub start_join: Vec<String>,
    /// `ports { ... }`.
    pub ports: PortsConfig,
    /// `domain` for DNS (`consul.`).
    pub domain: Option<String>,
    /// `log_level`.
    pub log_level: Option<String>,
    /// `services [...]` (and `service { ... }`): service definitions registered at start.
    pub services: Vec<Value>,
    /// `service { ... }`.
    pub service: Vec<Value>,
    /// `checks [...]` / `check { ... }`: node-level check definitions.
    pub checks: Vec<Value>,
    /// `check { ... }`.
    pub check: Vec<Value>,
    /// `connect { enabled = true, ca_config { ... } }`.
    pub connect: ConnectConfig,
    /// `acl { default_policy = "allow" }` (only the default policy is used: ACLs are not
    /// enforced).
    pub acl: AclConfig,
    /// `enable_script_checks` (accepted; script checks are not run).
    pub enable_script_checks: Option<bool>,
    /// `performance { raft_multiplier = 1 }`.
    pub performance: PerformanceConfig,
    /// `raft_snapshot_threshold`: committed entries between two snapshots (Consul: 16384).
    pub raft_snapshot_threshold: Option<u64>,
    /// `raft_trailing_logs`: entries kept in the log behind a snapshot, so a briefly lagging
    /// follower catches up from the log instead of a whole snapshot (Consul: 10240).
    pub raft_trailing_logs: Option<u64>,
    /// `raft_snapshot_interval`: how often a server checks whether `raft_snapshot_threshold`
    /// entries have piled up since its last snapshot (Consul: 30s, each wait drawn between
    /// the interval and twice it, so servers do not snapshot in step).
    pub raft_snapshot_interval: Option<GoDuration>,
    /// `ui` / `ui_config` (accepted, no UI is served).
    pub ui: Option<bool>,
    /// `ui_config`.
    pub ui_config: Option<Value>,
    /// `leave_on_terminate`.
    pub leave_on_terminate: Option<bool>,
    /// `disable_update_check` (accepted).
    pub disable_update_check: Option<bool>,
    /// `encrypt` (gossip encryption is not supported: refused when set).
    pub encrypt: Option<String>,
}

/// `ports { ... }`: -1 disables a listener (and 0 disables DNS and gRPC, as Consul).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct PortsConfig {
    /// HTTP API.
    pub http: Option<i32>,
    /// HTTPS API (only -1 is accepted: TLS on the API is not supported).
    pub https: Option<i32>,
    /// gRPC / xDS.
    pub grpc: Option<i32>,
    /// gRPC with TLS (only -1 is accepted).
    pub grpc_tls: Option<i32>,
    /// DNS.
    pub dns: Option<i32>,
    /// Server RPC.
    pub server: Option<i32>,
    /// LAN gossip.
    pub serf_lan: Option<i32>,
    /// WAN gossip.
    pub serf_wan: Option<i32>,
}

/// `connect { ... }`.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct ConnectConfig {
    /// Connect is always on; `false` is refused.
    pub enabled: Option<bool>,
    /// `ca_provider` (only `consul`).
    pub ca_provider: Option<String>,
    /// `ca_config { leaf_cert_ttl = "72h" ... }`, passed to the CA as written.
    pub ca_config: Option<Value>,
}

/// `acl { ... }`.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct AclConfig {
    /// ACLs are not enforced: `true` is refused rather than silently ignored.
    pub enabled: Option<bool>,
    /// `allow` or `deny`: the intention default when no intention matches.
    pub default_policy: Option<String>,
    /// Tokens (accepted, unused).
    pub tokens: Option<Value>,
}

/// `performance { ... }`.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct PerformanceConfig {
    /// Scales raft timing (1 is fastest, Consul's production recommendation).
    pub raft_multiplier: Option<u32>,
}

/// Why a config file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentConfigError {
    /// Not HCL or JSON.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A key or value the agent does not accept.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A setting Proconsul refuses rather than ignore.
    #[error("{field}: {reason}")]
    Unsupported {
        /// The setting.
        field: String,
        /// Why.
        reason: String,
    },
}

/// Reads one file's text: JSON when `name` ends in `.json`, else HCL.
pub fn parse_file(name: &str, text: &str) -> Result<Value, AgentConfigError> {
    let value = if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        hcl1::parse(text).map_err(|e| e.to_string())
    };
    match value {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(AgentConfigError::Syntax {
            file: name.into(),
            message: "the top level must be an object".into(),
        }),
        Err(message) => Err(AgentConfigError::Syntax { file: name.into(), message }),
    }
}

/// Merges `next` into `base`: objects key by key, arrays concatenated, scalars replaced.
pub fn merge(base: &mut Value, next: Value) {
    match (base, next) {
        (Value::Object(b), Value::Object(n)) => {
            for (k, v) in n {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(n)) => b.extend(n),
        (b, n) => *b = n,
    }
}

impl AgentConfigFile {
    /// Decodes merged file contents and refuses settings that would silently not work.
    pub fn from_value(value: Value) -> Result<Self, AgentConfigError> {
        let value = if value.is_null() { Value::Object(Map::new()) } else { value };
        let cfg: AgentConfigFile = decode_value(value)?;
        let unsupported = |field: &str, reason: &str| {
            Err(AgentConfigError::Unsupported { field: field.into(), reason: reason.into() })
        };
        if cfg.acl.enabled == Some(true) {
            return unsupported("acl.enabled", "ACLs are not supported by Proconsul");
        }
        if cfg.connect.enabled == Some(false) {
            return unsupported("connect.enabled", "Connect cannot be disabled in Proconsul");
        }
        if cfg.encrypt.as_deref().is_some_and(|e| !e.is_empty()) {
            return unsupported("encrypt", "gossip encryption is not supported");
        }
        if let Some(p) = cfg.connect.ca_provider.as_deref().filter(|p| *p != "consul") {
            return unsupported(
                "connect.ca_provider",
                &format!("{p:?}: only the built-in \"consul\" provider exists"),
            );
        }
        for (field, port) in
            [("ports.https", cfg.ports.https), ("ports.grpc_tls", cfg.ports.grpc_tls)]
        {
            if port.is_some_and(|p| p > 0) {
                return unsupported(field, "TLS listeners are not supported; use -1");
            }
        }
        if cfg.raft_snapshot_threshold == Some(0) {
            return unsupported("raft_snapshot_threshold", "must be at least 1 entry");
        }
        if cfg.raft_snapshot_interval.is_some_and(|d| d.to_std().is_none_or(|d| d.is_zero())) {
            return unsupported("raft_snapshot_interval", "must be a positive duration");
        }
        if let Some(policy) = cfg.acl.default_policy.as_deref()
            && policy != "allow"
            && policy != "deny"
        {
            return unsupported("acl.default_policy", "must be \"allow\" or \"deny\"");
        }
        Ok(cfg)
    }

    /// All service definitions (`services` and `service`), in file order.
    pub fn service_definitions(&self) -> impl Iterator<Item = &Value> {
        self.services.iter().chain(self.service.iter())
    }

    /// All node-level check definitions (`checks` and `check`).
    pub fn check_definitions(&self) -> impl Iterator<Item = &Value> {
        self.checks.iter().chain(self.check.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hcl_and_json_merge_in_order() {
        let mut v = parse_file(
            "a.hcl",
            r#"
            datacenter = "dc1"
            ports { http = 9500 }
            service {
              name = "web"
              port = 80
            }
            retry_join = ["10.0.0.1"]
            "#,
        )
        .unwrap();
        let b = parse_file(
            "b.json",
            r#"{"datacenter": "east", "ports": {"dns": -1}, "services": [{"name": "db"}], "retry_join": ["10.0.0.2"]}"#,
        )
        .unwrap();
        merge(&mut v, b);
        let cfg = AgentConfigFile::from_value(v).unwrap();
        assert_eq!(cfg.datacenter.as_deref(), Some("east"));
        assert_eq!((cfg.ports.http, cfg.ports.dns), (Some(9500), Some(-1)));
        assert_eq!(cfg.retry_join, vec!["10.0.0.1", "10.0.0.2"]);
        let names: Vec<&str> =
            cfg.service_definitions().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["db", "web"]);
    }

    #[test]
    fn unknown_keys_and_unsupported_settings_are_named() {
        let err = AgentConfigFile::from_value(json!({"ports": {"htp": 1}})).unwrap_err();
        assert!(err.to_string().contains("ports.htp"), "{err}");
        let err = AgentConfigFile::from_value(json!({"acl": {"enabled": true}})).unwrap_err();
        assert_eq!(err.to_string(), "acl.enabled: ACLs are not supported by Proconsul");
        let err = AgentConfigFile::from_value(json!({"ports": {"https": 8501}})).unwrap_err();
        assert!(err.to_string().starts_with("ports.https"), "{err}");
        let err = parse_file("x.json", "{nope").unwrap_err();
        assert!(err.to_string().starts_with("x.json: "), "{err}");
    }

    #[test]
    fn pyconsul_style_local_config_is_accepted() {
        let v = json!({"ports": {"https": -1, "dns": -1, "grpc_tls": -1},
                       "performance": {"raft_multiplier": 1}, "enable_script_checks": true});
        let cfg = AgentConfigFile::from_value(v).unwrap();
        assert_eq!(cfg.performance.raft_multiplier, Some(1));
    }

    #[test]
    fn raft_snapshot_settings_are_read_and_checked() {
        let v = parse_file(
            "r.hcl",
            "raft_snapshot_threshold = 8192\nraft_trailing_logs = 100\nraft_snapshot_interval = \"5s\"",
        )
            .unwrap();
        let cfg = AgentConfigFile::from_value(v).unwrap();
        assert_eq!((cfg.raft_snapshot_threshold, cfg.raft_trailing_logs), (Some(8192), Some(100)));
        let interval = cfg.raft_snapshot_interval.and_then(GoDuration::to_std);
        assert_eq!(interval, Some(std::time::Duration::from_secs(5)));
        let err = AgentConfigFile::from_value(json!({"raft_snapshot_threshold": 0})).unwrap_err();
        assert_eq!(err.to_string(), "raft_snapshot_threshold: must be at least 1 entry");
        for bad in ["0s", "-1s"] {
            let err =
                AgentConfigFile::from_value(json!({"raft_snapshot_interval": bad})).unwrap_err();
            assert_eq!(err.to_string(), "raft_snapshot_interval: must be a positive duration");
        }
        let err =
            AgentConfigFile::from_value(json!({"raft_snapshot_interval": "soon"})).unwrap_err();
        assert!(err.to_string().contains("raft_snapshot_interval"), "{err}");
    }
}
