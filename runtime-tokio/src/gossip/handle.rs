//! Starting a pool and talking to its task.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use proconsul_core::gossip::{GossipError, Identity, Member, Pool, Profile};
use proconsul_core::ids::{Datacenter, NodeName};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use super::driver::{Driver, Request};
use crate::env::Datagram;

/// Requests in flight to the task; callers wait for a reply, so a handful is plenty.
const REQUEST_QUEUE: usize = 16;

/// How one agent takes part in one pool.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// Our member name (the node name).
    pub node_name: NodeName,
    /// Our datacenter.
    pub datacenter: Datacenter,
    /// Where the UDP socket binds (`0.0.0.0:8301` for Consul's LAN port; port 0 picks one).
    pub bind: SocketAddr,
    /// The address peers reach us at; defaults to the bound address, which must then be a
    /// specific IP.
    pub advertise: Option<SocketAddr>,
    /// Our tags (see [`proconsul_core::gossip::tags`]).
    pub tags: BTreeMap<String, String>,
    /// Timings: LAN, WAN, dev or custom.
    pub profile: Profile,
    /// Seed of the pool's randomness (probe order, gossip targets).
    pub seed: u64,
}

/// Starts gossip pools.
pub struct Gossip;

impl Gossip {
    /// Binds the socket and starts the pool's task on the current tokio runtime. Errors:
    /// the bind failed, no runtime is running, or the config is refused (`InvalidInput`
    /// naming the field: an unspecified advertise address, oversized tags, bad timings).
    pub fn start(config: GossipConfig) -> io::Result<GossipHandle> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let std_socket = std::net::UdpSocket::bind(config.bind)?;
        std_socket.set_nonblocking(true)?;
        let socket = {
            let _entered = runtime.enter();
            tokio::net::UdpSocket::from_std(std_socket)?
        };
        Self::start_on(config, crate::env::tokio_udp(socket))
    }

    /// [`Gossip::start`] on a socket already bound (through any [`crate::env::Net`];
    /// `config.bind` is then only informative).
    pub fn start_on(config: GossipConfig, socket: Box<dyn Datagram>) -> io::Result<GossipHandle> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let local_addr = socket.local_addr()?;
        let advertise = config.advertise.unwrap_or(local_addr);
        let identity = Identity::new(config.node_name, config.datacenter, advertise, config.tags)
            .map_err(|e| invalid_input(e.into()))?;
        let pool = Pool::new(identity, config.profile, config.seed).map_err(invalid_input)?;
        let join_wait = (pool.timings().probe_timeout * 2).max(Duration::from_secs(1));
        let (members_tx, members) = watch::channel(pool.members());
        let (requests_tx, requests) = mpsc::channel(REQUEST_QUEUE);
        let driver = Driver {
            pool,
            socket,
            // The driver's clock: tokio's, which turmoil and paused tests virtualize.
            epoch: tokio::time::Instant::now(),
            requests,
            members: members_tx,
        };
        #[allow(
            clippy::disallowed_methods,
            reason = "the gossip driver is the runtime's task owning the socket"
        )]
        let task = runtime.spawn(driver.run());
        let inner = Inner {
            requests: requests_tx,
            members,
            local_addr,
            advertise,
            join_wait,
            task: task.abort_handle(),
        };
        Ok(GossipHandle { inner: Arc::new(inner) })
    }
}

fn invalid_input(error: GossipError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

struct Inner {
    requests: mpsc::Sender<Request>,
    members: watch::Receiver<Vec<Member>>,
    local_addr: SocketAddr,
    advertise: SocketAddr,
    join_wait: Duration,
    task: AbortHandle,
}

/// A running pool. Clones share it; the task stops when every clone is dropped, on
/// [`GossipHandle::leave`], or on [`GossipHandle::shutdown`].
#[derive(Clone)]
pub struct GossipHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GossipHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipHandle")
            .field("local_addr", &self.inner.local_addr)
            .field("advertise", &self.inner.advertise)
            .finish_non_exhaustive()
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the gossip task has stopped")
}

impl GossipHandle {
    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address peers know us by.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise
    }

    /// Announces us to each address and waits (at most twice the probe timeout, and at
    /// least a second) for them to answer. Returns how many answered: 0 means retry later,
    /// as Consul's `-retry-join` does. Our own address is skipped. An address that answers
    /// under a different advertised address is not counted, though the join still works.
    pub async fn join(&self, addrs: &[SocketAddr]) -> usize {
        let (reply, sent) = oneshot::channel();
        let request = Request::Join { addrs: addrs.to_vec(), reply };
        if self.inner.requests.send(request).await.is_err() {
            return 0;
        }
        let Ok(sent) = sent.await else { return 0 };
        let answered = |members: &[Member]| {
            sent.iter()
                .filter(|a| members.iter().any(|m| m.addr == **a && m.status.is_active()))
                .count()
        };
        let mut watch = self.inner.members.clone();
        let all = sent.len();
        let _ = tokio::time::timeout(self.inner.join_wait, watch.wait_for(|m| answered(m) == all))
            .await;
        answered(&watch.borrow())
    }

    /// Every member including us, sorted by name, as of the last change.
    pub fn members(&self) -> Vec<Member> {
        self.inner.members.borrow().clone()
    }

    /// A receiver that sees the member list change on every membership change (joins,
    /// suspicion, failures, leaves, tag updates).
    pub fn subscribe(&self) -> watch::Receiver<Vec<Member>> {
        self.inner.members.clone()
    }

    /// Replaces our tags; peers see the member updated.
    pub async fn set_tags(&self, tags: BTreeMap<String, String>) -> io::Result<()> {
        let (reply, done) = oneshot::channel();
        let request = Request::SetTags { tags, reply };
        self.inner.requests.send(request).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?.map_err(invalid_input)
    }

    /// Leaves gracefully: peers record us as left, not failed. Returns once the goodbye is
    /// sent; the task then stops and [`GossipHandle::members`] keeps the final list.
    pub async fn leave(&self) -> io::Result<()> {
        let (reply, done) = oneshot::channel();
        self.inner.requests.send(Request::Leave { reply }).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())
    }

    /// Stops at once without a goodbye (peers will declare us failed), closing the socket.
    pub fn shutdown(&self) {
        self.inner.task.abort();
    }
}
