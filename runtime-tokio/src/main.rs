//! The `proconsul` command. All of it lives in the library's `cli` module, so the binary
//! stays a one-line shim and the command can grow without touching this file.

/// An agent allocates per request, per raft entry and per gossip datagram from many threads;
/// mimalloc's thread-local heaps cost far less there than glibc's arenas (W6 spent a quarter
/// of its CPU time in glibc's malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    proconsul_runtime_tokio::cli::main()
}
