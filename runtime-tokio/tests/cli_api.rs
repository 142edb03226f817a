//! The HTTP-API commands of the real `proconsul` binary (`kv`, `config write|read|list|
//! delete`, `catalog services`, the address flag and variables) against a single-node raft
//! serving `proconsul_runtime_tokio::http::router` on a free loopback port: what an
//! operator's shell sees, byte for byte, with consul's messages and exit codes.

mod raft_support;
mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use openraft::BasicNode;
use proconsul_runtime_tokio::api_client::{ApiClient, Query};
use proconsul_runtime_tokio::http::router;
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use raft_support::{WAIT, start};
use serde_json::{Value, json};
use support::{Run, write};

/// A one-node cluster with its HTTP API on `addr`, torn down on drop.
struct Server {
    addr: String,
    node: Arc<RaftNode>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Server {
    #[allow(clippy::disallowed_methods, reason = "the API server runs beside the CLI under test")]
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("raft.redb");
        let (node, addr) = runtime.block_on(async {
            let mem = MemRouter::new();
            let node = start(1, &db, &mem).await;
            let members = BTreeMap::from([(node.id(), BasicNode::default())]);
            node.raft().initialize(members).await.expect("initialize");
            let raft = node.raft();
            raft.wait(Some(WAIT)).current_leader(node.id(), "self-elected").await.expect("leader");
            let node = Arc::new(node);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local addr").to_string();
            let app = router(node.clone(), 7);
            tokio::spawn(async move { axum::serve(listener, app).await });
            (node, addr)
        });
        Server { addr, node, runtime, _dir: dir }
    }

    /// `proconsul ARGS... -http-addr <this server>`.
    fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-http-addr", &self.addr]);
        cli(&all, &[], None)
    }

    /// The same with `stdin` piped in.
    fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-http-addr", &self.addr]);
        cli(&all, &[], Some(stdin))
    }

    /// Calls the API directly, to set up state no command writes (catalog registrations).
    fn api_put(&self, path: &str, body: Value) {
        self.runtime.block_on(async {
            let client = ApiClient::new(&self.addr).expect("client");
            client.put(path, &Query::new(), body.to_string()).await.expect("api put");
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let node = self.node.clone();
        // A failed shutdown only leaks a test's temp state; the test already has its verdict.
        let _ = self.runtime.block_on(async move { node.shutdown().await });
    }
}

/// Runs the binary with a clean address environment plus `env`, and optional stdin.
fn cli(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proconsul"));
    command.args(args).env_remove("PROCONSUL_HTTP_ADDR").env_remove("CONSUL_HTTP_ADDR");
    command.envs(env.iter().copied());
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the proconsul binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input).expect("stdin accepts the input");
    }
    let output = child.wait_with_output().expect("the binary finishes");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn assert_ok(run: &Run, stdout: &str) {
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (Some(0), stdout, ""),
        "{run:?}"
    );
}

fn assert_fails(run: &Run, stderr: &str) {
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (Some(1), "", stderr),
        "{run:?}"
    );
}

/// The ModifyIndex `kv get -detailed` reports.
fn modify_index(server: &Server, key: &str) -> u64 {
    let run = server.run(&["kv", "get", "-detailed", key]);
    let line = run.lines().into_iter().find(|l| l.starts_with("ModifyIndex")).expect("ModifyIndex");
    line.split_whitespace().nth(1).expect("a value").parse().expect("a number")
}

#[test]
fn kv_put_then_get_round_trips_values_from_arguments_files_and_stdin() {
    let server = Server::start();
    assert_ok(&server.run(&["kv", "put", "foo", "bar"]), "Success! Data written to: foo\n");
    assert_ok(&server.run(&["kv", "get", "foo"]), "bar\n");

    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "license", "line 1\nline 2\n");
    let at_file = format!("@{}", file.display());
    assert_ok(&server.run(&["kv", "put", "lic", &at_file]), "Success! Data written to: lic\n");
    assert_ok(&server.run(&["kv", "get", "/lic"]), "line 1\nline 2\n\n");

    let piped = server.run_with_stdin(&["kv", "put", "piped", "-"], b"from stdin");
    assert_ok(&piped, "Success! Data written to: piped\n");
    assert_ok(&server.run(&["kv", "get", "piped"]), "from stdin\n");

    assert_ok(&server.run(&["kv", "put", "empty"]), "Success! Data written to: empty\n");
    assert_ok(&server.run(&["kv", "get", "empty"]), "\n");
    assert_ok(&server.run(&["kv", "get", "-base64", "foo"]), "YmFy\n");
    let decoded = server.run(&["kv", "put", "-base64", "b64", "aGk="]);
    assert_ok(&decoded, "Success! Data written to: b64\n");
    assert_ok(&server.run(&["kv", "get", "b64"]), "hi\n");
}

