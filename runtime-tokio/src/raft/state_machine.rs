//! The openraft state machine adapter over the core's [`StateMachine`].
//!
//! Entries are applied in log order with their own raft index. The applied state sits behind
//! a shared lock ([`SharedState`]) so HTTP reads do not queue behind the raft core. Snapshots
//! are the core's snapshot bytes; the current one (meta and bytes) is kept in redb, which is
//! what makes the applied state durable (see the module doc of [`super`]).
//!
//! A snapshot of a large catalog takes hundreds of milliseconds to serialise and write, so
//! none of it happens under the lock or in the log's database: the builder clones the state
//! (O(1), the core's tables are persistent maps), lets go of the lock, and serialises and
//! stores the frozen copy, on tokio's blocking pool in production ([`SnapshotWork`]), in a
//! database of its own so the log writer's commits never wait behind it.

use std::io;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::StreamExt;
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StoredMembership};
use proconsul_core::ids::Datacenter;
use proconsul_core::state::StateMachine;
use redb::Database;
use tokio::sync::watch;

use super::io_err;
use super::log_store::META;
use super::types::{TypeConfig, WriteResponse};

const KEY_SNAPSHOT_META: &str = "snapshot_meta";
const KEY_SNAPSHOT_DATA: &str = "snapshot_data";

/// The applied state and the raft position it reflects.
#[derive(Debug)]
pub struct Applied {
    /// The core state machine.
    pub machine: StateMachine,
    /// The last log entry applied to `machine` (any kind of entry).
    pub last_applied: Option<LogIdOf<TypeConfig>>,
    /// The last applied membership.
    pub membership: StoredMembershipOf<TypeConfig>,
}

/// A cloneable read handle on the applied state, plus a watch of the last applied index.
#[derive(Debug, Clone)]
pub struct SharedState {
    inner: Arc<RwLock<Applied>>,
    applied_index: watch::Receiver<u64>,
}

impl SharedState {
    /// Reads the state. Hold the guard briefly: apply waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, Applied> {
        // A poisoned lock means a panic inside apply, which already failed the raft core.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The raft index of the last applied entry, as a watch (blocking queries wait on it).
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.applied_index.clone()
    }
}

/// Where the expensive part of a snapshot (serialising, writing, restoring) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotWork {
    /// On the calling task: deterministic, for simulated hosts and tests.
    Inline,
    /// On tokio's blocking pool, so no runtime worker stalls for it.
    BlockingPool,
}

impl SnapshotWork {
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        match self {
            SnapshotWork::Inline => work(),
            SnapshotWork::BlockingPool => {
                tokio::task::spawn_blocking(work).await.map_err(io_err)?
            }
        }
    }
}

/// The openraft state machine and snapshot builder.
pub struct StateMachineStore {
    /// Holds the snapshot (its own database, or the log's).
    db: Arc<Database>,
    datacenter: Datacenter,
    shared: SharedState,
    applied_tx: watch::Sender<u64>,
    work: SnapshotWork,
}

impl StateMachineStore {
    /// Opens the state machine with its snapshot in `db` (the log's database), restoring the
    /// stored snapshot if there is one. Snapshot work runs inline.
    pub fn open(db: Arc<Database>, datacenter: Datacenter) -> io::Result<Self> {
        Self::open_split(db.clone(), db, datacenter, SnapshotWork::Inline)
    }

    /// Opens the state machine with its snapshots in `snapshot_db`, apart from the log's
    /// database `log_db`. A snapshot that an older build left in `log_db` is restored (and
    /// moves to `snapshot_db` with the next one).
    pub fn open_split(
        log_db: Arc<Database>,
        snapshot_db: Arc<Database>,
        datacenter: Datacenter,
        work: SnapshotWork,
    ) -> io::Result<Self> {
        let mut machine = StateMachine::new(datacenter.clone());
        let stored = match read_snapshot(&snapshot_db)? {
            Some(stored) => Some(stored),
            None if !Arc::ptr_eq(&log_db, &snapshot_db) => read_snapshot(&log_db)?,
            None => None,
        };
        let db = snapshot_db;
        let (last_applied, membership) = match stored {
            Some((meta, data)) => {
                machine
                    .restore(&data)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                (meta.last_log_id, meta.last_membership)
            }
            None => (None, StoredMembership::default()),
        };
        let index = last_applied.as_ref().map_or(0, |id| id.index());
        let (applied_tx, applied_rx) = watch::channel(index);
        let inner = Arc::new(RwLock::new(Applied { machine, last_applied, membership }));
        Ok(StateMachineStore {
            db,
            datacenter,
            shared: SharedState { inner, applied_index: applied_rx },
            applied_tx,
            work,
        })
    }

