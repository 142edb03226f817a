//! The `proconsul` command line (clap derive).
//!
//! Offline commands read files, call core's pure functions and print, so operators can
//! check config in CI before it ever reaches a cluster:
//!
//! ```text
//! proconsul config validate  FILE...             entries alone, then as consecutive writes
//! proconsul config compile   --entries DIR SVC   the discovery chain, as /v1/discovery-chain
//! proconsul intention check  --intentions F S D  Allowed/Denied with Consul's reason
//! ```
//!
//! The rest talk to an agent's HTTP API (`-http-addr`, `PROCONSUL_HTTP_ADDR`,
//! `CONSUL_HTTP_ADDR`) with the consul CLI's flags, output and messages: `members`,
//! `catalog services`, `services register|deregister`, `config write|read|list|delete`,
//! `intention create|delete|list|check`, `connect ca get-config|set-config`, `leave`,
//! `kv get|put|delete`.
//!
//! Exit codes are a contract scripts rely on: 0 success (or "allowed"), 1 any error, and 2
//! only for "denied", as `consul intention check` does. Usage errors therefore exit 1 rather
//! than clap's usual 2, so a mistyped flag can never pass for a denial.

mod agent_cmd;
mod catalog_cmd;
mod check;
mod columns;
mod config_api;
mod config_cmd;
mod connect_ca;
mod connect_envoy;
mod files;
mod http_flags;
mod intention_api;
mod intention_cmd;
mod kv_cmd;
mod leave_cmd;
mod members_cmd;
mod problem;
mod services_cmd;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Consul-Connect-compatible service mesh control plane.
///
/// Exit codes: 0 success, 1 any error (including usage errors), 2 `intention check` denied.
#[derive(Debug, Parser)]
#[command(name = "proconsul", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an agent: a server (-server), a client, or both in memory (-dev).
    ///
    /// Consul's flags: -dev, -server, -bootstrap-expect N, -datacenter, -node, -data-dir,
    /// -bind, -client, -retry-join, -http-port, -grpc-port, -dns-port, -server-port,
    /// -serf-lan-port, -serf-wan-port, -config-file, -config-dir. Runs until SIGINT/SIGTERM
    /// or `PUT /v1/agent/leave`.
    Agent(Box<agent_cmd::AgentArgs>),
    /// Manage config entries on a cluster, or validate and compile them offline.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage intentions on a cluster, or evaluate them offline.
    #[command(subcommand)]
    Intention(IntentionCommand),
    /// Run or configure Connect proxies.
    #[command(subcommand)]
    Connect(ConnectCommand),
    /// Read and write the KV store.
    #[command(subcommand)]
    Kv(kv_cmd::KvCommand),
    /// Query the catalog.
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogCommand),
    /// Register and deregister services with the local agent.
    #[command(subcommand)]
    Services(services_cmd::ServicesCommand),
    /// List the members of the agent's gossip pool.
    Members(members_cmd::MembersArgs),
    /// Make the agent leave the cluster gracefully and shut down.
    Leave(leave_cmd::LeaveArgs),
}

