//! Shared by the `cli_*` suites: run the real `proconsul` binary and write input files into a
//! temporary directory, so every test sees exactly what an operator's shell would.

#![allow(dead_code, reason = "each cli_* test crate uses a different subset of these helpers")]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The seed scenarios of the discovery chain compiler, used as real-world config files.
pub const TESTDATA: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../core/src/discovery_chain/testdata");
pub const COUNTING: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../core/src/discovery_chain/testdata/counting");
pub const VIRTUAL_ADMIN: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../core/src/discovery_chain/testdata/virtual-admin");
pub const WEB_DC2: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../core/src/discovery_chain/testdata/web-dc2");

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code; `None` would mean killed by a signal (a crash).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout split into lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// stderr split into lines.
    pub fn err_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs `proconsul ARGS...` to completion.
pub fn proconsul<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_proconsul"))
        .args(args)
        .output()
        .expect("the proconsul binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file is writable");
    path
}

/// The `*.hcl` files of a seed scenario directory, sorted by name (as a shell glob expands).
pub fn hcl_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("seed directory exists")
        .map(|e| e.expect("seed directory is readable").path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    files
}

/// A path as the binary prints it at the start of a report line.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
