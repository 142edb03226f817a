//! The scheduler driven in virtual time, with scripted probe answers.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::rng::Seed;
use crate::state::HealthStatus::{self, Critical, Passing, Warning};
use crate::time::Instant;

const SEC: u64 = 1_000_000_000;

fn at_ms(ms: u64) -> Instant {
    Instant(ms * 1_000_000)
}

fn config() -> SchedulerConfig {
    SchedulerConfig { check_update_interval: Duration::ZERO, ..SchedulerConfig::default() }
}

fn scheduler(config: SchedulerConfig) -> CheckScheduler {
    CheckScheduler::new(config, Seed(7).stream("checks"))
}

fn def(body: Value) -> CheckDefinition {
    CheckDefinition::from_json(&body).unwrap()
}

fn http(id: &str, interval: &str) -> CheckDefinition {
    def(json!({"Name": id, "HTTP": "http://a/health", "Interval": interval}))
}

fn ok(body: &str) -> ProbeResult {
    response(200, "OK", body)
}

fn response(status: u16, reason: &str, body: &str) -> ProbeResult {
    ProbeResult::HttpResponse { status, reason: reason.into(), body_tail: body.as_bytes().to_vec() }
}

fn changes(s: &mut CheckScheduler) -> Vec<(String, HealthStatus, String)> {
    std::iter::from_fn(|| s.poll_status_change())
        .map(|c| (c.check_id.into_string(), c.status, c.output))
        .collect()
}

/// Fires the next timer; returns its instant and the probes it released.
fn step(s: &mut CheckScheduler) -> (Instant, Vec<Probe>) {
    let now = s.poll_timeout().expect("a timer is armed");
    s.handle_timeout(now);
    (now, std::iter::from_fn(|| s.poll_probe()).collect())
}

/// Fires timers up to `until`, answering every probe at once with `answer`.
fn run_until(
    s: &mut CheckScheduler,
    until: Instant,
    mut answer: impl FnMut(&Probe) -> ProbeResult,
) {
    while let Some(next) = s.poll_timeout().filter(|t| *t <= until) {
        s.handle_timeout(next);
        while let Some(p) = s.poll_probe() {
            let result = answer(&p);
            s.handle_probe_result(p.check_id.as_str(), result, next);
        }
    }
}

#[test]
fn first_probe_is_at_a_seeded_random_offset_within_the_interval() {
    let offsets: Vec<u64> = (0..8)
        .map(|seed| {
            let mut s = CheckScheduler::new(config(), Seed(seed).stream("checks"));
            s.add(http("c", "10s"), Instant::ZERO).unwrap();
            s.poll_timeout().unwrap().nanos()
        })
        .collect();
    assert!(offsets.iter().all(|o| *o < 10 * SEC), "{offsets:?}");
    assert!(offsets.windows(2).any(|w| w[0] != w[1]), "seeds differ: {offsets:?}");
    let mut again = CheckScheduler::new(config(), Seed(3).stream("checks"));
    again.add(http("c", "10s"), Instant::ZERO).unwrap();
    assert_eq!(again.poll_timeout().unwrap().nanos(), offsets[3], "same seed, same offset");
}

#[test]
fn http_probe_carries_consuls_defaults_and_the_definition() {
    let mut s = scheduler(config());
    s.add(
        def(json!({"Name": "c", "HTTP": "https://a/h", "Interval": "5s", "Method": "PUT",
                   "Body": "b", "Header": {"Accept": ["application/json"], "X": ["1", "2"]},
                   "TLSSkipVerify": true, "DisableRedirects": true})),
        Instant::ZERO,
    )
    .unwrap();
    let (_, probes) = step(&mut s);
    let [probe] = &probes[..] else { panic!("{probes:?}") };
    assert_eq!(probe.check_id.as_str(), "c");
    let ProbeKind::Http { url, method, headers, body, timeout, tls, follow_redirects, body_limit } =
        &probe.kind
    else {
        panic!("{probe:?}")
    };
    assert_eq!((url.as_str(), method.as_str(), body.as_str()), ("https://a/h", "PUT", "b"));
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        headers,
        [
            ("Accept", "application/json"),
            ("X", "1"),
            ("X", "2"),
            ("User-Agent", "Consul Health Check"),
        ]
    );
    assert_eq!(*timeout, DEFAULT_TIMEOUT);
    assert!(tls.skip_verify && !follow_redirects);
    assert_eq!(*body_limit, 4096);
}