#[derive(Debug, Subcommand)]
enum ConnectCommand {
    /// Write an Envoy bootstrap for a sidecar or mesh gateway and exec Envoy with it.
    ///
    /// The bootstrap points ADS (delta by default) at the agent's gRPC port through a
    /// static `local_agent` cluster. With -bootstrap it is printed instead. Arguments after
    /// `--` go to Envoy. Consul's single-dash flags (`-sidecar-for web`) work.
    Envoy(Box<connect_envoy::EnvoyArgs>),
    /// Show or change the Connect CA configuration.
    #[command(subcommand)]
    Ca(connect_ca::CaCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check config entry files alone and as one set of writes; one line per problem.
    ///
    /// Each entry is decoded and validated on its own, then checked as a write on top of
    /// the entries before it (command-line order, then file name within a directory), as a
    /// server would check `consul config write`: so a router listed before the
    /// service-defaults that makes its service HTTP is refused. Prints
    /// `FILE: KIND "NAME": MESSAGE` per problem and exits 1, or `N config entries valid`.
    Validate(config_cmd::ValidateArgs),
    /// Compile a service's discovery chain from a directory of config entries, as JSON.
    ///
    /// The entries are checked as `config validate` checks them; problems go to stderr (exit
    /// 1). The chain is printed as `{"Chain": {...}}`, the shape of Consul's
    /// `GET /v1/discovery-chain/:service`.
    Compile(config_cmd::CompileArgs),
    #[command(flatten)]
    Api(config_api::ConfigApiCommand),
}

#[derive(Debug, Subcommand)]
enum IntentionCommand {
    /// Decide whether SOURCE may connect to DESTINATION (exit 0 allowed, 2 denied).
    ///
    /// With --intentions, decides from those files offline and prints `Allowed: <reason>`
    /// or `Denied: <reason>` with Consul's reason, as `/v1/agent/connect/authorize` gives
    /// it. L7 intentions deny at connection level. Bad files or a SOURCE that is not a
    /// service identity exit 1. Without --intentions, asks the agent
    /// (`/v1/connect/intentions/check`) and prints `Allowed` or `Denied`.
    Check(intention_cmd::CheckArgs),
    #[command(flatten)]
    Api(intention_api::IntentionApiCommand),
}

/// How a command ended; the process exit code follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Everything checked out (or the connection is allowed): 0.
    Success,
    /// Bad input, bad files or a refused config: 1.
    Failure,
    /// `intention check` found the connection denied: 2.
    Denied,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Denied => 2,
        })
    }
}

/// Runs the command line of this process and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(consul_style_flags(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and succeed; real usage errors go to stderr.
            // If even that write fails there is nobody left to tell.
            let _ = e.print();
            return if e.use_stderr() { Exit::Failure } else { Exit::Success }.into();
        }
    };
    if let Command::Agent(args) = &cli.command {
        // A long-running process whose tasks log to stderr from other threads: it must not
        // hold the stdio locks the other commands take.
        return agent_cmd::agent(args).into();
    }
    let (stdout, stderr) = (io::stdout(), io::stderr());
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    match run(cli, &mut out, &mut err).and_then(|exit| out.flush().map(|()| exit)) {
        Ok(exit) => exit.into(),
        // Output closed early (e.g. piped into `head`): the result could not be delivered.
        Err(_) => Exit::Failure.into(),
    }
}

/// Consul spells long flags with one dash (`-sidecar-for web`, `-grpc-addr=...`); clap
/// wants two. Every `-name...` before a bare `--` whose second character is a letter and
/// that is longer than a short flag is rewritten to `--name...`; `-h`, negative numbers and
/// everything after `--` are left alone.
fn consul_style_flags(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut passthrough = false;
    args.into_iter()
        .map(|arg| {
            if passthrough {
                return arg;
            }
            if arg == "--" {
                passthrough = true;
                return arg;
            }
            match arg.to_str() {
                Some(s)
                    if s.len() > 2
                        && s.starts_with('-')
                        && s.as_bytes()[1].is_ascii_alphabetic() =>
                {
                    format!("-{s}").into()
                }
                _ => arg,
            }
        })
        .collect()
}

fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    match cli.command {
        // `main` runs the agent before taking the stdio locks; this arm only serves callers
        // of `run` that pass an agent command anyway.
        Command::Agent(args) => Ok(agent_cmd::agent(&args)),
        Command::Config(ConfigCommand::Validate(args)) => config_cmd::validate(&args, out),
        Command::Config(ConfigCommand::Compile(args)) => config_cmd::compile(&args, out, err),
        Command::Intention(IntentionCommand::Check(args)) => intention_cmd::check(&args, out, err),
        Command::Connect(ConnectCommand::Envoy(args)) => connect_envoy::envoy(&args, out, err),
        Command::Config(ConfigCommand::Api(cmd)) => config_api::run(&cmd, out, err),
        Command::Intention(IntentionCommand::Api(cmd)) => intention_api::run(&cmd, out, err),
        Command::Connect(ConnectCommand::Ca(cmd)) => connect_ca::run(&cmd, out, err),
        Command::Kv(cmd) => kv_cmd::run(&cmd, out, err),
        Command::Catalog(cmd) => catalog_cmd::run(&cmd, out, err),
        Command::Services(cmd) => services_cmd::run(&cmd, out, err),
        Command::Members(args) => members_cmd::members(&args, out, err),
        Command::Leave(args) => leave_cmd::leave(&args, out, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
