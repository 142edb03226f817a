//! Table tests per operator and field kind, every error with its message, and property tests
//! (fixed seed, override with `PROPTEST_RNG_SEED`).

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn check(id: &str, name: &str, status: &str, service: &str) -> CheckInfo {
    CheckInfo {
        check_id: id.to_owned(),
        name: name.to_owned(),
        status: status.to_owned(),
        service_id: if service.is_empty() { String::new() } else { format!("{service}-1") },
        service_name: service.to_owned(),
    }
}

/// web-1 on node1 (rack r2): tags canary+primary, version v1, two passing checks.
fn web() -> ServiceInstance {
    let lan = ServiceAddress { address: "10.0.0.10".to_owned(), port: 8080 };
    ServiceInstance {
        node: NodeInfo {
            id: "a8f1c2d0-0000-4000-8000-000000000001".to_owned(),
            node: "node1".to_owned(),
            address: "10.0.0.1".to_owned(),
            datacenter: "dc1".to_owned(),
            partition: String::new(),
            tagged_addresses: map(&[("lan", "10.0.0.1"), ("wan", "198.18.0.1")]),
            meta: map(&[("rack", "r2"), ("key with.dot", "x")]),
        },
        service: ServiceInfo {
            id: "web-1".to_owned(),
            service: "web".to_owned(),
            tags: vec!["canary".to_owned(), "primary".to_owned()],
            address: "10.0.0.10".to_owned(),
            port: 8080,
            meta: map(&[("version", "v1"), ("env", "prod"), ("a.b", "dotted"), ("q", "a\"b\\c")]),
            kind: String::new(),
            tagged_addresses: [("lan".to_owned(), lan)].into_iter().collect(),
            namespace: "default".to_owned(),
            partition: "default".to_owned(),
            weights: Weights { passing: 3, warning: 1 },
            connect: ConnectInfo::default(),
            proxy: ProxyInfo::default(),
        },
        checks: vec![
            check("serfHealth", "Serf Health Status", "passing", ""),
            check("service:web-1", "web alive", "passing", "web"),
        ],
    }
}

#[track_caller]
fn assert_cases(inst: &ServiceInstance, cases: &[(&str, bool)]) {
    for &(expr, want) in cases {
        let filter =
            Filter::parse(expr).unwrap_or_else(|e| panic!("{expr:?} failed to parse: {e}"));
        assert_eq!(filter.matches(inst), want, "{expr}");
    }
}

#[track_caller]
fn err(expr: &str) -> FilterError {
    match Filter::parse(expr) {
        Ok(_) => panic!("{expr:?} parsed but should not"),
        Err(e) => e,
    }
}

#[test]
fn string_fields_support_every_operator() {
    assert_cases(
        &web(),
        &[
            ("Service.Service == web", true),
            ("Service.Service == \"web\"", true),
            ("Service.Service == api", false),
            ("Service.Service != api", true),
            ("Service.Service != web", false),
            ("Service.Service contains eb", true),
            ("\"we\" in Service.Service", true),
            ("Service.Service contains x", false),
            ("Service.Service not contains x", true),
            ("Service.Service not contains we", false),
            ("x not in Service.Service", true),
            ("Service.Service matches \"^w.b$\"", true),
            ("Service.Service matches \"^api\"", false),
            ("Service.Service not matches \"^api\"", true),
            ("Service.Service is empty", false),
            ("Service.Service is not empty", true),
            ("Service.Kind is empty", true),
            ("Service.Kind is not empty", false),
            ("Service.ID == \"web-1\"", true),
            ("Service.Address == \"10.0.0.10\"", true),
            ("Service.Namespace == default and Service.Partition == default", true),
            ("Service.Proxy.DestinationServiceName is empty", true),
            ("Node.ID contains \"4000\"", true),
            ("Node.Node == node1 and Node.Datacenter == dc1", true),
            ("Node.Address == \"10.0.0.1\"", true),
            ("Node.Partition is empty", true),
        ],
    );
}

