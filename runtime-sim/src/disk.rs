//! A disk that survives crashes the way a real one does: what was synced (`fsync`) is kept,
//! what was written since is lost. redb calls `sync_data` on every durable commit, so a raft
//! entry acknowledged as persisted survives a crash and anything later may not.
//!
//! One [`SimDisk`] belongs to one simulated host and outlives its restarts. Each
//! [`RaftDisk::open`] starts a new *generation*; a crash ends the current one, after which
//! writes from the dead host's leftover handles are ignored.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use proconsul_runtime_tokio::env::RaftDisk;
use proconsul_runtime_tokio::raft::open_database_on;

#[derive(Debug, Default)]
struct Platters {
    /// What a reader sees now.
    current: Vec<u8>,
    /// What survives a crash.
    durable: Vec<u8>,
    /// Byte ranges written since the last sync.
    dirty: Vec<(usize, usize)>,
    /// The live generation; handles of older ones are dead.
    generation: u64,
    /// Syncs so far (a statistic for tests and traces).
    syncs: u64,
}

/// A crash-aware disk holding a server's two raft databases: the log and the snapshot.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    log: Arc<Mutex<Platters>>,
    snapshots: Arc<Mutex<Platters>>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        SimDisk::default()
    }

    /// The power goes out: unsynced writes are lost and every open handle dies.
    pub fn crash(&self) {
        for file in self.files() {
            let mut p = lock(file);
            p.current = p.durable.clone();
            p.dirty.clear();
            p.generation += 1;
        }
    }

    /// Bytes that would survive a crash now.
    pub fn durable_len(&self) -> usize {
        self.files().iter().map(|f| lock(f).durable.len()).sum()
    }

    /// Completed syncs.
    pub fn syncs(&self) -> u64 {
        self.files().iter().map(|f| lock(f).syncs).sum()
    }

    fn files(&self) -> [&Arc<Mutex<Platters>>; 2] {
        [&self.log, &self.snapshots]
    }

    fn backend(file: &Arc<Mutex<Platters>>) -> Backend {
        let mut p = lock(file);
        p.generation += 1;
        Backend { platters: file.clone(), generation: p.generation }
    }
}

impl RaftDisk for SimDisk {
    fn open(&self) -> io::Result<Arc<redb::Database>> {
        open_database_on(SimDisk::backend(&self.log))
    }

    fn open_snapshots(&self) -> io::Result<Arc<redb::Database>> {
        open_database_on(SimDisk::backend(&self.snapshots))
    }
}

fn lock(m: &Mutex<Platters>) -> MutexGuard<'_, Platters> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One generation's view of the disk, handed to redb.
#[derive(Debug)]
struct Backend {
    platters: Arc<Mutex<Platters>>,
    generation: u64,
}

impl Backend {
    /// The platters if this handle is still alive. A dead handle's writes go nowhere and its
    /// reads fail, as on a machine that lost power.
    fn live(&self) -> io::Result<MutexGuard<'_, Platters>> {
        let p = lock(&self.platters);
        if p.generation == self.generation {
            Ok(p)
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the host crashed"))
        }
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset beyond the end of the disk")
}

impl redb::StorageBackend for Backend {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.live()?.current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let p = self.live()?;
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start.checked_add(out.len()).ok_or_else(out_of_range)?;
        out.copy_from_slice(p.current.get(start..end).ok_or_else(out_of_range)?);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut p = self.live()?;
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        p.current.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut guard = self.live()?;
        let p = &mut *guard;
        p.durable.resize(p.current.len(), 0);
        for (start, end) in p.dirty.drain(..) {
            let end = end.min(p.current.len());
            if start < end {
                p.durable[start..end].copy_from_slice(&p.current[start..end]);
            }
        }
        p.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut p = self.live()?;
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start.checked_add(data.len()).ok_or_else(out_of_range)?;
        p.current.get_mut(start..end).ok_or_else(out_of_range)?.copy_from_slice(data);
        p.dirty.push((start, end));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, TableDefinition};

    use super::*;

    const T: TableDefinition<'_, u64, u64> = TableDefinition::new("t");

    fn put(db: &redb::Database, k: u64, durability: redb::Durability) {
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(durability).unwrap();
        tx.open_table(T).unwrap().insert(k, k * 10).unwrap();
        tx.commit().unwrap();
    }

    fn get(db: &redb::Database, k: u64) -> Option<u64> {
        let tx = db.begin_read().unwrap();
        let table = tx.open_table(T).ok()?;
        table.get(k).unwrap().map(|v| v.value())
    }

    #[test]
    fn synced_commits_survive_a_crash_and_unsynced_ones_do_not() {
        let disk = SimDisk::new();
        let db = disk.open().unwrap();
        put(&db, 1, redb::Durability::Immediate);
        put(&db, 2, redb::Durability::None);
        assert_eq!(get(&db, 2), Some(20), "visible before the crash");
        disk.crash();
        drop(db); // the dead host's handle: its shutdown writes must go nowhere
        let db = disk.open().unwrap();
        assert_eq!(get(&db, 1), Some(10));
        assert_eq!(get(&db, 2), None, "never synced, so lost");
    }

    #[test]
    fn the_log_and_the_snapshot_database_are_separate_files_that_both_crash() {
        let disk = SimDisk::new();
        let (log, snapshots) = (disk.open().unwrap(), disk.open_snapshots().unwrap());
        put(&snapshots, 1, redb::Durability::Immediate);
        put(&snapshots, 2, redb::Durability::None);
        put(&log, 3, redb::Durability::Immediate);
        assert_eq!(get(&log, 1), None, "the log does not see the snapshot file");
        disk.crash();
        drop((log, snapshots));
        let (log, snapshots) = (disk.open().unwrap(), disk.open_snapshots().unwrap());
        assert_eq!((get(&snapshots, 1), get(&snapshots, 2)), (Some(10), None));
        assert_eq!(get(&log, 3), Some(30));
    }

    #[test]
    fn a_clean_reopen_keeps_everything_synced() {
        let disk = SimDisk::new();
        let db = disk.open().unwrap();
        for k in 0..50 {
            put(&db, k, redb::Durability::Immediate);
        }
        drop(db);
        let db = disk.open().unwrap();
        assert!((0..50).all(|k| get(&db, k) == Some(k * 10)));
        assert!(disk.syncs() >= 50);
        assert!(disk.durable_len() > 0);
    }
}
