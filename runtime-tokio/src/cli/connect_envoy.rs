//! `proconsul connect envoy`: write the Envoy bootstrap for a sidecar or mesh gateway and,
//! without `-bootstrap`, exec Envoy with it, as `consul connect envoy` does.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use proconsul_core::ids::ServiceName;
use proconsul_core::xds::ads::Protocol;
use proconsul_core::xds::bootstrap::{BootstrapParams, envoy_bootstrap};

use super::Exit;

/// Arguments of `connect envoy` (Consul's flag names; single-dash spellings work too).
#[derive(Debug, Args)]
pub(super) struct EnvoyArgs {
    /// The service whose sidecar this Envoy is; its proxy id is `<SERVICE>-sidecar-proxy`
    /// unless -proxy-id says otherwise.
    #[arg(long = "sidecar-for", value_name = "SERVICE", required_unless_present_any = ["proxy_id", "mesh_gateway"])]
    sidecar_for: Option<ServiceName>,
    /// The proxy service id (node id Envoy presents to the agent).
    #[arg(long = "proxy-id", value_name = "ID")]
    proxy_id: Option<String>,
    /// Configure a mesh gateway instead of a sidecar.
    #[arg(long = "mesh-gateway", conflicts_with = "sidecar_for")]
    mesh_gateway: bool,
    /// The agent's HTTP API address (kept for compatibility; the bootstrap needs gRPC only).
    #[arg(long = "http-addr", value_name = "ADDR", default_value = "127.0.0.1:8500")]
    http_addr: String,
    /// The agent's gRPC (xDS) address.
    #[arg(long = "grpc-addr", value_name = "ADDR", default_value = "127.0.0.1:8502")]
    grpc_addr: String,
    /// Envoy's admin listener.
    #[arg(long = "admin-bind", value_name = "ADDR", default_value = "localhost:19000")]
    admin_bind: String,
    /// ACL token sent on the ADS stream.
    #[arg(long, value_name = "TOKEN", default_value = "")]
    token: String,
    /// Datacenter reported in the node metadata.
    #[arg(long, value_name = "DC", default_value = "dc1")]
    datacenter: String,
    /// Print the bootstrap instead of running Envoy.
    #[arg(long)]
    bootstrap: bool,
    /// ADS flavour: delta (Consul's choice) or sotw.
    #[arg(long = "xds-protocol", value_enum, default_value_t = XdsProtocol::Delta)]
    xds_protocol: XdsProtocol,
    /// The Envoy executable to exec.
    #[arg(long = "envoy-binary", value_name = "PATH", default_value = "envoy")]
    envoy_binary: PathBuf,
    /// Arguments after `--` are passed to Envoy unchanged.
    #[arg(last = true, value_name = "ENVOY ARGS")]
    envoy_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum XdsProtocol {
    Delta,
    Sotw,
}

/// Splits `host:port` (an `http://` or `https://` prefix is accepted, as Consul does); a
/// `localhost` host becomes `127.0.0.1` because Envoy wants IP addresses.
fn host_port(field: &str, addr: &str) -> Result<(String, u16), String> {
    let bare = addr.trim_start_matches("http://").trim_start_matches("https://");
    let (host, port) =
        bare.rsplit_once(':').ok_or_else(|| format!("-{field}: {addr:?} must be host:port"))?;
    let port: u16 = port.parse().map_err(|_| format!("-{field}: {port:?} is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host == "localhost" { "127.0.0.1" } else { host };
    if host.is_empty() {
        return Err(format!("-{field}: {addr:?} has no host"));
    }
    Ok((host.to_owned(), port))
}

fn params(args: &EnvoyArgs) -> Result<BootstrapParams, String> {
    let (agent_grpc_host, agent_grpc_port) = host_port("grpc-addr", &args.grpc_addr)?;
    let (admin_host, admin_port) = host_port("admin-bind", &args.admin_bind)?;
    let (proxy_id, cluster) = if args.mesh_gateway {
        (args.proxy_id.clone().unwrap_or_else(|| "mesh-gateway".into()), "mesh-gateway".to_owned())
    } else {
        let service = args.sidecar_for.as_ref().map(ToString::to_string);
        let proxy_id = args
            .proxy_id
            .clone()
            .or_else(|| service.as_ref().map(|s| format!("{s}-sidecar-proxy")))
            .ok_or("-sidecar-for or -proxy-id is required")?;
        let cluster =
            service.unwrap_or_else(|| proxy_id.trim_end_matches("-sidecar-proxy").to_owned());
        (proxy_id, cluster)
    };
    Ok(BootstrapParams {
        proxy_id,
        cluster,
        agent_grpc_host,
        agent_grpc_port,
        admin_host,
        admin_port,
        token: args.token.clone(),
        protocol: match args.xds_protocol {
            XdsProtocol::Delta => Protocol::Delta,
            XdsProtocol::Sotw => Protocol::StateOfTheWorld,
        },
        datacenter: args.datacenter.clone(),
    })
}

/// Runs `connect envoy`.
pub(super) fn envoy(
    args: &EnvoyArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let params = match params(args) {
        Ok(p) => p,
        Err(message) => {
            writeln!(err, "error: {message}")?;
            return Ok(Exit::Failure);
        }
    };
    let text = serde_json::to_string_pretty(&envoy_bootstrap(&params)).unwrap_or_default();
    if args.bootstrap {
        writeln!(out, "{text}")?;
        return Ok(Exit::Success);
    }
    let path = std::env::temp_dir().join(format!("proconsul-envoy-{}.json", params.proxy_id));
    if let Err(e) = std::fs::write(&path, &text) {
        writeln!(err, "error: writing the bootstrap to {}: {e}", path.display())?;
        return Ok(Exit::Failure);
    }
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(&args.envoy_binary)
        .arg("--config-path")
        .arg(&path)
        .args(&args.envoy_args)
        .exec();
    writeln!(err, "error: running {}: {e}", args.envoy_binary.display())?;
    Ok(Exit::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_accept_schemes_and_map_localhost() {
        assert_eq!(
            host_port("grpc-addr", "http://127.0.0.1:8502").unwrap(),
            ("127.0.0.1".into(), 8502)
        );
        assert_eq!(
            host_port("admin-bind", "localhost:19000").unwrap(),
            ("127.0.0.1".into(), 19000)
        );
        assert_eq!(host_port("x", "[::1]:1").unwrap(), ("::1".into(), 1));
        assert_eq!(
            host_port("grpc-addr", "nope").unwrap_err(),
            "-grpc-addr: \"nope\" must be host:port"
        );
        assert!(host_port("grpc-addr", "h:99999").is_err());
    }
}
