//! The ADS session: subscriptions, nonces, ACK/NACK, ordering, removals, parents and
//! children, over delta and state of the world.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::*;
use crate::xds::{ResourceSet, TypeUrl, Versioned};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Res(Vec<(TypeUrl, String)>);

impl XdsResource for Res {
    fn children(&self) -> Vec<(TypeUrl, String)> {
        self.0.clone()
    }
}

fn set(items: &[(TypeUrl, &str, &str)]) -> ResourceSet<Res> {
    let mut s = ResourceSet::new();
    for (t, name, version) in items {
        let children = if *t == TypeUrl::Listener && name.starts_with("http") {
            vec![(TypeUrl::RouteConfiguration, "web".to_owned())]
        } else {
            vec![]
        };
        s.entry(*t).or_insert_with(BTreeMap::new).insert(
            (*name).to_owned(),
            Versioned { version: (*version).to_owned(), resource: Arc::new(Res(children)) },
        );
    }
    s
}

fn delta() -> AdsSession<Res> {
    AdsSession::new(Protocol::Delta, BTreeSet::new())
}

fn sub(t: TypeUrl, names: &[&str]) -> DeltaRequest {
    DeltaRequest {
        type_url: t.as_str().into(),
        subscribe: names.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn ack(t: TypeUrl, nonce: &str) -> DeltaRequest {
    DeltaRequest { type_url: t.as_str().into(), response_nonce: nonce.into(), ..Default::default() }
}

fn nack(t: TypeUrl, nonce: &str) -> DeltaRequest {
    DeltaRequest { error_detail: Some("bad cluster".into()), ..ack(t, nonce) }
}

/// (type, nonce, upserted names, removed names) of every response until `None`.
fn drain(s: &mut AdsSession<Res>) -> Vec<(TypeUrl, String, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    while let Some(r) = s.poll_response() {
        match r {
            Response::Delta { type_url, nonce, resources, removed } => out.push((
                type_url,
                nonce,
                resources.into_iter().map(|(n, _)| n).collect(),
                removed,
            )),
            Response::Sotw { type_url, nonce, resources, .. } => {
                out.push((type_url, nonce, resources.into_iter().map(|(n, _)| n).collect(), vec![]))
            }
        }
        assert!(out.len() < 50, "unbounded responses");
    }
    out
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn wildcard_cds_gets_everything_then_only_what_changed_after_the_ack() {
    let mut s = delta();
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1"), (TypeUrl::Cluster, "b", "1")]));
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    let out = drain(&mut s);
    assert_eq!(out, [(TypeUrl::Cluster, "00000001".into(), names(&["a", "b"]), vec![])]);
    // No new version of a type while one is unacknowledged.
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "2"), (TypeUrl::Cluster, "b", "1")]));
    assert!(drain(&mut s).is_empty());
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    assert_eq!(drain(&mut s), [(TypeUrl::Cluster, "00000002".into(), names(&["a"]), vec![])]);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000002")).unwrap();
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.acknowledged(TypeUrl::Cluster).get("a").map(String::as_str), Some("2"));
}

#[test]
fn a_nack_keeps_the_last_good_state_and_is_not_answered_with_the_same_thing() {
    let mut s = delta();
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1")]));
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    drain(&mut s);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "2")]));
    assert_eq!(drain(&mut s).len(), 1);
    s.handle_delta_request(nack(TypeUrl::Cluster, "00000002")).unwrap();
    assert_eq!(s.last_nack(TypeUrl::Cluster).unwrap().error_detail, "bad cluster");
    assert!(drain(&mut s).is_empty(), "the rejected version is not resent");
    assert_eq!(s.acknowledged(TypeUrl::Cluster)["a"], "1", "last good config kept");
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "3")]));
    assert_eq!(drain(&mut s), [(TypeUrl::Cluster, "00000003".into(), names(&["a"]), vec![])]);
}

#[test]
fn clusters_and_endpoints_go_first_and_listeners_wait_for_their_acks() {
    let mut s = delta();
    s.set_resources(set(&[
        (TypeUrl::Cluster, "db", "1"),
        (TypeUrl::ClusterLoadAssignment, "db", "1"),
        (TypeUrl::Listener, "db:127.0.0.1:9191", "1"),
    ]));
    s.handle_delta_request(sub(TypeUrl::Listener, &[])).unwrap();
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    s.handle_delta_request(sub(TypeUrl::ClusterLoadAssignment, &["db"])).unwrap();
    let out = drain(&mut s);
    let types: Vec<TypeUrl> = out.iter().map(|o| o.0).collect();
    assert_eq!(types, [TypeUrl::Cluster, TypeUrl::ClusterLoadAssignment], "listeners held back");
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    assert!(drain(&mut s).is_empty(), "endpoints still unacknowledged");
    s.handle_delta_request(ack(TypeUrl::ClusterLoadAssignment, "00000002")).unwrap();
    assert_eq!(
        drain(&mut s),
        [(TypeUrl::Listener, "00000003".into(), names(&["db:127.0.0.1:9191"]), vec![])]
    );
}

