//! Random command sequences: apply never panics, a refused command changes nothing, every
//! reported watch key carries the applied index, and snapshot/restore round-trips at every
//! step, and a replay gives the same bytes. Fixed seed; override with `PROPTEST_RNG_SEED=<u64>`.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::tests::{check, dc1, entry, register, roots, sidecar, svc};
use super::*;

fn proptest_config() -> Config {
    let seed =
        std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x57a7e);
    eprintln!(
        "seed={seed} (reproduce: PROPTEST_RNG_SEED={seed} cargo test -p proconsul-core state::proptests)"
    );
    Config { cases: 128, rng_seed: RngSeed::Fixed(seed), ..Config::default() }
}

const ENTRIES: [&str; 5] = [
    r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#,
    r#"{"Kind":"service-defaults","Name":"web","Protocol":"tcp"}"#,
    r#"{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/a"}},"Destination":{"Service":"web","PrefixRewrite":"/"}}]}"#,
    r#"{"Kind":"service-intentions","Name":"db","Sources":[{"Name":"web","Action":"allow"}]}"#,
    r#"{"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}}"#,
];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["n0", "n1", "n2"]).prop_map(str::to_owned)
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "a/b", "a/c", "b", "ab"]).prop_map(str::to_owned)
}

fn cas() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(0u64..6)
}

fn status() -> impl Strategy<Value = HealthStatus> {
    prop::sample::select(vec![HealthStatus::Passing, HealthStatus::Warning, HealthStatus::Critical])
}

fn catalog_command() -> impl Strategy<Value = Command> {
    let service = prop_oneof![
        Just(None),
        Just(Some(svc("s0", "web"))),
        Just(Some(svc("s1", "db"))),
        Just(Some(svc("s0", "db"))),
        Just(Some(sidecar("s2", "web"))),
    ];
    let check_on = prop::sample::select(vec!["", "s0", "s1", "s2"]);
    prop_oneof![
        (name(), service, prop::option::of((check_on, status()))).prop_map(|(n, s, c)| {
            let checks = c.map(|(on, st)| check(&format!("c-{on}"), on, st)).into_iter().collect();
            register(&n, s, checks)
        }),
        name().prop_map(|node| Command::DeregisterNode { node }),
        (name(), prop::sample::select(vec!["s0", "s1", "s2"]))
            .prop_map(|(node, id)| Command::DeregisterService { node, service_id: id.into() }),
        (name(), prop::sample::select(vec!["c-", "c-s0", "c-s1"]))
            .prop_map(|(node, id)| { Command::DeregisterCheck { node, check_id: id.into() } }),
        (name(), prop::sample::select(vec!["c-", "c-s0", "c-s2"]), status()).prop_map(
            |(node, id, status)| Command::UpdateCheckStatus {
                node,
                check_id: id.into(),
                status,
                output: String::new(),
            }
        ),
    ]
}

fn other_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (0..ENTRIES.len(), cas())
            .prop_map(|(i, cas)| Command::ConfigEntrySet { entry: entry(ENTRIES[i]), cas }),
        (0..ENTRIES.len(), cas()).prop_map(|(i, cas)| {
            let e = entry(ENTRIES[i]);
            Command::ConfigEntryDelete { kind: e.kind(), name: e.name().to_owned(), cas }
        }),
        (key(), any::<u8>(), cas()).prop_map(|(key, v, cas)| Command::KvSet {
            key,
            value: vec![v],
            flags: 0,
            cas
        }),
        (key(), any::<bool>(), cas()).prop_map(|(key, recurse, cas)| Command::KvDelete {
            key,
            recurse,
            cas
        }),
        Just(Command::CaSetRoots { roots: roots() }),
        Just(Command::CaSetConfig { config: CaConfig::default() }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![3 => catalog_command(), 2 => other_command()]
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn random_sequences_keep_invariants(cmds in prop::collection::vec(command(), 1..40)) {
        let mut sm = StateMachine::new(dc1());
        for (i, cmd) in cmds.iter().enumerate() {
            let index = i as u64 + 1;
            let before = sm.clone();
            match sm.apply(index, cmd) {
                Err(_) => prop_assert_eq!(&sm, &before, "refused {:?} changed state", cmd),
                Ok(r) => {
                    if !r.succeeded {
                        prop_assert_eq!(&sm, &before);
                    }
                    for key in &r.changed {
                        prop_assert_eq!(sm.index_of(key), index, "{:?} after {:?}", key, cmd);
                    }
                    if r.changed.is_empty() {
                        prop_assert_eq!(sm.snapshot(), before.snapshot());
                    }
                }
            }
            let bytes = sm.snapshot();
            let mut restored = StateMachine::new(dc1());
            restored.restore(&bytes).unwrap();
            prop_assert_eq!(&restored, &sm);
            prop_assert_eq!(restored.snapshot(), bytes);
        }
        let mut twin = StateMachine::new(dc1());
        for (i, cmd) in cmds.iter().enumerate() {
            let _ = twin.apply(i as u64 + 1, cmd);
        }
        prop_assert_eq!(twin.snapshot(), sm.snapshot(), "replay is not deterministic");
    }
}