#[test]
fn kv_get_detailed_shows_consuls_metadata_block() {
    let server = Server::start();
    assert_ok(
        &server.run(&["kv", "put", "-flags=42", "foo", "bar"]),
        "Success! Data written to: foo\n",
    );
    let index = modify_index(&server, "foo");
    let run = server.run(&["kv", "get", "-detailed", "foo"]);
    let expected = format!(
        "CreateIndex      {index}\nFlags            42\nKey              foo\nLockIndex        0\n\
         ModifyIndex      {index}\nSession          -\nValue            bar\n"
    );
    assert_ok(&run, &expected);
}

#[test]
fn kv_get_of_a_missing_key_fails_with_consuls_message() {
    let server = Server::start();
    assert_fails(&server.run(&["kv", "get", "nope"]), "Error! No key exists at: nope\n");
    assert_fails(&server.run(&["kv", "get"]), "Error! Missing KEY argument\n");
}

#[test]
fn kv_cas_writes_only_over_the_index_they_read() {
    let server = Server::start();
    assert_ok(&server.run(&["kv", "put", "foo", "v1"]), "Success! Data written to: foo\n");
    let index = modify_index(&server, "foo");
    let stale = (index + 100).to_string();
    let refused = server.run(&["kv", "put", "-cas", "-modify-index", &stale, "foo", "v2"]);
    assert_fails(&refused, "Error! Did not write to foo: CAS failed\n");
    assert_ok(&server.run(&["kv", "get", "foo"]), "v1\n");

    let current = format!("-modify-index={index}");
    let run = server.run(&["kv", "put", "-cas", &current, "foo", "v2"]);
    assert_ok(&run, "Success! Data written to: foo\n");
    assert_ok(&server.run(&["kv", "get", "foo"]), "v2\n");
    assert_fails(
        &server.run(&["kv", "put", "-cas", "foo", "v3"]),
        "Must specify -modify-index with -cas!\n",
    );

    let run = server.run(&["kv", "delete", "-cas", &current, "foo"]);
    assert_fails(&run, "Error! Did not delete key foo: CAS failed\n");
    let now = format!("-modify-index={}", modify_index(&server, "foo"));
    assert_ok(&server.run(&["kv", "delete", "-cas", &now, "foo"]), "Success! Deleted key: foo\n");
    assert_fails(&server.run(&["kv", "get", "foo"]), "Error! No key exists at: foo\n");
}

#[test]
fn kv_recurse_lists_keys_and_deletes_a_prefix() {
    let server = Server::start();
    for (key, value) in [("app/a", "1"), ("app/sub/b", "2"), ("other", "3")] {
        assert_ok(
            &server.run(&["kv", "put", key, value]),
            &format!("Success! Data written to: {key}\n"),
        );
    }
    assert_ok(&server.run(&["kv", "get", "-recurse", "app"]), "app/a:1\napp/sub/b:2\n");
    assert_ok(&server.run(&["kv", "get", "-keys", "app/"]), "app/a\napp/sub/\n");
    assert_ok(&server.run(&["kv", "get", "-recurse", "missing/"]), "");

    let run = server.run(&["kv", "delete", "-recurse", "app"]);
    assert_ok(&run, "Success! Deleted keys with prefix: app\n");
    assert_ok(&server.run(&["kv", "get", "-recurse"]), "other:3\n");
    assert_ok(&server.run(&["kv", "delete", "other"]), "Success! Deleted key: other\n");
    // Deleting what is not there succeeds, as in consul.
    assert_ok(&server.run(&["kv", "delete", "other"]), "Success! Deleted key: other\n");
    let run = server.run(&["kv", "delete", "-recurse", "-cas", "-modify-index=3", "x"]);
    assert_fails(&run, "Cannot specify both -cas and -recurse!\n");
}

#[test]
fn the_address_comes_from_our_variable_then_consuls() {
    let server = Server::start();
    let put = ["kv", "put", "env", "ok"];
    let ours = cli(
        &put,
        &[("PROCONSUL_HTTP_ADDR", &server.addr), ("CONSUL_HTTP_ADDR", "127.0.0.1:1")],
        None,
    );
    assert_ok(&ours, "Success! Data written to: env\n");
    let consuls = cli(
        &["kv", "get", "env"],
        &[("CONSUL_HTTP_ADDR", &format!("http://{}", server.addr))],
        None,
    );
    assert_ok(&consuls, "ok\n");
    // The flag wins over both.
    let flag = cli(
        &["kv", "get", "env", "-http-addr", &server.addr],
        &[("PROCONSUL_HTTP_ADDR", "127.0.0.1:1")],
        None,
    );
    assert_ok(&flag, "ok\n");
}

