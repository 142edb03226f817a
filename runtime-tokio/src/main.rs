//! The `proconsul` command. All of it lives in the library's `cli` module, so the binary
//! stays a one-line shim and the command can grow without touching this file.

fn main() -> std::process::ExitCode {
    proconsul_runtime_tokio::cli::main()
}
