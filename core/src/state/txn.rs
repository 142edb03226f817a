//! Transactions (`PUT /v1/txn`, Consul's `state/txn.go`): up to [`TXN_MAX_OPS`] KV and
//! catalog operations applied as one raft command, all or nothing.
//!
//! ```text
//!  Txn{ops, now_ms} ─► every op runs in order, each seeing the ones before it
//!       │  all Ok  ─► Committed(results)         (succeeded: true)
//!       └─ any Err ─► RolledBack(every op error) (succeeded: false, state as before)
//! ```
//!
//! Every op runs even after one fails, so the client sees all the errors at once (Consul's
//! `Errors` with `OpIndex` and `What`). Rollback: a KV-only transaction journals the prior
//! row and tombstone of each key it touches and replays the journal backwards; one with a
//! catalog write (which can cascade into session invalidation) restores a full copy of the
//! state taken before its first op. Results carry entries with their values blanked, except
//! for `get` and `get-tree`, as Consul returns them. Read-only transactions are served by
//! [`StateMachine::txn_read`] without going through raft.

use super::kv::KvEntry;
use super::model::{Check, Node, Service};
use super::{Changes, StateError, StateMachine};

/// Most operations one transaction may carry (Consul's `maxTxnOps`).
pub const TXN_MAX_OPS: usize = 128;

/// A KV operation's verb (Consul's `api.KVOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvVerb {
    /// Write the key.
    Set,
    /// Delete the key.
    Delete,
    /// Delete the key if its ModifyIndex is `Index`.
    DeleteCas,
    /// Delete every key under the prefix.
    DeleteTree,
    /// Write the key if its ModifyIndex is `Index` (0: only if absent).
    Cas,
    /// Acquire the key for `Session`.
    Lock,
    /// Release the key held by `Session`.
    Unlock,
    /// Read the key.
    Get,
    /// Read every key under the prefix.
    GetTree,
    /// Fail unless the key's ModifyIndex is `Index`.
    CheckIndex,
    /// Fail unless `Session` holds the key.
    CheckSession,
    /// Fail if the key exists.
    CheckNotExists,
}

impl KvVerb {
    /// Every verb with its wire spelling, so the HTTP layer can report an unknown verb as a
    /// transaction error the way Consul does.
    pub const ALL: [KvVerb; 12] = [
        KvVerb::Set,
        KvVerb::Delete,
        KvVerb::DeleteCas,
        KvVerb::DeleteTree,
        KvVerb::Cas,
        KvVerb::Lock,
        KvVerb::Unlock,
        KvVerb::Get,
        KvVerb::GetTree,
        KvVerb::CheckIndex,
        KvVerb::CheckSession,
        KvVerb::CheckNotExists,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KvVerb::Set => "set",
            KvVerb::Delete => "delete",
            KvVerb::DeleteCas => "delete-cas",
            KvVerb::DeleteTree => "delete-tree",
            KvVerb::Cas => "cas",
            KvVerb::Lock => "lock",
            KvVerb::Unlock => "unlock",
            KvVerb::Get => "get",
            KvVerb::GetTree => "get-tree",
            KvVerb::CheckIndex => "check-index",
            KvVerb::CheckSession => "check-session",
            KvVerb::CheckNotExists => "check-not-exists",
        }
    }

    /// True when the verb changes state.
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            KvVerb::Get
                | KvVerb::GetTree
                | KvVerb::CheckIndex
                | KvVerb::CheckSession
                | KvVerb::CheckNotExists
        )
    }
}

/// A catalog operation's verb (Consul's `api.NodeOp`, `ServiceOp`, `CheckOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CatalogVerb {
    /// Register.
    Set,
    /// Register if the row's ModifyIndex is the one given (0: only if absent).
    Cas,
    /// Read.
    Get,
    /// Deregister.
    Delete,
    /// Deregister if the row's ModifyIndex is the one given.
    DeleteCas,
}

impl CatalogVerb {
    /// Every verb, for the HTTP layer's unknown-verb errors.
    pub const ALL: [CatalogVerb; 5] = [
        CatalogVerb::Set,
        CatalogVerb::Cas,
        CatalogVerb::Get,
        CatalogVerb::Delete,
        CatalogVerb::DeleteCas,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogVerb::Set => "set",
            CatalogVerb::Cas => "cas",
            CatalogVerb::Get => "get",
            CatalogVerb::Delete => "delete",
            CatalogVerb::DeleteCas => "delete-cas",
        }
    }

    /// True when the verb changes state.
    pub fn is_write(self) -> bool {
        self != CatalogVerb::Get
    }
}

/// `{"KV": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnKvOp {
    /// What to do.
    pub verb: KvVerb,
    /// Key (or prefix for the tree verbs).
    pub key: String,
    /// Value bytes (set, cas, lock, unlock).
    #[serde(default)]
    pub value: Vec<u8>,
    /// Opaque client flags.
    #[serde(default)]
    pub flags: u64,
    /// ModifyIndex for cas, delete-cas and check-index.
    #[serde(default)]
    pub index: u64,
    /// Session for lock, unlock and check-session.
    #[serde(default)]
    pub session: String,
}

