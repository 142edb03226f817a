//! Consul's DNS interface on UDP and TCP (default port 8600), with hickory-proto for the
//! wire format. Every decision (what a name means, which records answer it) is
//! `proconsul_core::dns`; this module moves bytes and reads the catalog.
//!
//! ```text
//!  UDP datagram / TCP frame ─► wire::decode ─► core plan ─► DnsCatalog read (stale) ─► core answer
//!                                 │ FORMERR / NOTIMP / drop                              │
//!  reply (≤512 B, or the EDNS size; TC if cut) ◄────────── wire::encode ◄────────────────┘
//! ```

mod catalog;
mod handler;
mod server;
mod wire;

use std::io;
use std::sync::Arc;

pub use catalog::DnsCatalog;
pub use proconsul_core::dns::{DnsConfig, Domain};

use handler::Handler;

use crate::env::{Datagram, Listener};

/// Serves DNS for `config.domain` on both sockets until the UDP socket fails (TCP accept
/// errors are retried). Bind both to the same port, as Consul does (8600).
///
/// Run it in a task and abort or drop that task to stop: every query task it started
/// stops with it.
pub async fn serve(
    udp: Box<dyn Datagram>,
    tcp: Box<dyn Listener>,
    catalog: Arc<dyn DnsCatalog>,
    config: DnsConfig,
) -> io::Result<()> {
    let handler = Arc::new(Handler { catalog, config });
    tokio::try_join!(server::serve_udp(udp, handler.clone()), server::serve_tcp(tcp, handler))?;
    Ok(())
}
