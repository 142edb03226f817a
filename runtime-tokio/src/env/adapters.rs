//! [`Net`] plugged into the servers and clients the drivers use: axum's `serve`, tonic's
//! `serve_with_incoming`, and hyper/tonic client connectors.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::net::{BoxConn, Listener, Net};

/// A [`Listener`] for `axum::serve`.
pub struct AxumListener(pub Box<dyn Listener>);

impl axum::serve::Listener for AxumListener {
    type Io = BoxConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (BoxConn, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok(accepted) => return accepted,
                // Out of descriptors and the like: wait instead of spinning.
                Err(e) => {
                    tracing::debug!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// An accepted or dialled connection with its addresses, as tonic and hyper want it.
pub struct NetStream {
    inner: BoxConn,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl NetStream {
    /// Wraps `inner`, remembering its addresses when known.
    pub fn new(inner: BoxConn, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Self {
        NetStream { inner, local, peer }
    }
}

impl AsyncRead for NetStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for NetStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo { local_addr: self.local, remote_addr: self.peer }
    }
}

impl Connection for NetStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// The connections `listener` accepts, for tonic's `serve_with_incoming`.
pub fn incoming(listener: Box<dyn Listener>) -> impl Stream<Item = io::Result<NetStream>> + Send {
    let local = listener.local_addr().ok();
    futures::stream::unfold(Arc::new(listener), move |listener| async move {
        let next =
            listener.accept().await.map(|(conn, peer)| NetStream::new(conn, local, Some(peer)));
        Some((next, listener))
    })
}

/// A hyper (and tonic) client connector dialling through a [`Net`], each attempt bounded.
#[derive(Clone)]
pub struct NetConnector {
    net: Arc<dyn Net>,
    timeout: Duration,
}

impl NetConnector {
    /// Dials through `net`, giving up on one attempt after `timeout`.
    pub fn new(net: Arc<dyn Net>, timeout: Duration) -> Self {
        NetConnector { net, timeout }
    }
}

impl tower::Service<Uri> for NetConnector {
    type Response = TokioIo<NetStream>;
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<TokioIo<NetStream>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let (net, timeout) = (self.net.clone(), self.timeout);
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: no host"))
            })?;
            let port = uri.port_u16().unwrap_or(80);
            let dial = net.connect_host(host, port);
            let conn = tokio::time::timeout(timeout, dial).await.map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {host}:{port}"))
            })??;
            Ok(TokioIo::new(NetStream::new(conn, None, None)))
        })
    }
}
