//! The raft log, vote and committed log id in redb, written by one writer thread.
//!
//! ```text
//!  raft core ─ append(entries, IOFlushed) ─► tail (readable at once) ─► job queue (bounded)
//!                                                                          │
//!    IOFlushed / replies ◄─ one redb transaction, one fsync ◄─ writer: every queued job
//! ```
//!
//! Why a thread: a redb commit is synchronous and waits for fsync (0.2 ms on an idle disk,
//! several ms on a busy one). Done inline it held up the raft core, which cannot send new
//! entries to followers until `append` returns, and a tokio worker with it. openraft lets
//! `append` return as soon as the entries are readable and report durability later through
//! `IOFlushed`, so the leader's fsync now overlaps replication, and everything queued while
//! one commit is in progress goes into the next one (group commit: one fsync for many
//! appends). Entries are JSON (the core's command format is an internally tagged enum, which
//! postcard cannot decode), keyed by index.
//!
//! The tail keeps the newest entries decoded as well (the uncommitted ones and up to
//! [`TAIL_ENTRIES`] committed ones), because openraft reads each entry back soon after the
//! append: to replicate it and again to apply it. Serving those reads from memory saves a
//! JSON decode per read; only older entries (a lagging follower) come from redb.
//!
//! Durability (jobs commit in the order they were queued):
//! - `append`: `IOFlushed` only after the transaction holding the entries returned from its
//!   fsync (redb's default `Durability::Immediate`).
//! - `save_vote`, `truncate_after`, `purge`: return only once their transaction is durable
//!   (they share it, and its fsync, with whatever else is queued).
//! - `save_committed`: queued, not waited for. openraft calls it on its core task right
//!   before applying, so waiting put a whole fsync between every commit and its apply and
//!   held the core (no new appends, no replication answers) meanwhile. The id becomes durable
//!   with the next transaction that has other work, in order with everything queued around
//!   it, or alone after 5 ms without other work.
//!
//! What a lagging stored committed id costs: after a crash the state machine is rebuilt from
//! the snapshot and the log up to the stored id only, and catches up once the cluster's
//! commit reaches this server again. Consistent reads are unaffected (a leader's reads wait
//! for its own first entry of the term, which covers its whole log); stale reads may show
//! that older state for that moment, as a restarted Consul server's do (Consul does not
//! store the commit index at all). Nothing acknowledged is lost: entries are durable before
//! they count towards a commit, and a snapshot only holds applied, hence committed, entries.
//!
//! [`LogStore::inline`] runs the same transactions on the calling task instead, for hosts
//! that must stay deterministic (a simulated disk under turmoil).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::io_err;
use super::types::TypeConfig;

/// index → JSON-encoded entry.
pub(super) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Small records: vote, committed, last purged, snapshot meta and data.
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";

/// Jobs the queue holds before `append` waits (backpressure on the raft core).
const QUEUE_JOBS: usize = 1024;
/// Most jobs one transaction takes, so one commit's latency stays bounded.
const BATCH_JOBS: usize = 256;
/// Committed entries the tail keeps decoded (uncommitted ones are always kept).
const TAIL_ENTRIES: usize = 4096;
/// How long a committed-id write may wait for company before it is committed alone.
const HOLD_IDLE: std::time::Duration = std::time::Duration::from_millis(5);

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