#[test]
fn an_unreachable_agent_is_an_error_naming_the_url() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let run = cli(&["kv", "get", "foo", "-http-addr", &closed.to_string()], &[], None);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
    let prefix = format!("Error querying Consul agent: Get \"http://{closed}/v1/kv/foo\": ");
    assert!(run.stderr.starts_with(&prefix), "{run:?}");

    let run = cli(&["catalog", "services", "-http-addr", "https://127.0.0.1:8501"], &[], None);
    assert_fails(
        &run,
        "Error connecting to Consul agent: invalid HTTP address \"https://127.0.0.1:8501\": \
         HTTPS is not supported: the HTTP API listens on plain HTTP\n",
    );
}

#[test]
fn config_write_read_list_delete_round_trip() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let hcl = write(
        dir.path(),
        "web.hcl",
        "Kind = \"service-defaults\"\nName = \"web\"\nProtocol = \"HTTP\"\n",
    );
    let run = server.run(&["config", "write", hcl.to_str().unwrap()]);
    assert_ok(&run, "Config entry written: service-defaults/web\n");
    let json = r#"{"kind": "service-defaults", "name": "api", "protocol": "grpc"}"#;
    let run = server.run_with_stdin(&["config", "write", "-"], json.as_bytes());
    assert_ok(&run, "Config entry written: service-defaults/api\n");

    let read = server.run(&["config", "read", "-kind", "service-defaults", "-name", "web"]);
    assert_eq!(read.code, Some(0), "{read:?}");
    assert!(
        read.stdout.starts_with("{\n    \"Kind\": \"service-defaults\",\n    \"Name\": \"web\",\n"),
        "{read:?}"
    );
    let entry: Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(entry["Protocol"], "http", "the server normalized it");

    assert_ok(&server.run(&["config", "list", "-kind", "service-defaults"]), "api\nweb\n");
    assert_ok(&server.run(&["config", "list", "-kind", "service-router"]), "");

    let run = server.run(&["config", "delete", "-kind", "service-defaults", "-name", "web"]);
    assert_ok(&run, "Config entry deleted: service-defaults/web\n");
    let run = server.run(&["config", "read", "-kind=service-defaults", "-name=web"]);
    assert_fails(
        &run,
        "Error reading config entry service-defaults/web: Unexpected response code: 404 \
         (Config entry not found for \"service-defaults\" / \"web\")\n",
    );
    let run = server.run(&["config", "delete", "-filename", hcl.to_str().unwrap()]);
    assert_ok(&run, "Config entry deleted: service-defaults/web\n");
}

#[test]
fn config_cas_writes_and_deletes_report_when_nothing_changed() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "web.json", r#"{"Kind": "service-defaults", "Name": "web"}"#);
    let file = file.to_str().unwrap();
    assert_ok(
        &server.run(&["config", "write", "-cas", file]),
        "Config entry written: service-defaults/web\n",
    );
    let run = server.run(&["config", "write", "-cas", "-modify-index=0", file]);
    assert_fails(&run, "Config entry not updated: service-defaults/web\n");
    let read = server.run(&["config", "read", "-kind", "service-defaults", "-name", "web"]);
    let index =
        serde_json::from_str::<Value>(&read.stdout).unwrap()["ModifyIndex"].as_u64().unwrap();

    let stale = format!("-modify-index={}", index + 10);
    let delete = ["config", "delete", "-kind", "service-defaults", "-name", "web", "-cas"];
    let run = server.run(&[&delete[..], &[stale.as_str()]].concat());
    assert_fails(&run, "Config entry not deleted: service-defaults/web\n");
    let current = format!("-modify-index={index}");
    let run = server.run(&[&delete[..], &[current.as_str()]].concat());
    assert_ok(&run, "Config entry deleted: service-defaults/web\n");
}

#[test]
fn a_refused_config_entry_prints_the_servers_reason() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let router = write(dir.path(), "router.hcl", "Kind = \"service-router\"\nName = \"api\"\n");
    let run = server.run(&["config", "write", router.to_str().unwrap()]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
    let prefix = "Error writing config entry service-router/api: Unexpected response code: 500 (";
    assert!(run.stderr.starts_with(prefix), "{run:?}");
    assert!(run.stderr.contains("does not permit advanced routing"), "{run:?}");
}

