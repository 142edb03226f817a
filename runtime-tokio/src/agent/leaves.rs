//! The agent's leaf certificates: one per local service that has a sidecar, with the key
//! made here (it never leaves the agent), signed by the servers, and renewed on the CA's
//! schedule (core `ca::renewal`: between 60% and 90% of the lifetime, or within 30 s after
//! the active root changes).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use proconsul_core::ca::{IssuedCert, generate_leaf_key, leaf_csr, renewal_deadline};
use proconsul_core::ids::{Datacenter, Namespace, Partition, ServiceName, SpiffeId, TrustDomain};
use proconsul_core::rng::Stream;
use proconsul_core::time::UnixTime;
use tokio::sync::watch;

use super::{Agent, lock};
use crate::env::Clock;

/// Signs leaf CSRs: the local CA on a server, the servers' signing endpoint on a client.
pub trait LeafSigner: Send + Sync + 'static {
    /// Signs `csr_der` for `service`; the error names why it was refused.
    fn sign(&self, csr_der: Vec<u8>, service: String) -> BoxFuture<'_, Result<IssuedCert, String>>;
    /// The trust domain and the id of the active root, once the CA exists.
    fn active_root(&self) -> Option<(TrustDomain, String)>;
    /// Called when this agent's server becomes the raft leader (the CA starts there).
    fn on_leadership(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// A leaf with its private key, as `/v1/agent/connect/ca/leaf/:service` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLeaf {
    /// What the CA issued.
    pub cert: IssuedCert,
    /// The leaf's private key (PKCS#8 PEM).
    pub private_key_pem: String,
    /// When to renew.
    pub renew_at: UnixTime,
}

/// The leaves of this agent's services.
pub(crate) struct LeafCache {
    signer: Arc<dyn LeafSigner>,
    rng: Mutex<Stream>,
    leaves: Mutex<BTreeMap<String, SignedLeaf>>,
    /// Serializes signing so one service is never signed twice at once.
    signing: tokio::sync::Mutex<()>,
    /// Bumped when a leaf changes (wakes the proxy manager).
    changes: Arc<watch::Sender<u64>>,
    /// The wall clock renewal deadlines are counted on.
    clock: Arc<dyn Clock>,
}

impl LeafCache {
    pub(crate) fn new(
        signer: Arc<dyn LeafSigner>,
        rng: Stream,
        changes: Arc<watch::Sender<u64>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LeafCache {
            clock,
            signer,
            rng: Mutex::new(rng),
            leaves: Mutex::new(BTreeMap::new()),
            signing: tokio::sync::Mutex::new(()),
            changes,
        }
    }

    pub(crate) fn signer(&self) -> &Arc<dyn LeafSigner> {
        &self.signer
    }

    /// The cached leaf of `service` if it is still good (not due and from the active root).
    pub(crate) fn cached(&self, service: &str) -> Option<SignedLeaf> {
        let active = self.signer.active_root().map(|(_, id)| id);
        let leaves = lock(&self.leaves);
        let leaf = leaves.get(service)?;
        let fresh =
            leaf.renew_at > self.clock.unix() && active.is_none_or(|a| a == leaf.cert.root_id);
        fresh.then(|| leaf.clone())
    }

    /// The leaf of `service`, signing a new one when none is cached or it is due.
    pub(crate) async fn get(
        &self,
        datacenter: &Datacenter,
        service: &str,
    ) -> Result<SignedLeaf, String> {
        if let Some(leaf) = self.cached(service) {
            return Ok(leaf);
        }
        let _guard = self.signing.lock().await;
        if let Some(leaf) = self.cached(service) {
            return Ok(leaf);
        }
        let (trust_domain, _) = self
            .signer
            .active_root()
            .ok_or_else(|| "the Connect CA is not initialized yet".to_owned())?;
        let name = ServiceName::new(service).map_err(|e| format!("service {service:?}: {e}"))?;
        let id = SpiffeId::Service {
            trust_domain,
            partition: Partition::default(),
            namespace: Namespace::default(),
            datacenter: datacenter.clone(),
            service: name,
        };
        let (key, csr) = {
            let mut rng = lock(&self.rng);
            let key = generate_leaf_key(&mut rng).map_err(|e| e.to_string())?;
            let csr = leaf_csr(&id, &key, &[]).map_err(|e| e.to_string())?;
            (key, csr)
        };
        let cert = self.signer.sign(csr, service.to_owned()).await?;
        let renew_at = renewal_deadline(
            cert.valid_after,
            cert.valid_before,
            self.clock.unix(),
            &mut lock(&self.rng),
        );
        let leaf = SignedLeaf { cert, private_key_pem: key.to_pkcs8_pem(), renew_at };
        lock(&self.leaves).insert(service.to_owned(), leaf.clone());
        self.changes.send_modify(|v| *v += 1);
        Ok(leaf)
    }

    /// Forgets the leaves of services no longer local.
    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.leaves).retain(|k, _| keep(k));
    }

    fn due(&self) -> Vec<String> {
        let names: Vec<String> = lock(&self.leaves).keys().cloned().collect();
        names.into_iter().filter(|n| self.cached(n).is_none()).collect()
    }
}

/// Renews due leaves (checked every second: renewal deadlines are in seconds).
pub(crate) async fn renew_loop(agent: Arc<Agent>) {
    let mut stop = agent.shutdown.subscribe();
    loop {
        for service in agent.leaves.due() {
            if let Err(e) = agent.leaves.get(&agent.opts.datacenter, &service).await {
                tracing::warn!("renewing the leaf of {service}: {e}");
            }
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
