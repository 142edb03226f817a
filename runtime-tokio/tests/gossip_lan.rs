//! Three gossip pools on loopback UDP: they join and see each other's tags; one is shut down
//! without a goodbye and the others declare it failed within the stated bound; one leaves
//! and the last one records it as left, not failed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use proconsul_core::ids::{Datacenter, NodeName};
use proconsul_runtime_tokio::gossip::{
    Gossip, GossipConfig, GossipHandle, Member, MemberStatus, Profile, Role, Timings, tags,
};

/// Dev-like timings a little slower than Consul's `-dev`, so a loaded test machine does
/// not raise false suspicions: 200 ms probes, 100 ms probe timeout, suspicion x3.
fn timings() -> Timings {
    Timings {
        probe_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        ..Timings::dev()
    }
}

fn start(name: &str, seed: u64) -> GossipHandle {
    let tags = BTreeMap::from([
        (tags::ROLE.to_owned(), tags::ROLE_SERVER.to_owned()),
        (tags::RPC_ADDR.to_owned(), format!("127.0.0.1:{}", 8300 + seed)),
    ]);
    let config = GossipConfig {
        node_name: NodeName::new(name).unwrap(),
        datacenter: Datacenter::new("dc1").unwrap(),
        bind: "127.0.0.1:0".parse().unwrap(),
        advertise: None,
        tags,
        profile: Profile::Custom(timings()),
        seed,
    };
    Gossip::start(config).unwrap()
}

fn status_of(members: &[Member], name: &str) -> Option<MemberStatus> {
    members.iter().find(|m| m.name.as_str() == name).map(|m| m.status)
}

/// Waits until `handle`'s member list satisfies `done`, at most `limit`.
async fn wait_for(
    handle: &GossipHandle,
    limit: Duration,
    done: impl Fn(&[Member]) -> bool,
) -> Result<Duration, Vec<Member>> {
    let started = tokio::time::Instant::now();
    let mut rx = handle.subscribe();
    match tokio::time::timeout(limit, rx.wait_for(|m| done(m))).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        _ => Err(handle.members()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pools_join_detect_a_crash_and_record_a_leave() {
    let a = start("a", 1);
    let b = start("b", 2);
    let c = start("c", 3);
    assert_eq!(b.join(&[a.local_addr()]).await, 1);
    assert_eq!(c.join(&[a.local_addr(), c.local_addr()]).await, 1, "own address is skipped");

    for h in [&a, &b, &c] {
        let all_alive =
            |m: &[Member]| m.len() == 3 && m.iter().all(|m| m.status == MemberStatus::Alive);
        let seen = wait_for(h, Duration::from_secs(5), all_alive).await;
        assert!(seen.is_ok(), "{:?} never saw all three alive: {seen:?}", h.local_addr());
        let members = h.members();
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        for (m, port) in members.iter().zip([8301, 8302, 8303]) {
            assert_eq!(m.role(), Some(Role::Server));
            assert_eq!(m.rpc_addr(), Some(SocketAddr::from(([127, 0, 0, 1], port))));
            assert_eq!(m.datacenter.as_str(), "dc1");
        }
    }

    // Crash c: no goodbye. The bound is the core's stated one for 3 members, plus slack
    // for scheduling on a busy machine.
    c.shutdown();
    let bound = timings().failure_detection_bound(3) + Duration::from_secs(2);
    for h in [&a, &b] {
        let failed = wait_for(h, bound, |m| status_of(m, "c") == Some(MemberStatus::Failed)).await;
        assert!(failed.is_ok(), "c not failed within {bound:?}: {failed:?}");
    }

    // b leaves: a records it as left.
    b.leave().await.unwrap();
    assert_eq!(status_of(&b.members(), "b"), Some(MemberStatus::Left));
    let left =
        wait_for(&a, Duration::from_secs(2), |m| status_of(m, "b") == Some(MemberStatus::Left))
            .await;
    assert!(left.is_ok(), "b not left: {left:?}");
    // Well past failure detection, b is still left, not failed.
    tokio::time::sleep(timings().failure_detection_bound(3)).await;
    assert_eq!(status_of(&a.members(), "b"), Some(MemberStatus::Left));
    assert_eq!(status_of(&a.members(), "c"), Some(MemberStatus::Failed));
    assert_eq!(status_of(&a.members(), "a"), Some(MemberStatus::Alive));
    assert!(b.leave().await.is_err(), "the task stopped after leaving");
}

#[tokio::test]
async fn unspecified_advertise_address_is_refused_naming_the_fix() {
    let config = GossipConfig {
        node_name: NodeName::new("a").unwrap(),
        datacenter: Datacenter::new("dc1").unwrap(),
        bind: "0.0.0.0:0".parse().unwrap(),
        advertise: None,
        tags: BTreeMap::new(),
        profile: Profile::Dev,
        seed: 1,
    };
    let err = Gossip::start(config).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("advertise"), "{err}");
}

#[tokio::test]
async fn joining_nobody_answers_zero() {
    let a = start("a", 1);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(a.join(&[silent.local_addr().unwrap()]).await, 0);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(a.members().len(), 1);
    a.shutdown();
}
