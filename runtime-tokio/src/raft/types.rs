//! The raft type configuration: what a log entry carries and what a write answers.

use std::fmt;

use proconsul_core::state::{ApplyOutput, ApplyResult, Command, StateError, WatchKey};

/// openraft's runtime: tokio with seeded randomness. Every openraft task must run inside
/// [`RaftRuntime::scope`]; [`crate::raft::RaftNode::start`] enters it.
pub type RaftRuntime =
    openraft_rt::deterministic_rng::DeterministicRng<openraft_rt_tokio::TokioRuntime>;

/// A raft server's id inside its datacenter's cluster.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Proconsul's raft types: [`Proposal`] in, [`WriteResponse`] out, tokio runtime whose
    /// randomness (election timeouts) comes from a seed, so a simulated cluster replays.
    pub TypeConfig:
        D = Proposal,
        R = WriteResponse,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        AsyncRuntime = RaftRuntime,
);

/// One command proposed to the log. Serialized exactly as the core's [`Command`]
/// (`{"Op": "KvSet", ...}`), so the log format is the core's versioned command format.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Proposal(pub Command);

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Op name only: values (KV bytes, CA keys) never go to logs.
        let op = match &self.0 {
            Command::Register { .. } => "Register",
            Command::DeregisterNode { .. } => "DeregisterNode",
            Command::DeregisterService { .. } => "DeregisterService",
            Command::DeregisterCheck { .. } => "DeregisterCheck",
            Command::UpdateCheckStatus { .. } => "UpdateCheckStatus",
            Command::ConfigEntrySet { .. } => "ConfigEntrySet",
            Command::ConfigEntryDelete { .. } => "ConfigEntryDelete",
            Command::KvSet { .. } => "KvSet",
            Command::KvDelete { .. } => "KvDelete",
            Command::CaSetRoots { .. } => "CaSetRoots",
            Command::CaSetConfig { .. } => "CaSetConfig",
            Command::CaSetProviderState { .. } => "CaSetProviderState",
            Command::AutopilotSetConfig(_) => "AutopilotSetConfig",
            Command::CoordinateBatchUpdate(_) => "CoordinateBatchUpdate",
            Command::SessionCreate(_) => "SessionCreate",
            Command::SessionDestroy(_) => "SessionDestroy",
            Command::SessionRenew(_) => "SessionRenew",
            Command::SessionExpire(_) => "SessionExpire",
            Command::KvLock(_) => "KvLock",
            Command::KvUnlock(_) => "KvUnlock",
            Command::Txn(_) => "Txn",
            Command::PreparedQuerySet(_) => "PreparedQuerySet",
            Command::PreparedQueryDelete(_) => "PreparedQueryDelete",
            Command::SnapshotRestore(_) => "SnapshotRestore",
        };
        f.write_str(op)
    }
}

/// What applying one log entry did, returned to the proposer once it is committed and applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WriteResponse {
    /// The raft index of the entry.
    pub index: u64,
    /// The state machine's answer.
    pub outcome: WriteOutcome,
    /// Watch keys whose index is now `index`. Local to the applying server (not sent over
    /// the wire): every server wakes its own blocking queries from its own apply.
    #[serde(skip)]
    pub changed: Vec<WatchKey>,
    /// The command's answer beyond `outcome` (a transaction's results), sent back to a
    /// forwarding follower too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<ApplyOutput>,
}

/// The state machine's answer to one entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum WriteOutcome {
    /// Applied; `succeeded` is Consul's `true`/`false` (false: a CAS did not match).
    Applied {
        /// Consul's boolean answer.
        succeeded: bool,
    },
    /// The command was refused by the state machine's validation; nothing changed.
    Refused {
        /// The core's [`StateError`], rendered.
        reason: String,
    },
    /// A blank or membership entry: no state machine command.
    NoCommand,
}

impl WriteResponse {
    pub(super) fn from_apply(index: u64, result: Result<ApplyResult, StateError>) -> Self {
        match result {
            Ok(r) => WriteResponse {
                index,
                outcome: WriteOutcome::Applied { succeeded: r.succeeded },
                changed: r.changed,
                output: r.output,
            },
            Err(e) => WriteResponse {
                index,
                outcome: WriteOutcome::Refused { reason: e.to_string() },
                changed: Vec::new(),
                output: None,
            },
        }
    }

    pub(super) fn no_command(index: u64) -> Self {
        WriteResponse { index, outcome: WriteOutcome::NoCommand, changed: Vec::new(), output: None }
    }
}
