//! `proconsul config validate`: what an operator's CI step sees for good and bad entry files.

mod support;

use support::{COUNTING, Run, VIRTUAL_ADMIN, WEB_DC2, hcl_files, proconsul, shown, write};

fn validate<S: AsRef<std::ffi::OsStr>>(files: &[S]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec!["config".as_ref(), "validate".as_ref()];
    args.extend(files.iter().map(AsRef::as_ref));
    proconsul(args)
}

const KNOWN_KINDS: &str = "service-defaults, proxy-defaults, service-router, service-splitter, \
                           service-resolver, service-intentions, ingress-gateway";

#[test]
fn seed_files_are_valid_and_counted() {
    let run = validate(&hcl_files(COUNTING));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "5 config entries valid\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn directories_stand_for_their_entry_files_and_all_seeds_validate_together() {
    let run = validate(&[COUNTING, VIRTUAL_ADMIN, WEB_DC2]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "11 config entries valid\n");
}

#[test]
fn hcl_syntax_error_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "web.hcl",
        "kind = \"service-defaults\"\nname = \"web\"\nprotocol = \"http\n",
    );
    let run = validate(&[&f]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: invalid HCL: line 3, column 12: unterminated string, expected a closing `\"` on \
             the same line",
            shown(&f)
        )]
    );
}

#[test]
fn unknown_field_is_named_with_its_full_path() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "router.json",
        r#"{"Kind": "service-router", "Name": "web",
            "Routes": [{"Match": {"HTTP": {"PathPrefx": "/admin"}}}]}"#,
    );
    let run = validate(&[&f]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: Routes[0].Match.HTTP: invalid config key \"Routes[0].Match.HTTP.PathPrefx\"",
            shown(&f)
        )]
    );
}

#[test]
fn splitter_weights_that_do_not_sum_to_100_are_refused_with_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "splitter.hcl",
        r#"kind = "service-splitter"
name = "web"
splits = [
  { weight = 33.33, service_subset = "a" },
  { weight = 33.33, service_subset = "b" },
  { weight = 33.33, service_subset = "c" },
]
"#,
    );
    let run = validate(&[&f]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: service-splitter \"web\": the sum of all split weights must be 100, not 99.990000",
            shown(&f)
        )]
    );
}

#[test]
fn unknown_kind_in_a_json_array_names_the_index_and_lists_known_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bundle.json",
        r#"[{"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
            {"Kind": "service-routr", "Name": "web"}]"#,
    );
    let run = validate(&[&f]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}[1]: invalid config entry kind: \"service-routr\" (known kinds: {KNOWN_KINDS})",
            shown(&f)
        )]
    );
}

#[test]
fn router_on_a_tcp_service_is_refused_as_a_write_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "db-router.hcl",
        "kind = \"service-router\"\nname = \"db\"\nroutes = [{ match { http { path_prefix = \"/\" } } }]\n",
    );
    let run = validate(&[&f]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: service-router \"db\": discovery chain \"db\" uses a protocol \"tcp\" that does \
             not permit advanced routing or splitting behavior",
            shown(&f)
        )]
    );
}

#[test]
fn redirect_cycle_across_two_files_is_reported_on_the_write_that_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.hcl",
        "kind = \"service-resolver\"\nname = \"a\"\nredirect { service = \"b\" }\n",
    );
    let b = write(
        dir.path(),
        "b.hcl",
        "kind = \"service-resolver\"\nname = \"b\"\nredirect { service = \"a\" }\n",
    );
    let run = validate(&[&a, &b]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: service-resolver \"b\": detected circular resolver redirect: \
             [a.default.default.dc1 -> b.default.default.dc1 -> a.default.default.dc1]",
            shown(&b)
        )]
    );
}

#[test]
fn writes_are_checked_in_command_line_order() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = write(
        dir.path(),
        "defaults.hcl",
        "kind = \"service-defaults\"\nname = \"db\"\nprotocol = \"http\"\n",
    );
    let router = write(
        dir.path(),
        "router.hcl",
        "kind = \"service-router\"\nname = \"db\"\nroutes = [{ match { http { path_prefix = \"/\" } } }]\n",
    );
    let in_order = validate(&[&defaults, &router]);
    assert_eq!(in_order.code, Some(0), "{in_order:?}");
    assert_eq!(in_order.stdout, "2 config entries valid\n");

    // A server would refuse the router while `db` is still tcp.
    let reversed = validate(&[&router, &defaults]);
    assert_eq!(reversed.code, Some(1), "{reversed:?}");
    assert_eq!(reversed.lines().len(), 1, "{reversed:?}");
    assert!(reversed.stdout.starts_with(&format!("{}: service-router \"db\": ", shown(&router))));
}