#[test]
fn integer_fields_compare_numerically() {
    assert_cases(
        &web(),
        &[
            ("Service.Port == 8080", true),
            ("Service.Port == \"8080\"", true),
            ("Service.Port == \"08080\"", true),
            ("Service.Port==8080", true),
            ("Service.Port == 80", false),
            ("Service.Port != 80", true),
            ("Service.Port != 8080", false),
            ("Service.Port == -1", false),
            ("Service.Weights.Passing == 3", true),
            ("Service.Weights.Warning == 1", true),
            ("Service.Weights.Warning != 1", false),
            ("Service.TaggedAddresses.lan.Port == 8080", true),
            ("Service.TaggedAddresses[\"lan\"].Port == 8080", true),
        ],
    );
}

#[test]
fn boolean_fields_accept_go_parsebool_spellings() {
    let mut native = web();
    native.service.connect.native = true;
    let cases = [
        ("Service.Connect.Native == false", false),
        ("Service.Connect.Native == true", true),
        ("Service.Connect.Native == True", true),
        ("Service.Connect.Native == 1", true),
        ("Service.Connect.Native != true", false),
        ("Service.Connect.Native != F", true),
    ];
    assert_cases(&native, &cases);
    let flipped: Vec<_> = cases.iter().map(|&(e, want)| (e, !want)).collect();
    assert_cases(&web(), &flipped);
}

#[test]
fn tags_use_membership_not_substring() {
    assert_cases(
        &web(),
        &[
            ("Service.Tags contains canary", true),
            ("\"canary\" in Service.Tags", true),
            ("canary in Service.Tags", true),
            ("`canary` in Service.Tags", true),
            ("Service.Tags contains can", false),
            ("Service.Tags not contains legacy", true),
            ("legacy not in Service.Tags", true),
            ("canary not in Service.Tags", false),
            ("Service.Tags is empty", false),
            ("Service.Tags is not empty", true),
        ],
    );
    let mut untagged = web();
    untagged.service.tags.clear();
    assert_cases(
        &untagged,
        &[
            ("Service.Tags is empty", true),
            ("Service.Tags is not empty", false),
            ("Service.Tags contains canary", false),
            ("Service.Tags not contains canary", true),
        ],
    );
}

#[test]
fn maps_test_keys_and_entries_test_values() {
    assert_cases(
        &web(),
        &[
            ("Service.Meta contains version", true),
            ("version in Service.Meta", true),
            ("v1 in Service.Meta", false),
            ("Service.Meta not contains build", true),
            ("Service.Meta is empty", false),
            ("Service.Meta is not empty", true),
            ("Node.Meta contains rack", true),
            ("\"key with.dot\" in Node.Meta", true),
            ("Node.TaggedAddresses contains lan", true),
            ("Service.TaggedAddresses contains lan", true),
            ("Service.TaggedAddresses contains wan", false),
            ("Service.TaggedAddresses is not empty", true),
            ("Service.Meta.version == v1", true),
            ("Service.Meta.version != v1", false),
            ("Service.Meta.version contains 1", true),
            ("Service.Meta.version matches \"^v[0-9]+$\"", true),
            ("Service.Meta.version is not empty", true),
            ("Service.Meta[\"a.b\"] == dotted", true),
            ("Node.Meta[\"key with.dot\"] == x", true),
            ("Node.Meta.rack != r1", true),
            ("Node.TaggedAddresses.lan == \"10.0.0.1\"", true),
            ("Service.TaggedAddresses.lan.Address == \"10.0.0.10\"", true),
        ],
    );
}

#[test]
fn absent_map_keys_fail_positive_tests_except_is_empty() {
    assert_cases(
        &web(),
        &[
            ("Service.Meta.missing == x", false),
            ("Service.Meta.missing == \"\"", false),
            ("Service.Meta.missing != x", true),
            ("Service.Meta.missing is empty", true),
            ("Service.Meta.missing is not empty", false),
            ("Service.Meta.missing contains x", false),
            ("Service.Meta.missing not contains x", true),
            ("x in Service.Meta.missing", false),
            ("x not in Service.Meta.missing", true),
            ("Service.Meta.missing matches \".*\"", false),
            ("Service.Meta.missing not matches \".*\"", true),
            ("Service.TaggedAddresses.wan.Port == 0", false),
            ("Service.TaggedAddresses.wan.Port != 0", true),
            ("Service.TaggedAddresses.wan.Address is empty", true),
            ("Node.TaggedAddresses.lan_ipv6 == x", false),
        ],
    );
}

