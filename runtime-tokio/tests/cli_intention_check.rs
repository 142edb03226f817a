//! `proconsul intention check`: the decision a destination's sidecar makes, from files.

mod support;

use std::path::{Path, PathBuf};

use support::{Run, proconsul, write};

const DB_HCL: &str = r#"Kind = "service-intentions"
Name = "db"
Sources = [
  { Name = "web", Action = "allow" },
  { Name = "*", Action = "deny" },
]
"#;

const API_JSON: &str = r#"[{"Kind": "service-intentions", "Name": "api", "Sources": [
  {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}]}]"#;

fn files(dir: &Path) -> (PathBuf, PathBuf) {
    (write(dir, "db.hcl", DB_HCL), write(dir, "api.json", API_JSON))
}

fn check(intentions: &[&Path], extra: &[&str], source: &str, destination: &str) -> Run {
    let mut args = vec!["intention".to_owned(), "check".to_owned()];
    for f in intentions {
        args.push("--intentions".to_owned());
        args.push(f.to_str().unwrap().to_owned());
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push(source.to_owned());
    args.push(destination.to_owned());
    proconsul(args)
}

#[test]
fn an_exact_allow_intention_allows_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let run = check(&[&db], &[], "web", "db");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "Allowed: Matched L4 intention: default/web => default/db (Precedence: 9, Action: ALLOW)\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn a_wildcard_deny_denies_other_sources_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let run = check(&[&db], &[], "billing", "db");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stdout,
        "Denied: Matched L4 intention: default/* => default/db (Precedence: 8, Action: DENY)\n"
    );
}

#[test]
fn without_a_match_the_default_policy_decides() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let allow = check(&[&db], &[], "web", "cache");
    assert_eq!(allow.code, Some(0), "{allow:?}");
    assert_eq!(allow.stdout, "Allowed: Default behavior configured by ACLs\n");

    let deny = check(&[&db], &["--default-policy", "deny"], "web", "cache");
    assert_eq!(deny.code, Some(2), "{deny:?}");
    assert_eq!(deny.stdout, "Denied: Default behavior configured by ACLs\n");
}

#[test]
fn l7_intentions_deny_at_connection_level() {
    let dir = tempfile::tempdir().unwrap();
    let (_, api) = files(dir.path());
    let run = check(&[&api], &[], "web", "api");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stdout,
        "Denied: Matched L7 intention: default/web => default/api (Precedence: 9, Permissions: 1)\n"
    );
}

#[test]
fn several_files_and_directories_are_read_together() {
    let dir = tempfile::tempdir().unwrap();
    let (db, api) = files(dir.path());
    let both = check(&[&db, &api], &[], "web", "api");
    assert_eq!(both.code, Some(2), "{both:?}");
    assert!(both.stdout.starts_with("Denied: Matched L7 intention: default/web => default/api"));

    let whole_dir = check(&[dir.path()], &[], "web", "db");
    assert_eq!(whole_dir.code, Some(0), "{whole_dir:?}");
    assert!(
        whole_dir.stdout.starts_with("Allowed: Matched L4 intention: default/web => default/db")
    );
}

#[test]
fn a_spiffe_uri_source_matches_whatever_its_trust_domain_and_datacenter() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let uri = "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc9/svc/web";
    let run = check(&[&db], &[], uri, "db");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "Allowed: Matched L4 intention: default/web => default/db (Precedence: 9, Action: ALLOW)\n"
    );
}

#[test]
fn a_signing_id_source_is_an_error_not_a_denial() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let run = check(&[&db], &["--default-policy", "deny"], "spiffe://1111.consul", "db");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "error: ClientCertURI not a valid Service identifier\n");
}

#[test]
fn a_malformed_spiffe_uri_is_not_a_connect_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let run = check(&[&db], &[], "spiffe://consul/ns/default/svc/web", "db");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("error: ClientCertURI not a valid Connect identifier"),
        "{run:?}"
    );
}

#[test]
fn a_bad_intentions_file_is_an_error_not_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "db.hcl",
        "Kind = \"service-intentions\"\nName = \"db\"\nSources = [{ Name = \"web\", Action = \"alow\" }]\n",
    );
    let run = check(&[&bad], &[], "web", "db");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.err_lines().len(), 1, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!("{}: service-intentions \"db\": ", bad.display())),
        "{run:?}"
    );
}

#[test]
fn other_entry_kinds_are_ignored_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    write(dir.path(), "web.hcl", "kind = \"service-defaults\"\nname = \"web\"\n");
    let run = check(&[dir.path()], &[], "web", "db");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "note: ignoring service-defaults \"web\": not service-intentions\n");
}

#[test]
fn a_mistyped_policy_is_a_usage_error_with_exit_1_never_2() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = files(dir.path());
    let run = check(&[&db], &["--default-policy", "denny"], "web", "db");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("[possible values: allow, deny]"), "{run:?}");

    // Without files the agent decides; an unreachable agent is an error, not a denial.
    let no_files = proconsul(["intention", "check", "web", "db", "-http-addr", "127.0.0.1:1"]);
    assert_eq!(no_files.code, Some(1), "{no_files:?}");
    assert!(no_files.stderr.starts_with("Error checking the connection: "), "{no_files:?}");
}