#[test]
fn http_statuses_map_to_passing_warning_critical_with_consuls_output() {
    let mut s = scheduler(config());
    s.add(http("web", "10s"), Instant::ZERO).unwrap();
    let answers = [
        (ok("fine"), Passing, "HTTP GET http://a/health: 200 OK Output: fine"),
        (
            response(204, "No Content", ""),
            Passing,
            "HTTP GET http://a/health: 204 No Content Output: ",
        ),
        (
            response(429, "Too Many Requests", "slow"),
            Warning,
            "HTTP GET http://a/health: 429 Too Many Requests Output: slow",
        ),
        (
            response(500, "Internal Server Error", "boom"),
            Critical,
            "HTTP GET http://a/health: 500 Internal Server Error Output: boom",
        ),
        (
            response(301, "Moved Permanently", ""),
            Critical,
            "HTTP GET http://a/health: 301 Moved Permanently Output: ",
        ),
        (
            ProbeResult::Failed { error: "dial tcp 10.0.0.1:80: connection refused".into() },
            Critical,
            "Get \"http://a/health\": dial tcp 10.0.0.1:80: connection refused",
        ),
    ];
    for (answer, status, output) in answers {
        let (now, probes) = step(&mut s);
        assert_eq!(probes.len(), 1);
        s.handle_probe_result("web", answer, now);
        assert_eq!(changes(&mut s), [("web".to_owned(), status, output.to_owned())]);
        assert_eq!(s.poll_timeout(), Some(now.plus(Duration::from_secs(10))), "next probe");
    }
}

#[test]
fn intervals_below_one_second_probe_every_second() {
    let mut s = scheduler(config());
    s.add(http("fast", "100ms"), Instant::ZERO).unwrap();
    assert!(s.poll_timeout().unwrap().nanos() < SEC);
    let (now, _) = step(&mut s);
    s.handle_probe_result("fast", ok(""), now);
    assert_eq!(s.poll_timeout(), Some(now.plus(MIN_INTERVAL)));
}

#[test]
fn a_check_has_at_most_one_probe_out_and_late_answers_schedule_the_next() {
    let mut s = scheduler(config());
    s.add(http("slow", "1s"), Instant::ZERO).unwrap();
    let (now, probes) = step(&mut s);
    assert_eq!(probes.len(), 1);
    assert_eq!(s.poll_timeout(), None, "nothing is armed while the probe is out");
    s.handle_timeout(at_ms(60_000));
    assert_eq!(s.poll_probe(), None);
    s.handle_probe_result("slow", ok(""), at_ms(9_000));
    s.handle_probe_result("slow", ok("duplicate"), at_ms(9_000));
    assert_eq!(
        changes(&mut s),
        [("slow".to_owned(), Passing, "HTTP GET http://a/health: 200 OK Output: ".to_owned())]
    );
    assert_eq!(s.poll_timeout(), Some(at_ms(10_000)));
    assert!(now < at_ms(1_000));
}

#[test]
fn http_output_keeps_the_last_bytes_of_the_body() {
    let mut s = scheduler(SchedulerConfig { output_max_size: 8, ..config() });
    s.add(http("c", "1s"), Instant::ZERO).unwrap();
    let (now, probes) = step(&mut s);
    let ProbeKind::Http { body_limit, .. } = probes[0].kind else { panic!() };
    assert_eq!(body_limit, 8);
    s.handle_probe_result("c", ok("0123456789abc"), now);
    assert_eq!(changes(&mut s)[0].2, "HTTP GET http://a/health: 200 OK Output: 56789abc");
}

