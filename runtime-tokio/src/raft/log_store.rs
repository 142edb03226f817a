//! The raft log, vote and committed log id in redb.
//!
//! Entries are JSON (the core's command format is an internally tagged enum, which
//! postcard cannot decode), keyed by index. Every mutation is one redb write transaction;
//! `commit()` fsyncs (redb's default `Durability::Immediate`) before any caller is told the
//! write is done.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::io_err;
use super::types::TypeConfig;

/// index → JSON-encoded entry.
pub(super) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Small records: vote, committed, last purged, snapshot meta and data.
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";

/// Opens (or creates) the raft database at `path` and creates every table, so later read
/// transactions never meet a missing table.
pub fn open_database(path: &Path) -> io::Result<Arc<Database>> {
    with_tables(Database::create(path).map_err(io_err)?)
}

/// A raft database in memory (redb's `InMemoryBackend`): nothing survives the process. For
/// the simulation and for tests that do not restart.
pub fn open_in_memory_database() -> io::Result<Arc<Database>> {
    let backend = redb::backends::InMemoryBackend::new();
    with_tables(Database::builder().create_with_backend(backend).map_err(io_err)?)
}

fn with_tables(db: Database) -> io::Result<Arc<Database>> {
    let tx = db.begin_write().map_err(io_err)?;
    tx.open_table(LOG).map_err(io_err)?;
    tx.open_table(META).map_err(io_err)?;
    tx.commit().map_err(io_err)?;
    Ok(Arc::new(db))
}

pub(super) fn read_meta<T: serde::de::DeserializeOwned>(
    db: &Database,
    key: &str,
) -> io::Result<Option<T>> {
    let tx = db.begin_read().map_err(io_err)?;
    let table = tx.open_table(META).map_err(io_err)?;
    match table.get(key).map_err(io_err)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value()).map_err(io_err)?)),
        None => Ok(None),
    }
}

fn write_meta<T: serde::Serialize>(db: &Database, key: &str, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io_err)?;
    let tx = db.begin_write().map_err(io_err)?;
    {
        let mut table = tx.open_table(META).map_err(io_err)?;
        table.insert(key, bytes.as_slice()).map_err(io_err)?;
    }
    tx.commit().map_err(io_err)
}

/// The raft log storage. Cloning shares the database (the clone is also the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl LogStore {
    /// A log store over a database from [`open_database`].
    pub fn new(db: Arc<Database>) -> Self {
        LogStore { db }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        let tx = self.db.begin_read().map_err(io_err)?;
        let table = tx.open_table(LOG).map_err(io_err)?;
        let mut entries = Vec::new();
        for row in table.range(bounds).map_err(io_err)? {
            let (_, v) = row.map_err(io_err)?;
            entries.push(serde_json::from_slice(v.value()).map_err(io_err)?);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<TypeConfig>>, io::Error> {
        read_meta(&self.db, KEY_VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogIdOf<TypeConfig>> = read_meta(&self.db, KEY_PURGED)?;
        let tx = self.db.begin_read().map_err(io_err)?;
        let table = tx.open_table(LOG).map_err(io_err)?;
        let last = match table.last().map_err(io_err)? {
            Some((_, v)) => {
                let entry: EntryOf<TypeConfig> =
                    serde_json::from_slice(v.value()).map_err(io_err)?;
                Some(entry.log_id())
            }
            None => None,
        };
        let last_log_id = last.or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        write_meta(&self.db, KEY_VOTE, vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        write_meta(&self.db, KEY_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<TypeConfig>>, io::Error> {
        Ok(read_meta::<Option<LogIdOf<TypeConfig>>>(&self.db, KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let result = (|| {
            let tx = self.db.begin_write().map_err(io_err)?;
            {
                let mut table = tx.open_table(LOG).map_err(io_err)?;
                for entry in entries {
                    let bytes = serde_json::to_vec(&entry).map_err(io_err)?;
                    table.insert(entry.index(), bytes.as_slice()).map_err(io_err)?;
                }
            }
            tx.commit().map_err(io_err)
        })();
        // Flushed only after the commit (fsync) returned.
        match result {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index() + 1);
        let tx = self.db.begin_write().map_err(io_err)?;
        {
            let mut table = tx.open_table(LOG).map_err(io_err)?;
            table.retain_in(from.., |_, _| false).map_err(io_err)?;
        }
        tx.commit().map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        let bytes = serde_json::to_vec(&log_id).map_err(io_err)?;
        let tx = self.db.begin_write().map_err(io_err)?;
        {
            // The purge mark and the deletion commit together.
            let mut meta = tx.open_table(META).map_err(io_err)?;
            meta.insert(KEY_PURGED, bytes.as_slice()).map_err(io_err)?;
            let mut table = tx.open_table(LOG).map_err(io_err)?;
            table.retain_in(..=log_id.index(), |_, _| false).map_err(io_err)?;
        }
        tx.commit().map_err(io_err)
    }
}
