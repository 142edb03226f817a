//! The naming examples of CONSUL-FACTS.md §1 and §10, one assertion each.

use super::*;

fn td(s: &str) -> TrustDomain {
    s.parse().unwrap()
}

#[test]
fn trust_domain_is_cluster_id_dot_consul_lower_cased() {
    let t = TrustDomain::for_cluster("11111111-2222-3333-4444-555555555555").unwrap();
    assert_eq!(t.as_str(), "11111111-2222-3333-4444-555555555555.consul");
    assert_eq!(t.cluster_id(), "11111111-2222-3333-4444-555555555555");
    assert_eq!(t.domain(), "consul");
    assert_eq!(TrustDomain::for_cluster("ABCD").unwrap().as_str(), "abcd.consul");
    assert!(TrustDomain::new("").is_err());
    assert!(TrustDomain::new("a..consul").is_err());
    assert!(TrustDomain::new("a_b.consul").is_err());
}

#[test]
fn spiffe_examples_from_consul_uri_tests_round_trip() {
    for uri in [
        "spiffe://1234.consul/ns/default/dc/dc01/svc/web",
        "spiffe://1234.consul/agent/client/dc/dc1/id/uuid",
        "spiffe://1234.consul/agent/server/dc/dc1",
        "spiffe://1234.consul/gateway/mesh/dc/dc1",
        "spiffe://1234.consul/ap/bizdev/gateway/mesh/dc/dc1",
        "spiffe://1234.consul/ap/bizdev/ns/default/dc/dc1/svc/web",
        "spiffe://1234.consul/ap/bizdev/agent/client/dc/dc1/id/uuid",
        "spiffe://1234.consul",
    ] {
        let id: SpiffeId = uri.parse().unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(id.to_string(), uri);
    }
}

#[test]
fn spiffe_service_identity_formats_as_consul() {
    let id = SpiffeId::service(td("1234.consul"), "dc1".parse().unwrap(), "web".parse().unwrap());
    assert_eq!(id.to_string(), "spiffe://1234.consul/ns/default/dc/dc1/svc/web");
    let agent = SpiffeId::Agent {
        trust_domain: td("1234.consul"),
        partition: Partition::default(),
        datacenter: "dc1".parse().unwrap(),
        node_id: "uuid".into(),
    };
    assert_eq!(agent.to_string(), "spiffe://1234.consul/agent/client/dc/dc1/id/uuid");
    let server =
        SpiffeId::Server { trust_domain: td("1234.consul"), datacenter: "dc1".parse().unwrap() };
    assert_eq!(server.to_string(), "spiffe://1234.consul/agent/server/dc/dc1");
    let gw = SpiffeId::MeshGateway {
        trust_domain: td("1234.consul"),
        partition: Partition::default(),
        datacenter: "dc1".parse().unwrap(),
    };
    assert_eq!(gw.to_string(), "spiffe://1234.consul/gateway/mesh/dc/dc1");
}

#[test]
fn spiffe_parse_percent_decodes_segments() {
    let id: SpiffeId =
        "spiffe://1234.consul/ns/foo%2Fbar/dc/bar%2Fbaz/svc/baz%2Fqux".parse().unwrap();
    let (ns, svc, dc) = id.as_service().unwrap();
    assert_eq!(ns.as_str(), "foo/bar");
    assert_eq!(dc.as_str(), "bar/baz");
    assert_eq!(svc.as_str(), "baz/qux");
    assert_eq!(id.to_string(), "spiffe://1234.consul/ns/foo%2Fbar/dc/bar%2Fbaz/svc/baz%2Fqux");
}

#[test]
fn spiffe_signing_id_has_no_path_and_is_not_a_service() {
    let id: SpiffeId = "spiffe://1234.consul".parse().unwrap();
    assert_eq!(id, SpiffeId::Signing { trust_domain: td("1234.consul") });
    assert_eq!(id.trust_domain().cluster_id(), "1234");
    assert!(id.as_service().is_none());
}

#[test]
fn spiffe_parse_errors_use_consul_messages() {
    assert_eq!(
        "https://1234.consul/ns/default/dc/dc1/svc/web"
            .parse::<SpiffeId>()
            .unwrap_err()
            .to_string(),
        "SPIFFE ID must have 'spiffe' scheme"
    );
    for bad in [
        "spiffe://1234.consul/agent/node1",
        "spiffe://1234.consul/ns/default/dc/dc1/svc",
        "spiffe://1234.consul/ns/default/dc/dc1/svc/web/extra",
        "spiffe://1234.consul/",
        "spiffe://1234.consul/ns/default/dc/dc1/svc/we%zzb",
        "spiffe://1234.consul/ns/default/dc/dc1/svc/web?x=1",
        "spiffe:///ns/default/dc/dc1/svc/web",
        "spiffe://1234.consul/ap/x/agent/server/dc/dc1",
    ] {
        let err = bad.parse::<SpiffeId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("SPIFFE ID is not in the expected format: {bad}"),
            "{bad}"
        );
    }
}