    /// A read handle on the applied state.
    pub fn shared(&self) -> SharedState {
        self.shared.clone()
    }
}

/// Stores `meta` and `data` as the current snapshot, durably (one fsync).
fn store_snapshot(db: &Database, meta: &SnapshotMetaOf<TypeConfig>, data: &[u8]) -> io::Result<()> {
    let meta_bytes = serde_json::to_vec(meta).map_err(io_err)?;
    let tx = db.begin_write().map_err(io_err)?;
    {
        let mut table = tx.open_table(META).map_err(io_err)?;
        table.insert(KEY_SNAPSHOT_META, meta_bytes.as_slice()).map_err(io_err)?;
        table.insert(KEY_SNAPSHOT_DATA, data).map_err(io_err)?;
    }
    tx.commit().map_err(io_err)
}

/// The stored snapshot, if any. Meta and data come from one read transaction, so a snapshot
/// stored meanwhile (a build finishing on the blocking pool) cannot pair one's meta with the
/// other's bytes.
fn read_snapshot(db: &Database) -> io::Result<Option<(SnapshotMetaOf<TypeConfig>, Vec<u8>)>> {
    use redb::ReadableDatabase;
    let tx = db.begin_read().map_err(io_err)?;
    let table = tx.open_table(META).map_err(io_err)?;
    let Some(meta) = table.get(KEY_SNAPSHOT_META).map_err(io_err)? else {
        return Ok(None);
    };
    let meta: SnapshotMetaOf<TypeConfig> = serde_json::from_slice(meta.value()).map_err(io_err)?;
    let data = table.get(KEY_SNAPSHOT_DATA).map_err(io_err)?;
    let data = data
        .map(|v| v.value().to_vec())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "snapshot meta without data"))?;
    Ok(Some((meta, data)))
}

/// Builds a snapshot of the applied state and stores it in redb.
pub struct SnapshotBuilder {
    store: StateMachineStore,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, Vec<u8>>, io::Error> {
        // Only the O(1) clone happens under the lock; apply goes on meanwhile.
        let (meta, frozen) = {
            let state = self.store.shared.read();
            let meta = SnapshotMetaOf::<TypeConfig> {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
            };
            (meta, state.machine.clone())
        };
        let db = self.store.db.clone();
        let stored = meta.clone();
        let data = self
            .store
            .work
            .run(move || {
                let data = frozen.snapshot();
                store_snapshot(&db, &stored, &data)?;
                Ok(data)
            })
            .await?;
        Ok(SnapshotOf::<TypeConfig, Vec<u8>> { meta, snapshot: data })
    }
}

