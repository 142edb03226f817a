//! One HTTP call into the simulated world, made from a client host of its own (an operator
//! or an application talking to an agent), waited for in simulated time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proconsul_runtime_sim::World;
use proconsul_runtime_sim::net::SimNet;
use proconsul_runtime_tokio::api_client::{ApiClient, Query};

/// The HTTP methods scenarios use.
#[derive(Debug, Clone, Copy)]
pub enum Verb {
    /// GET.
    Get,
    /// PUT with a body.
    Put,
    /// POST (as PUT: the agent's endpoints accept both).
    Post,
}

type Answer = Result<(u16, String), String>;

/// Calls `verb path` on `addr` (`ip:port`) and returns the status and body once it
/// answers (at most 10 simulated seconds).
pub fn call(world: &mut World, addr: &str, verb: Verb, path: &str, body: &str) -> Answer {
    let slot: Arc<Mutex<Option<Answer>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    let (addr, url, body) = (addr.to_owned(), path.to_owned(), body.to_owned());
    world.client("http", async move {
        let path = url;
        let answer = async {
            let client = ApiClient::with_net(&addr, Arc::new(SimNet))
                .map_err(|e| e.to_string())?
                .with_timeout(Duration::from_secs(8));
            let (path, q) = match path.split_once('?') {
                Some((p, query)) => {
                    let q = query
                        .split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .fold(Query::new(), |q, (k, v)| q.param(k, v));
                    (p.to_owned(), q)
                }
                None => (path.clone(), Query::new()),
            };
            let r = match verb {
                Verb::Get => client.get(&path, &q).await,
                Verb::Put => client.put(&path, &q, body).await,
                Verb::Post => client.call(hyper_post(), &path, &q, body.into()).await,
            };
            r.map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
                .map_err(|e| format!("{verb:?} {addr}{path}: {e}"))
        }
        .await;
        *lock(&out) = Some(answer);
        Ok(())
    });
    let answered = world.run_until(Duration::from_secs(10), |_| lock(&slot).is_some())?;
    if !answered {
        return Err(format!("{verb:?} {path}: no answer within 10 s"));
    }
    lock(&slot).take().unwrap_or_else(|| Err("no answer".into()))
}

fn hyper_post() -> proconsul_runtime_tokio::api_client::Method {
    proconsul_runtime_tokio::api_client::Method::POST
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