const SNI_TD: &str = "5fcd4b81-a2ca-405a-ac62-0fac602c1949.consul";

#[test]
fn sni_examples_from_consul_sni_tests() {
    let t = td(SNI_TD);
    let api: ServiceName = "api".parse().unwrap();
    let foo: Datacenter = "foo".parse().unwrap();
    let ns = Namespace::default();
    let ap = Partition::default();
    let cases = [
        (
            Sni::service(&api, None, &ns, &ap, &foo, &t),
            format!("api.default.foo.internal.{SNI_TD}"),
        ),
        (
            Sni::service(&api, Some("v2"), &ns, &ap, &foo, &t),
            format!("v2.api.default.foo.internal.{SNI_TD}"),
        ),
        (
            Sni::service(&api, Some("canary"), &"neighbor".parse().unwrap(), &ap, &foo, &t),
            format!("canary.api.neighbor.foo.internal.{SNI_TD}"),
        ),
        (
            Sni::service(&api, None, &ns, &"part1".parse().unwrap(), &foo, &t),
            format!("api.default.part1.foo.internal-v1.{SNI_TD}"),
        ),
        (
            Sni::prepared_query("magicquery", &foo, &t),
            format!("magicquery.default.foo.query.{SNI_TD}"),
        ),
        (Sni::gateway(&ap, &"dc2".parse().unwrap(), &t), format!("dc2.internal.{SNI_TD}")),
        (
            Sni::gateway(&"part1".parse().unwrap(), &"dc2".parse().unwrap(), &t),
            format!("part1.dc2.internal-v1.{SNI_TD}"),
        ),
    ];
    for (sni, want) in cases {
        assert_eq!(sni.to_string(), want);
        assert_eq!(want.parse::<Sni>().unwrap(), sni, "parse {want}");
    }
}

#[test]
fn sni_of_a_peered_service() {
    let sni = Sni::peered_service(
        &"api".parse().unwrap(),
        &Namespace::default(),
        &Partition::default(),
        "cluster-01",
        &td("abcd.consul"),
    );
    assert_eq!(sni.to_string(), "api.default.default.cluster-01.external.abcd.consul");
    assert_eq!("api.default.default.cluster-01.external.abcd.consul".parse::<Sni>().unwrap(), sni);
    assert!(sni.datacenter().is_none());
}

#[test]
fn sni_empty_subset_is_no_subset() {
    let t = td("trustdomain.consul");
    let sni = Sni::service(
        &"db".parse().unwrap(),
        Some(""),
        &Namespace::default(),
        &Partition::default(),
        &"dc1".parse().unwrap(),
        &t,
    );
    assert_eq!(sni.to_string(), "db.default.dc1.internal.trustdomain.consul");
}

#[test]
fn sni_parse_rejects_foreign_names() {
    for bad in [
        "example.com",
        "db.default.dc1.external.trustdomain.consul",
        "db.external.trustdomain.consul",
        "a.b.c.d.e.f.internal.trustdomain.consul",
        "x.y.query.trustdomain.consul",
        "db..dc1.internal.trustdomain.consul",
        "",
    ] {
        assert!(bad.parse::<Sni>().is_err(), "{bad}");
    }
}

#[test]
fn target_ids_always_carry_the_partition() {
    let main = TargetId::new(
        "main".parse().unwrap(),
        None,
        Namespace::default(),
        Partition::default(),
        "dc1".parse().unwrap(),
    );
    assert_eq!(main.to_string(), "main.default.default.dc1");
    let v1 = TargetId { subset: Some("v1".into()), ..main.clone() };
    assert_eq!(v1.to_string(), "v1.main.default.default.dc1");
    let peer = TargetId { location: TargetLocation::Peer("cluster-01".into()), ..main.clone() };
    assert_eq!(peer.to_string(), "main.default.default.external.cluster-01");
    for t in [main, v1, peer] {
        assert_eq!(t.to_string().parse::<TargetId>().unwrap(), t);
    }
    assert!("main.default".parse::<TargetId>().is_err());
}

#[test]
fn names_refuse_empty_whitespace_and_oversize() {
    assert_eq!(ServiceName::new("").unwrap_err().to_string(), "service name is required");
    assert!(ServiceName::new("we b").is_err());
    assert!(Datacenter::new("dc\n1").is_err());
    assert!(NodeName::new("x".repeat(NAME_MAX_BYTES + 1)).is_err());
    assert!(ServiceName::new("*").unwrap().is_wildcard());
    assert_eq!(Namespace::or_default("").unwrap(), Namespace::default());
}