/// `{"Node": {"Verb", "Node": {...}}}`; the CAS index is the node's `ModifyIndex`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnNodeOp {
    /// What to do.
    pub verb: CatalogVerb,
    /// The node.
    pub node: Node,
}

/// `{"Service": {"Verb", "Node", "Service": {...}}}`; the CAS index is the service's
/// `ModifyIndex`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnServiceOp {
    /// What to do.
    pub verb: CatalogVerb,
    /// The node the instance is on.
    pub node: String,
    /// The instance.
    pub service: Service,
}

/// `{"Check": {"Verb", "Check": {...}}}`; the check names its node; the CAS index is its
/// `ModifyIndex`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnCheckOp {
    /// What to do.
    pub verb: CatalogVerb,
    /// The check.
    pub check: Check,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    #[serde(rename = "KV")]
    Kv(TxnKvOp),
    /// A node operation.
    Node(TxnNodeOp),
    /// A service instance operation (boxed: an instance is much larger than the others).
    Service(Box<TxnServiceOp>),
    /// A check operation.
    Check(TxnCheckOp),
}

impl TxnOp {
    /// True when the op changes state (a transaction of reads only skips raft).
    pub fn is_write(&self) -> bool {
        match self {
            TxnOp::Kv(k) => k.verb.is_write(),
            TxnOp::Node(n) => n.verb.is_write(),
            TxnOp::Service(s) => s.verb.is_write(),
            TxnOp::Check(c) => c.verb.is_write(),
        }
    }

    fn writes_catalog(&self) -> bool {
        !matches!(self, TxnOp::Kv(_)) && self.is_write()
    }
}

/// One result row (`{"KV": entry}`, `{"Node": node}`, ...).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TxnResult {
    /// A KV entry.
    #[serde(rename = "KV")]
    Kv(KvEntry),
    /// A node.
    Node(Node),
    /// A service instance (boxed: an instance is much larger than the others).
    Service(Box<Service>),
    /// A check.
    Check(Check),
}

/// One failed operation (`{"OpIndex": 0, "What": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnError {
    /// Position of the op in the transaction.
    pub op_index: usize,
    /// Consul's message.
    pub what: String,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TxnOutcome {
    /// Every op succeeded; their results in op order.
    Committed(Vec<TxnResult>),
    /// At least one op failed; nothing changed.
    RolledBack(Vec<TxnError>),
}

/// The transaction command.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Txn {
    /// The operations, in order.
    pub ops: Vec<TxnOp>,
    /// Wall clock of the proposer, Unix milliseconds (lock-delay of `lock` ops).
    pub now_ms: u64,
}

/// A KV row and tombstone as they were before the transaction first touched the key.
type KvUndo = (String, Option<KvEntry>, Option<u64>);

/// How a failed transaction is undone.
enum Savepoint {
    Kv(Vec<KvUndo>),
    Full(Box<StateMachine>),
}

/// An op's error message, or its results.
pub(super) type OpResult = Result<Vec<TxnResult>, String>;

pub(super) fn blank(mut e: KvEntry) -> TxnResult {
    e.value.clear();
    TxnResult::Kv(e)
}

