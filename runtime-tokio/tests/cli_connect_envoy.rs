//! `proconsul connect envoy`: the bootstrap it prints, Consul's single-dash flags, and
//! exec-ing Envoy with the bootstrap and the arguments after `--`.

use std::process::Command;

fn proconsul(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_proconsul")).args(args).output().unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bootstrap_for_a_sidecar_with_consul_style_flags() {
    let out = proconsul(&[
        "connect",
        "envoy",
        "-bootstrap",
        "-sidecar-for",
        "web",
        "-grpc-addr",
        "http://127.0.0.1:18502",
        "-admin-bind",
        "localhost:19005",
        "-token",
        "s3cret",
    ]);
    let b = json(&out);
    assert_eq!(b["node"]["id"], "web-sidecar-proxy");
    assert_eq!(b["node"]["cluster"], "web");
    let addr = &b["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        [0]["endpoint"]["address"]["socket_address"];
    assert_eq!(
        (addr["address"].as_str(), addr["port_value"].as_u64()),
        (Some("127.0.0.1"), Some(18502))
    );
    assert_eq!(b["admin"]["address"]["socket_address"]["port_value"], 19005);
    assert_eq!(b["dynamic_resources"]["ads_config"]["api_type"], "DELTA_GRPC");
    assert_eq!(
        b["dynamic_resources"]["ads_config"]["grpc_services"][0]["initial_metadata"][0]["value"],
        "s3cret"
    );
}

#[test]
fn bootstrap_for_a_mesh_gateway_and_for_sotw_and_an_explicit_proxy_id() {
    let b = json(&proconsul(&["connect", "envoy", "-bootstrap", "-mesh-gateway"]));
    assert_eq!(
        (b["node"]["id"].as_str(), b["node"]["cluster"].as_str()),
        (Some("mesh-gateway"), Some("mesh-gateway"))
    );
    let b = json(&proconsul(&[
        "connect",
        "envoy",
        "--bootstrap",
        "--proxy-id",
        "web-proxy-2",
        "--sidecar-for",
        "web",
        "--xds-protocol",
        "sotw",
    ]));
    assert_eq!(b["node"]["id"], "web-proxy-2");
    assert_eq!(b["dynamic_resources"]["ads_config"]["api_type"], "GRPC");
}

#[test]
fn bad_flags_exit_1_with_a_clear_message() {
    let out = proconsul(&["connect", "envoy", "-bootstrap"]);
    assert_eq!(out.status.code(), Some(1));
    let out = proconsul(&[
        "connect",
        "envoy",
        "-bootstrap",
        "-sidecar-for",
        "web",
        "-grpc-addr",
        "nowhere",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: -grpc-addr: \"nowhere\" must be host:port"
    );
    let out = proconsul(&["connect", "envoy", "-mesh-gateway", "-sidecar-for", "web"]);
    assert_eq!(out.status.code(), Some(1), "a sidecar cannot also be a gateway");
}

#[test]
fn without_bootstrap_it_execs_envoy_with_the_config_and_passthrough_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("envoy");
    std::fs::write(&fake, "#!/bin/sh\necho \"args: $*\"\ncat \"$2\"\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = proconsul(&[
        "connect",
        "envoy",
        "-sidecar-for",
        "db",
        "-envoy-binary",
        fake.to_str().unwrap(),
        "--",
        "-l",
        "warn",
        "--base-id",
        "7",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(first.starts_with("args: --config-path "), "{first}");
    assert!(
        first.ends_with(" -l warn --base-id 7"),
        "arguments after -- reach Envoy unchanged: {first}"
    );
    let b: serde_json::Value = serde_json::from_str(rest).unwrap();
    assert_eq!(b["node"]["id"], "db-sidecar-proxy");
    let missing = proconsul(&[
        "connect",
        "envoy",
        "-sidecar-for",
        "db",
        "-envoy-binary",
        "/nonexistent/envoy",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("error: running /nonexistent/envoy"));
}
