use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::ids::Datacenter;
use crate::state::{HealthStatus, Weights};
use crate::time::UnixTime;

const NOW: UnixTime = UnixTime(1_700_000_000);

fn config() -> DnsConfig {
    DnsConfig::new(Domain::consul(), Datacenter::new("dc1").unwrap())
}

fn service(name: &str, tag: Option<&str>, connect: bool) -> ServiceLookup {
    ServiceLookup { service: name.into(), tag: tag.map(Into::into), connect }
}

fn parsed_service(name: &str, tag: Option<&str>, dc: Option<&str>) -> ParsedName {
    ParsedName::Service { lookup: service(name, tag, false), datacenter: dc.map(Into::into) }
}

fn instance(node: &str, node_address: &str, address: &str, port: u16) -> Instance {
    Instance {
        node: node.into(),
        node_address: node_address.into(),
        address: address.into(),
        port,
        tags: vec!["v1".into()],
        weights: Weights::default(),
        health: HealthStatus::Passing,
    }
}

fn a(name: &str, ip: [u8; 4]) -> Record {
    Record { name: name.into(), ttl: 0, data: RecordData::A(Ipv4Addr::from(ip)) }
}

fn srv(name: &str, weight: u16, port: u16, target: &str) -> Record {
    let data = Srv { priority: 1, weight, port, target: target.into() };
    Record { name: name.into(), ttl: 0, data: RecordData::Srv(data) }
}

fn is_soa(records: &[Record]) -> bool {
    matches!(records, [Record { name, data: RecordData::Soa(_), .. }] if name == "consul.")
}

/// Runs a service question end to end over `instances`.
fn ask_service(
    config: &DnsConfig,
    name: &str,
    qtype: QueryType,
    instances: &[Instance],
) -> Response {
    let q = Question::new(name, qtype);
    match plan(config, &q, NOW) {
        Plan::Service(lookup) => answer_service(config, &q, &lookup, instances, NOW),
        other => panic!("{name}: expected a service lookup, got {other:?}"),
    }
}

#[test]
fn names_parse_into_consul_lookups() {
    use QueryType::{A, Srv};
    let domain = Domain::consul();
    let cases: Vec<(&str, QueryType, ParsedName)> = vec![
        ("web.service.consul.", A, parsed_service("web", None, None)),
        ("web.service.consul", A, parsed_service("web", None, None)),
        ("WEB.Service.CONSUL.", A, parsed_service("web", None, None)),
        ("v1.web.service.consul.", A, parsed_service("web", Some("v1"), None)),
        ("v1.2.web.service.consul.", A, parsed_service("web", Some("v1.2"), None)),
        ("web.service.dc1.consul.", A, parsed_service("web", None, Some("dc1"))),
        ("web.service.DC2.consul.", A, parsed_service("web", None, Some("dc2"))),
        ("web.service.dc1.dc.consul.", A, parsed_service("web", None, Some("dc1"))),
        ("web.service.default.ns.dc1.dc.consul.", A, parsed_service("web", None, Some("dc1"))),
        ("_web._tcp.service.consul.", Srv, parsed_service("web", None, None)),
        ("_web._v1.service.consul.", Srv, parsed_service("web", Some("v1"), None)),
        ("_web._tcp.consul.", Srv, parsed_service("web", None, None)),
        ("_web._tcp.dc1.consul.", Srv, parsed_service("web", None, Some("dc1"))),
        (
            "web.connect.consul.",
            A,
            ParsedName::Service { lookup: service("web", None, true), datacenter: None },
        ),
        (
            "node1.node.consul.",
            A,
            ParsedName::Node { lookup: NodeLookup { node: "node1".into() }, datacenter: None },
        ),
        (
            "a.b.node.dc1.consul.",
            A,
            ParsedName::Node {
                lookup: NodeLookup { node: "a.b".into() },
                datacenter: Some("dc1".into()),
            },
        ),
        (
            "0a000001.addr.dc1.consul.",
            A,
            ParsedName::Addr {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                datacenter: Some("dc1".into()),
            },
        ),
        (
            "20010db8000000000000000000000001.addr.consul.",
            A,
            ParsedName::Addr { ip: IpAddr::V6("2001:db8::1".parse().unwrap()), datacenter: None },
        ),
        ("consul.", A, ParsedName::Apex),
        ("CONSUL", A, ParsedName::Apex),
        ("example.com.", A, ParsedName::OutsideDomain),
        ("xconsul.", A, ParsedName::OutsideDomain),
        ("web.service.consul.example.", A, ParsedName::OutsideDomain),
        (".", A, ParsedName::OutsideDomain),
    ];
    for (name, qtype, want) in cases {
        assert_eq!(parse_name(&domain, name, qtype), want, "{name} {qtype:?}");
    }
}