#[test]
fn every_problem_gets_its_own_line_and_no_summary() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.hcl", "kind = \"service-defaults\"\nname = \"web\"\n");
    let no_kind = write(dir.path(), "no-kind.json", r#"{"Name": "web"}"#);
    let missing = dir.path().join("missing.hcl");
    let not_object = write(dir.path(), "list.json", "[1]");
    let run = validate(&[&good, &no_kind, &missing, &not_object]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines = run.lines();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert_eq!(
        lines[0],
        format!("{}: Kind is required (known kinds: {KNOWN_KINDS})", shown(&no_kind))
    );
    assert!(lines[1].starts_with(&format!("{}: cannot read: ", shown(&missing))), "{run:?}");
    assert_eq!(lines[2], format!("{}[0]: config entry must be an object", shown(&not_object)));
}

#[test]
fn unreadable_files_name_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.hcl");
    let run = validate(&[&missing]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let want = std::fs::read(&missing).unwrap_err().to_string();
    assert_eq!(run.lines(), [format!("{}: cannot read: {want}", shown(&missing))]);
}

#[test]
fn json_objects_and_extensionless_files_are_read_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let json = write(dir.path(), "web", " \n{\"kind\": \"service-defaults\", \"name\": \"web\"}");
    let hcl = write(dir.path(), "api.conf", "Kind = \"service-defaults\"\nName = \"api\"\n");
    let run = validate(&[&json, &hcl]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "2 config entries valid\n");
}

#[test]
fn the_same_entry_defined_twice_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "a.json", r#"[{"Kind": "service-defaults", "Name": "web"}]"#);
    let second = write(dir.path(), "b.hcl", "kind = \"service-defaults\"\nname = \"web\"\n");
    let run = validate(&[&first, &second]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.lines(),
        [format!(
            "{}: service-defaults \"web\": already defined in {}[0]",
            shown(&second),
            shown(&first)
        )]
    );
}

#[test]
fn a_second_definition_is_a_duplicate_even_when_the_first_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let router = "kind = \"service-router\"\nname = \"db\"\nroutes = [{ match { http { path_prefix = \"/\" } } }]\n";
    let first = write(dir.path(), "a.hcl", router);
    let second = write(dir.path(), "b.hcl", router);
    let run = validate(&[&first, &second]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(lines[0].contains("does not permit advanced routing"), "{run:?}");
    assert_eq!(
        lines[1],
        format!("{}: service-router \"db\": already defined in {}", shown(&second), shown(&first))
    );
}

#[test]
fn the_datacenter_flag_is_the_datacenter_chains_are_checked_in() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.hcl",
        "kind = \"service-resolver\"\nname = \"a\"\nredirect { service = \"b\" }\n",
    );
    let b = write(
        dir.path(),
        "b.hcl",
        "kind = \"service-resolver\"\nname = \"b\"\nredirect { service = \"a\" }\n",
    );
    let run = proconsul([
        "config".as_ref(),
        "validate".as_ref(),
        "--datacenter".as_ref(),
        "east".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("[a.default.default.east -> b.default.default.east"), "{run:?}");
}

#[test]
fn hostile_input_is_reported_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep = "a = ".to_owned() + &"[".repeat(100_000);
    let deep_json = "[".repeat(100_000);
    let cases: [(&str, &[u8]); 8] = [
        ("bom.hcl", b"\xef\xbb\xbfkind = \"service-defaults\"\nnam = \"web\"\n"),
        ("deep.hcl", deep.as_bytes()),
        ("deep.json", deep_json.as_bytes()),
        ("binary.hcl", b"\xff\xfe\x00kind"),
        ("empty.json", b""),
        ("empty.hcl", b""),
        ("huge.hcl", b"kind = \"service-splitter\"\nname = \"w\"\nsplits = [{ weight = 1e999 }]\n"),
        ("types.json", br#"{"Kind": ["x"], "Name": {"a": 1}}"#),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }
    let run = validate(&paths);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert_eq!(run.lines().len(), paths.len(), "{run:?}");
    for (line, path) in run.lines().iter().zip(&paths) {
        assert!(line.starts_with(&format!("{}: ", shown(path))), "{line}");
    }
    // A byte-order mark is skipped, so the real mistake behind it is what gets reported.
    assert!(run.lines()[0].ends_with("invalid config key \"nam\""), "{run:?}");
}

#[test]
fn at_least_one_file_is_required_and_usage_errors_exit_1() {
    let run = proconsul(["config", "validate"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("<FILE>..."), "{run:?}");
}