#[test]
fn a_checks_own_output_max_size_only_lowers_the_agent_limit() {
    let mut s = scheduler(SchedulerConfig { output_max_size: 8, ..config() });
    s.add(
        def(json!({"Name": "big", "HTTP": "http://a", "Interval": "1s", "OutputMaxSize": 100})),
        Instant::ZERO,
    )
    .unwrap();
    s.add(
        def(json!({"Name": "small", "HTTP": "http://a", "Interval": "1s", "OutputMaxSize": 2})),
        Instant::ZERO,
    )
    .unwrap();
    let mut limits = Vec::new();
    run_until(&mut s, at_ms(1_000), |p| {
        let ProbeKind::Http { body_limit, .. } = p.kind else { panic!() };
        limits.push((p.check_id.to_string(), body_limit));
        ok("")
    });
    limits.sort();
    assert_eq!(limits, [("big".to_owned(), 8), ("small".to_owned(), 2)]);
}

#[test]
fn tcp_success_and_failure_outputs() {
    let mut s = scheduler(config());
    s.add(
        def(json!({"Name": "db", "TCP": "127.0.0.1:5432", "Interval": "2s", "Timeout": "1s"})),
        Instant::ZERO,
    )
    .unwrap();
    let (now, probes) = step(&mut s);
    assert_eq!(
        probes[0].kind,
        ProbeKind::Tcp {
            addr: "127.0.0.1:5432".into(),
            timeout: Duration::from_secs(1),
            tls: None
        }
    );
    s.handle_probe_result("db", ProbeResult::Connected, now);
    assert_eq!(
        changes(&mut s),
        [("db".to_owned(), Passing, "TCP connect 127.0.0.1:5432: Success".to_owned())]
    );
    let (now, _) = step(&mut s);
    let refused = "dial tcp 127.0.0.1:5432: connection refused";
    s.handle_probe_result("db", ProbeResult::Failed { error: refused.into() }, now);
    assert_eq!(changes(&mut s), [("db".to_owned(), Critical, refused.to_owned())]);
}

#[test]
fn ttl_expires_critical_and_keeps_the_last_output() {
    let mut s = scheduler(config());
    s.add(def(json!({"Name": "app", "TTL": "10s"})), Instant::ZERO).unwrap();
    assert_eq!(s.poll_timeout(), Some(at_ms(10_000)));
    s.handle_timeout(at_ms(9_999));
    assert_eq!(changes(&mut s), []);
    s.handle_timeout(at_ms(10_000));
    assert_eq!(changes(&mut s), [("app".to_owned(), Critical, "TTL expired".to_owned())]);
    assert_eq!(s.poll_timeout(), None, "an expired TTL waits for the next update");

    s.update_ttl("app", Passing, "all good", at_ms(11_000)).unwrap();
    assert_eq!(changes(&mut s), [("app".to_owned(), Passing, "all good".to_owned())]);
    assert_eq!(s.poll_timeout(), Some(at_ms(21_000)), "each update restarts the TTL");
    s.update_ttl("app", Warning, "meh", at_ms(15_000)).unwrap();
    s.handle_timeout(at_ms(21_000));
    assert_eq!(changes(&mut s), [("app".to_owned(), Warning, "meh".to_owned())]);
    s.handle_timeout(at_ms(25_000));
    assert_eq!(
        changes(&mut s),
        [(
            "app".to_owned(),
            Critical,
            "TTL expired (last output before timeout follows): meh".to_owned()
        )]
    );
}

#[test]
fn update_ttl_refuses_unknown_and_non_ttl_checks_with_consuls_message() {
    let mut s = scheduler(config());
    s.add(http("web", "10s"), Instant::ZERO).unwrap();
    let e = s.update_ttl("web", Passing, "", Instant::ZERO).unwrap_err();
    assert_eq!(e.to_string(), "CheckID \"web\" does not have associated TTL");
    let e = s.update_ttl("nope", Passing, "", Instant::ZERO).unwrap_err();
    assert_eq!(e.to_string(), "CheckID \"nope\" does not have associated TTL");
    assert_eq!(s.status("web").unwrap().status, Critical, "nothing changed");
}

