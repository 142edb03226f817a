//! py-consul 1.8.0's own test suite against `proconsul agent -dev` (issue 5's compatibility
//! bar): every test that does not need ACLs must pass.
//!
//! ```text
//!  venv (py-consul 1.8.0, pytest, pytest-asyncio, aiohttp, pytest-cov)   sdist py_consul-1.8.0.tar.gz
//!        │                                                                     │ unpacked into a temp dir,
//!        │                                     tests/py_consul/conftest.py ──► │ replacing its root conftest
//!        └──► python -m pytest tests  (PROCONSUL_BIN = the built binary) ◄─────┘
//!                  └─► JUnit XML ─► summarize.py ─► counts + every non-pass ─► assertions here
//! ```
//!
//! The venv is `$PROCONSUL_PYCONSUL_VENV` or `.venv-pyconsul` at the repository root (`.ci/run`
//! creates it and downloads the sdist into it). Without it the test prints how to make one and
//! passes, except with `CI=true`, where a missing venv is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const PY_CONSUL: &str = "1.8.0";
/// The whole suite starts one agent per test; this bounds a hung run.
const SUITE_DEADLINE: Duration = Duration::from_secs(40 * 60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn how_to(venv: &Path) -> String {
    format!(
        "python3 -m venv {v} && {v}/bin/pip install py-consul=={PY_CONSUL} pytest pytest-asyncio \
         pytest-cov aiohttp && {v}/bin/pip download --no-binary :all: --no-deps \
         py-consul=={PY_CONSUL} -d {v}",
        v = venv.display()
    )
}

/// Skips (prints why) locally, fails in CI.
fn unavailable(venv: &Path, why: &str) {
    let msg = format!("py-consul suite not run: {why}\nto run it: {}", how_to(venv));
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("{msg}");
}

fn python_ok(python: &Path, code: &str) -> bool {
    Command::new(python)
        .args(["-c", code])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The sdist in the venv, downloading it there if it is not yet.
fn sdist(python: &Path, venv: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PROCONSUL_PYCONSUL_SDIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv.join(format!("py_consul-{PY_CONSUL}.tar.gz")));
    if path.is_file() {
        return Some(path);
    }
    let spec = format!("py-consul=={PY_CONSUL}");
    let downloaded = Command::new(python)
        .args(["-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", &spec, "-d"])
        .arg(venv)
        .status()
        .is_ok_and(|s| s.success());
    (downloaded && path.is_file()).then_some(path)
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what}: {status}");
}

#[allow(
    clippy::disallowed_methods,
    reason = "a real-time deadline on a child process in an integration test"
)]
fn wait_bounded(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + SUITE_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for pytest") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("py-consul suite still running after {SUITE_DEADLINE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[derive(serde::Deserialize)]
struct Summary {
    counts: Counts,
    others: Vec<Outcome>,
}

#[derive(serde::Deserialize)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
}

#[derive(serde::Deserialize)]
struct Outcome {
    id: String,
    outcome: String,
    message: String,
}

#[test]
fn py_consul_suite_passes_except_tests_that_need_acls() {
    let venv = std::env::var_os("PROCONSUL_PYCONSUL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-pyconsul"));
    let python = venv.join("bin").join("python");
    let imports = format!(
        "import importlib.metadata as m, consul, pytest, pytest_asyncio, pytest_cov, aiohttp, requests; \
         assert m.version('py-consul') == '{PY_CONSUL}'"
    );
    if !python.is_file() || !python_ok(&python, &imports) {
        return unavailable(
            &venv,
            &format!("no venv with py-consul {PY_CONSUL} and pytest at {}", venv.display()),
        );
    }
    let Some(sdist) = sdist(&python, &venv) else {
        return unavailable(
            &venv,
            "the py-consul sdist is not in the venv and could not be downloaded",
        );
    };

    let work = tempfile::tempdir().expect("temp dir");
    let extract =
        "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')";
    run(
        Command::new(&python).args(["-c", extract]).arg(&sdist).arg(work.path()),
        "unpacking the sdist",
    );
    let suite = work.path().join(format!("py_consul-{PY_CONSUL}"));
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py_consul");
    std::fs::copy(ours.join("conftest.py"), suite.join("conftest.py"))
        .expect("our conftest in place");
    let junit = work.path().join("junit.xml");
    let log_path = work.path().join("pytest.log");
    let log = std::fs::File::create(&log_path).expect("pytest log");

    let mut child = Command::new(&python)
        .args(["-m", "pytest", "tests", "-o", "addopts=", "-p", "no:cacheprovider", "-rA"])
        .arg(format!("--junitxml={}", junit.display()))
        .current_dir(&suite)
        .env("PROCONSUL_BIN", env!("CARGO_BIN_EXE_proconsul"))
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("CONSUL_HTTP_TOKEN")
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("starting pytest");
    let status = wait_bounded(&mut child);
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(junit.is_file(), "pytest wrote no report ({status}):\n{output}");

    let summary = Command::new(&python).arg(ours.join("summarize.py")).arg(&junit).output();
    let summary = summary.expect("summarizing the report");
    let summary: Summary = serde_json::from_slice(&summary.stdout).unwrap_or_else(|e| {
        panic!("bad summary ({e}): {}", String::from_utf8_lossy(&summary.stderr))
    });
    let Counts { passed, failed, skipped } = summary.counts;
    println!("py-consul {PY_CONSUL} suite: {passed} passed, {failed} failed, {skipped} skipped");
    let mut problems = Vec::new();
    for o in &summary.others {
        println!("  {} {}: {}", o.outcome, o.id, o.message.lines().next().unwrap_or_default());
        let acl_skip = o.outcome == "skipped" && o.message.contains("needs ACLs");
        if !acl_skip {
            problems.push(format!("{} {}\n{}", o.outcome, o.id, o.message));
        }
    }
    assert!(passed > 0, "no py-consul test passed:\n{output}");
    let tail: Vec<&str> =
        output.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(
        problems.is_empty(),
        "{} py-consul tests failed or were skipped for a reason other than ACLs:\n\n{}\n\npytest output (tail):\n{}",
        problems.len(),
        problems.join("\n\n"),
        tail.join("\n")
    );
}
