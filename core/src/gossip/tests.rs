//! Pool behaviour over the in-memory network: convergence, failure detection within the
//! stated bound, leave vs failure, rejoin after a false failure, tag updates, determinism,
//! and refusals of bad input.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::simnet::{SimNet, Trace, dc1, identity};
use super::*;
use crate::ids::NodeName;
use crate::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn pools_joined_through_one_seed_all_see_each_other_with_tags() {
    let net = SimNet::cluster(5, &Profile::Lan, 7, 3 * SECOND);
    for observer in net.live() {
        let members = net.members(&observer);
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["n0", "n1", "n2", "n3", "n4"], "seen by {observer}");
        for m in &members {
            assert_eq!(m.status, MemberStatus::Alive, "{} seen by {observer}", m.name);
            assert_eq!(m.role(), Some(Role::Server));
            assert_eq!(m.rpc_addr(), Some(SocketAddr::new(m.addr.ip(), 8300)));
            assert_eq!(m.datacenter, dc1());
        }
    }
    assert_eq!(net.refused, 0);
}

#[test]
fn every_peer_emits_one_up_event_per_member() {
    let net = SimNet::cluster(4, &Profile::Lan, 11, 3 * SECOND);
    for observer in net.live() {
        for other in net.live().iter().filter(|o| **o != observer) {
            let events = net.events(&observer, other);
            assert!(
                matches!(events.as_slice(), [(_, MemberEvent::Up(m))] if m.name.as_str() == other),
                "{observer} about {other}: {events:?}"
            );
        }
    }
}

#[test]
fn crashed_member_is_declared_failed_within_the_stated_bound() {
    for profile in [Profile::Lan, Profile::Dev] {
        let mut net = SimNet::cluster(5, &profile, 21, 3 * SECOND);
        let bound = profile.timings().failure_detection_bound(5);
        let crashed_at = net.now;
        net.crash("n3");
        let survivors = net.live();
        let seen = net.run_until(bound, |net| {
            survivors.iter().all(|o| net.status(o, "n3") == Some(MemberStatus::Failed))
        });
        let seen = seen.unwrap_or_else(|| {
            let views: Vec<_> = survivors.iter().map(|o| (o, net.status(o, "n3"))).collect();
            panic!("{profile:?}: not failed everywhere within {bound:?}: {views:?}")
        });
        assert!(seen.since(crashed_at) <= bound);
        for observer in &survivors {
            let events = net.events(observer, "n3");
            assert!(matches!(events.last(), Some((_, MemberEvent::Failed(_)))), "{events:?}");
            for other in survivors.iter() {
                assert_eq!(net.status(observer, other), Some(MemberStatus::Alive));
            }
        }
    }
}

#[test]
fn leaving_member_is_left_everywhere_never_failed() {
    let mut net = SimNet::cluster(5, &Profile::Lan, 31, 3 * SECOND);
    net.leave("n2");
    assert!(net.pool("n2").has_left());
    assert_eq!(net.pool("n2").poll_timeout(), None);
    assert_eq!(net.status("n2", "n2"), Some(MemberStatus::Left));
    let others: Vec<String> = net.live().into_iter().filter(|n| n != "n2").collect();
    let seen = net.run_until(2 * SECOND, |net| {
        others.iter().all(|o| net.status(o, "n2") == Some(MemberStatus::Left))
    });
    assert!(seen.is_some(), "left not seen everywhere within 2s");
    // Long past any failure detection: still left, and nobody ever called it failed.
    net.run_for(30 * SECOND);
    for observer in &others {
        assert_eq!(net.status(observer, "n2"), Some(MemberStatus::Left));
        let events = net.events(observer, "n2");
        assert!(
            matches!(events.last(), Some((_, MemberEvent::Left(m))) if m.status == MemberStatus::Left)
        );
        assert!(!events.iter().any(|(_, e)| matches!(e, MemberEvent::Failed(_))), "{events:?}");
    }
}

