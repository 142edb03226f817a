//! Real `proconsul agent` processes for tests: started on free loopback ports, reached over
//! their HTTP API with a tiny blocking client, killed on drop.

#![allow(dead_code, reason = "each agent test file uses part of the harness")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Ports of one agent.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    pub dns: u16,
    pub server: u16,
    pub serf_lan: u16,
    pub serf_wan: u16,
}

impl Ports {
    pub fn free() -> Ports {
        Ports {
            http: free_port(),
            grpc: free_port(),
            dns: free_port(),
            server: free_port(),
            serf_lan: free_port(),
            serf_wan: free_port(),
        }
    }

    /// Consul's port flags for these ports.
    pub fn args(&self) -> Vec<String> {
        [
            ("-http-port", self.http),
            ("-grpc-port", self.grpc),
            ("-dns-port", self.dns),
            ("-server-port", self.server),
            ("-serf-lan-port", self.serf_lan),
            ("-serf-wan-port", self.serf_wan),
        ]
        .iter()
        .flat_map(|(f, p)| [f.to_string(), p.to_string()])
        .collect()
    }
}

/// A running agent process.
pub struct AgentProcess {
    child: Child,
    pub ports: Ports,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

impl AgentProcess {
    /// `proconsul agent -dev -node NAME` plus `extra` arguments, on free ports; returns once
    /// it reports a leader.
    pub fn dev(node: &str, extra: &[&str]) -> AgentProcess {
        let ports = Ports::free();
        let mut args: Vec<String> = vec![
            "agent".into(),
            "-dev".into(),
            "-node".into(),
            node.into(),
            "-seed".into(),
            "7".into(),
        ];
        args.extend(ports.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(args, ports, None)
    }

    /// Any agent command line (`args` after `agent`), on `ports`, logging into `dir`.
    pub fn spawn(args: Vec<String>, ports: Ports, dir: Option<tempfile::TempDir>) -> AgentProcess {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("agent.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_proconsul"))
            .args(&args)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("start proconsul agent");
        let log_keep = logdir.keep();
        let agent = AgentProcess { child, ports, log: log_keep.join("agent.log"), _dir: dir };
        agent.wait_until(Duration::from_secs(20), "a raft leader", |a| {
            a.try_http("GET", "/v1/status/leader", "")
                .is_some_and(|r| r.status == 200 && r.body.len() > 2)
        });
        agent
    }

    /// The agent's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn try_http(&self, method: &str, path: &str, body: &str) -> Option<Answer> {
        http(self.ports.http, method, path, body)
    }

    /// A request that must get an answer.
    pub fn http(&self, method: &str, path: &str, body: &str) -> Answer {
        self.try_http(method, path, body)
            .unwrap_or_else(|| panic!("{method} {path}: no answer; agent log:\n{}", self.log()))
    }

    /// Polls `check` until it holds, or fails with the agent's log.
    #[allow(clippy::disallowed_methods, reason = "real processes run on the real clock")]
    pub fn wait_until(&self, timeout: Duration, what: &str, check: impl Fn(&AgentProcess) -> bool) {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; agent log:\n{}", self.log());
    }

    /// Kills the process (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn data_dir(&self) -> Option<&Path> {
        self._dir.as_ref().map(|d| d.path())
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` with `Connection: close`.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some(Answer { status, headers: head.to_owned(), body })
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// A TCP echo app on a free loopback port (the services behind the test sidecars).
pub fn echo_app() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    #[allow(clippy::disallowed_methods, reason = "the test hosts the echo app")]
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            #[allow(clippy::disallowed_methods, reason = "one thread per echo connection")]
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Sends a line to 127.0.0.1:`port`; true when the same line comes back.
pub fn echoes(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if s.write_all(b"hello\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).is_ok() && &buf == b"hello\n"
}

/// The Envoy bootstrap `proconsul connect envoy -bootstrap -sidecar-for SERVICE` prints for
/// an agent whose gRPC port is `grpc_port`.
pub fn sidecar_bootstrap(service: &str, grpc_port: u16) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_proconsul"))
        .args(["connect", "envoy", "-bootstrap", "-sidecar-for", service])
        .args(["-grpc-addr", &format!("127.0.0.1:{grpc_port}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
