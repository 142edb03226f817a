//! openraft's own log-storage conformance suite over the redb log store and the core state
//! machine adapter. Each case gets a fresh in-memory redb (same code paths as a file minus
//! fsync, which would make the ~100 cases take seconds); the on-disk file is exercised by
//! `raft_single_node`'s restart tests.

mod raft_support;

use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};
use proconsul_runtime_tokio::raft::{
    LogStore, StateMachineStore, TypeConfig, open_in_memory_database,
};

struct RedbBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore> for RedbBuilder {
    async fn build(&self) -> Result<((), LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let db = open_in_memory_database().expect("open redb");
        let sm = StateMachineStore::open(db.clone(), raft_support::dc()).expect("open sm");
        Ok(((), LogStore::new(db), sm))
    }
}

// The suite sleeps 1 s between some steps (8 s in all); a paused clock skips them.
#[tokio::test(start_paused = true)]
async fn redb_store_passes_openraft_storage_suite() {
    Suite::test_all(RedbBuilder).await.expect("storage suite");
}