#[test]
fn malformed_names_under_the_domain_are_invalid() {
    let domain = Domain::consul();
    for name in [
        "web.consul.",                   // no kind label (and not SRV)
        "_web._tcp.consul.",             // the SRV shortcut needs an SRV question
        "service.consul.",               // no service name
        "a.b.web.connect.consul.",       // connect takes one label
        "node.consul.",                  // no node name
        "web.service.dc1.extra.consul.", // odd locality
        "web.service.x.ns.consul.",      // non-default namespace
        "web.service.p.peer.consul.",    // peering
        "web.service.dc1.dc.dc2.dc.consul.",
        "web.service.a.zz.consul.", // unknown locality key
        "zz.addr.consul.",          // not 8 or 32 hex digits
        "+a000001.addr.consul.",    // sign is not a digit
        "geo.query.consul.",        // prepared queries not served
        "web..service.consul.",
        "_._tcp.service.consul.",
    ] {
        let parsed = parse_name(&domain, name, QueryType::A);
        assert!(matches!(parsed, ParsedName::Invalid { .. }), "{name}: {parsed:?}");
    }
}

#[test]
fn a_custom_domain_is_matched_on_whole_labels() {
    let domain = Domain::new("Mesh.Example.").unwrap();
    assert_eq!(domain.as_str(), "mesh.example.");
    assert_eq!(
        parse_name(&domain, "web.service.mesh.example", QueryType::A),
        parsed_service("web", None, None)
    );
    assert_eq!(parse_name(&domain, "web.service.consul.", QueryType::A), ParsedName::OutsideDomain);
    assert_eq!(parse_name(&domain, "xmesh.example.", QueryType::A), ParsedName::OutsideDomain);
}

#[test]
fn bad_domains_are_refused_naming_the_reason() {
    for (domain, reason) in [
        ("", "empty"),
        (".", "empty"),
        ("a..b", "empty label"),
        ("bad domain", "letters, digits"),
        ("-consul", "starts or ends"),
        (&"x".repeat(64), "longer than 63"),
    ] {
        let err = Domain::new(domain).unwrap_err().to_string();
        assert!(err.starts_with(&format!("domain {domain:?} is invalid")), "{err}");
        assert!(err.contains(reason), "{domain:?}: {err}");
    }
}

#[test]
fn service_a_answers_only_healthy_instances_in_catalog_order() {
    let mut critical = instance("n2", "10.0.0.2", "", 8080);
    critical.health = HealthStatus::Critical;
    let instances =
        [instance("n1", "10.0.0.1", "", 8080), critical, instance("n3", "10.0.0.3", "", 8080)];
    let r = ask_service(&config(), "web.service.consul.", QueryType::A, &instances);
    assert_eq!(r.code, ResponseCode::NoError);
    assert!(r.authoritative);
    let name = "web.service.consul.";
    assert_eq!(r.answers, [a(name, [10, 0, 0, 1]), a(name, [10, 0, 0, 3])]);
    assert!(r.authority.is_empty() && r.additional.is_empty());
}

#[test]
fn warning_instances_are_served_unless_only_passing() {
    let mut warning = instance("n2", "10.0.0.2", "", 8080);
    warning.health = HealthStatus::Warning;
    warning.weights = Weights { passing: 10, warning: 3 };
    let instances = [instance("n1", "10.0.0.1", "", 8080), warning];
    let name = "web.service.consul.";
    let r = ask_service(&config(), name, QueryType::Srv, &instances);
    assert_eq!(
        r.answers,
        [srv(name, 1, 8080, "n1.node.dc1.consul."), srv(name, 3, 8080, "n2.node.dc1.consul.")]
    );
    let strict = DnsConfig { only_passing: true, ..config() };
    let r = ask_service(&strict, name, QueryType::Srv, &instances);
    assert_eq!(r.answers, [srv(name, 1, 8080, "n1.node.dc1.consul.")]);
}