#[test]
fn config_files_that_do_not_decode_are_refused_before_any_request() {
    // Nothing listens on port 1: a request would fail differently.
    let dir = tempfile::tempdir().unwrap();
    let typo = write(dir.path(), "typo.hcl", "Kind = \"service-routr\"\nName = \"x\"\n");
    let run =
        cli(&["config", "write", typo.to_str().unwrap(), "-http-addr", "127.0.0.1:1"], &[], None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.starts_with("Failed to decode config entry input: "), "{run:?}");
    assert!(run.stderr.contains("service-routr"), "{run:?}");

    let missing = dir.path().join("missing.hcl");
    let run = cli(&["config", "write", missing.to_str().unwrap()], &[], None);
    assert!(run.stderr.starts_with("Failed to load data: "), "{run:?}");
    assert_fails(
        &cli(&["config", "read", "-name", "web"], &[], None),
        "Must specify the -kind parameter\n",
    );
    assert_fails(&cli(&["config", "list"], &[], None), "Must specify the -kind parameter\n");
}

#[test]
fn catalog_services_lists_names_and_with_tags_their_tags() {
    let server = Server::start();
    let run = server.run(&["catalog", "services"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), ""), "{run:?}");
    assert_eq!(run.stderr, "No services match the given query - try expanding your search.\n");

    for (node, id, name, tags) in
        [("n1", "web1", "web", json!(["v2", "v1"])), ("n1", "db1", "db", json!([]))]
    {
        let service = json!({"ID": id, "Service": name, "Tags": tags, "Port": 80});
        server.api_put(
            "/v1/catalog/register",
            json!({"Node": node, "Address": "10.0.0.1", "Service": service}),
        );
    }
    assert_ok(&server.run(&["catalog", "services"]), "db\nweb\n");
    assert_ok(&server.run(&["catalog", "services", "-tags"]), "db       \nweb      v1,v2\n");
}

#[test]
fn intentions_are_created_listed_checked_replaced_and_deleted() {
    let server = Server::start();
    assert_ok(&server.run(&["intention", "create", "web", "db"]), "Created: web => db (allow)\n");
    assert_fails(
        &server.run(&["intention", "create", "-deny", "web", "db"]),
        "Error creating intention \"web => db (deny)\": duplicate intention found: web => db (allow)\n",
    );
    assert_ok(
        &server.run(&["intention", "create", "-deny", "*", "db"]),
        "Created: * => db (deny)\n",
    );
    let table = "ID  Source  Action  Destination  Precedence\n    \
                 web     allow   db           9\n    \
                 *       deny    db           8\n";
    assert_ok(&server.run(&["intention", "list"]), table);

    assert_ok(&server.run(&["intention", "check", "web", "db"]), "Allowed\n");
    let denied = server.run(&["intention", "check", "billing", "db"]);
    assert_eq!(
        (denied.code, denied.stdout.as_str(), denied.stderr.as_str()),
        (Some(2), "Denied\n", "")
    );

    // consul replaces silently.
    assert_ok(&server.run(&["intention", "create", "-replace", "-deny", "web", "db"]), "");
    assert_eq!(server.run(&["intention", "check", "web", "db"]).code, Some(2));

    assert_ok(&server.run(&["intention", "delete", "web", "db"]), "Intention deleted.\n");
    assert_ok(&server.run(&["intention", "delete", "*", "db"]), "Intention deleted.\n");
    let empty = server.run(&["intention", "list"]);
    assert_eq!(
        (empty.code, empty.stdout.as_str(), empty.stderr.as_str()),
        (Some(0), "", "There are no intentions.\n")
    );
    assert_ok(&server.run(&["intention", "check", "web", "db"]), "Allowed\n");
}

#[test]
fn intention_usage_errors_exit_1_never_2() {
    let usage = [
        (
            &["intention", "create", "-allow", "-deny", "a", "b"][..],
            "Only one of -allow or -deny may be specified.\n",
        ),
        (
            &["intention", "create", "web"][..],
            "Error: Must specify two arguments: source and destination\n",
        ),
        (
            &["intention", "create", "a/b/c/d", "db"][..],
            "Error: Invalid intention source: input can contain at most two '/'\n",
        ),
        (
            &["intention", "delete", "a", "b", "c"][..],
            "command requires exactly 1 or 2 arguments\n",
        ),
        (
            &["intention", "check", "--default-policy", "deny", "web", "db"][..],
            "error: --default-policy needs --intentions (the agent uses its own)\n",
        ),
    ];
    for (args, message) in usage {
        assert_fails(&cli(args, &[], None), message);
    }
    let unreachable =
        cli(&["intention", "check", "web", "db", "-http-addr", "127.0.0.1:1"], &[], None);
    assert_eq!(unreachable.code, Some(1), "{unreachable:?}");
    assert!(
        unreachable.stderr.starts_with("Error checking the connection: Get "),
        "{unreachable:?}"
    );
}