impl StateMachine {
    pub(super) fn txn_apply(
        &mut self,
        tx: &mut Changes,
        txn: &Txn,
    ) -> Result<(bool, TxnOutcome), StateError> {
        if txn.ops.len() > TXN_MAX_OPS {
            return Err(StateError::TxnTooLarge { ops: txn.ops.len(), max: TXN_MAX_OPS });
        }
        self.sessions.observe_clock(txn.now_ms);
        let mut savepoint = match txn.ops.iter().any(TxnOp::writes_catalog) {
            true => Savepoint::Full(Box::new(self.clone())),
            false => Savepoint::Kv(Vec::new()),
        };
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (op_index, op) in txn.ops.iter().enumerate() {
            let done = match (op, &mut savepoint) {
                (TxnOp::Kv(k), Savepoint::Kv(journal)) => self.txn_kv(tx, k, Some(journal)),
                (TxnOp::Kv(k), Savepoint::Full(_)) => self.txn_kv(tx, k, None),
                (TxnOp::Node(n), _) => self.txn_node(tx, n),
                (TxnOp::Service(s), _) => self.txn_service(tx, s),
                (TxnOp::Check(c), _) => self.txn_check(tx, c),
            };
            match done {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError { op_index, what }),
            }
        }
        if errors.is_empty() {
            return Ok((true, TxnOutcome::Committed(results)));
        }
        match savepoint {
            Savepoint::Full(saved) => *self = *saved,
            Savepoint::Kv(journal) => self.undo_kv(journal),
        }
        tx.keys.clear();
        Ok((false, TxnOutcome::RolledBack(errors)))
    }

    /// Runs a transaction of reads only against the current state (Consul's `Txn.Read`).
    /// A write op in it is reported as an op error.
    pub fn txn_read(&self, ops: &[TxnOp]) -> TxnOutcome {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (op_index, op) in ops.iter().enumerate() {
            let done = match op {
                _ if op.is_write() => Err("write operation in a read-only transaction".into()),
                TxnOp::Kv(k) => self.txn_kv_read(k),
                TxnOp::Node(n) => self.txn_node_get(&n.node.node),
                TxnOp::Service(s) => self.txn_service_get(&s.node, &s.service.id),
                TxnOp::Check(c) => self.txn_check_get(&c.check.node, &c.check.check_id),
            };
            match done {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError { op_index, what }),
            }
        }
        match errors.is_empty() {
            true => TxnOutcome::Committed(results),
            false => TxnOutcome::RolledBack(errors),
        }
    }

    fn txn_kv(
        &mut self,
        tx: &mut Changes,
        op: &TxnKvOp,
        journal: Option<&mut Vec<KvUndo>>,
    ) -> OpResult {
        if !op.verb.is_write() {
            return self.txn_kv_read(op);
        }
        if let Some(journal) = journal {
            let keys: Vec<String> = match op.verb {
                KvVerb::DeleteTree => self.kv_list(&op.key).iter().map(|e| e.key.clone()).collect(),
                _ => vec![op.key.clone()],
            };
            for key in keys {
                let row = self.kv.get(&key).cloned();
                let tomb = self.kv_tombstones.get(&key).copied();
                journal.push((key, row, tomb));
            }
        }
        let key = &op.key;
        let stale = |what: &str| format!("failed to {what} key {key:?}, index is stale");
        let err = |e: StateError| e.to_string();
        match op.verb {
            KvVerb::Set => {
                self.kv_set(tx, key, &op.value, op.flags, None).map_err(err)?;
            }
            KvVerb::Cas => {
                if !self.kv_set(tx, key, &op.value, op.flags, Some(op.index)).map_err(err)? {
                    return Err(stale("set"));
                }
            }
            KvVerb::Delete | KvVerb::DeleteTree => {
                let recurse = op.verb == KvVerb::DeleteTree;
                self.kv_delete(tx, key, recurse, None).map_err(err)?;
                return Ok(Vec::new());
            }
            KvVerb::DeleteCas => {
                if !self.kv_delete(tx, key, false, Some(op.index)).map_err(err)? {
                    return Err(stale("delete"));
                }
                return Ok(Vec::new());
            }
            KvVerb::Lock => {
                self.known_session(&op.session)?;
                if !self.lock_key(tx, key, &op.value, op.flags, &op.session) {
                    return Err(format!("failed to lock key {key:?}, lock is already held"));
                }
            }
            KvVerb::Unlock => {
                if op.session.is_empty() {
                    return Err("missing session".into());
                }
                if !self.unlock_key(tx, key, &op.value, op.flags, &op.session) {
                    return Err(format!(
                        "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                    ));
                }
            }
            _ => return self.txn_kv_read(op),
        }
        Ok(self.kv.get(key).cloned().map(blank).into_iter().collect())
    }

    fn known_session(&self, session: &str) -> Result<(), String> {
        if session.is_empty() {
            return Err("missing session".into());
        }
        if !self.sessions.by_id.contains_key(session) {
            return Err(format!("invalid session {session:?}"));
        }
        Ok(())
    }

    fn txn_kv_read(&self, op: &TxnKvOp) -> OpResult {
        let key = &op.key;
        let missing = || format!("key {key:?} doesn't exist");
        match op.verb {
            KvVerb::Get => {
                let e = self.kv_get(key).ok_or_else(missing)?;
                Ok(vec![TxnResult::Kv(e.clone())])
            }
            KvVerb::GetTree => {
                Ok(self.kv_list(key).into_iter().map(|e| TxnResult::Kv(e.clone())).collect())
            }
            KvVerb::CheckIndex => {
                let e = self.kv_get(key).ok_or_else(missing)?;
                if e.modify_index != op.index {
                    return Err(format!(
                        "current modify index {} for key {key:?} doesn't match {}",
                        e.modify_index, op.index
                    ));
                }
                Ok(vec![blank(e.clone())])
            }
            KvVerb::CheckSession => {
                let e = self.kv_get(key).ok_or_else(missing)?;
                if e.session != op.session {
                    return Err(format!("key {key:?} is not locked by session {:?}", op.session));
                }
                Ok(vec![blank(e.clone())])
            }
            KvVerb::CheckNotExists => match self.kv_get(key) {
                Some(_) => Err(format!("key {key:?} exists")),
                None => Ok(Vec::new()),
            },
            write => Err(format!("{} is not a read", write.as_str())),
        }
    }

    fn undo_kv(&mut self, journal: Vec<KvUndo>) {
        for (key, row, tomb) in journal.into_iter().rev() {
            match row {
                Some(e) => self.kv.insert(key.clone(), e),
                None => self.kv.remove(&key),
            };
            match tomb {
                Some(i) => self.kv_tombstones.insert(key, i),
                None => self.kv_tombstones.remove(&key),
            };
        }
    }
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;
