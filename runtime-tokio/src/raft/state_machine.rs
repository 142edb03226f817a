//! The openraft state machine adapter over the core's [`StateMachine`].
//!
//! Entries are applied in log order with their own raft index. The applied state sits behind
//! a shared lock ([`SharedState`]) so HTTP reads do not queue behind the raft core. Snapshots
//! are the core's snapshot bytes; the current one (meta and bytes) is kept in redb, which is
//! what makes the applied state durable (see the module doc of [`super`]).

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
use super::log_store::{META, read_meta};
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

/// The openraft state machine and snapshot builder.
pub struct StateMachineStore {
    db: Arc<Database>,
    datacenter: Datacenter,
    shared: SharedState,
    applied_tx: watch::Sender<u64>,
}

impl StateMachineStore {
    /// Opens the state machine over `db`, restoring the stored snapshot if there is one.
    pub fn open(db: Arc<Database>, datacenter: Datacenter) -> io::Result<Self> {
        let mut machine = StateMachine::new(datacenter.clone());
        let meta: Option<SnapshotMetaOf<TypeConfig>> = read_meta(&db, KEY_SNAPSHOT_META)?;
        let (last_applied, membership) = match meta {
            Some(meta) => {
                let data = read_snapshot_data(&db)?;
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
        })
    }

    /// A read handle on the applied state.
    pub fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    fn store_snapshot(&self, meta: &SnapshotMetaOf<TypeConfig>, data: &[u8]) -> io::Result<()> {
        let meta_bytes = serde_json::to_vec(meta).map_err(io_err)?;
        let tx = self.db.begin_write().map_err(io_err)?;
        {
            let mut table = tx.open_table(META).map_err(io_err)?;
            table.insert(KEY_SNAPSHOT_META, meta_bytes.as_slice()).map_err(io_err)?;
            table.insert(KEY_SNAPSHOT_DATA, data).map_err(io_err)?;
        }
        tx.commit().map_err(io_err)
    }
}

fn read_snapshot_data(db: &Database) -> io::Result<Vec<u8>> {
    use redb::ReadableDatabase;
    let tx = db.begin_read().map_err(io_err)?;
    let table = tx.open_table(META).map_err(io_err)?;
    let data = table.get(KEY_SNAPSHOT_DATA).map_err(io_err)?;
    data.map(|v| v.value().to_vec())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "snapshot meta without data"))
}

/// Builds a snapshot of the applied state and stores it in redb.
pub struct SnapshotBuilder {
    store: StateMachineStore,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, Vec<u8>>, io::Error> {
        let (meta, data) = {
            let state = self.store.shared.read();
            let meta = SnapshotMetaOf::<TypeConfig> {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
            };
            (meta, state.machine.snapshot())
        };
        self.store.store_snapshot(&meta, &data)?;
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
                    EntryPayload::Normal(proposal) => {
                        WriteResponse::from_apply(index, state.machine.apply(index, &proposal.0))
                    }
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
        let mut machine = StateMachine::new(self.datacenter.clone());
        machine.restore(&snapshot).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        // Durable first: a crash after this point restarts from the installed snapshot.
        self.store_snapshot(meta, &snapshot)?;
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
        let meta: Option<SnapshotMetaOf<TypeConfig>> = read_meta(&self.db, KEY_SNAPSHOT_META)?;
        match meta {
            Some(meta) => {
                let snapshot = read_snapshot_data(&self.db)?;
                Ok(Some(SnapshotOf::<TypeConfig, Vec<u8>> { meta, snapshot }))
            }
            None => Ok(None),
        }
    }
}
