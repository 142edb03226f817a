//! The network the drivers use: TCP listen/connect and UDP, as trait objects so one agent
//! implementation runs on the OS's sockets (production, integration tests) and on turmoil's
//! simulated ones (runtime-sim). Only addresses cross the seam: name resolution is the
//! world's business ([`Net::connect_host`]).

use std::io;
use std::net::{IpAddr, SocketAddr};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream: a TCP connection in either world.
pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

/// An owned connection.
pub type BoxConn = Box<dyn Conn>;

/// A bound TCP listener.
pub trait Listener: Send + Sync + 'static {
    /// The next connection and its peer (cancel-safe).
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxConn, SocketAddr)>>;
    /// The address bound (the port the world picked when asked for 0).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A bound UDP socket.
pub trait Datagram: Send + Sync + 'static {
    /// Sends one datagram.
    fn send_to<'a>(&'a self, buf: &'a [u8], to: SocketAddr) -> BoxFuture<'a, io::Result<usize>>;
    /// Receives one datagram (cancel-safe).
    fn recv_from<'a>(&'a self, buf: &'a mut [u8])
    -> BoxFuture<'a, io::Result<(usize, SocketAddr)>>;
    /// The address bound.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// The sockets of one world.
pub trait Net: Send + Sync + 'static {
    /// Listens on `addr` (port 0: the world picks one).
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;
    /// Connects to `addr`.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConn>>;
    /// Binds a UDP socket on `addr`.
    fn bind_udp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Datagram>>>;
    /// Connects to `host:port`, where `host` is an IP address (or a name the world can
    /// resolve: the OS resolves names, the simulation only knows addresses).
    fn connect_host(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxConn>> {
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => self.connect(SocketAddr::new(ip, port)),
            Err(_) => {
                let host = host.to_owned();
                Box::pin(async move {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{host}: not an IP address, and this network resolves no names"),
                    ))
                })
            }
        }
    }
}

impl std::fmt::Debug for dyn Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Net")
    }
}

/// The operating system's sockets through tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioNet;

struct TokioListener(tokio::net::TcpListener);

/// An already bound tokio listener as a [`Listener`].
pub fn tokio_listener(listener: tokio::net::TcpListener) -> Box<dyn Listener> {
    Box::new(TokioListener(listener))
}
struct TokioUdp(tokio::net::UdpSocket);

/// An already bound tokio UDP socket as a [`Datagram`].
pub fn tokio_udp(socket: tokio::net::UdpSocket) -> Box<dyn Datagram> {
    Box::new(TokioUdp(socket))
}

impl Listener for TokioListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxConn, SocketAddr)>> {
        Box::pin(async move {
            let (stream, peer) = self.0.accept().await?;
            // Every protocol here is request/response: no Nagle delay on small frames.
            let _ = stream.set_nodelay(true);
            Ok((Box::new(stream) as BoxConn, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Datagram for TokioUdp {
    fn send_to<'a>(&'a self, buf: &'a [u8], to: SocketAddr) -> BoxFuture<'a, io::Result<usize>> {
        Box::pin(self.0.send_to(buf, to))
    }

    fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> BoxFuture<'a, io::Result<(usize, SocketAddr)>> {
        Box::pin(self.0.recv_from(buf))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Net for TokioNet {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TokioListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConn>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream) as BoxConn)
        })
    }

    fn bind_udp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Datagram>>> {
        Box::pin(async move {
            let socket = tokio::net::UdpSocket::bind(addr).await?;
            Ok(Box::new(TokioUdp(socket)) as Box<dyn Datagram>)
        })
    }

    fn connect_host(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<BoxConn>> {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        Box::pin(async move {
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
            for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
                match tokio::net::TcpStream::connect(addr).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(Box::new(stream) as BoxConn);
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}