#[test]
fn ttl_output_is_capped_like_consul_on_a_character_boundary() {
    let mut s = scheduler(SchedulerConfig { output_max_size: 4, ..config() });
    s.add(def(json!({"Name": "t", "TTL": "1m"})), Instant::ZERO).unwrap();
    s.update_ttl("t", Passing, "abcdef", Instant::ZERO).unwrap();
    assert_eq!(s.status("t").unwrap().output, "abcd ... (captured 4 of 6 bytes)");
    s.update_ttl("t", Passing, "abcé!", Instant::ZERO).unwrap();
    assert_eq!(s.status("t").unwrap().output, "abc ... (captured 4 of 6 bytes)");
}

#[test]
fn thresholds_hold_flips_until_runs_complete() {
    let mut s = scheduler(config());
    s.add(
        def(json!({"Name": "c", "HTTP": "http://a", "Interval": "1s",
                   "SuccessBeforePassing": 2, "FailuresBeforeCritical": 2})),
        Instant::ZERO,
    )
    .unwrap();
    let mut statuses = Vec::new();
    let script = [500, 200, 200, 500, 500];
    for code in script {
        let (now, _) = step(&mut s);
        s.handle_probe_result("c", response(code, "", ""), now);
        statuses.push(changes(&mut s).into_iter().map(|c| c.1).collect::<Vec<_>>());
    }
    let expected: [&[HealthStatus]; 5] = [&[Critical], &[], &[Passing], &[], &[Critical]];
    assert_eq!(statuses, expected);
}

#[test]
fn output_only_changes_wait_for_check_update_interval_but_status_changes_do_not() {
    let interval = Duration::from_secs(60);
    let mut s = scheduler(SchedulerConfig { check_update_interval: interval, ..config() });
    s.add(def(json!({"Name": "t", "TTL": "1h"})), Instant::ZERO).unwrap();
    s.update_ttl("t", Passing, "a", at_ms(1_000)).unwrap();
    assert_eq!(changes(&mut s), [("t".to_owned(), Passing, "a".to_owned())]);
    s.update_ttl("t", Passing, "b", at_ms(2_000)).unwrap();
    assert_eq!(changes(&mut s), [], "output-only change is held back");
    assert_eq!(s.status("t").unwrap().output, "b", "the agent sees it at once");
    let due = s.poll_timeout().unwrap();
    assert!(due >= at_ms(32_000) && due < at_ms(92_000), "interval/2 + [0, interval): {due:?}");
    s.update_ttl("t", Passing, "c", at_ms(3_000)).unwrap();
    s.handle_timeout(due);
    assert_eq!(changes(&mut s), [("t".to_owned(), Passing, "c".to_owned())]);

    s.update_ttl("t", Passing, "d", due).unwrap();
    s.update_ttl("t", Critical, "e", due).unwrap();
    assert_eq!(changes(&mut s), [("t".to_owned(), Critical, "e".to_owned())]);
    assert_eq!(s.poll_timeout(), Some(due.plus(Duration::from_secs(3600))), "deferral cancelled");
}

#[test]
fn changes_of_one_check_coalesce_into_its_latest_status() {
    let mut s = scheduler(config());
    s.add(def(json!({"Name": "t", "TTL": "1h"})), Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "u", "TTL": "1h"})), Instant::ZERO).unwrap();
    s.update_ttl("t", Passing, "1", Instant::ZERO).unwrap();
    s.update_ttl("u", Warning, "2", Instant::ZERO).unwrap();
    s.update_ttl("t", Warning, "3", Instant::ZERO).unwrap();
    assert_eq!(
        changes(&mut s),
        [("t".to_owned(), Warning, "3".to_owned()), ("u".to_owned(), Warning, "2".to_owned())]
    );
    s.update_ttl("t", Critical, "x", Instant::ZERO).unwrap();
    s.update_ttl("t", Warning, "3", Instant::ZERO).unwrap();
    assert_eq!(changes(&mut s), [("t".to_owned(), Warning, "3".to_owned())]);
}

