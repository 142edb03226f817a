//! Check definitions as py-consul, the Consul API docs and config files write them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::state::HealthStatus;

fn def(body: Value) -> CheckDefinition {
    CheckDefinition::from_json(&body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn err(body: Value) -> CheckDefinitionError {
    match CheckDefinition::from_json(&body) {
        Ok(d) => panic!("{body} was accepted as {d:?}"),
        Err(e) => e,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn py_consul_http_check_registers_with_id_from_name() {
    let d = def(json!({"name": "http_check", "http": "http://localhost:8500", "interval": "1s"}));
    assert_eq!(d.id.as_str(), "http_check");
    assert_eq!(d.name, "http_check");
    assert_eq!(d.status, HealthStatus::Critical, "Consul's initial status");
    assert_eq!(d.service_id, None);
    let CheckKind::Http(http) = &d.kind else { panic!("{:?}", d.kind) };
    assert_eq!(http.url, "http://localhost:8500");
    assert_eq!(http.method, "GET");
    assert_eq!(http.interval, secs(1));
    assert_eq!(http.timeout, None);
    assert!(!http.disable_redirects);
}

#[test]
fn py_consul_script_check_registers_but_is_unsupported() {
    let d = def(json!({
        "name": "check name", "args": ["sh", "-c", "/bin/true"], "interval": 10,
        "DeregisterCriticalServiceAfter": "10m", "id": "check_id"
    }));
    assert_eq!(d.id.as_str(), "check_id");
    assert_eq!(
        d.kind,
        CheckKind::Unsupported(UnsupportedCheck {
            kind: UnsupportedKind::Script,
            field: "ScriptArgs",
            interval: Some(Duration::from_nanos(10)),
        })
    );
    assert_eq!(d.kind.type_name(), "script");
    assert_eq!(d.options.deregister_critical_service_after, Some(secs(600)));
}

#[test]
fn py_consul_ttl_check_with_lowercase_service_id_and_notes() {
    let d = def(json!({"name": "foo", "ttl": "100ms", "serviceid": "foo1", "notes": "n"}));
    assert_eq!(d.kind, CheckKind::Ttl { ttl: Duration::from_millis(100) });
    assert_eq!(d.service_id.as_deref(), Some("foo1"));
    assert_eq!(d.notes, "n");
}

#[test]
fn api_casing_reads_every_http_field() {
    let d = def(json!({
        "ID": "api", "Name": "API", "Notes": "n", "ServiceID": "web1", "Status": "passing",
        "HTTP": "https://x.internal/health", "Method": "POST",
        "Header": {"X-A": ["1", "2"], "Host": "example"}, "Body": "{}",
        "TLSSkipVerify": true, "TLSServerName": "x", "DisableRedirects": true,
        "Interval": "10s", "Timeout": "2s", "SuccessBeforePassing": 2,
        "FailuresBeforeCritical": 3, "FailuresBeforeWarning": 1, "OutputMaxSize": 100,
        "DeregisterCriticalServiceAfter": "90m"
    }));
    assert_eq!(d.status, HealthStatus::Passing);
    assert_eq!(d.service_id.as_deref(), Some("web1"));
    let header: BTreeMap<String, Vec<String>> = [
        ("Host".to_owned(), vec!["example".to_owned()]),
        ("X-A".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
    ]
    .into();
    assert_eq!(
        d.kind,
        CheckKind::Http(HttpCheck {
            url: "https://x.internal/health".into(),
            method: "POST".into(),
            header,
            body: "{}".into(),
            tls_skip_verify: true,
            tls_server_name: Some("x".into()),
            disable_redirects: true,
            interval: secs(10),
            timeout: Some(secs(2)),
        })
    );
    assert_eq!(
        d.options,
        CheckOptions {
            deregister_critical_service_after: Some(secs(5400)),
            success_before_passing: 2,
            failures_before_warning: 1,
            failures_before_critical: 3,
            output_max_size: Some(100),
        }
    );
}

#[test]
fn snake_case_config_file_spelling_reads_a_tcp_check() {
    let d = def(json!({
        "name": "ssh", "check_id": "ssh-check", "tcp": "127.0.0.1:22", "interval": "5s",
        "timeout": "1s", "tcp_use_tls": true, "tls_skip_verify": true,
        "success_before_passing": 1, "service_id": "sshd"
    }));
    assert_eq!(d.id.as_str(), "ssh-check");
    assert_eq!(
        d.kind,
        CheckKind::Tcp(TcpCheck {
            addr: "127.0.0.1:22".into(),
            use_tls: true,
            tls_skip_verify: true,
            tls_server_name: None,
            interval: secs(5),
            timeout: Some(secs(1)),
        })
    );
    assert_eq!(d.options.success_before_passing, 1);
}

#[test]
fn unknown_keys_and_nulls_are_ignored_as_go_does() {
    let d = def(json!({
        "Name": "x", "TTL": "1s", "Type": "ttl", "Definition": {}, "Node": "n1",
        "Notes": null, "Status": "", "Timeout": null
    }));
    assert_eq!(d.kind, CheckKind::Ttl { ttl: secs(1) });
    assert_eq!(d.status, HealthStatus::Critical);
}

#[test]
fn non_positive_timeout_and_deregister_mean_unset() {
    let d = def(json!({"Name": "x", "TCP": "h:1", "Interval": "1s", "Timeout": "-1s",
                       "DeregisterCriticalServiceAfter": "0s"}));
    assert_eq!(d.kind.timeout(), None);
    assert_eq!(d.options.deregister_critical_service_after, None);
}

#[test]
fn alias_of_a_local_service_runs_and_alias_of_a_node_is_unsupported() {
    let d = def(json!({"Name": "Connect Sidecar Aliasing web1", "AliasService": "web1"}));
    assert_eq!(d.kind, CheckKind::Alias { service_id: "web1".into() });
    let d = def(json!({"Name": "a", "AliasNode": "n2", "AliasService": "db"}));
    assert!(matches!(
        d.kind,
        CheckKind::Unsupported(UnsupportedCheck { kind: UnsupportedKind::RemoteAlias, .. })
    ));
}

#[test]
fn grpc_docker_h2ping_udp_and_os_service_are_unsupported_kinds() {
    let cases = [
        (
            json!({"Name": "g", "GRPC": "h:1", "GRPCUseTLS": true, "Interval": "5s"}),
            UnsupportedKind::Grpc,
        ),
        (
            json!({"Name": "d", "DockerContainerID": "c1", "Args": ["ls"], "Shell": "/bin/sh",
                "Interval": "5s"}),
            UnsupportedKind::Docker,
        ),
        (json!({"Name": "h", "H2PING": "h:1", "Interval": "5s"}), UnsupportedKind::H2Ping),
        (json!({"Name": "u", "UDP": "h:1", "Interval": "5s"}), UnsupportedKind::Udp),
        (json!({"Name": "o", "OSService": "sshd", "Interval": "5s"}), UnsupportedKind::OsService),
    ];
    for (body, want) in cases {
        let d = def(body.clone());
        let CheckKind::Unsupported(u) = &d.kind else { panic!("{body}: {:?}", d.kind) };
        assert_eq!(u.kind, want, "{body}");
        assert_eq!(u.interval, Some(secs(5)));
        assert!(u.output().contains("not supported by Proconsul"), "{}", u.output());
    }
}

#[test]
fn invalid_definitions_name_the_field_and_reason() {
    use CheckDefinitionError as E;
    let cases: Vec<(Value, E, &str)> = vec![
        (json!({"TTL": "1s"}), E::MissingName, "Missing check name"),
        (
            json!({"Name": "x", "HTTP": "http://a"}),
            E::MissingInterval,
            "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ),
        (json!({"Name": "x"}), E::MissingTtl, "TTL must be > 0 for TTL checks"),
        (json!({"Name": "x", "TTL": "-1s"}), E::MissingTtl, "TTL must be > 0 for TTL checks"),
        (
            json!({"Name": "x", "TTL": "5s", "Interval": "1s"}),
            E::IntervalAndTtl,
            "Interval and TTL cannot both be specified",
        ),
        (
            json!({"Name": "x", "HTTP": "http://a", "TCP": "a:1", "Interval": "1s"}),
            E::ConflictingKinds { first: "HTTP", second: "TCP" },
            "HTTP and TCP cannot both be specified",
        ),
        (
            json!({"Name": "x", "TTL": "5s", "AliasService": "web"}),
            E::ConflictingKinds { first: "TTL", second: "AliasService" },
            "TTL and AliasService cannot both be specified",
        ),
        (
            json!({"Name": "x", "TTL": "ten"}),
            E::BadDuration { field: "TTL".into(), value: "ten".into() },
            "TTL: invalid duration \"ten\"",
        ),
        (
            json!({"Name": "x", "TTL": true}),
            E::WrongType {
                field: "TTL".into(),
                expected: "a duration such as \"10s\" or a number of nanoseconds",
            },
            "TTL: expected a duration such as \"10s\" or a number of nanoseconds",
        ),
        (
            json!({"Name": "x", "TTL": "1s", "Status": "ok"}),
            E::BadStatus { field: "Status".into(), value: "ok".into() },
            "Status: status must be \"passing\", \"warning\" or \"critical\", got \"ok\"",
        ),
        (
            json!({"Name": "x", "TTL": "1s", "FailuresBeforeCritical": -1}),
            E::Negative { field: "FailuresBeforeCritical".into() },
            "FailuresBeforeCritical: must be >= 0",
        ),
        (
            json!({"Name": "x", "TTL": "1s", "OutputMaxSize": -1}),
            E::NegativeOutputMaxSize,
            "MaxOutputMaxSize must be positive",
        ),
        (
            json!({"Name": "x", "HTTP": "http://a", "Interval": "1s", "Header": {"A": 1}}),
            E::WrongType { field: "Header.A".into(), expected: "a list of strings" },
            "Header.A: expected a list of strings",
        ),
        (
            json!({"Name": "x", "TTL": "1s", "ttl": "2s"}),
            E::DuplicateKey { field: "TTL".into(), first: "TTL".into(), second: "ttl".into() },
            "TTL: given twice (as \"TTL\" and \"ttl\")",
        ),
        (
            json!({"Name": "x", "TTL": "1s", "ID": "a", "CheckID": "b"}),
            E::ConflictingIds { field: String::new(), id: "a".into(), check_id: "b".into() },
            ": ID \"a\" and CheckID \"b\" disagree",
        ),
        (json!(["x"]), E::NotAnObject { field: String::new() }, ": expected an object"),
    ];
    for (body, want, message) in cases {
        let got = err(body.clone());
        assert_eq!(got, want, "{body}");
        assert_eq!(got.to_string(), message, "{body}");
    }
    assert_eq!(
        err(json!({"Name": "x", "TTL": "1s", "OutputMaxSize": -1})).field(),
        "OutputMaxSize"
    );
    assert_eq!(err(json!({"Name": "x", "HTTP": "http://a"})).field(), "Interval");
}

#[test]
fn service_checks_get_consuls_ids_and_names() {
    let specs = decode_service_checks(
        Some(&json!({"http": "http://127.0.0.1:8500", "interval": "1s"})),
        Some(&json!([
            {"http": "http://127.0.0.1:8500", "interval": "2s"},
            {"http": "http://127.0.0.1:8500", "interval": "3s", "ServiceID": "elsewhere"}
        ])),
    )
    .unwrap();
    let defs = service_check_definitions("foo1", "foo", specs).unwrap();
    let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["service:foo1:1", "service:foo1:2", "service:foo1:3"]);
    assert!(defs.iter().all(|d| d.name == "Service 'foo' check"));
    assert!(defs.iter().all(|d| d.service_id.as_deref() == Some("foo1")));
    let intervals: Vec<_> = defs.iter().map(|d| d.kind.interval()).collect();
    assert_eq!(intervals, [Some(secs(1)), Some(secs(2)), Some(secs(3))]);
}

#[test]
fn one_service_check_is_service_colon_id_and_explicit_ids_and_names_are_kept() {
    let specs = decode_service_checks(Some(&json!({"TTL": "10s"})), None).unwrap();
    let defs = service_check_definitions("web1", "web", specs).unwrap();
    assert_eq!(defs[0].id.as_str(), "service:web1");
    let specs = decode_service_checks(
        None,
        Some(&json!([{"CheckID": "own", "Name": "Mine", "TTL": "1s"}, {"TTL": "1s"}])),
    )
    .unwrap();
    let defs = service_check_definitions("web1", "web", specs).unwrap();
    assert_eq!((defs[0].id.as_str(), defs[0].name.as_str()), ("own", "Mine"));
    assert_eq!(defs[1].id.as_str(), "service:web1:2");
}

#[test]
fn empty_service_check_object_is_skipped_but_an_empty_checks_entry_is_invalid() {
    assert_eq!(decode_service_checks(Some(&json!({})), Some(&Value::Null)).unwrap(), vec![]);
    assert_eq!(
        decode_service_checks(None, Some(&json!([{}]))),
        Err(CheckDefinitionError::MissingTtl)
    );
}

#[test]
fn service_check_errors_carry_their_position() {
    let e = decode_service_checks(
        None,
        Some(&json!([{"TTL": "1s"}, {"HTTP": "http://a", "Interval": "soon"}])),
    )
    .unwrap_err();
    assert_eq!(e.field(), "Checks[1].Interval");
    assert_eq!(e.to_string(), "Checks[1].Interval: invalid duration \"soon\"");
    let e = decode_service_checks(Some(&json!("ttl")), None).unwrap_err();
    assert_eq!(e.to_string(), "Check: expected an object");
    let e = decode_service_checks(None, Some(&json!({"TTL": "1s"}))).unwrap_err();
    assert_eq!(e.to_string(), "Checks: expected a list of checks");
}

#[test]
fn check_ids_must_not_be_empty() {
    assert_eq!(CheckId::new(""), Err(CheckDefinitionError::MissingId));
    assert_eq!(CheckId::new("service:web1").unwrap().to_string(), "service:web1");
}
