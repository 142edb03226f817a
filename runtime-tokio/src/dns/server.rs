//! The UDP and TCP listeners. Each query runs in its own task, in a bounded set owned by its
//! listener, so one slow catalog read never stalls the socket and dropping [`serve`] stops
//! everything it started.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::env::{BoxConn, Datagram, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

use super::handler::Handler;
use super::wire::Transport;

/// UDP queries answered at once; beyond this, datagrams are dropped and clients retry.
const MAX_UDP_IN_FLIGHT: usize = 1024;
/// Open TCP connections; beyond this, new ones are closed at once.
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP connection with no new query for this long is closed (miekg/dns's default, which
/// Consul runs on).
const TCP_IDLE: Duration = Duration::from_secs(8);
/// Bound on reading one framed query and on writing its answer.
const TCP_IO: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (often out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Answers UDP datagrams until the socket fails.
pub(crate) async fn serve_udp(socket: Box<dyn Datagram>, handler: Arc<Handler>) -> io::Result<()> {
    let socket: Arc<dyn Datagram> = Arc::from(socket);
    let mut in_flight = JoinSet::new();
    // The largest datagram IP carries; anything bigger than a query needs is still read
    // whole so it is answered FORMERR rather than misparsed.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        while in_flight.try_join_next().is_some() {}
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // ICMP errors from an earlier send surface here on some platforms.
            Err(e) if is_transient(&e) => continue,
            Err(e) => return Err(e),
        };
        if in_flight.len() >= MAX_UDP_IN_FLIGHT {
            tracing::debug!(%peer, "dns: too many queries in flight, dropping a datagram");
            continue;
        }
        let packet = buf[..len].to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        in_flight.spawn(async move {
            if let Some(reply) = handler.handle(&packet, Transport::Udp).await
                && let Err(e) = socket.send_to(&reply, peer).await
            {
                tracing::debug!(%peer, error = %e, "dns: udp reply not sent");
            }
        });
    }
}

/// Accepts TCP connections forever; failed accepts are logged and retried.
pub(crate) async fn serve_tcp(
    listener: Box<dyn Listener>,
    handler: Arc<Handler>,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "dns: tcp accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if connections.len() >= MAX_TCP_CONNECTIONS {
            tracing::debug!(%peer, "dns: too many tcp connections, closing a new one");
            continue;
        }
        connections.spawn(serve_connection(stream, handler.clone()));
    }
}

/// Queries on one connection, each framed by a two-byte length (RFC 1035 §4.2.2), answered
/// in order until the client closes, idles, or sends something that is not DNS.
async fn serve_connection(mut stream: BoxConn, handler: Arc<Handler>) {
    loop {
        let mut len = [0u8; 2];
        if !matches!(tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await, Ok(Ok(_))) {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(tokio::time::timeout(TCP_IO, stream.read_exact(&mut packet)).await, Ok(Ok(_)))
        {
            return;
        }
        let Some(reply) = handler.handle(&packet, Transport::Tcp).await else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            tracing::warn!(len = reply.len(), "dns: reply larger than a tcp frame");
            return;
        };
        let mut frame = Vec::with_capacity(reply.len() + 2);
        frame.extend_from_slice(&reply_len.to_be_bytes());
        frame.extend_from_slice(&reply);
        if !matches!(tokio::time::timeout(TCP_IO, stream.write_all(&frame)).await, Ok(Ok(()))) {
            return;
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