#[test]
fn removals_come_after_additions_and_cluster_removals_after_listeners_settle() {
    let mut s = delta();
    s.set_resources(set(&[(TypeUrl::Cluster, "old", "1"), (TypeUrl::Listener, "l-old", "1")]));
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    s.handle_delta_request(sub(TypeUrl::Listener, &[])).unwrap();
    drain(&mut s);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    drain(&mut s);
    s.handle_delta_request(ack(TypeUrl::Listener, "00000002")).unwrap();
    s.set_resources(set(&[(TypeUrl::Cluster, "new", "1"), (TypeUrl::Listener, "l-new", "1")]));
    let out = drain(&mut s);
    assert_eq!(out, [(TypeUrl::Cluster, "00000003".into(), names(&["new"]), vec![])], "add first");
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000003")).unwrap();
    let out = drain(&mut s);
    assert_eq!(out, [(TypeUrl::Listener, "00000004".into(), names(&["l-new"]), names(&["l-old"]))]);
    assert!(s.acknowledged(TypeUrl::Cluster).contains_key("old"), "not removed while LDS pending");
    s.handle_delta_request(ack(TypeUrl::Listener, "00000004")).unwrap();
    assert_eq!(drain(&mut s), [(TypeUrl::Cluster, "00000005".into(), vec![], names(&["old"]))]);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000005")).unwrap();
    assert!(!s.acknowledged(TypeUrl::Cluster).contains_key("old"));
}

#[test]
fn resending_a_parent_resends_its_children() {
    let mut s = delta();
    s.set_resources(set(&[
        (TypeUrl::Cluster, "db", "1"),
        (TypeUrl::ClusterLoadAssignment, "db", "1"),
        (TypeUrl::Listener, "http-web", "1"),
        (TypeUrl::RouteConfiguration, "web", "1"),
    ]));
    for (t, n) in [
        (TypeUrl::Cluster, &[][..]),
        (TypeUrl::ClusterLoadAssignment, &["db"][..]),
        (TypeUrl::Listener, &[][..]),
        (TypeUrl::RouteConfiguration, &["web"][..]),
    ] {
        s.handle_delta_request(sub(t, n)).unwrap();
    }
    let mut nonce = 0;
    let mut settle = |s: &mut AdsSession<Res>| {
        let mut sent = Vec::new();
        loop {
            let out = drain(s);
            if out.is_empty() {
                break;
            }
            for (t, n, up, _) in out {
                nonce += 1;
                assert_eq!(n, format!("{nonce:08x}"), "one nonce counter per stream");
                sent.push((t, up));
                s.handle_delta_request(ack(t, &n)).unwrap();
            }
        }
        sent
    };
    assert_eq!(settle(&mut s).len(), 4);
    s.set_resources(set(&[
        (TypeUrl::Cluster, "db", "2"),
        (TypeUrl::ClusterLoadAssignment, "db", "1"),
        (TypeUrl::Listener, "http-web", "2"),
        (TypeUrl::RouteConfiguration, "web", "1"),
    ]));
    let sent = settle(&mut s);
    assert_eq!(
        sent,
        [
            (TypeUrl::Cluster, names(&["db"])),
            (TypeUrl::ClusterLoadAssignment, names(&["db"])),
            (TypeUrl::Listener, names(&["http-web"])),
            (TypeUrl::RouteConfiguration, names(&["web"])),
        ],
        "unchanged endpoints and routes follow their changed parents"
    );
}

#[test]
fn named_subscriptions_resubscribe_unsubscribe_and_reconnect() {
    let mut s = delta();
    s.set_resources(set(&[
        (TypeUrl::ClusterLoadAssignment, "a", "1"),
        (TypeUrl::ClusterLoadAssignment, "b", "1"),
    ]));
    s.handle_delta_request(sub(TypeUrl::ClusterLoadAssignment, &["a"])).unwrap();
    assert_eq!(drain(&mut s)[0].2, names(&["a"]), "only what is subscribed");
    s.handle_delta_request(ack(TypeUrl::ClusterLoadAssignment, "00000001")).unwrap();
    s.handle_delta_request(sub(TypeUrl::ClusterLoadAssignment, &["a"])).unwrap();
    assert_eq!(drain(&mut s)[0].2, names(&["a"]), "re-subscribing forces a resend");
    s.handle_delta_request(ack(TypeUrl::ClusterLoadAssignment, "00000002")).unwrap();
    let unsub = DeltaRequest {
        type_url: TypeUrl::ClusterLoadAssignment.as_str().into(),
        unsubscribe: names(&["a"]),
        ..Default::default()
    };
    s.handle_delta_request(unsub).unwrap();
    assert!(drain(&mut s).is_empty(), "no removal for what Envoy dropped itself");
    assert!(s.acknowledged(TypeUrl::ClusterLoadAssignment).is_empty());

    let mut again = delta();
    again.set_resources(set(&[(TypeUrl::Cluster, "a", "1"), (TypeUrl::Cluster, "b", "2")]));
    let reconnect = DeltaRequest {
        initial_versions: BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "1".to_owned()),
        ]),
        ..sub(TypeUrl::Cluster, &[])
    };
    again.handle_delta_request(reconnect).unwrap();
    assert_eq!(drain(&mut again)[0].2, names(&["b"]), "only what Envoy does not have");
}