impl StateMachineStore {
    fn handle(&self) -> StateMachineStore {
        StateMachineStore {
            db: self.db.clone(),
            datacenter: self.datacenter.clone(),
            shared: self.shared.clone(),
            applied_tx: self.applied_tx.clone(),
            work: self.work,
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        let state = self.shared.read();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<S>(&mut self, mut entries: S) -> Result<(), io::Error>
    where
        S: futures::Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>>
            + Unpin
            + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let index = log_id.index();
            let response = {
                let mut state = self.shared.write();
                let response = match entry.payload {
                    EntryPayload::Blank => WriteResponse::no_command(index),
                    EntryPayload::Normal(proposal) => WriteResponse::from_apply(
                        index,
                        state.machine.apply(index, proposal.command()),
                    ),
                    EntryPayload::Membership(m) => {
                        state.membership = StoredMembership::new(Some(log_id), m);
                        WriteResponse::no_command(index)
                    }
                };
                state.last_applied = Some(log_id);
                response
            };
            self.applied_tx.send_replace(index);
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { store: self.handle() }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: Vec<u8>,
    ) -> Result<(), io::Error> {
        let (db, stored, datacenter) = (self.db.clone(), meta.clone(), self.datacenter.clone());
        let machine = self
            .work
            .run(move || {
                let mut machine = StateMachine::new(datacenter);
                machine
                    .restore(&snapshot)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // Durable first: a crash after this point restarts from the installed snapshot.
                store_snapshot(&db, &stored, &snapshot)?;
                Ok(machine)
            })
            .await?;
        {
            let mut state = self.shared.write();
            state.machine = machine;
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
        }
        self.applied_tx.send_replace(meta.last_log_id.as_ref().map_or(0, |id| id.index()));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Vec<u8>>>, io::Error> {
        let db = self.db.clone();
        let stored = self.work.run(move || read_snapshot(&db)).await?;
        Ok(stored.map(|(meta, snapshot)| SnapshotOf::<TypeConfig, Vec<u8>> { meta, snapshot }))
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::log_id;
    use proconsul_core::state::Command;

    use super::*;
    use crate::raft::open_in_memory_database;

    fn dc() -> Datacenter {
        "dc1".parse().expect("a datacenter name")
    }

    fn kv_set(key: &str) -> Command {
        Command::KvSet { key: key.into(), value: b"v".to_vec(), flags: 0, cas: None }
    }

    /// Applies `key` at `index` as apply would, without a raft core.
    fn apply(sm: &StateMachineStore, index: u64, key: &str) {
        let mut state = sm.shared.write();
        let applied = state.machine.apply(index, &kv_set(key)).expect("applies");
        assert!(applied.succeeded, "a plain set succeeds");
        state.last_applied = Some(log_id::<TypeConfig>(1, 1, index));
    }

    fn keys(sm: &StateMachineStore) -> Vec<String> {
        sm.shared.read().machine.kv_keys("", None)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_is_taken_from_a_frozen_copy_into_its_own_database() {
        let (log_db, snapshot_db) =
            (open_in_memory_database().unwrap(), open_in_memory_database().unwrap());
        let mut sm = StateMachineStore::open_split(
            log_db.clone(),
            snapshot_db.clone(),
            dc(),
            SnapshotWork::BlockingPool,
        )
        .unwrap();
        apply(&sm, 1, "a");
        apply(&sm, 2, "b");
        let mut builder = sm.get_snapshot_builder().await;
        let snapshot = builder.build_snapshot().await.unwrap();
        // Writes after the build started are not in it.
        apply(&sm, 3, "c");
        assert_eq!(snapshot.meta.last_log_id.map(|id| id.index()), Some(2));
        assert_eq!(read_snapshot(&log_db).unwrap().map(|(m, _)| m), None, "not in the log file");
        let reopened =
            StateMachineStore::open_split(log_db, snapshot_db, dc(), SnapshotWork::Inline).unwrap();
        assert_eq!(keys(&reopened), ["a", "b"]);
        let current = sm.get_current_snapshot().await.unwrap().expect("a stored snapshot");
        assert_eq!(current.snapshot, snapshot.snapshot);
    }

    #[tokio::test]
    async fn a_snapshot_an_older_build_left_in_the_log_file_is_restored() {
        let log_db = open_in_memory_database().unwrap();
        let mut old = StateMachineStore::open(log_db.clone(), dc()).unwrap();
        apply(&old, 1, "kept");
        old.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let snapshot_db = open_in_memory_database().unwrap();
        let sm =
            StateMachineStore::open_split(log_db, snapshot_db, dc(), SnapshotWork::Inline).unwrap();
        assert_eq!(keys(&sm), ["kept"]);
        assert_eq!(sm.shared.read().last_applied.map(|id| id.index()), Some(1));
    }
}