#[test]
fn srv_targets_nodes_with_glue_and_own_addresses_by_addr_name() {
    let instances = [
        instance("n1", "10.0.0.1", "", 8080),
        instance("n1", "10.0.0.1", "", 8080), // same node, address and port: one record
        instance("n2", "10.0.0.2", "10.0.0.2", 9090), // own address equal to the node's
        instance("n3", "10.0.0.3", "192.168.1.5", 7070),
        instance("n4", "10.0.0.4", "db.example.com", 5432),
        instance("n5", "2001:db8::5", "", 6060),
    ];
    let name = "_web._tcp.service.consul.";
    let r = ask_service(&config(), name, QueryType::Srv, &instances);
    assert_eq!(
        r.answers,
        [
            srv(name, 1, 8080, "n1.node.dc1.consul."),
            srv(name, 1, 9090, "n2.node.dc1.consul."),
            srv(name, 1, 7070, "c0a80105.addr.dc1.consul."),
            srv(name, 1, 5432, "db.example.com."),
            srv(name, 1, 6060, "n5.node.dc1.consul."),
        ]
    );
    let v6 = Record {
        name: "n5.node.dc1.consul.".into(),
        ttl: 0,
        data: RecordData::Aaaa("2001:db8::5".parse::<Ipv6Addr>().unwrap()),
    };
    assert_eq!(
        r.additional,
        [
            a("n1.node.dc1.consul.", [10, 0, 0, 1]),
            a("n2.node.dc1.consul.", [10, 0, 0, 2]),
            a("c0a80105.addr.dc1.consul.", [192, 168, 1, 5]),
            v6,
        ]
    );
    // The .addr. target resolves back to the same address.
    let q = Question::new("c0a80105.addr.dc1.consul.", QueryType::A);
    let Plan::Respond(back) = plan(&config(), &q, NOW) else { panic!("addr answers directly") };
    assert_eq!(back.answers, [a("c0a80105.addr.dc1.consul.", [192, 168, 1, 5])]);
}

#[test]
fn address_answers_follow_the_question_family_and_deduplicate() {
    let instances = [
        instance("n1", "10.0.0.1", "", 1),
        instance("n2", "10.0.0.1", "", 2), // same address: one A record
        instance("n3", "2001:db8::3", "", 3),
        instance("n4", "10.0.0.4", "web.example.com", 4),
    ];
    let name = "web.service.consul.";
    let r = ask_service(&config(), name, QueryType::A, &instances);
    let cname =
        Record { name: name.into(), ttl: 0, data: RecordData::Cname("web.example.com.".into()) };
    assert_eq!(r.answers, [a(name, [10, 0, 0, 1]), cname.clone()]);
    let r = ask_service(&config(), name, QueryType::Aaaa, &instances);
    let aaaa = Record {
        name: name.into(),
        ttl: 0,
        data: RecordData::Aaaa("2001:db8::3".parse().unwrap()),
    };
    assert_eq!(r.answers, [aaaa.clone(), cname.clone()]);
    let r = ask_service(&config(), name, QueryType::Any, &instances);
    assert_eq!(r.answers, [a(name, [10, 0, 0, 1]), aaaa, cname]);
}

#[test]
fn tag_filters_case_insensitively_in_both_forms() {
    let mut v2 = instance("n2", "10.0.0.2", "", 8080);
    v2.tags = vec!["V2".into(), "primary".into()];
    let instances = [instance("n1", "10.0.0.1", "", 8080), v2];
    for name in ["v2.web.service.consul.", "V2.WEB.service.consul."] {
        let r = ask_service(&config(), name, QueryType::A, &instances);
        assert_eq!(r.answers, [a(name, [10, 0, 0, 2])], "{name}");
    }
    let name = "_web._V2.service.consul.";
    let r = ask_service(&config(), name, QueryType::Srv, &instances);
    assert_eq!(r.answers, [srv(name, 1, 8080, "n2.node.dc1.consul.")]);
    let r = ask_service(&config(), "v1.web.service.consul.", QueryType::A, &instances);
    assert_eq!(r.answers, [a("v1.web.service.consul.", [10, 0, 0, 1])]);
    let r = ask_service(&config(), "v9.web.service.consul.", QueryType::A, &instances);
    assert_eq!(r.code, ResponseCode::NxDomain);
    assert!(is_soa(&r.authority));
}