/// A raft database on a redb storage backend the caller owns (the simulation's disk model).
pub fn open_database_on(backend: impl redb::StorageBackend) -> io::Result<Arc<Database>> {
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

/// One queued mutation.
enum Write {
    /// Insert these encoded entries; `seq` tells the writer which tail entries they are.
    Append { seq: u64, entries: Vec<(u64, Vec<u8>)> },
    /// Store a META record.
    Meta { key: &'static str, bytes: Vec<u8> },
    /// Delete every entry from this index on.
    Truncate { from: u64 },
    /// Delete every entry up to this index and record the purged log id.
    Purge { upto: u64, log_id: Vec<u8> },
}

/// Who hears that a job's transaction committed.
enum Reply {
    Flushed(IOFlushed<TypeConfig>),
    Done(oneshot::Sender<io::Result<()>>),
    /// Nobody waits (a failed commit still fails the jobs that do wait).
    Nobody,
}

struct Job {
    write: Write,
    reply: Reply,
}

/// The newest entries of the log, decoded, by index: always a contiguous run that ends at
/// the last entry, so a read from its first index on needs nothing from redb.
#[derive(Default)]
struct Tail {
    entries: BTreeMap<u64, TailEntry>,
}

struct TailEntry {
    /// The append that wrote it (a later append may replace the index after a truncation).
    seq: u64,
    /// Whether its transaction committed; only such entries may leave the tail.
    durable: bool,
    entry: EntryOf<TypeConfig>,
}

impl Tail {
    /// Marks the entries of append `seq` durable, then drops the oldest durable entries
    /// beyond [`TAIL_ENTRIES`].
    fn committed(&mut self, seq: u64, indexes: impl Iterator<Item = u64>) {
        for index in indexes {
            if let Some(e) = self.entries.get_mut(&index).filter(|e| e.seq == seq) {
                e.durable = true;
            }
        }
        while self.entries.len() > TAIL_ENTRIES
            && self.entries.first_key_value().is_some_and(|(_, e)| e.durable)
        {
            self.entries.pop_first();
        }
    }
}

#[derive(Clone)]
enum Writer {
    Thread(Arc<WriterThread>),
    /// Commits on the caller's task.
    Inline,
}

/// The writer thread's queue and handle. Dropping the last clone closes the queue and joins
/// the thread, which commits what is still queued first: after that the thread no longer
/// holds the database, so a restarted server can open the same file at once.
struct WriterThread {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            // A writer holding a committed id sees the closed queue at once.
            thread.thread().unpark();
            // A panicked writer dropped its jobs; their waiters already saw an error.
            let _ = thread.join();
        }
    }
}

/// The raft log storage. Cloning shares the database, the tail and the writer (the clone is
/// also the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    tail: Arc<Mutex<Tail>>,
    next_seq: Arc<AtomicU64>,
    writer: Writer,
}

fn lock(tail: &Mutex<Tail>) -> MutexGuard<'_, Tail> {
    // Nothing panics while holding the lock except an allocation failure.
    tail.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogStore {
    /// A log store over a database from [`open_database`], with its own writer thread (it
    /// stops, after committing what is queued, when the last clone is dropped). If the thread
    /// cannot be started, the store writes inline.
    pub fn new(db: Arc<Database>) -> Self {
        let mut store = LogStore::inline(db);
        let (tx, rx) = mpsc::channel(QUEUE_JOBS);
        let (db, tail) = (store.db.clone(), store.tail.clone());
        let spawned = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || run_writer(&db, &tail, rx));
        match spawned {
            Ok(thread) => {
                let writer = WriterThread { queue: Some(tx), thread: Some(thread) };
                store.writer = Writer::Thread(Arc::new(writer));
            }
            Err(e) => tracing::warn!("raft log writer thread: {e}; writing inline"),
        }
        store
    }

    /// A log store that commits on the calling task: every `append` waits for its own fsync.
    /// Deterministic, for simulated hosts; slower under load than [`LogStore::new`].
    pub fn inline(db: Arc<Database>) -> Self {
        LogStore {
            db,
            tail: Arc::new(Mutex::new(Tail::default())),
            next_seq: Arc::new(AtomicU64::new(0)),
            writer: Writer::Inline,
        }
    }

    /// Queues `job` (or runs it here when inline).
    async fn submit(&self, job: Job) -> io::Result<()> {
        match &self.writer {
            Writer::Thread(writer) => match &writer.queue {
                Some(queue) => {
                    queue.send(job).await.map_err(|_| writer_stopped())?;
                    // Wakes a writer holding a committed id in `next_within`; otherwise
                    // only leaves a token its next park consumes.
                    if let Some(thread) = &writer.thread {
                        thread.thread().unpark();
                    }
                    Ok(())
                }
                None => Err(writer_stopped()),
            },
            Writer::Inline => {
                commit_and_answer(&self.db, &self.tail, vec![job]);
                Ok(())
            }
        }
    }

    /// Queues `write` durably and waits until its transaction committed.
    async fn write_and_wait(&self, write: Write) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job { write, reply: Reply::Done(tx) }).await?;
        rx.await.map_err(|_| writer_stopped())?
    }
}