#[test]
fn bad_requests_are_refused_without_changing_state() {
    let mut s = delta();
    let err = s
        .handle_delta_request(DeltaRequest {
            type_url: "type.googleapis.com/foo".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "unsupported resource type \"type.googleapis.com/foo\"");
    let err = s
        .handle_sotw_request(SotwRequest {
            type_url: TypeUrl::Cluster.as_str().into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, AdsError::WrongProtocol(..)));
    let many: Vec<String> = (0..=MAX_SUBSCRIPTIONS).map(|i| format!("c{i}")).collect();
    let err = s
        .handle_delta_request(DeltaRequest {
            subscribe: many,
            ..sub(TypeUrl::ClusterLoadAssignment, &[])
        })
        .unwrap_err();
    assert!(matches!(err, AdsError::TooManySubscriptions { .. }));
    assert!(drain(&mut s).is_empty());
}

fn sotw_req(t: TypeUrl, names_: &[&str], nonce: &str, version: &str) -> SotwRequest {
    SotwRequest {
        type_url: t.as_str().into(),
        resource_names: names(names_),
        version_info: version.into(),
        response_nonce: nonce.into(),
        error_detail: None,
    }
}

#[test]
fn state_of_the_world_sends_the_whole_set_with_a_set_version() {
    let mut s: AdsSession<Res> = AdsSession::new(Protocol::StateOfTheWorld, BTreeSet::new());
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1"), (TypeUrl::Cluster, "b", "1")]));
    s.handle_sotw_request(sotw_req(TypeUrl::Cluster, &[], "", "")).unwrap();
    let Some(Response::Sotw { version_info, nonce, resources, .. }) = s.poll_response() else {
        panic!("sotw")
    };
    assert_eq!(resources.len(), 2);
    assert!(s.poll_response().is_none());
    s.handle_sotw_request(sotw_req(TypeUrl::Cluster, &[], &nonce, &version_info)).unwrap();
    assert!(s.poll_response().is_none(), "acked and unchanged");
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "2")]));
    let Some(Response::Sotw { version_info: v2, nonce: n2, resources, .. }) = s.poll_response()
    else {
        panic!("sotw")
    };
    assert_ne!(v2, version_info);
    assert_eq!(
        resources.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["a"],
        "b is gone by absence"
    );
    let rejected = SotwRequest {
        error_detail: Some("no".into()),
        ..sotw_req(TypeUrl::Cluster, &[], &n2, &version_info)
    };
    s.handle_sotw_request(rejected).unwrap();
    assert!(s.poll_response().is_none(), "NACKed set not resent");
    assert_eq!(s.last_nack(TypeUrl::Cluster).unwrap().nonce, n2);
}

#[test]
fn gateways_may_get_an_empty_first_answer_once() {
    let mut s: AdsSession<Res> =
        AdsSession::new(Protocol::Delta, BTreeSet::from([TypeUrl::Cluster]));
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    assert_eq!(drain(&mut s), [(TypeUrl::Cluster, "00000001".into(), vec![], vec![])]);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    assert!(drain(&mut s).is_empty());
    let mut sidecar = delta();
    sidecar.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    assert!(drain(&mut sidecar).is_empty(), "no empty responses for sidecars");
}

#[test]
fn a_nacked_removal_is_not_repeated_until_the_resources_change() {
    let mut s = delta();
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1"), (TypeUrl::Cluster, "b", "1")]));
    s.handle_delta_request(sub(TypeUrl::Cluster, &[])).unwrap();
    drain(&mut s);
    s.handle_delta_request(ack(TypeUrl::Cluster, "00000001")).unwrap();
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1")]));
    assert_eq!(drain(&mut s), [(TypeUrl::Cluster, "00000002".into(), vec![], names(&["b"]))]);
    s.handle_delta_request(nack(TypeUrl::Cluster, "00000002")).unwrap();
    assert!(drain(&mut s).is_empty());
    s.set_resources(set(&[(TypeUrl::Cluster, "a", "1")]));
    assert_eq!(drain(&mut s)[0].3, names(&["b"]), "a new snapshot tries again");
}