#[test]
fn member_declared_failed_while_cut_off_rejoins_with_a_new_incarnation() {
    let mut net = SimNet::cluster(3, &Profile::Lan, 41, 3 * SECOND);
    net.isolate("n1");
    let failed = net.run_until(60 * SECOND, |net| {
        ["n0", "n2"].iter().all(|o| net.status(o, "n1") == Some(MemberStatus::Failed))
    });
    assert!(failed.is_some(), "n1 never declared failed while isolated");
    net.heal("n1");
    let reconnect = Timings::lan().reconnect_interval;
    let healed =
        net.run_until(4 * reconnect, |net| net.live().iter().all(|o| net.active_seen_by(o) == 3));
    assert!(healed.is_some(), "the pool did not heal: {:?}", net.members("n0"));
    let n1 = net.members("n0").into_iter().find(|m| m.name.as_str() == "n1").unwrap();
    assert!(n1.incarnation > 0, "n1 should have renewed its identity: {n1:?}");
    let events = net.events("n0", "n1");
    assert!(matches!(events.last(), Some((_, MemberEvent::Up(_)))), "{events:?}");
}

#[test]
fn tag_change_reaches_peers_as_an_update() {
    let mut net = SimNet::cluster(3, &Profile::Lan, 51, 3 * SECOND);
    let mut tags = net.pool("n2").identity().tags().clone();
    tags.insert(super::tags::HTTP_ADDR.to_owned(), "10.0.0.3:8500".to_owned());
    let now = net.now;
    net.pool("n2").set_tags(now, tags).unwrap();
    let addr = net.addr("n2");
    let seen = net.run_until(3 * SECOND, |net| {
        ["n0", "n1"].iter().all(|o| {
            net.members(o).iter().any(|m| {
                m.name.as_str() == "n2" && m.http_addr() == Some(SocketAddr::new(addr.ip(), 8500))
            })
        })
    });
    assert!(seen.is_some(), "{:?}", net.members("n0"));
    let events = net.events("n0", "n2");
    assert!(matches!(events.last(), Some((_, MemberEvent::Updated(m))) if m.incarnation == 1));
    assert_eq!(net.status("n0", "n2"), Some(MemberStatus::Alive));
}

/// The scenario the determinism test replays: join, crash one, leave another.
fn scenario(seed: u64) -> Vec<Trace> {
    let mut net = SimNet::cluster(4, &Profile::Lan, seed, 3 * SECOND);
    net.crash("n1");
    net.run_for(10 * SECOND);
    net.leave("n3");
    net.run_for(5 * SECOND);
    net.trace
}

#[test]
fn same_seed_gives_the_same_datagrams_and_events() {
    let a = scenario(99);
    let b = scenario(99);
    assert!(a.iter().any(|t| matches!(t, Trace::Event { event: MemberEvent::Failed(_), .. })));
    assert!(a.iter().any(|t| matches!(t, Trace::Event { event: MemberEvent::Left(_), .. })));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "same seed, different trace");
    assert!(scenario(100) != a, "a different seed should change probe order");
}

#[test]
fn junk_and_oversized_datagrams_are_refused_without_panicking() {
    let mut pool = Pool::new(identity("a", 1), Profile::Lan, 1).unwrap();
    let now = Instant::ZERO;
    assert!(matches!(pool.handle_data(now, &[0xff; 64]), Err(GossipError::Datagram(_))));
    assert!(matches!(pool.handle_data(now, &[]), Err(GossipError::Datagram(_))));
    assert_eq!(
        pool.handle_data(now, &vec![0u8; 1500]),
        Err(GossipError::Datagram(DatagramError::TooBig))
    );
    assert_eq!(pool.members().len(), 1);
    assert!(pool.poll_event().is_none());
}

#[test]
fn bad_leave_intents_are_refused_and_unknown_kinds_ignored() {
    use foca::BroadcastHandler;
    let shared = super::intents::SharedIntents::default();
    let mut handler = super::intents::IntentHandler(shared.clone());
    assert!(handler.receive_item(&[1, 0, 0], None).is_err());
    assert!(handler.receive_item(&[1, 0, 0, 0, 0, 0, 0, 0, 0], None).is_err());
    assert!(handler.receive_item(&[1, 0, 0, 0, 0, 0, 0, 0, 0, b' '], None).is_err());
    assert_eq!(handler.receive_item(&[9, 1, 2, 3], None), Ok(None));
    let id = identity("n1", 2);
    let intent = super::intents::encode_leave(&id);
    assert!(handler.receive_item(&intent, None).unwrap().is_some());
    assert_eq!(handler.receive_item(&intent, None), Ok(None), "a repeat is not news");
    assert!(shared.lock().has_left(&id));
}