#[test]
fn no_served_instance_is_nxdomain_with_soa() {
    let mut down = instance("n1", "10.0.0.1", "", 8080);
    down.health = HealthStatus::Critical;
    for instances in [vec![], vec![down]] {
        let r = ask_service(&config(), "web.service.consul.", QueryType::A, &instances);
        assert_eq!((r.code, r.authoritative), (ResponseCode::NxDomain, true));
        assert!(r.answers.is_empty());
        assert!(is_soa(&r.authority), "{r:?}");
        let RecordData::Soa(soa) = &r.authority[0].data else { unreachable!() };
        assert_eq!(
            (soa.mname.as_str(), soa.rname.as_str(), soa.serial),
            ("ns.consul.", "hostmaster.consul.", 1_700_000_000)
        );
        assert_eq!((soa.refresh, soa.retry, soa.expire, soa.minimum), (3600, 600, 86400, 0));
    }
}

#[test]
fn a_type_without_records_is_nodata_with_soa() {
    let instances = [instance("n1", "10.0.0.1", "", 8080)];
    for qtype in [QueryType::Aaaa, QueryType::Txt, QueryType::Other(15)] {
        let r = ask_service(&config(), "web.service.consul.", qtype, &instances);
        assert_eq!(r.code, ResponseCode::NoError, "{qtype:?}");
        assert!(r.answers.is_empty() && is_soa(&r.authority), "{qtype:?}: {r:?}");
    }
}

#[test]
fn connect_lookups_answer_the_proxy_endpoints_given() {
    let sidecar = instance("n1", "10.0.0.1", "", 21000);
    let q = Question::new("web.connect.consul.", QueryType::Srv);
    let Plan::Service(lookup) = plan(&config(), &q, NOW) else { panic!("connect is a lookup") };
    assert!(lookup.connect);
    let r = answer_service(&config(), &q, &lookup, &[sidecar], NOW);
    assert_eq!(r.answers, [srv("web.connect.consul.", 1, 21000, "n1.node.dc1.consul.")]);
}

#[test]
fn node_answers_address_or_nxdomain() {
    let cfg = config();
    let q = Question::new("Node1.node.consul", QueryType::A);
    let Plan::Node(lookup) = plan(&cfg, &q, NOW) else { panic!("node lookup") };
    assert_eq!(lookup.node, "node1");
    let node = NodeAddress { node: "node1".into(), address: "10.0.0.1".into() };
    let r = answer_node(&cfg, &q, Some(&node), NOW);
    assert_eq!(r.answers, [a("Node1.node.consul.", [10, 0, 0, 1])]);
    let r =
        answer_node(&cfg, &Question::new("node1.node.consul.", QueryType::Aaaa), Some(&node), NOW);
    assert_eq!(r.code, ResponseCode::NoError);
    assert!(r.answers.is_empty() && is_soa(&r.authority));
    let r = answer_node(&cfg, &q, None, NOW);
    assert_eq!(r.code, ResponseCode::NxDomain);
    assert!(is_soa(&r.authority));
}

#[test]
fn other_datacenters_are_nxdomain_and_the_local_one_any_case() {
    let cfg = config();
    for name in ["web.service.dc2.consul.", "n1.node.dc2.consul.", "0a000001.addr.dc2.consul."] {
        let Plan::Respond(r) = plan(&cfg, &Question::new(name, QueryType::A), NOW) else {
            panic!("{name}: answered without a read");
        };
        assert_eq!(r.code, ResponseCode::NxDomain, "{name}");
        assert!(is_soa(&r.authority));
    }
    let q = Question::new("web.service.DC1.consul.", QueryType::A);
    assert!(matches!(plan(&cfg, &q, NOW), Plan::Service(_)));
}

