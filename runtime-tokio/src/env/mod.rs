//! The world an agent runs in: its network, its wall clock and, for simulated hosts, the
//! disk its raft database lives on. Production plugs the OS ([`Env::tokio`]); runtime-sim
//! plugs turmoil's sockets, the simulated epoch and a crash-aware disk. Everything else
//! (tasks, timers) is tokio's, which turmoil hosts already are.

mod adapters;
mod clock;
mod net;

use std::fmt;
use std::io;
use std::sync::Arc;

pub use adapters::{AxumListener, NetConnector, NetStream, incoming};
pub use clock::{Clock, SystemClock};
pub use net::{BoxConn, Conn, Datagram, Listener, Net, TokioNet, tokio_listener, tokio_udp};

/// Opens a server's raft database on a disk the world owns (the simulation's disk model,
/// which keeps what was synced across a crash and loses the rest).
pub trait RaftDisk: Send + Sync + 'static {
    /// The log's database as it survived (a fresh one on first use).
    fn open(&self) -> io::Result<Arc<redb::Database>>;
    /// The snapshot database as it survived (a fresh one on first use).
    fn open_snapshots(&self) -> io::Result<Arc<redb::Database>>;
}

/// Network, clock and (optionally) disk of one agent.
#[derive(Clone)]
pub struct Env {
    /// Sockets.
    pub net: Arc<dyn Net>,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
    /// The raft database's disk; `None`: the data directory's file (or memory for `-dev`),
    /// written by a dedicated log thread.
    pub raft_disk: Option<Arc<dyn RaftDisk>>,
    /// Seeds openraft's election timers (drawn per task from this seed).
    pub raft_seed: Option<u64>,
    /// Sign certificates with the core's deterministic (RFC 6979) signer rather than
    /// ring's faster one, whose random nonces make every signature different: a simulation
    /// replays byte for byte only with this set.
    pub deterministic_signing: bool,
}

impl Env {
    /// The operating system's sockets, clock and files.
    pub fn tokio() -> Self {
        Env {
            net: Arc::new(TokioNet),
            clock: Arc::new(SystemClock),
            raft_disk: None,
            raft_seed: None,
            deterministic_signing: false,
        }
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::tokio()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("raft_disk", &self.raft_disk.is_some())
            .field("raft_seed", &self.raft_seed)
            .field("deterministic_signing", &self.deterministic_signing)
            .finish_non_exhaustive()
    }
}
