//! The commands that need a whole agent (`members`, `services register|deregister`,
//! `connect ca get-config|set-config`, `leave`), run as real processes against a real
//! `proconsul agent -dev` on free loopback ports.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Run, write};

/// How often and how long to poll for something the agent does in the background.
const POLL: Duration = Duration::from_millis(100);
const POLL_ATTEMPTS: usize = 150;

/// A port nothing listens on right now (the agent binds it a moment later).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// `proconsul agent -dev` with its HTTP API on `http`, killed on drop.
struct DevAgent {
    child: Child,
    http: String,
    lan_port: u16,
    dir: tempfile::TempDir,
}

impl DevAgent {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (http_port, server_port, lan_port) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("agent.log")).expect("log file");
        let err_log = log.try_clone().expect("log file handle");
        let ports = [
            ("-http-port", http_port.to_string()),
            ("-server-port", server_port.to_string()),
            ("-serf-lan-port", lan_port.to_string()),
            ("-grpc-port", "-1".to_owned()),
            ("-dns-port", "-1".to_owned()),
            ("-serf-wan-port", "-1".to_owned()),
        ];
        let mut command = Command::new(env!("CARGO_BIN_EXE_proconsul"));
        command.args(["agent", "-dev", "-node", "cli-test"]);
        for (flag, value) in &ports {
            command.args([flag, value.as_str()]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            .spawn()
            .expect("the agent starts");
        let agent = DevAgent { child, http: format!("127.0.0.1:{http_port}"), lan_port, dir };
        agent.wait_until("the agent answers members", |a| a.run(&["members"]).code == Some(0));
        agent
    }

    /// `proconsul ARGS... -http-addr <this agent>`.
    fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_proconsul"))
            .args(args)
            .args(["-http-addr", &self.http])
            .env_remove("PROCONSUL_HTTP_ADDR")
            .env_remove("CONSUL_HTTP_ADDR")
            .stdin(Stdio::null())
            .output()
            .expect("the proconsul binary runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Polls `done` until it holds; fails the test with the agent's log otherwise.
    fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        for _ in 0..POLL_ATTEMPTS {
            if done(self) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let log = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
        panic!("timed out waiting until {what}; agent log:\n{log}");
    }

    fn catalog(&self) -> Vec<String> {
        self.run(&["catalog", "services"]).stdout.lines().map(str::to_owned).collect()
    }
}

impl Drop for DevAgent {
    fn drop(&mut self) {
        // The agent may already have left; either way it must not outlive the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_ok(run: &Run, stdout: &str) {
    let got = (run.code, run.stdout.as_str(), run.stderr.as_str());
    assert_eq!(got, (Some(0), stdout, ""), "{run:?}");
}

fn assert_fails(run: &Run, stderr: &str) {
    let got = (run.code, run.stdout.as_str(), run.stderr.as_str());
    assert_eq!(got, (Some(1), "", stderr), "{run:?}");
}

#[test]
fn members_lists_the_dev_agent_as_an_alive_server() {
    let agent = DevAgent::start();
    let run = agent.run(&["members"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{run:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    let columns = ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition"];
    assert_eq!(header, [&columns[..], &["Segment"]].concat());
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    let address = format!("127.0.0.1:{}", agent.lan_port);
    assert_eq!(row.len(), 9, "{run:?}");
    assert_eq!(row[..4], ["cli-test", address.as_str(), "alive", "server"]);
    assert_eq!(row[6..], ["dc1", "default", "<all>"]);
    // Columns line up: every cell starts where its header does.
    let starts = |line: &str, cell: &str| line.find(cell).expect("cell present");
    assert_eq!(starts(lines[0], "Status"), starts(lines[1], "alive"));
    assert_eq!(starts(lines[0], "Segment"), starts(lines[1], "<all>"));

    let detailed = agent.run(&["members", "-detailed"]);
    assert_eq!(detailed.code, Some(0), "{detailed:?}");
    let header: Vec<&str> = detailed.lines()[0].split_whitespace().collect();
    assert_eq!(header, ["Node", "Address", "Status", "Tags"]);
    assert!(detailed.lines()[1].contains("dc=dc1,"), "{detailed:?}");
    assert!(detailed.lines()[1].contains("role=consul,"), "{detailed:?}");
}

fn definition_files(dir: &Path) -> (String, String) {
    let hcl = "service {\n  name = \"web\"\n  port = 8080\n  tags = [\"v1\"]\n  \
               connect { sidecar_service {} }\n}\n";
    let json = r#"{"services": [{"ID": "db-1", "Name": "db", "Port": 5432}]}"#;
    let web = write(dir, "web.hcl", hcl);
    let db = write(dir, "db.json", json);
    (web.display().to_string(), db.display().to_string())
}

#[test]
fn services_register_and_deregister_definition_files() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let (web, db) = definition_files(dir.path());
    let run = agent.run(&["services", "register", &web, &db]);
    assert_ok(&run, "Registered service: web\nRegistered service: db\n");
    let want = ["consul", "db", "web", "web-sidecar-proxy"];
    agent.wait_until("the catalog has the services", |a| a.catalog() == want);
    let tags = agent.run(&["catalog", "services", "-tags"]);
    let web_line = format!("{:<23}v1", "web");
    assert!(tags.lines().contains(&web_line.as_str()), "{tags:?}");

    let run = agent.run(&["services", "deregister", &web, &db]);
    assert_ok(&run, "Deregistered service: web\nDeregistered service: db-1\n");
    agent.wait_until("the catalog lost them", |a| a.catalog() == ["consul"]);

    let run = agent.run(&["services", "register", "-name", "cache", "-port", "6379", "-tag", "a"]);
    assert_ok(&run, "Registered service: cache\n");
    agent.wait_until("cache is registered", |a| a.catalog().contains(&"cache".to_owned()));
    assert_ok(
        &agent.run(&["services", "deregister", "-id", "cache"]),
        "Deregistered service: cache\n",
    );
}

#[test]
fn bad_definitions_are_refused_before_anything_is_registered() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let (web, _) = definition_files(dir.path());
    let bad = write(dir.path(), "bad.json", r#"{"service": {"port": 80}}"#);
    let run = agent.run(&["services", "register", &web, bad.to_str().unwrap()]);
    let message = format!("Error: {}: service[0]: Missing service name\n", bad.display());
    assert_fails(&run, &message);
    assert_eq!(agent.catalog(), ["consul"], "nothing was registered");

    let proxy =
        write(dir.path(), "p.json", r#"{"service": {"name": "p", "kind": "connect-proxy"}}"#);
    let run = agent.run(&["services", "register", proxy.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("Proxy.DestinationServiceName must be set"), "{run:?}");
    assert_fails(
        &agent.run(&["services", "register"]),
        "Service registration requires at least one argument or flags.\n",
    );
    assert_fails(
        &agent.run(&["services", "deregister"]),
        "Service deregistration requires at least one argument or -id.\n",
    );
}

#[test]
fn connect_ca_config_is_shown_as_consul_shows_it_and_can_be_changed() {
    let agent = DevAgent::start();
    let run = agent.run(&["connect", "ca", "get-config"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("{\n\t\"Provider\": \"consul\",\n\t\"Config\": {\n"), "{run:?}");
    let config: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(config["Config"]["LeafCertTTL"], "72h");
    assert!(config.get("ClusterID").is_none(), "consul's api.CAConfig has no ClusterID");
    let keys: Vec<&String> = config["Config"].as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "Go prints a map's keys sorted");

    let dir = tempfile::tempdir().unwrap();
    let new = r#"{"provider": "consul", "config": {"LeafCertTTL": "24h"}}"#;
    let file = write(dir.path(), "ca.json", new);
    let run = agent.run(&["connect", "ca", "set-config", "-config-file", file.to_str().unwrap()]);
    assert_ok(&run, "Configuration updated!\n");
    let after = agent.run(&["connect", "ca", "get-config"]);
    let config: Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(config["Config"]["LeafCertTTL"], "24h", "{after:?}");

    let short = write(
        dir.path(),
        "short.json",
        r#"{"Provider": "consul", "Config": {"LeafCertTTL": "30m"}}"#,
    );
    let run = agent.run(&["connect", "ca", "set-config", "-config-file", short.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let prefix = "Error setting CA configuration: Unexpected response code: 400 (";
    assert!(run.stderr.starts_with(prefix), "{run:?}");
    assert!(run.stderr.contains("LeafCertTTL"), "{run:?}");

    let typo = write(dir.path(), "typo.json", r#"{"Provider": "consul", "Confg": {}}"#);
    let run = agent.run(&["connect", "ca", "set-config", "-config-file", typo.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("Error parsing config file: unknown field \"Confg\""),
        "{run:?}"
    );
    let run = agent.run(&["connect", "ca", "set-config"]);
    assert_fails(&run, "The -config-file flag is required\n");
}

#[test]
fn leave_stops_the_agent() {
    let mut agent = DevAgent::start();
    assert_ok(&agent.run(&["leave"]), "Graceful leave complete\n");
    let mut exited = None;
    for _ in 0..POLL_ATTEMPTS {
        exited = agent.child.try_wait().expect("the agent's status is readable");
        if exited.is_some() {
            break;
        }
        std::thread::sleep(POLL);
    }
    let status = exited.expect("the agent exits after leave");
    assert!(status.success(), "{status:?}");
    let run = agent.run(&["members"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.starts_with("Error retrieving members: Get \"http://"), "{run:?}");
}