#[test]
fn a_service_critical_for_deregister_critical_service_after_is_reaped_once() {
    let mut s =
        scheduler(SchedulerConfig { deregister_critical_min: Duration::from_secs(60), ..config() });
    let mut reaped = def(json!({"Name": "r", "TTL": "10s", "ServiceID": "web1",
                                "DeregisterCriticalServiceAfter": "30s"}));
    reaped.id = CheckId::new("r").unwrap();
    s.add(reaped, Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "other", "TTL": "1h", "ServiceID": "web1"})), Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "db", "TTL": "1h", "ServiceID": "db1"})), Instant::ZERO).unwrap();

    s.handle_timeout(at_ms(10_000));
    assert_eq!(s.status("r").unwrap().status, Critical);
    s.handle_timeout(at_ms(50_000));
    assert_eq!(s.poll_deregister(), None, "the 30s is raised to the 60s minimum");
    s.update_ttl("r", Passing, "", at_ms(50_000)).unwrap();
    s.handle_timeout(at_ms(60_000));
    assert_eq!(s.status("r").unwrap().status, Critical, "expired again, the clock restarts");
    s.handle_timeout(at_ms(119_999));
    assert_eq!(s.poll_deregister(), None, "passing reset the critical clock");
    s.handle_timeout(at_ms(120_000));
    assert_eq!(s.poll_deregister().as_deref(), Some("web1"));
    assert_eq!(s.poll_deregister(), None);
    let left: Vec<String> = s.statuses().into_iter().map(|c| c.check_id.into_string()).collect();
    assert_eq!(left, ["db"], "the reaped service's checks are gone");
    assert_eq!(s.armed_timers(), 1);
}

#[test]
fn node_checks_are_never_reaped() {
    let mut s = scheduler(SchedulerConfig { deregister_critical_min: Duration::ZERO, ..config() });
    s.add(
        def(json!({"Name": "n", "TTL": "1s", "DeregisterCriticalServiceAfter": "1s"})),
        Instant::ZERO,
    )
    .unwrap();
    s.handle_timeout(at_ms(1_000));
    s.handle_timeout(at_ms(100_000));
    assert_eq!(s.poll_deregister(), None);
    assert_eq!(s.len(), 1);
}

#[test]
fn unsupported_kinds_register_critical_with_their_reason() {
    let mut s = scheduler(config());
    s.add(
        def(json!({"Name": "script", "Args": ["/bin/true"], "Interval": "10s", "Status": "passing"})),
        Instant::ZERO,
    )
    .unwrap();
    let [(id, status, output)] = &changes(&mut s)[..] else { panic!() };
    assert_eq!((id.as_str(), *status), ("script", Critical));
    assert_eq!(
        output,
        "script checks are not supported by Proconsul (set by \"ScriptArgs\"); the check stays critical"
    );
    assert_eq!(s.poll_timeout(), None, "nothing runs");
}

#[test]
fn alias_checks_follow_their_service_and_the_node_checks() {
    let mut s = scheduler(config());
    s.add(
        def(json!({"Name": "alias", "AliasService": "web1", "ServiceID": "web1-sidecar"})),
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(changes(&mut s), [("alias".to_owned(), Passing, "No checks found.".to_owned())]);
    s.add(def(json!({"Name": "web", "TTL": "1h", "ServiceID": "web1"})), Instant::ZERO).unwrap();
    assert_eq!(
        changes(&mut s),
        [("alias".to_owned(), Critical, "Aliased check \"web\" failing: ".to_owned())]
    );
    s.update_ttl("web", Passing, "up", Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "other", "TTL": "1h", "ServiceID": "db1"})), Instant::ZERO).unwrap();
    assert_eq!(
        changes(&mut s),
        [
            ("web".to_owned(), Passing, "up".to_owned()),
            ("alias".to_owned(), Passing, "All checks passing.".to_owned()),
        ]
    );
    s.add(def(json!({"Name": "disk", "TTL": "1h", "Status": "warning"})), Instant::ZERO).unwrap();
    assert_eq!(
        changes(&mut s),
        [("alias".to_owned(), Warning, "Aliased check \"disk\" failing: ".to_owned())]
    );
    assert!(s.remove("disk", Instant::ZERO));
    assert_eq!(changes(&mut s), [("alias".to_owned(), Passing, "All checks passing.".to_owned())]);
}

