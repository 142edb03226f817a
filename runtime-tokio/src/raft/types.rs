//! The raft type configuration: what a log entry carries and what a write answers.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;

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
///
/// Cloning is cheap and clones share the command's JSON once it exists: a leader encodes an
/// entry once (for its log) and sends those bytes to every follower; a follower keeps the
/// bytes it received and writes them to its log as they are. openraft clones an entry each
/// time it reads it back (to replicate it, to apply it), so a deep copy per read is avoided
/// too.
#[derive(Clone)]
pub struct Proposal(Arc<Encoded>);

struct Encoded {
    command: Command,
    json: OnceLock<Box<RawValue>>,
}

impl Proposal {
    /// A proposal of `command`, not encoded yet.
    pub fn new(command: Command) -> Self {
        Proposal(Arc::new(Encoded { command, json: OnceLock::new() }))
    }

    /// The proposed command.
    pub fn command(&self) -> &Command {
        &self.0.command
    }

    /// The command's JSON, encoded on first use.
    fn json(&self) -> Result<&RawValue, serde_json::Error> {
        if let Some(raw) = self.0.json.get() {
            return Ok(raw);
        }
        let raw = serde_json::value::to_raw_value(&self.0.command)?;
        Ok(self.0.json.get_or_init(|| raw))
    }
}

impl fmt::Debug for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Proposal").field(&self.0.command).finish()
    }
}

impl PartialEq for Proposal {
    fn eq(&self, other: &Self) -> bool {
        self.0.command == other.0.command
    }
}

/// Writes the shared JSON verbatim. Entries only ever travel and rest as JSON (the log,
/// the server RPC); another serializer would see serde_json's raw-value wrapper.
impl serde::Serialize for Proposal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().map_err(serde::ser::Error::custom)?.serialize(s)
    }
}

/// Keeps the bytes it was decoded from, to write them to the log or send them on unchanged.
impl<'de> serde::Deserialize<'de> for Proposal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let command = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(Proposal(Arc::new(Encoded { command, json: OnceLock::from(raw) })))
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Op name only: values (KV bytes, CA keys) never go to logs.
        let op = match &self.0.command {
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

#[cfg(test)]
mod tests {
    use openraft::alias::EntryOf;
    use openraft::entry::RaftEntry;
    use openraft::testing::log_id;

    use super::*;

    fn kv_set(key: &str) -> Command {
        Command::KvSet { key: key.into(), value: b"v".to_vec(), flags: 7, cas: None }
    }

    #[test]
    fn a_proposal_is_written_as_the_cores_command_format() {
        let command = kv_set("a/b");
        let proposal = Proposal::new(command.clone());
        let written = serde_json::to_string(&proposal).unwrap();
        assert_eq!(written, serde_json::to_string(&command).unwrap());
        assert!(written.starts_with(r#"{"Op":"KvSet""#), "{written}");
        let read: Proposal = serde_json::from_str(&written).unwrap();
        assert_eq!(read.command(), &command);
    }

    #[test]
    fn a_received_entry_is_written_on_with_the_bytes_it_came_in() {
        // Spacing no encoder of ours produces: the bytes are kept, not re-encoded.
        let json = r#"{"log_id":{"leader_id":{"term":2,"node_id":1},"index":9},"payload":{"Normal":{ "Op" : "KvSet", "Key":"k", "Value":[118], "Flags":0 }}}"#;
        let entry: EntryOf<TypeConfig> = serde_json::from_str(json).unwrap();
        assert_eq!(entry.index(), 9);
        let again = serde_json::to_string(&entry).unwrap();
        assert!(
            again.contains(r#"{ "Op" : "KvSet", "Key":"k", "Value":[118], "Flags":0 }"#),
            "{again}"
        );
        let decoded: EntryOf<TypeConfig> = serde_json::from_str(&again).unwrap();
        assert_eq!(decoded, entry);
    }

    #[test]
    fn clones_share_the_encoding_and_a_bad_command_is_refused() {
        let proposal = Proposal::new(kv_set("k"));
        let clone = proposal.clone();
        let first = serde_json::to_string(&proposal).unwrap();
        assert!(std::ptr::eq(proposal.json().unwrap(), clone.json().unwrap()), "one encoding");
        assert_eq!(serde_json::to_string(&clone).unwrap(), first);
        let entry = EntryOf::<TypeConfig>::new_normal(log_id::<TypeConfig>(1, 1, 1), clone);
        assert!(serde_json::to_string(&entry).unwrap().contains(&first));
        let err = serde_json::from_str::<Proposal>(r#"{"Op":"NoSuchOp"}"#).unwrap_err();
        assert!(err.to_string().contains("NoSuchOp"), "{err}");
    }
}
