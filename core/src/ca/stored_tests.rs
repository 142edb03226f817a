//! Restoring a CA from its replicated state: same roots, same signer, rotation and
//! secondaries included; refusals for state that cannot rebuild a CA.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::tests::{NOW, csr_for, dc, primary, secondary_of, service_id};
use super::*;
use crate::rng::Seed;
use crate::time::UnixTime;

const HOUR: i64 = 3600;

fn restored(ca: &CertificateAuthority, seed: u64) -> CertificateAuthority {
    CertificateAuthority::restore(
        ca.config().clone(),
        ca.datacenter().clone(),
        &ca.stored_state(),
        Seed(seed).stream("ca-restore"),
    )
    .unwrap()
}

fn ders(pem: &str) -> Vec<Vec<u8>> {
    pem_decode_all(pem).unwrap()
}

/// `child` carries a signature that `parent`'s public key verifies, and names it as issuer.
fn signed_by(child: &[u8], parent: &[u8]) -> bool {
    let (_, child) = X509Certificate::from_der(child).unwrap();
    let (_, parent) = X509Certificate::from_der(parent).unwrap();
    child.issuer() == parent.subject() && child.verify_signature(Some(parent.public_key())).is_ok()
}

fn leaf(ca: &mut CertificateAuthority, svc: &str, seed: u64, now: UnixTime) -> IssuedCert {
    let id = service_id(ca, ca.datacenter().as_str(), svc);
    ca.sign_leaf(&csr_for(&id, seed), &Requester::Any, now).unwrap()
}

#[test]
fn restore_signs_leaves_that_verify_against_the_same_roots() {
    let mut original = primary(1);
    let before = leaf(&mut original, "web", 1, NOW);
    let mut ca = restored(&original, 99);
    assert_eq!(ca.roots(), original.roots());
    assert_eq!(ca.trust_domain(), original.trust_domain());
    assert_eq!(ca.role(), Role::Primary);
    let after = leaf(&mut ca, "api", 2, NOW.plus_secs(10));
    assert_eq!(after.root_id, before.root_id);
    let root = ders(&ca.roots().roots[0].root_cert).remove(0);
    for issued in [&before, &after] {
        let chain = ders(&issued.cert_pem);
        assert_eq!(chain.len(), 1);
        assert!(signed_by(&chain[0], &root), "{} verifies against the root", issued.uri);
    }
    // The counter carried over: the restored CA's first serial ends in counter 3
    // (root = 1, first leaf = 2).
    assert!(after.serial_number.ends_with("00:00:00:00:00:00:00:03"), "{}", after.serial_number);
    assert_ne!(after.serial_number, before.serial_number);
}

#[test]
fn stored_state_round_trips_through_json_and_hides_keys_from_debug() {
    let ca = primary(3);
    let state = ca.stored_state();
    let json = serde_json::to_string(&state).unwrap();
    let back: CaProviderState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    assert_eq!(restored(&ca, 5).stored_state(), state, "restore then store is lossless");
    assert!(json.contains("\"SigningKeyPEM\"") && json.contains("BEGIN PRIVATE KEY"));
    let debug = format!("{state:?}");
    assert!(!debug.contains("PRIVATE KEY") && debug.contains("serial_counter"), "{debug}");
    assert_eq!(state.roots_response(), ca.roots());
    let err = serde_json::from_str::<CaProviderState>(&json.replacen('{', "{\"Extra\":1,", 1));
    assert!(err.unwrap_err().to_string().contains("unknown field `Extra`"));
}