#[test]
fn selectors_through_checks_are_true_if_any_check_matches() {
    assert_cases(
        &web(),
        &[
            ("Checks is empty", false),
            ("Checks is not empty", true),
            ("Checks.Status == passing", true),
            ("Checks.Status == critical", false),
            ("Checks.Status != passing", false),
            ("Checks.CheckID == serfHealth", true),
            ("Checks.ServiceName == web", true),
            ("Checks.ServiceID == \"web-1\"", true),
            ("Checks.ServiceID is empty", true),
            ("Checks.Name contains Serf", true),
            ("Checks.Status matches \"^pass\"", true),
            ("Checks.Status not matches \"^pass\"", false),
            ("crit in Checks.Status", false),
        ],
    );
    let mut failing = web();
    failing.checks[1].status = "critical".to_owned();
    assert_cases(
        &failing,
        &[
            ("Checks.Status == critical", true),
            // Each check is tested on its own: one check is not passing.
            ("Checks.Status != passing", true),
            // "No check is critical" is spelled with a group negation.
            ("not (Checks.Status == critical)", false),
        ],
    );
    let mut unchecked = web();
    unchecked.checks.clear();
    assert_cases(
        &unchecked,
        &[
            ("Checks is empty", true),
            ("Checks.Status == passing", false),
            ("Checks.Status != passing", false),
            ("Checks.Status is empty", false),
        ],
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    assert_cases(
        &web(),
        &[
            // a or (b and c), not (a or b) and c
            ("Service.Port == 8080 or Service.Port == 1 and Service.Port == 2", true),
            ("(Service.Port == 8080 or Service.Port == 1) and Service.Port == 2", false),
            ("Service.Port == 1 and Service.Port == 2 or Service.Port == 8080", true),
            ("Service.Port == 1 and (Service.Port == 2 or Service.Port == 8080)", false),
            // (not a) and b, not (a and b)
            ("not Service.Port == 8080 and Service.Port == 1", false),
            ("not (Service.Port == 8080 and Service.Port == 1)", true),
            // (not a) or a
            ("not Service.Port == 8080 or Service.Port == 8080", true),
            ("not (Service.Port == 8080 or Service.Port == 8080)", false),
            ("not not Service.Port == 8080", true),
            ("not not not Service.Port == 8080", false),
            ("((Service.Port == 8080))", true),
            ("( Service.Port==8080 )", true),
            ("not(Service.Port == 1)", true),
            ("(Service.Port == 1)or(Service.Port == 8080)", true),
            ("\tService.Port\n==\r\n8080 ", true),
        ],
    );
}

#[test]
fn documented_examples_behave_as_consul() {
    let example =
        "Service.Meta.version == v1 and not (Node.Meta.rack == r1 or Service.Tags contains legacy)";
    let mut r1 = web();
    r1.node.meta.insert("rack".to_owned(), "r1".to_owned());
    let mut legacy = web();
    legacy.service.tags.push("legacy".to_owned());
    let mut v2 = web();
    v2.service.meta.insert("version".to_owned(), "v2".to_owned());
    let mut untagged = web();
    untagged.service.tags.clear();
    assert_cases(
        &web(),
        &[
            ("Service.Meta.version == v1", true),
            ("Service.Tags contains canary", true),
            ("Node.Meta.rack != r1", true),
            ("\"canary\" in Service.Tags", true),
            ("Service.Meta.version matches \"^v[0-9]+$\"", true),
            ("Service.Tags is empty", false),
            (example, true),
        ],
    );
    assert_cases(&r1, &[("Node.Meta.rack != r1", false), (example, false)]);
    assert_cases(&legacy, &[(example, false)]);
    assert_cases(&v2, &[("Service.Meta.version == v1", false), (example, false)]);
    assert_cases(
        &untagged,
        &[("Service.Tags is empty", true), ("Service.Tags contains canary", false)],
    );
}

#[test]
fn quoted_raw_and_bare_values_mean_the_same_text() {
    assert_cases(
        &web(),
        &[
            ("Service.Meta.version == v1", true),
            ("Service.Meta.version == \"v1\"", true),
            ("Service.Meta.version == `v1`", true),
            ("Service.Meta.q == \"a\\\"b\\\\c\"", true),
            (r"Service.Meta.q == `a`", false),
            (r#"Service.Meta.q == `a"b\c`"#, true),
            (r#"Service.Meta.version == "\x76\u0031""#, true),
            (r#"Service.Meta.version == "\166\U00000031""#, true),
            (r#"Service.Meta.version matches `^v\d$`"#, true),
            ("Service.Meta.env == prod", true),
            ("Service.Meta.version == v1.0", false),
            ("Service.Meta.version != -1.5", true),
            ("Service.Meta.version == and", false),
        ],
    );
}

#[test]
fn syntax_errors_name_expectation_and_column() {
    use Expected as E;
    let end = || Found::EndOfInput;
    let tok = |t: &str| Found::Token(t.to_owned());
    let cases: &[(&str, usize, Expected, Found)] = &[
        ("", 1, E::Expression, end()),
        ("   ", 4, E::Expression, end()),
        ("Service.Port", 13, E::Operator, end()),
        ("Service.Port 8080", 14, E::Operator, tok("8080")),
        ("Service.Port == ", 17, E::Value, end()),
        ("(Service.Port == 1", 19, E::CloseParen, end()),
        ("(Service.Port == 1 x", 20, E::AndOrCloseParen, tok("x")),
        ("Service.Port == 1)", 18, E::AndOrEnd, tok(")")),
        ("Service.Port == 1 and", 22, E::Expression, end()),
        ("\"x\" == Service.Service", 5, E::InOperator, tok("==")),
        ("\"x\" is empty", 5, E::InOperator, tok("is empty")),
        ("\"x\" Service.Tags", 5, E::InOperator, tok("Service.Tags")),
        ("Service.Tags is full", 17, E::AfterIs, tok("full")),
        ("Service.Tags is not full", 21, E::Empty, tok("full")),
        ("Service.Tags not equals x", 18, E::AfterNot, tok("equals")),
        ("x in \"Service.Tags\"", 6, E::Selector, tok("\"Service.Tags\"")),
        ("x in", 5, E::Selector, end()),
        ("Service..Port == 1", 1, E::Selector, tok("Service..Port")),
        ("8080 == Service.Port", 1, E::Selector, tok("8080")),
        ("Service.Meta[version] == 1", 14, E::IndexKey, tok("version")),
        ("Service.Meta[\"a\" == 1", 18, E::CloseBracket, tok("==")),
        ("Service.Meta[\"a\"].-b == 1", 1, E::Selector, tok("Service.Meta[\"a\"].-b")),
        ("Service.Port == (", 17, E::Value, tok("(")),
        ("Service.Meta [\"a.b\"] == dotted", 14, E::Operator, tok("[")),
    ];
    for (expr, column, expected, found) in cases {
        let want =
            FilterError::Syntax { column: *column, expected: *expected, found: found.clone() };
        assert_eq!(err(expr), want, "{expr:?}");
    }
    assert_eq!(
        err("Service.Port").to_string(),
        "syntax error at column 13: expected a match operator (==, !=, in, not in, contains, \
         not contains, matches, not matches, is empty, is not empty), found end of input"
    );
    assert_eq!(
        err("Service.Port == 1)").to_string(),
        "syntax error at column 18: expected `and`, `or` or end of input, found `)`"
    );
    let long = format!("Service.Port == 1 \"{}\"", "y".repeat(100));
    assert!(err(&long).to_string().ends_with(&format!("found `\"{}…`", "y".repeat(39))));
}

#[test]
fn lexical_errors_point_at_the_character() {
    assert_eq!(
        err("Service.Port = 1"),
        FilterError::UnexpectedCharacter { column: 14, character: '=' }
    );
    assert_eq!(
        err("Service.Port = 1").to_string(),
        "syntax error at column 14: unexpected character '=' (did you mean \"==\"?)"
    );
    assert_eq!(
        err("!Service.Port == 1"),
        FilterError::UnexpectedCharacter { column: 1, character: '!' }
    );
    assert_eq!(err("Service.Service == \"web"), FilterError::UnterminatedString { column: 20 });
    assert_eq!(
        err("Service.Service == \"web").to_string(),
        "syntax error at column 20: unterminated string literal"
    );
    assert_eq!(err("Service.Service == `web"), FilterError::UnterminatedString { column: 20 });
    assert_eq!(err(r#"Service.Service == "a\"#), FilterError::UnterminatedString { column: 22 });
    for (expr, column, sequence) in [
        (r#"Service.Service == "a\qb""#, 22, r"\q"),
        (r#"Service.Service == "\xff""#, 21, r"\xff"),
        (r#"Service.Service == "\x4""#, 21, r"\x4"),
        (r#"Service.Service == "\400""#, 21, r"\400"),
        (r#"Service.Service == "\ud800""#, 21, r"\ud800"),
        (r#"Service.Service == "\U00110000""#, 21, r"\U00110000"),
        (r#"Service.Service == "\'""#, 21, r"\'"),
    ] {
        let want = FilterError::InvalidEscape { column, sequence: sequence.to_owned() };
        assert_eq!(err(expr), want, "{expr}");
    }
    assert_eq!(
        err(r#"Service.Service == "a\qb""#).to_string(),
        r#"syntax error at column 22: invalid escape sequence "\\q" in string literal"#
    );
}

#[test]
fn bare_values_must_be_identifiers_or_numbers() {
    for (expr, column, value) in [
        ("Node.Address == 10.0.0.1", 17, "10.0.0.1"),
        ("Service.ID == web-1", 15, "web-1"),
        ("Service.Port == 007", 17, "007"),
        ("Service.Port == +8080", 17, "+8080"),
        ("Service.Meta.x == a[\"b\"]", 19, "a[\"b\"]"),
        ("web-1 in Service.Tags", 1, "web-1"),
    ] {
        assert_eq!(
            err(expr),
            FilterError::InvalidBareValue { column, value: value.to_owned() },
            "{expr}"
        );
    }
    assert_eq!(
        err("Node.Address == 10.0.0.1").to_string(),
        "invalid value \"10.0.0.1\" at column 17: an unquoted value must be an identifier \
         (v1, canary) or a number (8080, -1.5); quote anything else"
    );
}

#[test]
fn unknown_selectors_are_named_up_to_the_first_bad_segment() {
    for (expr, column, selector) in [
        ("Service.Metaa == x", 1, "Service.Metaa"),
        ("Foo == x", 1, "Foo"),
        ("service.Port == 1", 1, "service"),
        ("Service.Port.x == 1", 1, "Service.Port.x"),
        ("Service.Meta.a.b == x", 1, "Service.Meta.a.b"),
        ("Service.Weights.Critical == 1", 1, "Service.Weights.Critical"),
        ("Service.TaggedAddresses.lan.Host == x", 1, "Service.TaggedAddresses.lan.Host"),
        ("Node.Meta[\"a\"][\"b\"] == x", 1, "Node.Meta.a.b"),
        ("Checks.Output == x", 1, "Checks.Output"),
        ("x in Service.Tagz", 6, "Service.Tagz"),
        ("\"é\" in Service.Tagz", 8, "Service.Tagz"),
        ("Service.Port == 1 or Node.Meta[\"x y\"].z == 1", 22, "Node.Meta[\"x y\"].z"),
    ] {
        assert_eq!(
            err(expr),
            FilterError::UnknownSelector { column, selector: selector.to_owned() },
            "{expr}"
        );
    }
    assert_eq!(
        err("Service.Metaa == x").to_string(),
        "Selector \"Service.Metaa\" is not valid (column 1)"
    );
}

#[test]
fn operators_must_fit_the_field_kind() {
    use MatchOperator as Op;
    for (expr, selector, operator, kind) in [
        ("Service.Tags == canary", "Service.Tags", Op::Equal, FieldKind::StringList),
        ("Service.Tags matches \"x\"", "Service.Tags", Op::Matches, FieldKind::StringList),
        ("Service.Meta != x", "Service.Meta", Op::NotEqual, FieldKind::Map),
        ("Service.Meta not matches x", "Service.Meta", Op::NotMatches, FieldKind::Map),
        ("Service.Port contains 1", "Service.Port", Op::Contains, FieldKind::Integer),
        ("Service.Port is empty", "Service.Port", Op::IsEmpty, FieldKind::Integer),
        (
            "Service.Connect.Native matches x",
            "Service.Connect.Native",
            Op::Matches,
            FieldKind::Boolean,
        ),
        ("Checks == x", "Checks", Op::Equal, FieldKind::CheckList),
        ("x in Checks", "Checks", Op::In, FieldKind::CheckList),
        ("Checks.Status is empty or x in Checks", "Checks", Op::In, FieldKind::CheckList),
        ("Service.Weights == 1", "Service.Weights", Op::Equal, FieldKind::Group),
        ("Service is empty", "Service", Op::IsEmpty, FieldKind::Group),
        (
            "Service.TaggedAddresses.lan == x",
            "Service.TaggedAddresses.lan",
            Op::Equal,
            FieldKind::Group,
        ),
    ] {
        let column = expr.rfind(selector).map_or(0, |i| i + 1);
        let want = FilterError::UnsupportedOperator {
            column,
            selector: selector.to_owned(),
            operator,
            kind,
        };
        assert_eq!(err(expr), want, "{expr}");
    }
    assert_eq!(
        err("Service.Tags == canary").to_string(),
        "Invalid match operator \"==\" for selector \"Service.Tags\" (column 1): a list of strings \
         supports in, not in, contains, not contains, is empty, is not empty"
    );
    assert_eq!(
        err("Service.Weights == 1").to_string(),
        "Invalid match operator \"==\" for selector \"Service.Weights\" (column 1): a group of \
         fields supports no operators; select one of its fields"
    );
}

#[test]
fn values_must_coerce_to_the_field_type() {
    for (expr, column, selector, value, kind) in [
        ("Service.Port == http", 17, "Service.Port", "http", FieldKind::Integer),
        ("Service.Port == 1.5", 17, "Service.Port", "1.5", FieldKind::Integer),
        ("Service.Port != \"\"", 17, "Service.Port", "", FieldKind::Integer),
        (
            "Service.Port == 99999999999999999999",
            17,
            "Service.Port",
            "99999999999999999999",
            FieldKind::Integer,
        ),
        ("Service.Connect.Native == yes", 27, "Service.Connect.Native", "yes", FieldKind::Boolean),
    ] {
        let want = FilterError::InvalidValue {
            column,
            selector: selector.to_owned(),
            value: value.to_owned(),
            kind,
        };
        assert_eq!(err(expr), want, "{expr}");
    }
    assert_eq!(
        err("Service.Port == http").to_string(),
        "Failed to coerce value \"http\" for selector \"Service.Port\" (column 17): expected an integer"
    );
}

#[test]
fn invalid_regexes_are_rejected_at_parse_time() {
    let FilterError::InvalidRegex { column, pattern, reason } =
        err("Service.Meta.version matches \"(\"")
    else {
        panic!("not an InvalidRegex");
    };
    assert_eq!((column, pattern.as_str()), (30, "("));
    assert!(!reason.is_empty() && !reason.contains('\n'), "{reason:?}");
    let message = err("Checks.Status not matches \"[z-a]\"").to_string();
    assert!(
        message.starts_with("Failed to compile regular expression \"[z-a]\" (column 27): "),
        "{message}"
    );
    assert!(matches!(
        err("Service.Service matches \"a{1000}{1000}\""),
        FilterError::InvalidRegex { .. }
    ));
}

#[test]
fn nesting_and_length_are_bounded() {
    let nested = |n: usize| format!("{}Service.Port == 8080{}", "(".repeat(n), ")".repeat(n));
    assert!(Filter::parse(&nested(MAX_DEPTH)).is_ok_and(|f| f.matches(&web())));
    assert_eq!(
        err(&nested(MAX_DEPTH + 1)),
        FilterError::TooDeep { column: MAX_DEPTH + 1, max: MAX_DEPTH }
    );
    let nots = format!("{}Service.Port == 8080", "not ".repeat(MAX_DEPTH + 1));
    assert_eq!(err(&nots), FilterError::TooDeep { column: 4 * MAX_DEPTH + 1, max: MAX_DEPTH });
    assert!(matches!(err(&"(".repeat(MAX_LEN - 1)), FilterError::TooDeep { .. }));
    let chain = vec!["Service.Port == 8080"; 2000].join(" and ");
    assert!(Filter::parse(&chain).is_ok_and(|f| f.matches(&web())));
    let long = "a".repeat(MAX_LEN + 1);
    assert_eq!(err(&long), FilterError::TooLong { len: MAX_LEN + 1, max: MAX_LEN });
    assert_eq!(
        err(&long).to_string(),
        format!("expression is {} bytes long; the limit is {MAX_LEN}", MAX_LEN + 1)
    );
}

#[test]
fn filter_keeps_its_text_for_display_equality_and_fromstr() {
    let text = "Service.Meta.version == v1  and Service.Port==8080";
    let filter: Filter = text.parse().expect("valid");
    assert_eq!(filter.as_str(), text);
    assert_eq!(filter.to_string(), text);
    assert_eq!(filter, Filter::parse(text).expect("valid"));
    assert_ne!(
        filter,
        Filter::parse("Service.Meta.version == v1 and Service.Port == 8080").expect("valid")
    );
    assert_eq!(filter.clone(), filter);
    assert_eq!(
        filter.expr.to_string(),
        "Service.Meta.version == \"v1\" and Service.Port == \"8080\"",
        "canonical form"
    );
    assert!("Service.Metaa == x".parse::<Filter>().is_err());
}

#[test]
fn canonical_text_keeps_structure_with_minimal_parentheses() {
    for (src, canonical) in [
        (
            "a in Service.Tags or (b in Service.Tags or c in Service.Tags)",
            "\"a\" in Service.Tags or (\"b\" in Service.Tags or \"c\" in Service.Tags)",
        ),
        (
            "not (Service.Tags is empty and Checks is empty)",
            "not (Service.Tags is empty and Checks is empty)",
        ),
        ("not not (Service.Tags is empty)", "not not Service.Tags is empty"),
        ("Service.Meta[\"a.b\"] == `x\"y`", "Service.Meta[\"a.b\"] == \"x\\\"y\""),
        ("Node.Meta[\"rack\"] != \"\\u0007\"", "Node.Meta.rack != \"\\U00000007\""),
    ] {
        let filter = Filter::parse(src).expect("valid");
        assert_eq!(filter.expr.to_string(), canonical, "{src}");
        let again = Filter::parse(canonical).expect("canonical text parses");
        assert_eq!(again.expr.to_string(), canonical);
    }
}

/// Instances that differ in the fields the generated expressions look at.
fn variants() -> Vec<ServiceInstance> {
    let mut bare = ServiceInstance::default();
    bare.service.port = 80;
    let mut odd = web();
    odd.service.tags = vec!["legacy".to_owned(), String::new()];
    odd.service.meta.insert("version".to_owned(), "v2".to_owned());
    odd.node.meta.clear();
    odd.checks[0].status = "critical".to_owned();
    odd.service.connect.native = true;
    vec![web(), bare, odd]
}

fn proptest_config() -> ProptestConfig {
    const DEFAULT_SEED: u64 = 0x00f1_17e5;
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!(
        "seed={seed} reproduce: PROPTEST_RNG_SEED={seed} cargo test -p proconsul-core filter::tests::"
    );
    let defaults = ProptestConfig::default();
    ProptestConfig {
        // PROPTEST_CASES, when set, wins (defaults already read it).
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { defaults.cases } else { 512 },
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..defaults
    }
}

/// Go-syntax double-quoted literal of arbitrary text, built independently of `ast::Quoted`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,4}(\\.([a-z][a-z0-9]{0,2}|[0-9]{1,3}))?"
            // `not in X` would read as the boolean `not`, as in go-bexpr.
            .prop_filter("keyword not", |v| v != "not"),
        "-?(0|[1-9][0-9]{0,4})",
        any::<String>().prop_map(|s| go_quote(&s)),
        "[a-z `]{0,6}".prop_map(|s| format!("`{}`", s.replace('`', ""))),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    let text_sel = prop::sample::select(vec![
        "Service.Service",
        "Service.Meta.version",
        "Node.Meta.rack",
        "Checks.Status",
        "Service.Meta[\"a.b\"]",
        "Node.TaggedAddresses.lan",
    ]);
    let text_op = prop::sample::select(vec!["==", "!=", "contains", "not contains"]);
    let coll_sel =
        prop::sample::select(vec!["Service.Tags", "Service.Meta", "Node.Meta", "Checks"]);
    prop_oneof![
        (text_sel.clone(), text_op, value()).prop_map(|(s, op, v)| format!("{s} {op} {v}")),
        (value(), any::<bool>(), text_sel.clone())
            .prop_map(|(v, not, s)| format!("{v} {}in {s}", if not { "not " } else { "" })),
        (text_sel, any::<bool>(), "\\^?[a-z0-9.]{0,4}(\\.\\*)?\\$?").prop_map(
            |(s, not, re)| format!(
                "{s} {}matches {}",
                if not { "not " } else { "" },
                go_quote(&re)
            )
        ),
        (coll_sel, any::<bool>())
            .prop_map(|(s, not)| format!("{s} is {}empty", if not { "not " } else { "" })),
        (prop::sample::select(vec!["Service.Tags", "Service.Meta"]), value())
            .prop_map(|(s, v)| format!("{s} contains {v}")),
        (any::<bool>(), 0u32..70_000)
            .prop_map(|(eq, n)| format!("Service.Port {} {n}", if eq { "==" } else { "!=" })),
        prop::sample::select(vec!["true", "false", "1", "F"])
            .prop_map(|b| format!("Service.Connect.Native == {b}")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![" and ", " or ", "\tand\n", " or  "]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.prop_map(|a| format!("( {a})")),
        ]
    })
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in any::<String>()) {
        if let Ok(f) = Filter::parse(&s) {
            for inst in variants() {
                let _ = f.matches(&inst);
            }
        }
    }

    #[test]
    fn parse_never_panics_on_filter_like_token_soup(
        words in prop::collection::vec(prop::sample::select(vec![
            "Service", ".", "Meta", "Tags", "Port", "Checks", "Status", "==", "!=", "=", "!", "(", ")",
            "[", "]", "\"", "`", "\\", "and", "or", "not", "in", "contains", "matches", "is", "empty",
            "v1", "8080", "-", "\"x\"", "\"(\"", " ", "é", "\n",
        ]), 0..24)
    ) {
        let text: String = words.concat();
        if let Ok(f) = Filter::parse(&text) {
            for inst in variants() {
                let _ = f.matches(&inst);
            }
            let canonical = f.expr.to_string();
            let again = Filter::parse(&canonical).map(|g| g.expr.to_string());
            prop_assert_eq!(again, Ok(canonical));
        }
    }

    #[test]
    fn display_then_parse_round_trips(text in expression()) {
        let filter = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let shown = filter.to_string();
        prop_assert_eq!(&shown, &text);
        let reparsed = Filter::parse(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&reparsed, &filter);
        let canonical = filter.expr.to_string();
        let from_canonical = Filter::parse(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical:?}: {e}")))?;
        prop_assert_eq!(from_canonical.expr.to_string(), canonical);
        for inst in variants() {
            prop_assert_eq!(from_canonical.matches(&inst), filter.matches(&inst));
            prop_assert_eq!(reparsed.matches(&inst), filter.matches(&inst));
        }
    }
}
