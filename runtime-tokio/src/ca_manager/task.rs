//! The leader loop: establishes the CA whenever this server leads a new term (so the roots
//! exist before the first leaf request) and prunes rotated-out roots on an interval.

use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{CaManager, Leadership};

/// The running leader loop of one [`CaManager`].
pub struct CaManagerTask {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl CaManagerTask {
    /// Stops the loop and waits for it (an operation in flight finishes or hits its raft
    /// deadline first).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl CaManager {
    /// Starts the leader loop on the current tokio runtime. Call once per server after
    /// [`CaManager::new`]; stop it with [`CaManagerTask::shutdown`] before the raft node.
    pub fn spawn(self: &Arc<Self>) -> CaManagerTask {
        let (stop, stopped) = oneshot::channel();
        let manager = Arc::clone(self);
        #[allow(clippy::disallowed_methods, reason = "the CA leader loop is a runtime driver task")]
        let task = tokio::spawn(manager.run(stopped));
        CaManagerTask { stop: Some(stop), task }
    }

    async fn run(self: Arc<Self>, mut stop: oneshot::Receiver<()>) {
        let mut metrics = self.node.raft().metrics();
        // Leadership term whose first prune already ran, and when the next one is due.
        let mut pruned_in: Option<u64> = None;
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let mut wait = self.config.prune_interval;
            if let Leadership::Leader { term } = self.leadership() {
                let now = self.now();
                match self.establish(now).await {
                    Ok(()) => {
                        let due =
                            pruned_in != Some(term) || tokio::time::Instant::now() >= next_prune;
                        if due {
                            if let Err(e) = self.prune(now).await {
                                tracing::warn!(error = %e, "pruning CA roots failed");
                            }
                            pruned_in = Some(term);
                            next_prune = tokio::time::Instant::now() + self.config.prune_interval;
                        }
                        wait = next_prune.saturating_duration_since(tokio::time::Instant::now());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "establishing the Connect CA failed; retrying");
                        wait = self.config.retry_interval;
                    }
                }
            }
            tokio::select! {
                biased;
                _ = &mut stop => return,
                changed = metrics.changed() => {
                    if changed.is_err() {
                        return; // raft shut down
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
