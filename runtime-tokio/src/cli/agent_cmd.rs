//! `proconsul agent`: run a server or client agent (or `-dev`, both, in memory) until it is
//! told to stop (SIGINT, SIGTERM, or `PUT /v1/agent/leave`).

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

use super::Exit;
use crate::agent::{Agent, AgentOptions, FlagValues};

/// Arguments of `agent` (Consul's flag names; `-dev`, `-http-port 8500` work too).
#[derive(Debug, Args)]
pub(super) struct AgentArgs {
    /// Development mode: one in-memory server and client, everything on 127.0.0.1.
    #[arg(long)]
    dev: bool,
    /// Run as a server (a raft member).
    #[arg(long)]
    server: bool,
    /// Bootstrap alone (same as -bootstrap-expect 1).
    #[arg(long)]
    bootstrap: bool,
    /// Number of servers to wait for before bootstrapping raft.
    #[arg(long = "bootstrap-expect", value_name = "N")]
    bootstrap_expect: Option<u32>,
    /// Datacenter of this agent.
    #[arg(long, value_name = "DC")]
    datacenter: Option<String>,
    /// Node name (defaults to the host name).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Node id (a UUID).
    #[arg(long = "node-id", value_name = "UUID")]
    node_id: Option<String>,
    /// Where raft keeps its log and snapshots.
    #[arg(long = "data-dir", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address for cluster traffic (gossip, server RPC).
    #[arg(long, value_name = "IP")]
    bind: Option<IpAddr>,
    /// Address advertised to other agents.
    #[arg(long, value_name = "IP")]
    advertise: Option<IpAddr>,
    /// Address of the client interfaces (HTTP, gRPC, DNS).
    #[arg(long, value_name = "IP")]
    client: Option<IpAddr>,
    /// Agent to join at start, retried until it answers (repeatable).
    #[arg(long = "retry-join", value_name = "ADDR")]
    retry_join: Vec<String>,
    /// HTTP API port (-1 disables).
    #[arg(long = "http-port", value_name = "PORT", allow_negative_numbers = true)]
    http_port: Option<i32>,
    /// gRPC (xDS) port (-1 or 0 disables).
    #[arg(long = "grpc-port", value_name = "PORT", allow_negative_numbers = true)]
    grpc_port: Option<i32>,
    /// DNS port (-1 or 0 disables).
    #[arg(long = "dns-port", value_name = "PORT", allow_negative_numbers = true)]
    dns_port: Option<i32>,
    /// Server RPC port.
    #[arg(long = "server-port", value_name = "PORT", allow_negative_numbers = true)]
    server_port: Option<i32>,
    /// LAN gossip port.
    #[arg(long = "serf-lan-port", value_name = "PORT", allow_negative_numbers = true)]
    serf_lan_port: Option<i32>,
    /// WAN gossip port.
    #[arg(long = "serf-wan-port", value_name = "PORT", allow_negative_numbers = true)]
    serf_wan_port: Option<i32>,
    /// A config file, HCL or JSON (repeatable; later files win).
    #[arg(long = "config-file", value_name = "FILE")]
    config_file: Vec<PathBuf>,
    /// A directory of .hcl and .json config files, read in name order (repeatable).
    #[arg(long = "config-dir", value_name = "DIR")]
    config_dir: Vec<PathBuf>,
    /// A config snippet in HCL (repeatable).
    #[arg(long, value_name = "HCL")]
    hcl: Vec<String>,
    /// DNS domain.
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Seed of the agent's random choices (ids, jitter, keys); random when not given.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Log level (trace, debug, info, warn, error).
    #[arg(long = "log-level", value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

impl AgentArgs {
    fn flags(&self) -> FlagValues {
        FlagValues {
            dev: self.dev,
            server: self.server,
            bootstrap: self.bootstrap,
            bootstrap_expect: self.bootstrap_expect,
            datacenter: self.datacenter.clone(),
            node: self.node.clone(),
            node_id: self.node_id.clone(),
            data_dir: self.data_dir.clone(),
            bind: self.bind,
            advertise: self.advertise,
            client: self.client,
            retry_join: self.retry_join.clone(),
            http_port: self.http_port,
            grpc_port: self.grpc_port,
            dns_port: self.dns_port,
            server_port: self.server_port,
            serf_lan_port: self.serf_lan_port,
            serf_wan_port: self.serf_wan_port,
            config_files: self.config_file.clone(),
            config_dirs: self.config_dir.clone(),
            hcl: self.hcl.clone(),
            seed: self.seed,
            domain: self.domain.clone(),
        }
    }
}

/// The machine's host name, as the default node name.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "proconsul".to_owned())
}

/// A seed for a production agent that was given none: time and process id.
fn fresh_seed() -> u64 {
    #[allow(clippy::disallowed_methods, reason = "an unseeded production agent seeds itself")]
    let now = std::time::SystemTime::now();
    let nanos = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Runs the agent; returns when it stops. Prints Consul's start banner on stdout and logs
/// on stderr.
pub(super) fn agent(args: &AgentArgs) -> Exit {
    match run(args) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("==> {e}");
            Exit::Failure
        }
    }
}

fn run(args: &AgentArgs) -> io::Result<Exit> {
    let opts = match AgentOptions::resolve(&args.flags(), &host_name(), fresh_seed()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("==> {e}");
            return Ok(Exit::Failure);
        }
    };
    let mut out = io::stdout();
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "warn,proconsul_runtime_tokio={0},proconsul_core={0}",
        args.log_level
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let agent = match Agent::start(opts).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("==> Error starting agent: {e}");
                return Ok(Exit::Failure);
            }
        };
        let o = agent.options();
        let a = agent.addrs();
        let show =
            |p: Option<std::net::SocketAddr>| p.map_or("-1".to_owned(), |a| a.port().to_string());
        writeln!(out, "==> Starting Proconsul agent...")?;
        writeln!(out, "               Version: '{}'", crate::agent::CONSUL_COMPATIBLE_VERSION)?;
        writeln!(out, "               Node ID: '{}'", agent.node().id)?;
        writeln!(out, "             Node name: '{}'", o.node_name)?;
        writeln!(out, "            Datacenter: '{}'", o.datacenter)?;
        writeln!(
            out,
            "                Server: {} (Bootstrap: {})",
            o.server,
            o.bootstrap_expect == 1
        )?;
        writeln!(
            out,
            "           Client Addr: [{}] (HTTP: {}, gRPC: {}, DNS: {})",
            o.client,
            show(a.http),
            show(a.grpc),
            show(a.dns)
        )?;
        writeln!(
            out,
            "          Cluster Addr: {} (LAN: {}, Server: {})",
            o.advertise,
            o.serf_lan_port.map_or(-1, i32::from),
            show(a.server)
        )?;
        writeln!(out)?;
        writeln!(out, "==> Proconsul agent running!")?;
        out.flush()?;
        tokio::select! {
            _ = agent.stopped() => {}
            _ = shutdown_signal() => {
                writeln!(out, "==> Caught signal, shutting down...")?;
                agent.shutdown().await;
            }
        }
        writeln!(out, "==> Proconsul agent stopped")?;
        Ok(Exit::Success)
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
