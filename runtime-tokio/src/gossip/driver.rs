//! The task that owns the socket and the pool.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use proconsul_core::gossip::{GossipError, Member, MemberEvent, Pool};
use proconsul_core::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// Larger than foca's 1400-byte packets, so an oversized datagram arrives whole and is
/// refused as too big instead of being truncated into garbage.
const RECV_BUFFER_BYTES: usize = 2048;

/// How far ahead to sleep when the pool has no deadline (it left, or has no timers).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// What a [`super::GossipHandle`] asks of the task.
pub(super) enum Request {
    /// Announce to each address; reply with the ones an announce was sent to.
    Join { addrs: Vec<SocketAddr>, reply: oneshot::Sender<Vec<SocketAddr>> },
    /// Leave the pool, send the goodbye, reply, and stop.
    Leave { reply: oneshot::Sender<()> },
    /// Replace our tags.
    SetTags { tags: BTreeMap<String, String>, reply: oneshot::Sender<Result<(), GossipError>> },
}

/// What woke the task.
enum Wake {
    Request(Option<Request>),
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Timer,
}

pub(super) struct Driver {
    pub(super) pool: Pool,
    pub(super) socket: Box<dyn crate::env::Datagram>,
    /// The core's `Instant::ZERO`.
    pub(super) epoch: tokio::time::Instant,
    pub(super) requests: mpsc::Receiver<Request>,
    pub(super) members: watch::Sender<Vec<Member>>,
}

impl Driver {
    /// Runs until the last handle is dropped, the pool leaves, or the task is aborted.
    pub(super) async fn run(mut self) {
        let mut buf = vec![0u8; RECV_BUFFER_BYTES];
        let mut published = self.pool.members_version();
        loop {
            let deadline = match self.pool.poll_timeout() {
                Some(at) => self.epoch + Duration::from_nanos(at.nanos()),
                None => tokio::time::Instant::now() + IDLE_WAIT,
            };
            // Due timers before datagrams: a busy socket must not starve the probe cycle
            // (handling a timer makes it not due, so datagrams cannot starve either).
            let wake = tokio::select! {
                biased;
                request = self.requests.recv() => Wake::Request(request),
                () = tokio::time::sleep_until(deadline) => Wake::Timer,
                received = self.socket.recv_from(&mut buf) => Wake::Datagram(received),
            };
            let now = self.now();
            match wake {
                Wake::Request(None) => return,
                Wake::Request(Some(request)) => {
                    if self.serve(request).await {
                        return;
                    }
                }
                Wake::Datagram(Ok((len, from))) => {
                    if let Err(error) = self.pool.handle_data(now, &buf[..len]) {
                        tracing::debug!(%from, %error, "gossip: datagram refused");
                    }
                }
                // Some platforms report an earlier send's ICMP error here; the socket itself
                // is fine.
                Wake::Datagram(Err(error)) => tracing::debug!(%error, "gossip: receive failed"),
                Wake::Timer => self.pool.handle_timeout(now),
            }
            self.flush().await;
            published = self.publish(published);
        }
    }

    /// Serves one request; true when the task should stop.
    async fn serve(&mut self, request: Request) -> bool {
        let now = self.now();
        match request {
            Request::Join { addrs, reply } => {
                let mut sent = Vec::new();
                for addr in addrs {
                    match self.pool.join(now, addr) {
                        Ok(()) => sent.push(addr),
                        Err(error) => tracing::info!(%addr, %error, "gossip: not joining"),
                    }
                }
                self.flush().await;
                let _ = reply.send(sent);
                false
            }
            Request::Leave { reply } => {
                if let Err(error) = self.pool.leave(now) {
                    tracing::warn!(%error, "gossip: leave failed, stopping anyway");
                }
                self.flush().await;
                self.publish(self.pool.members_version().wrapping_sub(1));
                let _ = reply.send(());
                true
            }
            Request::SetTags { tags, reply } => {
                let result = self.pool.set_tags(now, tags);
                self.flush().await;
                let _ = reply.send(result);
                false
            }
        }
    }

    /// The core's notion of now: time since the driver started.
    fn now(&self) -> Instant {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.epoch);
        Instant(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Sends every queued datagram and logs every event, as Serf logs member events.
    async fn flush(&mut self) {
        while let Some((to, bytes)) = self.pool.poll_transmit() {
            if let Err(error) = self.socket.send_to(&bytes, to).await {
                tracing::debug!(%to, %error, "gossip: send failed");
            }
        }
        while let Some(event) = self.pool.poll_event() {
            let m = event.member();
            let (name, addr) = (m.name.as_str(), m.addr);
            match event {
                MemberEvent::Up(_) => tracing::info!(name, %addr, "gossip: member joined"),
                MemberEvent::Updated(_) => tracing::info!(name, %addr, "gossip: member updated"),
                MemberEvent::Failed(_) => tracing::info!(name, %addr, "gossip: member failed"),
                MemberEvent::Left(_) => tracing::info!(name, %addr, "gossip: member left"),
            }
        }
    }

    /// Republishes the member list if it changed since `published`; returns the version
    /// now published.
    fn publish(&self, published: u64) -> u64 {
        let version = self.pool.members_version();
        if version != published {
            self.members.send_replace(self.pool.members());
        }
        version
    }
}