#[test]
fn joining_yourself_is_refused_and_a_left_pool_takes_no_more_joins() {
    let id = identity("a", 1);
    let own = id.addr();
    let mut pool = Pool::new(id, Profile::Lan, 1).unwrap();
    let now = Instant::ZERO;
    assert_eq!(pool.join(now, own), Err(GossipError::JoinSelf { addr: own }));
    assert!(pool.poll_transmit().is_none());
    pool.leave(now).unwrap();
    pool.leave(now).unwrap();
    let other: SocketAddr = "10.0.0.9:8301".parse().unwrap();
    assert_eq!(pool.join(now, other), Err(GossipError::Left));
    assert_eq!(pool.handle_data(now, &[0xff; 8]), Ok(()));
    assert_eq!(pool.poll_timeout(), None);
    assert!(matches!(pool.poll_event(), Some(MemberEvent::Left(m)) if m.name.as_str() == "a"));
}

#[test]
fn identities_refuse_oversized_tags_and_unreachable_addresses() {
    let name = NodeName::new("a").unwrap();
    let addr: SocketAddr = "10.0.0.1:8301".parse().unwrap();
    let make =
        |tags: BTreeMap<String, String>, addr| Identity::new(name.clone(), dc1(), addr, tags);
    let many: BTreeMap<String, String> =
        (0..17).map(|i| (format!("k{i}"), String::new())).collect();
    assert_eq!(make(many, addr), Err(IdentityError::TooManyTags { count: 17 }));
    let long_key = BTreeMap::from([("k".repeat(33), String::new())]);
    assert!(matches!(make(long_key, addr), Err(IdentityError::TagKeyTooLong { .. })));
    let long_value = BTreeMap::from([("role".to_owned(), "v".repeat(129))]);
    let err = make(long_value, addr).unwrap_err();
    assert!(err.to_string().contains("\"role\""), "{err}");
    let empty = BTreeMap::from([(String::new(), "x".to_owned())]);
    assert_eq!(make(empty, addr), Err(IdentityError::EmptyTagKey));
    let wide: BTreeMap<String, String> =
        (0..16).map(|i| (format!("key{i:02}"), "v".repeat(30))).collect();
    assert!(matches!(make(wide, addr), Err(IdentityError::TooLarge { .. })));
    let unspecified: SocketAddr = "0.0.0.0:8301".parse().unwrap();
    let err = make(BTreeMap::new(), unspecified).unwrap_err();
    assert!(err.to_string().contains("advertise"), "{err}");
}

#[test]
fn renewal_and_tag_changes_win_over_the_identity_they_replace() {
    use foca::Identity as _;
    let id = identity("a", 1);
    let renewed = id.renew().unwrap();
    assert_eq!(renewed.incarnation(), 1);
    assert!(renewed.win_addr_conflict(&id) && !id.win_addr_conflict(&renewed));
    let retagged = id.with_tags(BTreeMap::new()).unwrap();
    assert!(retagged.win_addr_conflict(&id));
}

#[test]
fn timings_refuse_zero_fields_and_a_probe_timeout_outside_the_interval() {
    let zero = Timings { gossip_nodes: 0, ..Timings::lan() };
    let err = Pool::new(identity("a", 1), Profile::Custom(zero), 1).unwrap_err();
    assert_eq!(err, GossipError::Timings(TimingsError::Zero { field: "gossip_nodes" }));
    assert!(err.to_string().contains("gossip_nodes"));
    let slow = Timings { probe_timeout: SECOND, ..Timings::lan() };
    assert!(matches!(slow.validate(), Err(TimingsError::ProbeTimeoutTooLong { .. })));
    let no_interval = Timings { probe_interval: Duration::ZERO, ..Timings::lan() };
    assert_eq!(no_interval.validate(), Err(TimingsError::Zero { field: "probe_interval" }));
    for t in [Timings::lan(), Timings::wan(), Timings::dev()] {
        assert_eq!(t.validate(), Ok(()));
    }
}

#[test]
fn suspicion_and_retransmits_scale_like_memberlist() {
    let lan = Timings::lan();
    assert_eq!(lan.suspicion_timeout(3), 4 * SECOND);
    assert_eq!(lan.suspicion_timeout(100), 8 * SECOND);
    assert_eq!(Timings::wan().suspicion_timeout(5), 30 * SECOND);
    assert_eq!(lan.retransmit_limit(3), 4);
    assert_eq!(lan.retransmit_limit(10), 8);
    assert_eq!(lan.retransmit_limit(1000), 16);
    // 2(n-1) probe intervals + suspicion + two gossip rounds + one probe interval.
    assert_eq!(lan.failure_detection_bound(5), Duration::from_millis(8_000 + 4_000 + 400 + 1_000));
}
