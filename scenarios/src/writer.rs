//! A stream of KV writes from a client outside the servers, recording which ones the
//! servers acknowledged, so a scenario can check that none of those is ever lost.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proconsul_runtime_sim::World;
use proconsul_runtime_sim::net::SimNet;
use proconsul_runtime_tokio::api_client::{ApiClient, Query};

/// What the writer did.
#[derive(Debug, Default, Clone)]
pub struct WriteLog {
    /// Keys the servers answered `true` for.
    pub acked: BTreeSet<u32>,
    /// Attempts that failed or timed out (their writes may or may not have landed).
    pub failed_attempts: u32,
    /// Whether the writer has finished.
    pub done: bool,
}

/// The key of write `i` of the main stream.
pub fn key(i: u32) -> String {
    keyed("stream", i)
}

/// The key of write `i` under `prefix`.
pub fn keyed(prefix: &str, i: u32) -> String {
    format!("{prefix}/{i:05}")
}

/// Starts a client that writes keys `0..count` one after another, `gap` apart, each to
/// the next server in turn until one acknowledges it (a client of a real cluster would
/// do the same: any server forwards to the leader).
pub fn start(
    world: &mut World,
    servers: Vec<String>,
    count: u32,
    gap: Duration,
) -> Arc<Mutex<WriteLog>> {
    start_with(world, "stream", servers, count, gap, 200)
}

/// [`start`] under `prefix`, giving up on a write after `tries` attempts (then moving on
/// to the next write: a refused write stays unacknowledged).
pub fn start_with(
    world: &mut World,
    prefix: &'static str,
    servers: Vec<String>,
    count: u32,
    gap: Duration,
    tries: u32,
) -> Arc<Mutex<WriteLog>> {
    let log = Arc::new(Mutex::new(WriteLog::default()));
    let out = log.clone();
    world.client(prefix, async move {
        let clients: Vec<ApiClient> = servers
            .iter()
            .map(|addr| ApiClient::with_net(addr, Arc::new(SimNet)))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let clients: Vec<ApiClient> =
            clients.into_iter().map(|c| c.with_timeout(Duration::from_secs(3))).collect();
        let mut next = 0usize;
        for i in 0..count {
            let mut attempts = 0;
            loop {
                let client = &clients[next % clients.len()];
                let path = format!("/v1/kv/{}", keyed(prefix, i));
                match client.put(&path, &Query::new(), i.to_string()).await {
                    Ok(r) if r.body.as_ref() == b"true" => {
                        lock(&out).acked.insert(i);
                        break;
                    }
                    _ => {
                        lock(&out).failed_attempts += 1;
                        next += 1;
                        attempts += 1;
                        if attempts >= tries {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            tokio::time::sleep(gap).await;
        }
        lock(&out).done = true;
        Ok(())
    });
    log
}

fn lock(m: &Mutex<WriteLog>) -> std::sync::MutexGuard<'_, WriteLog> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A snapshot of the log.
pub fn snapshot(log: &Arc<Mutex<WriteLog>>) -> WriteLog {
    lock(log).clone()
}