#[test]
fn outside_the_domain_is_refused_without_authority() {
    let Plan::Respond(r) = plan(&config(), &Question::new("example.com.", QueryType::A), NOW)
    else {
        panic!("refused directly");
    };
    assert_eq!(r, Response::refused());
    assert!(!r.authoritative && r.authority.is_empty());
}

#[test]
fn unknown_names_under_the_domain_are_nxdomain_with_soa() {
    for name in ["foo.consul.", "x.y.consul.", "geo.query.consul."] {
        let Plan::Respond(r) = plan(&config(), &Question::new(name, QueryType::A), NOW) else {
            panic!("{name}: answered without a read");
        };
        assert_eq!((r.code, r.authoritative), (ResponseCode::NxDomain, true), "{name}");
        assert!(is_soa(&r.authority), "{name}");
    }
}

#[test]
fn the_apex_answers_its_soa() {
    let Plan::Respond(r) = plan(&config(), &Question::new("consul.", QueryType::Soa), NOW) else {
        panic!("apex answers directly");
    };
    assert_eq!(r.code, ResponseCode::NoError);
    assert!(is_soa(&r.answers) && r.authority.is_empty());
    let Plan::Respond(r) = plan(&config(), &Question::new("consul.", QueryType::A), NOW) else {
        panic!("apex answers directly");
    };
    assert!(r.answers.is_empty() && is_soa(&r.authority));
}

#[test]
fn ttls_come_from_the_config() {
    let cfg = DnsConfig { service_ttl_secs: 30, node_ttl_secs: 7, ..config() };
    let r = ask_service(
        &cfg,
        "web.service.consul.",
        QueryType::Srv,
        &[instance("n1", "10.0.0.1", "", 80)],
    );
    assert_eq!((r.answers[0].ttl, r.additional[0].ttl), (30, 30));
    let node = NodeAddress { node: "n1".into(), address: "10.0.0.1".into() };
    let r = answer_node(&cfg, &Question::new("n1.node.consul.", QueryType::A), Some(&node), NOW);
    assert_eq!(r.answers[0].ttl, 7);
}

#[test]
fn weights_saturate_to_sixteen_bits() {
    let mut heavy = instance("n1", "10.0.0.1", "", 80);
    heavy.weights = Weights { passing: 1_000_000, warning: 1 };
    let r = ask_service(&config(), "web.service.consul.", QueryType::Srv, &[heavy]);
    assert_eq!(r.answers, [srv("web.service.consul.", u16::MAX, 80, "n1.node.dc1.consul.")]);
}

#[test]
fn instances_without_a_usable_address_are_skipped() {
    let instances = [instance("n1", "", "", 80), instance("n2", "not an address!", "", 80)];
    let r = ask_service(&config(), "web.service.consul.", QueryType::Srv, &instances);
    assert_eq!(r.code, ResponseCode::NoError);
    assert!(r.answers.is_empty() && is_soa(&r.authority));
}

#[test]
fn query_type_codes_round_trip() {
    for code in [1, 2, 5, 6, 16, 28, 33, 255, 15, 65535] {
        assert_eq!(QueryType::from_code(code).code(), code);
    }
    assert_eq!(QueryType::from_code(33), QueryType::Srv);
}

#[test]
fn instance_health_is_the_worst_check() {
    use crate::state::{Check, Node, Service, ServiceHealth};
    let check = |status| Check { status, ..Check::default() };
    let row = ServiceHealth {
        node: Node { node: "n1".into(), address: "10.0.0.1".into(), ..Node::default() },
        service: Service { service: "web".into(), port: 80, ..Service::default() },
        checks: vec![check(HealthStatus::Passing), check(HealthStatus::Warning)],
    };
    let inst = Instance::from_health(&row);
    assert_eq!(
        (inst.health, inst.effective_address(), inst.port),
        (HealthStatus::Warning, "10.0.0.1", 80)
    );
    let bare = ServiceHealth { checks: vec![], ..row };
    assert_eq!(Instance::from_health(&bare).health, HealthStatus::Passing);
}
