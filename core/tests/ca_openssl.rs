//! OpenSSL, an independent X.509 implementation, accepts our roots, intermediates,
//! cross-signed roots and leaves under `-x509_strict`, and refuses them outside their
//! validity. CI installs openssl; a missing binary fails these tests rather than skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

use proconsul_core::ca::{
    CaConfig, CertificateAuthority, Requester, generate_leaf_key, leaf_csr, pem_decode_all,
    pem_encode,
};
use proconsul_core::ids::{Datacenter, SpiffeId};
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);

fn dc(s: &str) -> Datacenter {
    Datacenter::new(s).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `openssl verify` at `at` and returns (success, output).
fn verify(
    root: &Path,
    untrusted: Option<&Path>,
    leaf: &Path,
    purpose: &str,
    at: UnixTime,
) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.args(["verify", "-x509_strict", "-purpose", purpose, "-attime", &at.secs().to_string()]);
    cmd.arg("-CAfile").arg(root);
    if let Some(u) = untrusted {
        cmd.arg("-untrusted").arg(u);
    }
    cmd.arg(leaf);
    let out = cmd.output().expect("openssl must be installed (.ci/run installs it)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn x509_text(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn leaf_pem(ca: &mut CertificateAuthority, dc_name: &str, svc: &str, at: UnixTime) -> String {
    let id = SpiffeId::service(ca.trust_domain().clone(), dc(dc_name), svc.parse().unwrap());
    let key = generate_leaf_key(&mut Seed(11).stream(svc)).unwrap();
    let csr = leaf_csr(&id, &key, &[]).unwrap();
    ca.sign_leaf(&csr, &Requester::Any, at).unwrap().cert_pem
}

/// Splits a chain PEM into the leaf and the rest.
fn split_chain(chain: &str) -> (String, String) {
    let ders = pem_decode_all(chain).unwrap();
    let leaf = pem_encode("CERTIFICATE", &ders[0]);
    let rest: String = ders[1..].iter().map(|d| pem_encode("CERTIFICATE", d)).collect();
    (leaf, rest)
}

#[test]
fn openssl_verifies_a_primary_leaf_for_client_and_server_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc("dc1"),
        Seed(1).stream("ca"),
        NOW,
    )
    .unwrap();
    let root = write(dir.path(), "root.pem", &ca.roots().roots[0].root_cert);
    let leaf = write(dir.path(), "leaf.pem", &leaf_pem(&mut ca, "dc1", "web", NOW));
    for purpose in ["sslclient", "sslserver"] {
        let (ok, out) = verify(&root, None, &leaf, purpose, NOW.plus_secs(10));
        assert!(ok, "{purpose}: {out}");
    }
    let text = x509_text(&leaf);
    let uri = format!("URI:spiffe://{}/ns/default/dc/dc1/svc/web", ca.trust_domain());
    assert!(text.contains(&uri), "{text}");
    assert!(text.contains("Not Before: Jan 15 07:59:00 2027 GMT"), "{text}");
    assert!(text.contains("Not After : Jan 18 08:00:00 2027 GMT"), "{text}");
    assert!(text.contains("X509v3 Subject Alternative Name: critical"), "{text}");
    let root_text = x509_text(&root);
    assert!(root_text.contains(&format!("URI:spiffe://{}", ca.trust_domain())), "{root_text}");
    assert!(root_text.contains("CA:TRUE"), "{root_text}");
}

#[test]
fn openssl_refuses_leaves_outside_their_validity_and_from_a_foreign_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc("dc1"),
        Seed(1).stream("ca"),
        NOW,
    )
    .unwrap();
    let root = write(dir.path(), "root.pem", &ca.roots().roots[0].root_cert);
    let leaf = write(dir.path(), "leaf.pem", &leaf_pem(&mut ca, "dc1", "web", NOW));
    let (ok, out) = verify(&root, None, &leaf, "sslclient", NOW.plus_secs(-120));
    assert!(!ok && out.contains("not yet valid"), "{out}");
    let (ok, out) = verify(&root, None, &leaf, "sslclient", NOW.plus_secs(73 * 3600));
    assert!(!ok && out.contains("expired"), "{out}");
    let foreign = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc("dc1"),
        Seed(99).stream("ca"),
        NOW,
    )
    .unwrap();
    let other_root = write(dir.path(), "other.pem", &foreign.roots().roots[0].root_cert);
    let (ok, out) = verify(&other_root, None, &leaf, "sslclient", NOW.plus_secs(10));
    assert!(!ok, "{out}");
}

#[test]
fn openssl_verifies_secondary_leaves_through_the_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let mut pri = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc("dc1"),
        Seed(1).stream("ca"),
        NOW,
    )
    .unwrap();
    let mut sec = CertificateAuthority::new_secondary(
        CaConfig::default(),
        dc("dc2"),
        &pri.roots(),
        Seed(2).stream("ca"),
    )
    .unwrap();
    let csr = sec.intermediate_csr().unwrap();
    let int_pem = pri.sign_intermediate(&csr, NOW).unwrap();
    sec.install_intermediate(&int_pem, &pri.roots()).unwrap();
    let (leaf, rest) = split_chain(&leaf_pem(&mut sec, "dc2", "api", NOW));
    assert_eq!(rest, int_pem);
    let root = write(dir.path(), "root.pem", &pri.roots().roots[0].root_cert);
    let int = write(dir.path(), "int.pem", &rest);
    let leaf = write(dir.path(), "leaf.pem", &leaf);
    let (ok, out) = verify(&root, Some(&int), &leaf, "sslclient", NOW.plus_secs(10));
    assert!(ok, "{out}");
    let (ok, out) = verify(&root, None, &leaf, "sslclient", NOW.plus_secs(10));
    assert!(!ok, "without the intermediate the chain is incomplete: {out}");
    assert!(x509_text(&int).contains("CA:TRUE, pathlen:0"));
}

#[test]
fn during_rotation_new_leaves_verify_against_the_old_root_through_the_cross_signed_cert() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateAuthority::new_primary(
        CaConfig::default(),
        dc("dc1"),
        Seed(1).stream("ca"),
        NOW,
    )
    .unwrap();
    let old_root = ca.roots().roots[0].root_cert.clone();
    let old_leaf = leaf_pem(&mut ca, "dc1", "web", NOW);
    let t = NOW.plus_secs(3600);
    ca.update_config(CaConfig::default(), true, t).unwrap();
    let new_root = ca.roots().roots[0].root_cert.clone();
    let (new_leaf, cross) = split_chain(&leaf_pem(&mut ca, "dc1", "db", t));
    let old_root = write(dir.path(), "old.pem", &old_root);
    let new_root = write(dir.path(), "new.pem", &new_root);
    let cross = write(dir.path(), "cross.pem", &cross);
    let new_leaf = write(dir.path(), "new-leaf.pem", &new_leaf);
    let old_leaf = write(dir.path(), "old-leaf.pem", &old_leaf);
    let at = t.plus_secs(10);
    // An agent that still only trusts the old root accepts the new leaf.
    let (ok, out) = verify(&old_root, Some(&cross), &new_leaf, "sslclient", at);
    assert!(ok, "{out}");
    // One that already has the new root accepts it directly, and the old leaf via the old root.
    let (ok, out) = verify(&new_root, None, &new_leaf, "sslserver", at);
    assert!(ok, "{out}");
    let (ok, out) = verify(&old_root, None, &old_leaf, "sslserver", at);
    assert!(ok, "{out}");
}