/// Whether a range of indexes holds none (so redb need not be asked).
fn range_is_empty((start, end): (Bound<u64>, Bound<u64>)) -> bool {
    let first = match start {
        Bound::Included(i) => i,
        Bound::Excluded(i) => match i.checked_add(1) {
            Some(i) => i,
            None => return true,
        },
        Bound::Unbounded => 0,
    };
    match end {
        Bound::Included(i) => i < first,
        Bound::Excluded(i) => i <= first,
        Bound::Unbounded => false,
    }
}

fn writer_stopped() -> io::Error {
    io::Error::other("the raft log writer stopped")
}

/// The writer thread: takes every job queued so far (up to [`BATCH_JOBS`]), commits them in
/// one transaction and answers each. Ends, after committing what it holds, when every
/// sender is gone.
///
/// A batch of nothing but jobs nobody waits for (the committed id) is held rather than
/// committed on its own: it joins the next transaction, or is committed alone once the queue
/// has stayed empty for [`HOLD_IDLE`]. Committed by itself it cost a whole fsync that the
/// next append, arriving a moment later, had to wait behind.
fn run_writer(db: &Database, tail: &Mutex<Tail>, mut rx: mpsc::Receiver<Job>) {
    let mut held: Vec<Job> = Vec::new();
    loop {
        let first = if held.is_empty() {
            rx.blocking_recv()
        } else {
            match next_within(&mut rx, HOLD_IDLE) {
                Next::Job(job) => Some(job),
                Next::Closed => None,
                Next::Idle => {
                    commit_and_answer(db, tail, std::mem::take(&mut held));
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut batch = std::mem::take(&mut held);
        batch.push(first);
        while batch.len() < BATCH_JOBS {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.iter().all(|job| matches!(job.reply, Reply::Nobody)) {
            held = batch;
            continue;
        }
        commit_and_answer(db, tail, batch);
    }
    if !held.is_empty() {
        commit_and_answer(db, tail, held);
    }
}

/// Commits `batch` in one transaction and answers every job in it.
fn commit_and_answer(db: &Database, tail: &Mutex<Tail>, batch: Vec<Job>) {
    let result = commit(db, &batch);
    finish(batch, &result, tail);
}

enum Next {
    Job(Job),
    Idle,
    Closed,
}

/// The next job, if one is queued within `idle`. Senders unpark the writer after queueing
/// ([`LogStore::submit`]), so the wait ends as soon as a job arrives.
fn next_within(rx: &mut mpsc::Receiver<Job>, idle: std::time::Duration) -> Next {
    #[allow(clippy::disallowed_methods, reason = "the writer thread's own real-time wait")]
    let deadline = std::time::Instant::now() + idle;
    loop {
        match rx.try_recv() {
            Ok(job) => return Next::Job(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return Next::Closed,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        #[allow(clippy::disallowed_methods, reason = "the writer thread's own real-time wait")]
        let now = std::time::Instant::now();
        if now >= deadline {
            return Next::Idle;
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// Applies `batch` in order in one write transaction, committed with an fsync.
fn commit(db: &Database, batch: &[Job]) -> io::Result<()> {
    let tx = db.begin_write().map_err(io_err)?;
    {
        let mut log = tx.open_table(LOG).map_err(io_err)?;
        let mut meta = tx.open_table(META).map_err(io_err)?;
        for job in batch {
            match &job.write {
                Write::Append { entries, .. } => {
                    for (index, bytes) in entries {
                        log.insert(*index, bytes.as_slice()).map_err(io_err)?;
                    }
                }
                Write::Meta { key, bytes } => {
                    meta.insert(*key, bytes.as_slice()).map_err(io_err)?;
                }
                Write::Truncate { from } => {
                    log.retain_in(*from.., |_, _| false).map_err(io_err)?;
                }
                Write::Purge { upto, log_id } => {
                    // The purge mark and the deletion commit together.
                    meta.insert(KEY_PURGED, log_id.as_slice()).map_err(io_err)?;
                    log.retain_in(..=*upto, |_, _| false).map_err(io_err)?;
                }
            }
        }
    }
    tx.commit().map_err(io_err)
}

/// Answers every job of a committed (or failed) batch; on success the appended entries are
/// in redb now, so the tail may let them go.
fn finish(batch: Vec<Job>, result: &io::Result<()>, tail: &Mutex<Tail>) {
    if result.is_ok() {
        let mut t = lock(tail);
        for job in &batch {
            if let Write::Append { seq, entries } = &job.write {
                t.committed(*seq, entries.iter().map(|(index, _)| *index));
            }
        }
    }
    for job in batch {
        let outcome = match result {
            Ok(()) => Ok(()),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        match job.reply {
            Reply::Flushed(callback) => callback.io_completed(outcome),
            Reply::Done(tx) => {
                // The caller may have given up waiting; nothing to tell then.
                let _ = tx.send(outcome);
            }
            Reply::Nobody => {}
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        // The tail first: an entry leaves it only after its commit, so a read transaction
        // begun afterwards finds everything below the tail's first index in redb.
        let (first_in_tail, from_tail): (Option<u64>, Vec<EntryOf<TypeConfig>>) = {
            let t = lock(&self.tail);
            let first = t.entries.first_key_value().map(|(i, _)| *i);
            (first, t.entries.range(bounds).map(|(_, e)| e.entry.clone()).collect())
        };
        let below_tail = match (first_in_tail, bounds.1) {
            (Some(first), Bound::Included(end)) if end < first => bounds,
            (Some(first), Bound::Excluded(end)) if end <= first => bounds,
            (Some(first), _) => (bounds.0, Bound::Excluded(first)),
            (None, _) => bounds,
        };
        let mut entries = Vec::new();
        if !range_is_empty(below_tail) {
            let tx = self.db.begin_read().map_err(io_err)?;
            let table = tx.open_table(LOG).map_err(io_err)?;
            for row in table.range(below_tail).map_err(io_err)? {
                let (_, v) = row.map_err(io_err)?;
                entries.push(serde_json::from_slice(v.value()).map_err(io_err)?);
            }
        }
        entries.extend(from_tail);
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
        let last_in_tail = lock(&self.tail).entries.last_key_value().map(|(_, e)| e.entry.log_id());
        let last = match last_in_tail {
            Some(id) => Some(id),
            None => {
                let tx = self.db.begin_read().map_err(io_err)?;
                let table = tx.open_table(LOG).map_err(io_err)?;
                match table.last().map_err(io_err)? {
                    Some((_, v)) => {
                        let entry: EntryOf<TypeConfig> =
                            serde_json::from_slice(v.value()).map_err(io_err)?;
                        Some(entry.log_id())
                    }
                    None => None,
                }
            }
        };
        let last_log_id = last.or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        let bytes = serde_json::to_vec(vote).map_err(io_err)?;
        self.write_and_wait(Write::Meta { key: KEY_VOTE, bytes }).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let bytes = serde_json::to_vec(&committed).map_err(io_err)?;
        let write = Write::Meta { key: KEY_COMMITTED, bytes };
        self.submit(Job { write, reply: Reply::Nobody }).await
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
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mut encoded = Vec::new();
        let mut decoded = Vec::new();
        for entry in entries {
            match serde_json::to_vec(&entry) {
                Ok(bytes) => encoded.push((entry.index(), bytes)),
                Err(e) => {
                    callback.io_completed(Err(io::Error::other(e.to_string())));
                    return Err(io_err(e));
                }
            }
            decoded.push(entry);
        }
        // Readable from here on, before the commit (openraft replicates from the reader).
        lock(&self.tail).entries.extend(
            decoded
                .into_iter()
                .map(|entry| (entry.index(), TailEntry { seq, durable: false, entry })),
        );
        let write = Write::Append { seq, entries: encoded };
        self.submit(Job { write, reply: Reply::Flushed(callback) }).await
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index() + 1);
        lock(&self.tail).entries.retain(|index, _| *index < from);
        self.write_and_wait(Write::Truncate { from }).await
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        let bytes = serde_json::to_vec(&log_id).map_err(io_err)?;
        let upto = log_id.index();
        lock(&self.tail).entries.retain(|index, _| *index > upto);
        self.write_and_wait(Write::Purge { upto, log_id: bytes }).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::testing::log_id;
    use openraft::type_config::TypeConfigExt;
    use proconsul_core::state::Command;

    use super::*;
    use crate::raft::types::Proposal;

    fn entry(term: u64, index: u64) -> EntryOf<TypeConfig> {
        let command = Command::KvSet {
            key: format!("k{index}"),
            value: term.to_be_bytes().to_vec(),
            flags: 0,
            cas: None,
        };
        EntryOf::<TypeConfig>::new_normal(
            log_id::<TypeConfig>(term, 1, index),
            Proposal::new(command),
        )
    }

    /// Appends `term`'s entries `indexes`; the returned future resolves once they are flushed.
    async fn append(
        store: &mut LogStore,
        term: u64,
        indexes: std::ops::RangeInclusive<u64>,
    ) -> impl std::future::Future<Output = io::Result<()>> + use<> {
        let (tx, rx) = TypeConfig::oneshot();
        let entries: Vec<_> = indexes.map(|i| entry(term, i)).collect();
        store.append(entries, IOFlushed::signal(tx)).await.expect("append queued");
        async move { rx.await.expect("the flush callback is called") }
    }

    async fn read(
        store: &mut LogStore,
        range: impl RangeBounds<u64> + Clone + Debug + Send,
    ) -> Vec<(u64, u64)> {
        let entries = store.try_get_log_entries(range).await.expect("read");
        entries.iter().map(|e| (e.log_id().leader_id.term, e.index())).collect()
    }

    fn ids(term: u64, indexes: std::ops::RangeInclusive<u64>) -> Vec<(u64, u64)> {
        indexes.map(|i| (term, i)).collect()
    }

    #[tokio::test]
    async fn appended_entries_are_readable_before_their_flush_and_durable_after_it() {
        for mut store in [
            LogStore::new(open_in_memory_database().unwrap()),
            LogStore::inline(open_in_memory_database().unwrap()),
        ] {
            let flushed = append(&mut store, 1, 1..=5).await;
            assert_eq!(read(&mut store, 1..=5).await, ids(1, 1..=5));
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id.map(|l| l.index()), Some(5));
            flushed.await.expect("flushed");
            // A second store over the same database has no tail: everything comes from redb.
            let mut other = LogStore::inline(store.db.clone());
            assert_eq!(read(&mut other, ..).await, ids(1, 1..=5));
        }
    }

    #[tokio::test]
    async fn reads_across_redb_and_the_tail_return_exactly_the_range() {
        let db = open_in_memory_database().unwrap();
        let mut before = LogStore::new(db.clone());
        append(&mut before, 1, 1..=10).await.await.unwrap();
        drop(before);
        // As after a restart: 1..=10 only in redb, 11..=12 in the tail.
        let mut store = LogStore::new(db);
        append(&mut store, 2, 11..=12).await.await.unwrap();
        assert_eq!(read(&mut store, 5..8).await, ids(1, 5..=7));
        assert_eq!(read(&mut store, 5..=8).await, ids(1, 5..=8));
        assert_eq!(read(&mut store, 9..=11).await, [ids(1, 9..=10), ids(2, 11..=11)].concat());
        assert_eq!(read(&mut store, 11..13).await, ids(2, 11..=12));
        assert_eq!(read(&mut store, ..=2).await, ids(1, 1..=2));
        assert_eq!(read(&mut store, 12..).await, ids(2, 12..=12));
        assert_eq!(read(&mut store, 13..20).await, []);
        assert_eq!(read(&mut store, ..).await.len(), 12);
    }

    #[tokio::test]
    async fn truncate_and_purge_cover_the_tail_and_redb() {
        let db = open_in_memory_database().unwrap();
        let mut store = LogStore::new(db.clone());
        append(&mut store, 1, 1..=10).await.await.unwrap();
        // A conflicting leader: drop 7..=10, then its term-2 entries take 7..=8.
        store.truncate_after(Some(log_id::<TypeConfig>(1, 1, 6))).await.unwrap();
        assert_eq!(read(&mut store, ..).await, ids(1, 1..=6));
        append(&mut store, 2, 7..=8).await.await.unwrap();
        store.purge(log_id::<TypeConfig>(1, 1, 3)).await.unwrap();
        let expected = [ids(1, 4..=6), ids(2, 7..=8)].concat();
        assert_eq!(read(&mut store, ..).await, expected);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index()), Some(3));
        assert_eq!(state.last_log_id, Some(log_id::<TypeConfig>(2, 1, 8)));
        // The same in redb alone.
        let mut reopened = LogStore::inline(db);
        assert_eq!(read(&mut reopened, ..).await, expected);
        assert_eq!(reopened.get_log_state().await.unwrap().last_log_id.map(|l| l.index()), Some(8));
    }

    #[tokio::test]
    async fn the_vote_is_durable_when_saved_and_the_committed_id_in_queue_order() {
        let db = open_in_memory_database().unwrap();
        let mut store = LogStore::new(db.clone());
        let flushed = append(&mut store, 1, 1..=3).await;
        let committed = Some(log_id::<TypeConfig>(1, 1, 2));
        // Not waited for: durable in the same or an earlier transaction than the vote.
        store.save_committed(committed).await.unwrap();
        let vote = VoteOf::<TypeConfig>::new(1, 1);
        store.save_vote(&vote).await.unwrap();
        let mut reopened = LogStore::inline(db);
        assert_eq!(reopened.read_committed().await.unwrap(), committed);
        assert_eq!(reopened.read_vote().await.unwrap(), Some(vote));
        // Queued before them, the entries are in the same or an earlier transaction.
        assert_eq!(read(&mut reopened, ..).await, ids(1, 1..=3));
        flushed.await.expect("flushed");
    }

    #[tokio::test]
    async fn a_committed_id_alone_is_held_briefly_then_committed_and_on_drop() {
        let db = open_in_memory_database().unwrap();
        let mut store = LogStore::new(db.clone());
        append(&mut store, 1, 1..=3).await.await.unwrap();
        let mut reader = LogStore::inline(db);
        let first = Some(log_id::<TypeConfig>(1, 1, 2));
        store.save_committed(first).await.unwrap();
        let mut waited = Duration::ZERO;
        while reader.read_committed().await.unwrap() != first {
            assert!(waited < Duration::from_secs(2), "committed alone after an idle moment");
            tokio::time::sleep(Duration::from_millis(1)).await;
            waited += Duration::from_millis(1);
        }
        let last = Some(log_id::<TypeConfig>(1, 1, 3));
        store.save_committed(last).await.unwrap();
        drop(store);
        assert_eq!(reader.read_committed().await.unwrap(), last, "committed when the store stops");
    }

    #[test]
    fn the_tail_keeps_uncommitted_entries_and_a_bounded_number_of_committed_ones() {
        let mut tail = Tail::default();
        let total = TAIL_ENTRIES as u64 + 10;
        for index in 0..total {
            tail.entries
                .insert(index, TailEntry { seq: 1, durable: false, entry: entry(1, index) });
        }
        tail.committed(2, 0..total);
        assert_eq!(tail.entries.len() as u64, total, "another append's commit frees nothing");
        tail.committed(1, 0..5);
        assert_eq!(
            tail.entries.first_key_value().map(|(i, _)| *i),
            Some(5),
            "only durable entries leave"
        );
        tail.committed(1, 0..total);
        assert_eq!(tail.entries.len(), TAIL_ENTRIES);
        assert_eq!(tail.entries.last_key_value().map(|(i, _)| *i), Some(total - 1));
    }

    #[test]
    fn empty_ranges_are_recognised() {
        use Bound::{Excluded, Included, Unbounded};
        assert!(range_is_empty((Included(5), Excluded(5))));
        assert!(range_is_empty((Included(5), Included(4))));
        assert!(range_is_empty((Excluded(u64::MAX), Unbounded)));
        assert!(!range_is_empty((Included(5), Included(5))));
        assert!(!range_is_empty((Unbounded, Excluded(1))));
        assert!(!range_is_empty((Excluded(3), Unbounded)));
    }
}
