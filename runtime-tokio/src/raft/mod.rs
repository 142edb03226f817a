//! openraft hosting for the replicated state machine in `proconsul_core::state` (DESIGN.md §3).
//!
//! ```text
//!  RaftNode::write(cmd) ─► Raft::client_write ─► LogStore::append (redb commit, then IOFlushed)
//!                                                     │ replicated, committed
//!  RaftNode::read(Consistent) ─► ensure_linearizable ─┤
//!                                                     ▼
//!                          StateMachineStore::apply ─► core StateMachine::apply(index, &cmd)
//! ```
//!
//! Durability: the vote, the committed log id and every log entry are committed to redb
//! before openraft is told they are flushed. The core state machine lives in memory; its
//! durable form is the latest snapshot (bytes from `StateMachine::snapshot`, plus its
//! `SnapshotMeta`), which a server keeps in a redb file of its own (tests may share the log's).
//! On restart the state is restored from that snapshot and openraft re-applies the committed
//! entries after it from the log.
//!
//! Between servers, [`rpc`] carries raft traffic and forwarded writes over tonic on one port;
//! [`mem_network`] is the in-process equivalent for tests.
//!
//! redb is synchronous: the log store commits on its own writer thread, batching what is
//! queued into one fsync ([`LogStore::inline`] keeps writes on the calling task, for
//! deterministic hosts); snapshots are serialised and written from a frozen copy of the state
//! on tokio's blocking pool ([`SnapshotWork`]), inline on deterministic hosts.

mod log_store;
pub mod mem_network;
mod node;
pub mod rpc;
mod snapshot_cadence;
mod state_machine;
mod types;

pub use log_store::{LogStore, open_database, open_database_on, open_in_memory_database};
pub use node::{NodeError, RaftNode, ReadConsistency};
pub use snapshot_cadence::SnapshotCadence;
pub use state_machine::{SharedState, SnapshotWork, StateMachineStore};
pub use types::{NodeId, Proposal, RaftRuntime, TypeConfig, WriteOutcome, WriteResponse};

/// The openraft handle this runtime hosts.
pub type ProconsulRaft = openraft::Raft<TypeConfig, StateMachineStore>;

fn io_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> std::io::Error {
    std::io::Error::other(e)
}
