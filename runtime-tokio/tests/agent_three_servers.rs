//! Three `proconsul agent -server -bootstrap-expect 3` processes on loopback, forming a
//! cluster through gossip. 1,000 catalog registrations are sent concurrently through all
//! three; the leader is killed with SIGKILL in the middle. Every registration that was
//! acknowledged (200 `true`) must be in the catalog once a new leader is elected, and again
//! after all three are killed and restarted from their data directories.
//!
//! The servers look every 100-200 ms and snapshot once 200 entries piled up, keeping 50
//! behind a snapshot, so the run takes several snapshots (kill -9 may land in the middle of
//! one), the restart restores from the snapshot file plus the log, and the killed server,
//! 700 entries behind, is caught up by an installed snapshot.

mod agent_support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_support::{AgentProcess, Ports, http};
use serde_json::json;

const REGISTRATIONS: usize = 1000;
const CLIENTS: usize = 16;
/// Acknowledged registrations before the leader is killed.
const KILL_AFTER: usize = 300;

fn server_args(name: &str, ports: &Ports, dir: &std::path::Path, join: u16) -> Vec<String> {
    let mut args: Vec<String> =
        ["agent", "-server", "-bootstrap-expect", "3", "-bind", "127.0.0.1", "-node", name]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend(["-data-dir".into(), dir.display().to_string()]);
    let config = dir.join("snapshots.hcl");
    std::fs::write(&config, "raft_snapshot_threshold = 200\nraft_trailing_logs = 50\nraft_snapshot_interval = \"100ms\"\n")
        .expect("write the config file");
    args.extend(["-config-file".into(), config.display().to_string()]);
    args.extend(["-retry-join".into(), format!("127.0.0.1:{join}")]);
    args.extend(ports.args());
    args
}

struct Cluster {
    names: Vec<String>,
    ports: Vec<Ports>,
    dirs: Vec<tempfile::TempDir>,
    procs: Vec<Option<AgentProcess>>,
}

impl Cluster {
    fn start() -> Cluster {
        let names: Vec<String> = (1..=3).map(|i| format!("server-{i}")).collect();
        let ports: Vec<Ports> = (0..3).map(|_| Ports::free()).collect();
        let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut c = Cluster { names, ports, dirs, procs: vec![None, None, None] };
        c.boot_all();
        c
    }

    /// Starts every server concurrently (each waits for a leader, which needs the others).
    fn boot_all(&mut self) {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let args = server_args(
                    &self.names[i],
                    &self.ports[i],
                    self.dirs[i].path(),
                    self.ports[(i + 1) % 3].serf_lan,
                );
                let ports = self.ports[i];
                #[allow(
                    clippy::disallowed_methods,
                    reason = "the test starts processes in parallel"
                )]
                std::thread::spawn(move || AgentProcess::spawn(args, ports, None))
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            self.procs[i] = Some(h.join().expect("server starts and sees a leader"));
        }
    }

    fn alive(&self) -> impl Iterator<Item = &AgentProcess> {
        self.procs.iter().flatten()
    }

    /// The index of the leader, by its RPC port in `/v1/status/leader`.
    fn leader(&self) -> Option<usize> {
        let any = self.alive().next()?;
        let r = any.try_http("GET", "/v1/status/leader?stale", "")?;
        let addr: String = serde_json::from_str(&r.body).ok()?;
        let port: u16 = addr.rsplit_once(':')?.1.parse().ok()?;
        (0..3).find(|i| self.ports[*i].server == port && self.procs[*i].is_some())
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.procs[i].take() {
            p.kill();
        }
    }

    /// Service names in the catalog, read consistently from the leader.
    fn services(&self) -> BTreeSet<String> {
        let out = std::cell::RefCell::new(BTreeSet::new());
        let any = self.alive().next().unwrap();
        any.wait_until(Duration::from_secs(30), "a consistent catalog read on the leader", |_| {
            let Some(leader) = self.leader().and_then(|l| self.procs[l].as_ref()) else {
                return false;
            };
            let Some(r) = leader.try_http("GET", "/v1/catalog/services", "") else { return false };
            match serde_json::from_str(&r.body) {
                Ok(serde_json::Value::Object(m)) if r.status == 200 => {
                    *out.borrow_mut() = m.keys().cloned().collect();
                    true
                }
                _ => false,
            }
        });
        out.into_inner()
    }
}

fn register(port: u16, i: usize) -> bool {
    let body = json!({
        "Node": format!("node-{i}"),
        "Address": "10.0.0.1",
        "Service": {"Service": format!("svc-{i}"), "Port": 8080},
    })
    .to_string();
    http(port, "PUT", "/v1/catalog/register", &body)
        .is_some_and(|r| r.status == 200 && r.body.trim() == "true")
}

#[test]
fn acknowledged_registrations_survive_a_leader_kill_and_a_full_restart() {
    let mut cluster = Cluster::start();
    let leader = cluster.alive().next().unwrap();
    leader.wait_until(Duration::from_secs(20), "three servers in the pool", |a| {
        a.try_http("GET", "/v1/agent/members", "")
            .is_some_and(|r| r.body.matches("\"Status\":1").count() == 3)
    });
    let doomed = cluster.leader().expect("a leader");

    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let http_ports: Vec<u16> = cluster.ports.iter().map(|p| p.http).collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (next, acked, ports) = (next.clone(), acked.clone(), http_ports.clone());
            #[allow(clippy::disallowed_methods, reason = "concurrent HTTP clients")]
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= REGISTRATIONS {
                        return;
                    }
                    // Try each server in turn until one acknowledges (the killed one
                    // refuses connections; the others forward to whoever leads).
                    for attempt in 0..30 {
                        let port = ports[(c + i + attempt) % ports.len()];
                        if register(port, i) {
                            acked.lock().unwrap().insert(format!("svc-{i}"));
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();

    while acked.lock().unwrap().len() < KILL_AFTER {
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.kill(doomed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > KILL_AFTER, "registrations continued after the kill: {}", acked.len());

    let new_leader = cluster.leader().expect("a new leader");
    assert_ne!(new_leader, doomed, "the killed server cannot lead");
    let present = cluster.services();
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged registrations lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    // Kill the survivors too, then start all three from their data directories.
    for i in 0..3 {
        cluster.kill(i);
    }
    cluster.boot_all();
    let after_restart = cluster.services();
    let lost: Vec<&String> = acked.difference(&after_restart).collect();
    assert!(
        lost.is_empty(),
        "{} registrations lost across the restart, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    for dir in &cluster.dirs {
        let snapshot = dir.path().join("raft-snapshot.redb");
        let size = std::fs::metadata(&snapshot).map_or(0, |m| m.len());
        assert!(
            size > 100_000,
            "{} holds a snapshot of the catalog ({size} B)",
            snapshot.display()
        );
    }
    eprintln!(
        "acknowledged {} of {REGISTRATIONS} registrations, all present after the leader kill and after a full restart",
        acked.len()
    );
}
