//! [`Net`] over turmoil's simulated sockets. turmoil binds only the unspecified address (or
//! localhost), so a bind keeps the port and drops the IP: every host owns its IP anyway.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use futures::future::BoxFuture;
use proconsul_runtime_tokio::env::{BoxConn, Datagram, Listener, Net};

/// The simulated network of the host the calling task runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimNet;

struct SimListener(turmoil::net::TcpListener);
struct SimUdp(turmoil::net::UdpSocket);

/// The address turmoil accepts for a bind on `addr`.
fn bindable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_loopback() {
        addr
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port())
    }
}

impl Listener for SimListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxConn, SocketAddr)>> {
        Box::pin(async move {
            let (stream, peer) = self.0.accept().await?;
            Ok((Box::new(stream) as BoxConn, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Datagram for SimUdp {
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

impl Net for SimNet {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = turmoil::net::TcpListener::bind(bindable(addr)).await?;
            Ok(Box::new(SimListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConn>> {
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect(addr).await?;
            Ok(Box::new(stream) as BoxConn)
        })
    }

    fn bind_udp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Datagram>>> {
        Box::pin(async move {
            let socket = turmoil::net::UdpSocket::bind(bindable(addr)).await?;
            Ok(Box::new(SimUdp(socket)) as Box<dyn Datagram>)
        })
    }
}
