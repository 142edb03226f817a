//! `proconsul config compile`: the discovery chain a proxy would get, from files.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{COUNTING, Run, TESTDATA, proconsul, shown, write};

const TD: &str = "11111111-2222-3333-4444-555555555555.consul";

fn compile(dir: &Path, extra: &[&str], service: &str) -> Run {
    let mut args = vec!["config", "compile", "--entries", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(service);
    proconsul(args)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn counting_chain_matches_the_golden_file() {
    let run =
        compile(Path::new(COUNTING), &["--trust-domain", TD, "--datacenter", "dc1"], "counting");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "");
    let golden = std::fs::read_to_string(format!("{TESTDATA}/counting.golden.json")).unwrap();
    assert_eq!(json(&run.stdout), json(&golden));
}

#[test]
fn default_trust_domain_is_consul_and_the_datacenter_shapes_targets() {
    let run = compile(Path::new(COUNTING), &["--datacenter", "east"], "counting");
    assert_eq!(run.code, Some(0), "{run:?}");
    let chain = &json(&run.stdout)["Chain"];
    assert_eq!(chain["Datacenter"], "east");
    let target = &chain["Targets"]["counting.default.default.east"];
    assert_eq!(target["SNI"], "counting.default.east.internal.consul", "{chain:#}");
}

#[test]
fn a_service_without_entries_gets_the_default_tcp_chain() {
    let dir = tempfile::tempdir().unwrap();
    let run = compile(dir.path(), &["--datacenter", "dc1"], "db");
    assert_eq!(run.code, Some(0), "{run:?}");
    let chain = &json(&run.stdout)["Chain"];
    assert_eq!(chain["Default"], true);
    assert_eq!(chain["Protocol"], "tcp");
    assert_eq!(chain["StartNode"], "resolver:db.default.default.dc1");
}

#[test]
fn only_hcl_and_json_files_are_read_in_file_name_order() {
    let dir = tempfile::tempdir().unwrap();
    // Names sort defaults before router, so the router is accepted; the README is not an
    // entry and the dot-file is an editor's leftover.
    write(
        dir.path(),
        "1-defaults.json",
        r#"{"Kind": "service-defaults", "Name": "web", "Protocol": "http"}"#,
    );
    write(
        dir.path(),
        "2-router.hcl",
        "kind = \"service-router\"\nname = \"web\"\nroutes = [{ match { http { path_prefix = \"/admin\" } }\n  destination { service = \"admin\" } }]\n",
    );
    write(
        dir.path(),
        "3-admin.hcl",
        "kind = \"service-defaults\"\nname = \"admin\"\nprotocol = \"http\"\n",
    );
    write(dir.path(), "README.md", "not an entry");
    write(dir.path(), ".#2-router.hcl", "garbage {");
    let run = compile(dir.path(), &["--datacenter", "dc1"], "web");
    assert_eq!(run.code, Some(1), "{run:?}");
    // The router is written before `admin` speaks HTTP, exactly as a deploy in this order.
    assert_eq!(run.stdout, "");
    let router = dir.path().join("2-router.hcl");
    assert_eq!(run.err_lines().len(), 1, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!("{}: service-router \"web\": ", shown(&router))),
        "{run:?}"
    );

    std::fs::rename(dir.path().join("3-admin.hcl"), dir.path().join("0-admin.hcl")).unwrap();
    let run = compile(dir.path(), &["--datacenter", "dc1"], "web");
    assert_eq!(run.code, Some(0), "{run:?}");
    let chain = &json(&run.stdout)["Chain"];
    assert_eq!(chain["StartNode"], "router:web.default.default");
    assert_eq!(chain["Protocol"], "http");
}

#[test]
fn invalid_entries_are_refused_on_stderr_and_nothing_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "splitter.json",
        r#"[{"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
            {"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 99.99}]}]"#,
    );
    let run = compile(dir.path(), &["--datacenter", "dc1"], "web");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.err_lines(),
        [format!(
            "{}[1]: service-splitter \"web\": the sum of all split weights must be 100, not \
             99.990000",
            shown(&f)
        )]
    );
}

#[test]
fn a_redirect_cycle_is_an_error_not_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.hcl",
        "kind = \"service-resolver\"\nname = \"a\"\nredirect { service = \"b\" }\n",
    );
    let b = write(
        dir.path(),
        "b.hcl",
        "kind = \"service-resolver\"\nname = \"b\"\nredirect { service = \"a\" }\n",
    );
    let run = compile(dir.path(), &["--datacenter", "dc1"], "a");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.err_lines(),
        [format!(
            "{}: service-resolver \"b\": detected circular resolver redirect: \
             [a.default.default.dc1 -> b.default.default.dc1 -> a.default.default.dc1]",
            shown(&b)
        )]
    );
}

#[test]
fn a_missing_entries_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let run = compile(&missing, &["--datacenter", "dc1"], "web");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with(&format!("{}: cannot read: ", shown(&missing))), "{run:?}");
}

#[test]
fn datacenter_is_required_and_bad_names_are_usage_errors() {
    let run = proconsul(["config", "compile", "--entries", COUNTING, "counting"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("--datacenter <DC>"), "{run:?}");

    let run = proconsul([
        "config",
        "compile",
        "--entries",
        COUNTING,
        "--datacenter",
        "dc1",
        "--trust-domain",
        "bad_domain",
        "counting",
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("invalid value 'bad_domain' for '--trust-domain <TD>'"), "{run:?}");
}
