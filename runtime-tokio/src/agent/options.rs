//! The agent's resolved settings: config files merged (core's `agent::config`), then flags on
//! top, then Consul's defaults and `-dev`'s choices for whatever is still unset.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proconsul_core::agent::config::{AgentConfigFile, default_ports, merge, parse_file};
use proconsul_core::config::GoDuration;
use proconsul_core::ids::Datacenter;
use proconsul_core::intentions::DefaultPolicy;
use serde_json::Value;

/// Everything an agent needs to start, fully resolved.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Node name (defaults to the host name).
    pub node_name: String,
    /// Node id (a UUID); drawn from the seed when not configured.
    pub node_id: Option<String>,
    /// Datacenter.
    pub datacenter: Datacenter,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// Run as a server (raft member).
    pub server: bool,
    /// One process that is server and client with state in memory.
    pub dev: bool,
    /// Servers to wait for before bootstrapping raft (1: bootstrap alone).
    pub bootstrap_expect: u32,
    /// Where raft keeps its log and snapshots (none in `-dev`).
    pub data_dir: Option<PathBuf>,
    /// Address cluster traffic (gossip, server RPC) binds to.
    pub bind: IpAddr,
    /// Address advertised to other agents (defaults to `bind`).
    pub advertise: IpAddr,
    /// Address client interfaces (HTTP, gRPC, DNS) bind to.
    pub client: IpAddr,
    /// HTTP API port; `None` disables it.
    pub http_port: Option<u16>,
    /// gRPC (xDS) port; `None` disables it.
    pub grpc_port: Option<u16>,
    /// DNS port; `None` disables it.
    pub dns_port: Option<u16>,
    /// Server RPC port.
    pub server_port: u16,
    /// LAN gossip port; `None` disables gossip.
    pub serf_lan_port: Option<u16>,
    /// WAN gossip port (servers); `None` disables it.
    pub serf_wan_port: Option<u16>,
    /// Agents to join at start and retry until joined.
    pub retry_join: Vec<String>,
    /// Service definitions registered at start.
    pub services: Vec<Value>,
    /// Node-level check definitions registered at start.
    pub checks: Vec<Value>,
    /// Intention default when none matches.
    pub default_policy: DefaultPolicy,
    /// DNS domain (`consul`).
    pub domain: String,
    /// Seed of every random choice this agent makes (ids, jitter, keys).
    pub seed: u64,
    /// Scales raft timing; 1 is fastest.
    pub raft_multiplier: u32,
    /// Committed entries between raft snapshots (`raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Entries kept behind a snapshot (`raft_trailing_logs`).
    pub raft_trailing_logs: u64,
    /// How often the threshold is checked (`raft_snapshot_interval`); each wait is drawn
    /// between this and twice this.
    pub raft_snapshot_interval: Duration,
    /// CA settings from `connect { ca_config {...} }`.
    pub ca_config: Option<Value>,
    /// The flags the options were resolved from (`/v1/agent/reload` reads the files again).
    pub flags: FlagValues,
    /// The network, clock and disk the agent runs on (the OS's unless simulated).
    pub env: crate::env::Env,
}

/// Command-line values; `None` means "not given", so files and defaults apply.
#[derive(Debug, Clone, Default)]
pub struct FlagValues {
    /// `-dev`.
    pub dev: bool,
    /// `-server`.
    pub server: bool,
    /// `-bootstrap`.
    pub bootstrap: bool,
    /// `-bootstrap-expect`.
    pub bootstrap_expect: Option<u32>,
    /// `-datacenter`.
    pub datacenter: Option<String>,
    /// `-node`.
    pub node: Option<String>,
    /// `-node-id`.
    pub node_id: Option<String>,
    /// `-data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `-bind`.
    pub bind: Option<IpAddr>,
    /// `-advertise`.
    pub advertise: Option<IpAddr>,
    /// `-client`.
    pub client: Option<IpAddr>,
    /// `-retry-join` (repeatable).
    pub retry_join: Vec<String>,
    /// `-http-port`.
    pub http_port: Option<i32>,
    /// `-grpc-port`.
    pub grpc_port: Option<i32>,
    /// `-dns-port`.
    pub dns_port: Option<i32>,
    /// `-server-port`.
    pub server_port: Option<i32>,
    /// `-serf-lan-port`.
    pub serf_lan_port: Option<i32>,
    /// `-serf-wan-port`.
    pub serf_wan_port: Option<i32>,
    /// `-config-file` (repeatable).
    pub config_files: Vec<PathBuf>,
    /// `-config-dir` (repeatable): every `.json` and `.hcl` file in it, by name.
    pub config_dirs: Vec<PathBuf>,
    /// `-hcl` snippets (repeatable).
    pub hcl: Vec<String>,
    /// `-seed`.
    pub seed: Option<u64>,
    /// `-domain`.
    pub domain: Option<String>,
}