#[test]
fn re_adding_a_check_keeps_its_status_and_restarts_its_timers() {
    let mut s = scheduler(config());
    s.add(def(json!({"Name": "t", "TTL": "10s"})), Instant::ZERO).unwrap();
    s.update_ttl("t", Passing, "ok", Instant::ZERO).unwrap();
    changes(&mut s);
    s.add(def(json!({"Name": "t", "TTL": "30s", "Notes": "new"})), at_ms(5_000)).unwrap();
    assert_eq!(changes(&mut s), []);
    assert_eq!(s.status("t").unwrap().output, "ok");
    assert_eq!(s.definition("t").unwrap().notes, "new");
    assert_eq!(s.poll_timeout(), Some(at_ms(35_000)));
    assert_eq!(s.armed_timers(), 1, "the old TTL timer is gone");
}

#[test]
fn remove_forgets_queued_probes_changes_and_late_answers() {
    let mut s = scheduler(config());
    s.add(http("c", "1s"), Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "t", "TTL": "1s"})), Instant::ZERO).unwrap();
    let now = s.poll_timeout().unwrap();
    s.handle_timeout(at_ms(1_000));
    assert!(s.remove("c", now));
    assert!(s.remove("t", now));
    assert!(!s.remove("t", now));
    assert_eq!(s.poll_probe(), None);
    assert_eq!(s.poll_status_change(), None);
    s.handle_probe_result("c", ok(""), now);
    assert_eq!((s.poll_timeout(), s.len(), s.armed_timers()), (None, 0, 0));
}

#[test]
fn the_number_of_checks_is_bounded() {
    let mut s = scheduler(SchedulerConfig { max_checks: 2, ..config() });
    s.add(def(json!({"Name": "a", "TTL": "1s"})), Instant::ZERO).unwrap();
    s.add(def(json!({"Name": "b", "TTL": "1s"})), Instant::ZERO).unwrap();
    let e = s.add(def(json!({"Name": "c", "TTL": "1s"})), Instant::ZERO).unwrap_err();
    assert_eq!(e.to_string(), "cannot add check c: the agent already runs 2 checks");
    s.add(def(json!({"Name": "a", "TTL": "5s"})), Instant::ZERO).expect("replacing is not adding");
    assert_eq!(s.len(), 2);
}

#[test]
fn same_seed_and_inputs_replay_the_same_trace() {
    fn trace(seed: u64) -> Vec<String> {
        let mut s = CheckScheduler::new(
            SchedulerConfig {
                check_update_interval: Duration::from_secs(10),
                ..SchedulerConfig::default()
            },
            Seed(seed).stream("checks"),
        );
        for i in 0..5 {
            s.add(http(&format!("h{i}"), "2s"), Instant::ZERO).unwrap();
        }
        s.add(def(json!({"Name": "t", "TTL": "3s"})), Instant::ZERO).unwrap();
        let mut out = Vec::new();
        let mut n = 0u32;
        run_until(&mut s, at_ms(30_000), |p| {
            n += 1;
            out.push(format!("probe {}", p.check_id));
            if n.is_multiple_of(3) { response(500, "", &n.to_string()) } else { ok(&n.to_string()) }
        });
        out.extend(changes(&mut s).into_iter().map(|c| format!("{c:?}")));
        out
    }
    assert_eq!(trace(11), trace(11));
    assert_ne!(trace(11), trace(12));
}