#[test]
fn rotation_state_survives_restore() {
    let mut ca = primary(1);
    let old_leaf = leaf(&mut ca, "web", 1, NOW);
    let t = NOW.plus_secs(HOUR);
    assert!(ca.update_config(CaConfig::default(), true, t).unwrap());
    let mut ca = restored(&ca, 7);
    let roots = ca.roots();
    assert_eq!(roots.roots.len(), 2);
    let (new_root, old_root) = (&roots.roots[0], &roots.roots[1]);
    assert!(new_root.active && !old_root.active);
    assert_eq!(old_root.rotated_out_at, Some(t));
    let new_der = ders(&new_root.root_cert).remove(0);
    let old_der = ders(&old_root.root_cert).remove(0);

    // New leaves chain to the new root, and through the cross-signed copy to the old one.
    let new_leaf = leaf(&mut ca, "api", 2, t);
    assert_eq!(new_leaf.root_id, new_root.id);
    let chain = ders(&new_leaf.cert_pem);
    assert_eq!(chain.len(), 2, "leaf then the cross-signed new root");
    assert!(signed_by(&chain[0], &new_der));
    assert!(signed_by(&chain[1], &old_der), "cross-signed by the old root");
    // Leaves from before the rotation still verify against the old root, still trusted.
    assert!(signed_by(&ders(&old_leaf.cert_pem)[0], &old_der));

    // Pruning keeps its clock across the restore.
    let leaf_end = t.secs() + 72 * HOUR + 60;
    assert_eq!(ca.prune_roots(UnixTime(leaf_end - 1)), 0);
    let mut again = restored(&ca, 8);
    assert_eq!(again.prune_roots(UnixTime(leaf_end)), 1);

    // The restored active key cross-signs the next root.
    let t2 = t.plus_secs(HOUR);
    assert!(ca.update_config(CaConfig::default(), true, t2).unwrap());
    let third = ca.roots().roots[0].clone();
    assert_eq!(third.intermediate_certs.len(), 1);
    assert!(signed_by(&ders(&third.intermediate_certs[0])[0], &new_der));
}

#[test]
fn secondaries_restore_their_intermediate_and_pending_key() {
    let mut pri = primary(1);
    let sec = secondary_of(&mut pri, "dc2", 2);
    let mut sec = restored(&sec, 3);
    assert_eq!(sec.role(), Role::Secondary);
    assert!(!sec.needs_intermediate(&pri.roots()));
    let issued = leaf(&mut sec, "api", 4, NOW);
    let chain = ders(&issued.cert_pem);
    assert_eq!(chain.len(), 2, "leaf then intermediate");
    assert!(signed_by(&chain[0], &chain[1]));
    assert!(signed_by(&chain[1], &ders(&pri.roots().roots[0].root_cert)[0]));

    // A secondary waiting for its intermediate keeps the key its CSR certifies.
    let mut waiting = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc("dc3"),
        &pri.roots(),
        Seed(5).stream("ca"),
    )
    .unwrap();
    let csr = waiting.intermediate_csr().unwrap();
    let pem = pri.sign_intermediate(&csr, NOW).unwrap();
    let mut waiting = restored(&waiting, 6);
    waiting.install_intermediate(&pem, &pri.roots()).unwrap();
    leaf(&mut waiting, "db", 7, NOW);
}

fn refused(state: &CaProviderState) -> String {
    match CertificateAuthority::restore(
        CaConfig::default(),
        dc("dc1"),
        state,
        Seed(1).stream("ca-restore"),
    ) {
        Ok(_) => panic!("restored from an invalid state"),
        Err(e) => {
            assert!(matches!(e, CaError::StoredState(_)), "{e}");
            assert_eq!(state.validate().unwrap_err(), e, "validate agrees with restore");
            e.to_string()
        }
    }
}

#[test]
fn state_that_cannot_rebuild_a_ca_is_refused_by_name() {
    let good = primary(1).stored_state();
    let other = primary(2).stored_state();

    let mut s = good.clone();
    s.signing_key_pem = other.signing_key_pem.clone();
    assert_eq!(
        refused(&s),
        "stored CA state is invalid: SigningKeyPEM does not belong to SigningCertPEM"
    );

    let mut s = good.clone();
    s.roots.push(other.roots[0].clone());
    assert!(refused(&s).contains("Roots: exactly one root must be active, found 2"));

    let mut s = good.clone();
    s.trust_domain = "not a domain".into();
    assert!(refused(&s).contains("TrustDomain: "));

    let mut s = good.clone();
    s.signing_key_pem = None;
    assert!(refused(&s).contains("SigningKeyPEM and SigningCertPEM come together"));

    let mut s = good.clone();
    s.signing_cert_pem = other.signing_cert_pem.clone();
    s.signing_key_pem = other.signing_key_pem.clone();
    assert!(refused(&s).contains("a primary signs with its active root"));

    let mut s = good.clone();
    s.pending_key_pem =
        Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into());
    assert!(refused(&s).contains("PendingKeyPEM: "));

    let mut bad_config = CaConfig::default();
    bad_config.config.private_key_bits = 1;
    let err = CertificateAuthority::restore(bad_config, dc("dc1"), &good, Seed(1).stream("x"));
    assert!(matches!(err, Err(CaError::Config(_))));
}