/// Why the agent's settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// A config file could not be read.
    #[error("{path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// A config file or flag is invalid.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> OptionsError {
    OptionsError::Invalid(msg.into())
}

/// Reads and merges every config file the flags name, in order (files, then directories).
fn load_files(flags: &FlagValues) -> Result<AgentConfigFile, OptionsError> {
    let mut paths: Vec<PathBuf> = flags.config_files.clone();
    for dir in &flags.config_dirs {
        let read = |e| OptionsError::Read { path: dir.display().to_string(), error: e };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "hcl"))
            .collect();
        files.sort();
        paths.extend(files);
    }
    let mut merged = Value::Object(Default::default());
    for path in &paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| OptionsError::Read { path: path.display().to_string(), error: e })?;
        let value =
            parse_file(&path.display().to_string(), &text).map_err(|e| invalid(e.to_string()))?;
        merge(&mut merged, value);
    }
    for (i, snippet) in flags.hcl.iter().enumerate() {
        let value =
            parse_file(&format!("-hcl #{}", i + 1), snippet).map_err(|e| invalid(e.to_string()))?;
        merge(&mut merged, value);
    }
    AgentConfigFile::from_value(merged).map_err(|e| invalid(e.to_string()))
}

/// A port setting: `-1` (and 0 where Consul allows it) disables the listener.
fn port(
    name: &str,
    flag: Option<i32>,
    file: Option<i32>,
    default: i32,
    zero_disables: bool,
) -> Result<Option<u16>, OptionsError> {
    match flag.or(file).unwrap_or(default) {
        -1 => Ok(None),
        0 if zero_disables => Ok(None),
        p => u16::try_from(p)
            .map(Some)
            .map_err(|_| invalid(format!("{name}: {p} is not a port (use -1 to disable)"))),
    }
}

fn parse_ip(field: &str, value: &str) -> Result<IpAddr, OptionsError> {
    value.parse().map_err(|_| invalid(format!("{field}: {value:?} is not an IP address")))
}

impl AgentOptions {
    /// Resolves flags over files over defaults. `host_name` and `fallback_seed` come from the
    /// runtime (the OS), so this function stays deterministic.
    pub fn resolve(
        flags: &FlagValues,
        host_name: &str,
        fallback_seed: u64,
    ) -> Result<Self, OptionsError> {
        let file = load_files(flags)?;
        let dev = flags.dev;
        let server = flags.server || dev || file.server.unwrap_or(false);
        let bootstrap_expect = if dev || flags.bootstrap || file.bootstrap == Some(true) {
            1
        } else {
            flags.bootstrap_expect.or(file.bootstrap_expect).unwrap_or(0)
        };
        if server && bootstrap_expect == 0 && !dev {
            // Consul waits for a manual bootstrap; Proconsul has no `operator raft` bootstrap
            // command, so a server must say how many servers to expect.
            return Err(invalid(
                "a server needs -bootstrap-expect N (or -bootstrap / -dev) to form a cluster",
            ));
        }
        if !server && (flags.bootstrap_expect.is_some() || flags.bootstrap) {
            return Err(invalid("-bootstrap-expect and -bootstrap need -server"));
        }
        let data_dir = flags.data_dir.clone().or(file.data_dir.clone().map(PathBuf::from));
        if !dev && data_dir.is_none() {
            return Err(invalid("-data-dir is required (except with -dev)"));
        }
        let dc_name = flags.datacenter.clone().or(file.datacenter.clone()).unwrap_or("dc1".into());
        let datacenter = Datacenter::new(dc_name.to_ascii_lowercase())
            .map_err(|e| invalid(format!("datacenter: {e}")))?;
        let node_name = flags.node.clone().or(file.node_name.clone()).unwrap_or(host_name.into());
        if node_name.is_empty() {
            return Err(invalid("node name must not be empty"));
        }
        let default_bind = if dev { "127.0.0.1" } else { "0.0.0.0" };
        let bind = match (&flags.bind, &file.bind_addr) {
            (Some(ip), _) => *ip,
            (None, Some(s)) => parse_ip("bind_addr", s)?,
            (None, None) => parse_ip("bind_addr", default_bind)?,
        };
        let advertise = match (&flags.advertise, &file.advertise_addr) {
            (Some(ip), _) => *ip,
            (None, Some(s)) => parse_ip("advertise_addr", s)?,
            (None, None) if bind.is_unspecified() => {
                return Err(invalid(
                    "-bind 0.0.0.0 needs -advertise ADDR (Proconsul does not guess an interface)",
                ));
            }
            (None, None) => bind,
        };
        let client = match (&flags.client, &file.client_addr) {
            (Some(ip), _) => *ip,
            (None, Some(s)) => parse_ip("client_addr", s)?,
            (None, None) => parse_ip("client_addr", "127.0.0.1")?,
        };
        let p = &file.ports;
        let server_port =
            port("server port", flags.server_port, p.server, default_ports::SERVER, false)?
                .ok_or_else(|| invalid("server port cannot be disabled"))?;
        let default_policy = match file.acl.default_policy.as_deref() {
            Some("deny") => DefaultPolicy::Deny,
            _ => DefaultPolicy::Allow,
        };
        let mut retry_join = file.retry_join.clone();
        retry_join.extend(file.start_join.iter().cloned());
        retry_join.extend(flags.retry_join.iter().cloned());
        Ok(AgentOptions {
            node_name,
            node_id: flags.node_id.clone().or(file.node_id.clone()),
            datacenter,
            node_meta: file.node_meta.clone(),
            server,
            dev,
            bootstrap_expect,
            data_dir,
            bind,
            advertise,
            client,
            http_port: port("http port", flags.http_port, p.http, default_ports::HTTP, false)?,
            grpc_port: port("grpc port", flags.grpc_port, p.grpc, default_ports::GRPC, true)?,
            dns_port: port("dns port", flags.dns_port, p.dns, default_ports::DNS, true)?,
            server_port,
            serf_lan_port: port(
                "serf_lan port",
                flags.serf_lan_port,
                p.serf_lan,
                default_ports::SERF_LAN,
                false,
            )?,
            serf_wan_port: if server {
                port(
                    "serf_wan port",
                    flags.serf_wan_port,
                    p.serf_wan,
                    default_ports::SERF_WAN,
                    false,
                )?
            } else {
                None
            },
            retry_join,
            services: file.service_definitions().cloned().collect(),
            checks: file.check_definitions().cloned().collect(),
            default_policy,
            domain: flags
                .domain
                .clone()
                .or(file.domain.clone())
                .unwrap_or("consul".into())
                .trim_end_matches('.')
                .to_owned(),
            seed: flags.seed.unwrap_or(fallback_seed),
            raft_multiplier: file.performance.raft_multiplier.unwrap_or(1).clamp(1, 10),
            raft_snapshot_threshold: file.raft_snapshot_threshold.unwrap_or(16_384),
            raft_trailing_logs: file.raft_trailing_logs.unwrap_or(10_240),
            raft_snapshot_interval: file
                .raft_snapshot_interval
                .and_then(GoDuration::to_std)
                .unwrap_or(Duration::from_secs(30)),
            ca_config: file.connect.ca_config.clone(),
            flags: flags.clone(),
            env: crate::env::Env::tokio(),
        })
    }

