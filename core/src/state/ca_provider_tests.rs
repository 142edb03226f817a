//! The CA provider state command: atomic with roots and configuration, CAS, refusals, and
//! snapshots; the roots read never carries the keys.

use super::*;
use crate::ca::{CaConfig, CertificateAuthority};
use crate::ids::Datacenter;
use crate::rng::Seed;
use crate::state::{Command, WatchKey};
use crate::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);

fn dc1() -> Datacenter {
    Datacenter::new("dc1").unwrap()
}

fn ca(seed: u64) -> CertificateAuthority {
    CertificateAuthority::new_primary(CaConfig::default(), dc1(), Seed(seed).stream("ca"), NOW)
        .unwrap()
}

fn set(ca: &CertificateAuthority, cas: Option<u64>) -> Command {
    Command::CaSetProviderState { state: ca.stored_state(), config: ca.config().clone(), cas }
}

#[test]
fn provider_state_publishes_its_roots_and_config_in_one_apply() {
    let mut sm = StateMachine::new(dc1());
    let ca = ca(1);
    let r = sm.apply(5, &set(&ca, Some(0))).unwrap();
    assert!(r.succeeded);
    assert_eq!(r.changed, vec![WatchKey::CaRoots, WatchKey::CaConfig]);
    assert_eq!(sm.ca_roots(), Some(&ca.roots()));
    assert_eq!(sm.ca_config(), Some(ca.config()));
    let stored = sm.ca_provider().unwrap();
    assert_eq!((&stored.state, stored.modify_index), (&ca.stored_state(), 5));
    let roots_json = serde_json::to_string(sm.ca_roots().unwrap()).unwrap();
    assert!(!roots_json.contains("PRIVATE KEY"), "roots carry no keys");
    // Writing the same state again changes nothing, indexes included.
    let r = sm.apply(6, &set(&ca, None)).unwrap();
    assert!(r.succeeded && r.changed.is_empty());
    assert_eq!(sm.ca_provider().unwrap().modify_index, 5);
}

#[test]
fn cas_lets_only_one_bootstrap_win() {
    let mut sm = StateMachine::new(dc1());
    let (first, second) = (ca(1), ca(2));
    assert!(sm.apply(1, &set(&first, Some(0))).unwrap().succeeded);
    let before = sm.snapshot();
    let r = sm.apply(2, &set(&second, Some(0))).unwrap();
    assert!(!r.succeeded && r.changed.is_empty(), "a second bootstrap loses");
    assert_eq!(sm.snapshot(), before, "a CAS mismatch changes nothing");
    assert!(!sm.apply(3, &set(&second, Some(7))).unwrap().succeeded);
    let mut rotated = ca(1);
    rotated.update_config(CaConfig::default(), true, NOW.plus_secs(60)).unwrap();
    let r = sm.apply(4, &set(&rotated, Some(1))).unwrap();
    assert!(r.succeeded, "CAS on the current modify index");
    assert_eq!(sm.ca_roots().unwrap().roots.len(), 2);
    assert_eq!(sm.ca_provider().unwrap().modify_index, 4);
}

#[test]
fn invalid_state_or_config_is_refused_and_changes_nothing() {
    let mut sm = StateMachine::new(dc1());
    assert!(sm.apply(1, &set(&ca(1), None)).unwrap().succeeded);
    let before = sm.snapshot();
    let mut state = ca(2).stored_state();
    state.signing_key_pem = ca(3).stored_state().signing_key_pem;
    let bad_state = Command::CaSetProviderState { state, config: CaConfig::default(), cas: None };
    let err = sm.apply(2, &bad_state).unwrap_err();
    assert!(matches!(err, StateError::CaState(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "stored CA state is invalid: SigningKeyPEM does not belong to SigningCertPEM"
    );
    let mut config = CaConfig::default();
    config.config.private_key_type = "dsa".into();
    let bad_config = Command::CaSetProviderState { state: ca(2).stored_state(), config, cas: None };
    assert!(matches!(sm.apply(3, &bad_config), Err(StateError::CaConfig(_))));
    assert_eq!(sm.snapshot(), before);
}

#[test]
fn snapshots_carry_the_provider_state_and_older_ones_still_restore() {
    let mut sm = StateMachine::new(dc1());
    let empty = sm.snapshot();
    assert!(!String::from_utf8_lossy(&empty).contains("CaProvider"), "absent until a CA exists");
    assert!(sm.apply(1, &set(&ca(1), None)).unwrap().succeeded);
    let mut copy = StateMachine::new(dc1());
    copy.restore(&sm.snapshot()).unwrap();
    assert_eq!(copy, sm);
    assert_eq!(copy.ca_provider(), sm.ca_provider());
    let mut old = StateMachine::new(dc1());
    old.restore(&empty).unwrap();
    assert_eq!(old.ca_provider(), None);
}