    /// The raft database file under the data directory.
    pub fn raft_db_path(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(|d| Path::new(d).join("raft.redb"))
    }

    /// The raft snapshot database under the data directory (apart from the log, so writing
    /// a large snapshot never holds up the log's commits).
    pub fn raft_snapshot_path(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(|d| Path::new(d).join("raft-snapshot.redb"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_defaults() {
        let o =
            AgentOptions::resolve(&FlagValues { dev: true, ..Default::default() }, "h", 7).unwrap();
        assert!(o.server && o.dev);
        assert_eq!(o.bootstrap_expect, 1);
        assert_eq!(o.http_port, Some(8500));
        assert_eq!(o.grpc_port, Some(8502));
        assert_eq!(o.dns_port, Some(8600));
        assert_eq!((o.server_port, o.serf_lan_port), (8300, Some(8301)));
        assert_eq!(o.node_name, "h");
        assert_eq!(o.advertise.to_string(), "127.0.0.1");
    }

    #[test]
    fn flags_override_files_and_minus_one_disables() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.hcl");
        std::fs::write(&f, "datacenter = \"east\"\nports {\n  dns = -1\n  http = 9000\n}\n")
            .unwrap();
        let flags = FlagValues {
            dev: true,
            config_files: vec![f],
            http_port: Some(9100),
            ..Default::default()
        };
        let o = AgentOptions::resolve(&flags, "h", 1).unwrap();
        assert_eq!(o.datacenter.as_str(), "east");
        assert_eq!(o.http_port, Some(9100));
        assert_eq!(o.dns_port, None);
    }

    #[test]
    fn bad_settings_are_named() {
        let err = AgentOptions::resolve(
            &FlagValues { server: true, data_dir: Some("/tmp/x".into()), ..Default::default() },
            "h",
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("-bootstrap-expect"), "{err}");
        let err = AgentOptions::resolve(
            &FlagValues { dev: true, http_port: Some(70000), ..Default::default() },
            "h",
            1,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "http port: 70000 is not a port (use -1 to disable)");
        let err = AgentOptions::resolve(&FlagValues::default(), "h", 1).unwrap_err();
        assert!(err.to_string().contains("-data-dir"), "{err}");
    }
}
