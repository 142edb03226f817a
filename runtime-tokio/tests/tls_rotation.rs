//! Root rotation seen from the data plane: while the CA moves from root A to root B,
//! holders of old and new leaves keep completing mTLS, as long as their bundles are no more
//! than one roots update behind (the Connect CA's promise, DESIGN.md §4: "Root rotation
//! cross-signs so old and new leaves verify throughout").
//!
//! A new leaf's chain is `leaf, B'` where B' is B's key signed by A, so an agent that still
//! trusts only A verifies it through B' for as long as B' is valid; an agent that trusts
//! only B does NOT verify an old A leaf. That is why agents receive the bundle {A, B} for
//! the whole rotation, until every A leaf has expired and A is pruned.

mod tls_support;

use std::collections::BTreeMap;

use proconsul_core::ca::{CaConfig, CertificateAuthority, Requester, pem_decode_all, root_id};
use proconsul_core::ca::{generate_leaf_key, leaf_csr};
use proconsul_core::ids::SpiffeId;
use proconsul_core::rng::Seed;
use proconsul_core::time::UnixTime;
use proconsul_runtime_tokio::tls::{
    PeerPolicy, SpiffeClientVerifier, SpiffeServerVerifier, TlsIdentity, TrustBundle,
    peer_spiffe_id,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use rustls::CertificateError;
use tls_support::*;
use x509_parser::prelude::{FromDer, X509Certificate};

const DAY: i64 = 24 * HOUR;

fn rotate(ca: &mut CertificateAuthority, at: UnixTime) {
    assert!(ca.update_config(CaConfig::default(), true, at).expect("rotation"), "rotated");
}

/// The DER of the active root.
fn active_root(ca: &CertificateAuthority) -> Vec<u8> {
    let roots = ca.roots();
    let active = roots.roots.iter().find(|r| r.active).expect("an active root");
    pem_decode_all(&active.root_cert).unwrap().remove(0)
}

fn is_expired(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        )
    )
}

const UNKNOWN_ISSUER: rustls::Error =
    rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);

#[test]
fn during_rotation_old_and_new_leaf_holders_complete_mtls_both_ways() {
    let mut ca = primary(1);
    let old_web = issue(&mut ca, "web", 1, NOW);
    let old_api = issue(&mut ca, "api", 1, NOW);
    let only_old = bundle_of(&ca);
    let t = NOW.plus_secs(HOUR);
    rotate(&mut ca, t);
    let new_db = issue(&mut ca, "db", 1, t);
    assert_eq!(new_db.chain().len(), 2, "leaf + cross-signed new root");
    let both = bundle_of(&ca);
    assert_eq!(both.snapshot().roots().len(), 2);
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    let at = t.plus_secs(HOUR);

    // Old leaf, old bundle, as client  <->  new leaf, bundle {old, new}, as server.
    let (c, s) = handshake(
        client(&mesh(&old_web, &only_old, at), PeerPolicy::Exact(service_id(&ca, "db"))),
        server(&mesh(&new_db, &both, at), td.clone()),
    )
    .expect("old client, new server");
    assert_eq!(peer_spiffe_id(&c), Some(service_id(&ca, "db")));
    assert_eq!(peer_spiffe_id(&s), Some(service_id(&ca, "web")));

    // And the roles swapped: the new leaf dials the old one.
    let (c, s) = handshake(
        client(&mesh(&new_db, &both, at), PeerPolicy::Exact(service_id(&ca, "api"))),
        server(&mesh(&old_api, &only_old, at), td.clone()),
    )
    .expect("new client, old server");
    assert_eq!(peer_spiffe_id(&c), Some(service_id(&ca, "api")));
    assert_eq!(peer_spiffe_id(&s), Some(service_id(&ca, "db")));

    // Old and old with the new bundle, new and new with the old bundle: all fine.
    handshake(
        client(&mesh(&old_web, &both, at), td.clone()),
        server(&mesh(&old_api, &both, at), td.clone()),
    )
    .expect("old leaves, new bundle");
    let new_web = issue(&mut ca, "web", 2, t);
    handshake(
        client(&mesh(&new_web, &only_old, at), td.clone()),
        server(&mesh(&new_db, &only_old, at), td),
    )
    .expect("new leaves, old bundle");
}

#[test]
fn a_bundle_with_only_the_new_root_refuses_old_leaves() {
    let mut ca = primary(1);
    let old_web = issue(&mut ca, "web", 1, NOW);
    let t = NOW.plus_secs(HOUR);
    rotate(&mut ca, t);
    let new_db = issue(&mut ca, "db", 1, t);
    let only_new = TrustBundle::from_ders([active_root(&ca)]).unwrap();
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    let at = t.plus_secs(HOUR);

    let r = refusal(
        client(&mesh(&old_web, &only_new, at), td.clone()),
        server(&mesh(&new_db, &only_new, at), td.clone()),
    );
    assert_eq!((r.by, &r.error), (Side::Server, &UNKNOWN_ISSUER), "old leaf, new-only bundle");
    // New leaves are fine with it, whether or not they carry the cross-signed copy.
    let new_web = issue(&mut ca, "web", 2, t);
    handshake(
        client(&mesh(&new_web, &only_new, at), td.clone()),
        server(&mesh(&new_db, &only_new, at), td),
    )
    .expect("new leaves, new-only bundle");
}

#[test]
fn new_leaves_outlive_their_cross_signed_copy_for_agents_with_the_new_root() {
    let mut ca = primary(1);
    let t = NOW.plus_secs(HOUR);
    let only_old = bundle_of(&ca);
    rotate(&mut ca, t);
    let both = bundle_of(&ca);
    let cross_not_after = {
        let chain = issue(&mut ca, "probe", 1, t);
        let (_, cross) = X509Certificate::from_der(chain.chain()[1].as_ref()).unwrap();
        cross.validity().not_after.timestamp()
    };
    assert_eq!(cross_not_after, t.plus_secs(7 * DAY).secs(), "a week for a 72 h leaf TTL");
    // Issued a day before the copy expires, checked a day after.
    let late = UnixTime(cross_not_after - DAY);
    let web = issue(&mut ca, "web", 1, late);
    let db = issue(&mut ca, "db", 1, late);
    let at = UnixTime(cross_not_after + DAY);
    assert_eq!(ca.prune_roots(at), 1, "the old root is gone by now");
    let pruned = bundle_of(&ca);
    let td = PeerPolicy::TrustDomain(ca.trust_domain().clone());
    for bundle in [&both, &pruned] {
        handshake(
            client(&mesh(&web, bundle, at), td.clone()),
            server(&mesh(&db, bundle, at), td.clone()),
        )
        .expect("the trusted new root ends the path; the stale copy is never used");
    }
    // An agent stuck on the old bundle this long can no longer verify them.
    let r = refusal(
        client(&mesh(&web, &pruned, at), td.clone()),
        server(&mesh(&db, &only_old, at), td),
    );
    assert_eq!(r.by, Side::Server);
    assert!(is_expired(&r.error), "{:?}", r.error);
}

#[test]
fn a_secondary_datacenter_follows_the_rotation_without_breaking_lagging_agents() {
    let mut pri = primary(1);
    let mut sec = secondary(&mut pri, "dc2", 2, NOW);
    let old_web2 = issue(&mut sec, "web", 1, NOW);
    let only_old = bundle_of(&pri);
    let t = NOW.plus_secs(HOUR);
    rotate(&mut pri, t);
    assert!(sec.needs_intermediate(&pri.roots()));
    refresh_intermediate(&mut pri, &mut sec, t);
    let new_api2 = issue(&mut sec, "api", 1, t);
    assert_eq!(new_api2.chain().len(), 3, "leaf, cross-signed root, new intermediate");
    let new_db1 = issue(&mut pri, "db", 1, t);
    let both = bundle_of(&pri);
    let only_new = TrustBundle::from_ders([active_root(&pri)]).unwrap();
    let td = PeerPolicy::TrustDomain(pri.trust_domain().clone());
    let at = t.plus_secs(HOUR);

    for (name, bundle) in [("{old}", &only_old), ("{old, new}", &both), ("{new}", &only_new)] {
        let (_, s) = handshake(
            client(&mesh(&new_api2, &both, at), td.clone()),
            server(&mesh(&new_db1, bundle, at), td.clone()),
        )
        .unwrap_or_else(|r| panic!("new dc2 leaf against {name}: {r:?}"));
        assert_eq!(peer_spiffe_id(&s), Some(service_id(&sec, "api")));
    }
    handshake(
        client(&mesh(&old_web2, &both, at), td.clone()),
        server(&mesh(&new_db1, &both, at), td.clone()),
    )
    .expect("old dc2 leaf against {old, new}");
    let r = refusal(
        client(&mesh(&old_web2, &both, at), td.clone()),
        server(&mesh(&new_db1, &only_new, at), td),
    );
    assert_eq!((r.by, &r.error), (Side::Server, &UNKNOWN_ISSUER), "old dc2 leaf against {{new}}");
}

// ---------------------------------------------------------------------------------------
// Property: random schedules of issuance, rotation, pruning and bundle refreshes.

const SERVICES: [&str; 4] = ["web", "api", "db", "billing"];
const AGENTS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Advance { hours: i64 },
    Issue { service: usize },
    Rotate,
    Prune,
    Refresh { agent: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1i64..=96).prop_map(|hours| Step::Advance { hours }),
        4 => (0..SERVICES.len()).prop_map(|service| Step::Issue { service }),
        2 => Just(Step::Rotate),
        2 => Just(Step::Prune),
        2 => (0..AGENTS).prop_map(|agent| Step::Refresh { agent }),
    ]
}

struct Leaf {
    id: SpiffeId,
    identity: TlsIdentity,
    valid_before: UnixTime,
    root: String,
}

/// A root created by rotation: who cross-signed it and until when the copy is valid.
struct Cross {
    signer: String,
    not_before: i64,
    not_after: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Start,
    Rotation,
    Prune,
}

/// What a verifier must answer, derived from the chain each leaf carries.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Expired,
    UnknownIssuer,
}

struct World {
    ca: CertificateAuthority,
    now: UnixTime,
    leaves: Vec<Leaf>,
    /// Root id -> DER, for every root the CA ever had.
    roots: BTreeMap<String, Vec<u8>>,
    cross: BTreeMap<String, Cross>,
    /// Every distinct bundle the CA published (root ids) and the change that made it.
    versions: Vec<(Vec<String>, Change)>,
    /// Index into `versions` of the bundle each agent holds: the latest or the one before.
    agents: [usize; AGENTS],
    csrs: BTreeMap<&'static str, (Vec<u8>, Vec<u8>)>,
    key_seed: u64,
}

impl World {
    fn new(ca_seed: u64) -> Self {
        let ca = CertificateAuthority::new_primary(
            CaConfig::default(),
            dc("dc1"),
            Seed(ca_seed).stream("ca"),
            NOW,
        )
        .unwrap();
        let mut w = World {
            ca,
            now: NOW,
            leaves: Vec::new(),
            roots: BTreeMap::new(),
            cross: BTreeMap::new(),
            versions: Vec::new(),
            agents: [0; AGENTS],
            csrs: BTreeMap::new(),
            key_seed: ca_seed,
        };
        w.publish(Change::Start);
        w.issue(0);
        w
    }

    fn current_bundle(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ca
            .trust_bundle()
            .into_iter()
            .map(|der| {
                let id = root_id(&der);
                self.roots.insert(id.clone(), der);
                id
            })
            .collect();
        ids.sort();
        ids
    }

    /// Records the CA's bundle if it changed; agents more than one update behind catch up
    /// to the previous one (the model's bound on lag).
    fn publish(&mut self, change: Change) {
        let bundle = self.current_bundle();
        if self.versions.last().is_some_and(|(b, _)| *b == bundle) {
            return;
        }
        self.versions.push((bundle, change));
        let floor = self.versions.len().saturating_sub(2);
        for held in &mut self.agents {
            *held = (*held).max(floor);
        }
    }

    fn issue(&mut self, service: usize) {
        let svc = SERVICES[service];
        let id = service_id(&self.ca, svc);
        let key_seed = self.key_seed;
        let (csr, key) = self.csrs.entry(svc).or_insert_with(|| {
            let key = generate_leaf_key(&mut Seed(key_seed).stream(svc)).unwrap();
            (leaf_csr(&id, &key, &[]).unwrap(), key.to_pkcs8_der())
        });
        let issued = self.ca.sign_leaf(csr, &Requester::Any, self.now).expect("leaf");
        let identity = TlsIdentity::from_pem(&issued.cert_pem, key).unwrap();
        self.leaves.push(Leaf {
            id,
            identity,
            valid_before: issued.valid_before,
            root: issued.root_id,
        });
    }

    fn rotate(&mut self) {
        let signer = self.ca.roots().active_root_id;
        rotate(&mut self.ca, self.now);
        let roots = self.ca.roots();
        let active = roots.roots.iter().find(|r| r.active).unwrap();
        let der = pem_decode_all(&active.intermediate_certs[0]).unwrap().remove(0);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let validity = cert.validity();
        self.cross.insert(
            active.id.clone(),
            Cross {
                signer,
                not_before: validity.not_before.timestamp(),
                not_after: validity.not_after.timestamp(),
            },
        );
        self.publish(Change::Rotation);
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Advance { hours } => self.now = self.now.plus_secs(hours * HOUR),
            Step::Issue { service } => self.issue(service),
            Step::Rotate => self.rotate(),
            Step::Prune => {
                self.ca.prune_roots(self.now);
                self.publish(Change::Prune);
            }
            Step::Refresh { agent } => self.agents[agent] = self.versions.len() - 1,
        }
    }

    /// The oracle: a leaf verifies if it is valid and its root is trusted, or its
    /// cross-signed copy is valid and its signer trusted; otherwise the error says which.
    fn expected(&self, leaf: &Leaf, bundle: &[String]) -> Verdict {
        let now = self.now.secs();
        if now > leaf.valid_before.secs() {
            return Verdict::Expired;
        }
        if bundle.contains(&leaf.root) {
            return Verdict::Accept;
        }
        // The chain's only other certificate is the cross-signed copy of the leaf's root.
        // webpki rejects a stale copy before it looks for the copy's issuer, so an expired
        // copy reads as "expired" even when its signer is unknown too.
        match self.cross.get(&leaf.root) {
            Some(c) if !(c.not_before..=c.not_after).contains(&now) => Verdict::Expired,
            Some(c) if bundle.contains(&c.signer) => Verdict::Accept,
            _ => Verdict::UnknownIssuer,
        }
    }

    /// True when the promise covers an agent holding version `held`: the latest bundle, or
    /// one update behind while the latest rotation's cross-signed copy is still valid.
    fn promised(&self, held: usize) -> bool {
        let latest = self.versions.len() - 1;
        if held == latest || self.versions[latest].1 != Change::Rotation {
            return true;
        }
        // The latest change was a rotation, so the active root is the one it brought in.
        let new_root = self.ca.roots().active_root_id;
        self.cross[&new_root].not_after >= self.now.secs()
    }

    fn bundle(&self, ids: &[String]) -> TrustBundle {
        TrustBundle::from_ders(ids.iter().map(|id| &self.roots[id])).unwrap()
    }

    /// Every bundle ever published is checked against the oracle: the ones agents hold
    /// now, and older ones no agent may hold any more (where unknown issuers and expired
    /// cross-signed copies show up). The promise is checked on the held ones.
    fn check(&self) -> Result<(), TestCaseError> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let now = pki_time(self.now);
        let td = PeerPolicy::TrustDomain(self.ca.trust_domain().clone());
        for (version, (ids, _)) in self.versions.iter().enumerate() {
            let held = self.agents.contains(&version);
            let bundle = self.bundle(ids);
            let as_server = SpiffeServerVerifier::new(bundle.clone(), td.clone(), &provider);
            let as_client = SpiffeClientVerifier::new(bundle, td.clone(), provider.clone());
            for (i, leaf) in self.leaves.iter().enumerate() {
                let chain = leaf.identity.chain();
                let want = self.expected(leaf, ids);
                if held && self.promised(version) && !now_after(leaf, self.now) {
                    prop_assert_eq!(
                        &want,
                        &Verdict::Accept,
                        "t={} leaf #{} is valid yet an agent's bundle v{} refuses it",
                        self.now.secs(),
                        i,
                        version
                    );
                }
                for (side, got) in [
                    ("server verifier", as_server.verify_peer(&chain[0], &chain[1..], now)),
                    ("client verifier", as_client.verify_peer(&chain[0], &chain[1..], now)),
                ] {
                    let ok = match (&want, &got) {
                        (Verdict::Accept, Ok(id)) => *id == leaf.id,
                        (Verdict::Expired, Err(e)) => is_expired(e),
                        (Verdict::UnknownIssuer, Err(e)) => *e == UNKNOWN_ISSUER,
                        _ => false,
                    };
                    prop_assert!(
                        ok,
                        "t={} leaf #{i} ({}, root {}) with bundle v{version} {ids:?}: {side} said {got:?}, want {want:?}",
                        self.now.secs(),
                        leaf.id,
                        leaf.root
                    );
                }
            }
        }
        self.handshake_newest_with_oldest()
    }

    /// A full handshake between the newest and the oldest valid leaf, their agents holding
    /// the first two agents' bundles, when the promise covers both.
    fn handshake_newest_with_oldest(&self) -> Result<(), TestCaseError> {
        let valid: Vec<&Leaf> = self.leaves.iter().filter(|l| !now_after(l, self.now)).collect();
        let (Some(oldest), Some(newest)) = (valid.first(), valid.last()) else { return Ok(()) };
        let (a, b) = (self.agents[0], self.agents[1]);
        if !self.promised(a) || !self.promised(b) {
            return Ok(());
        }
        let td = PeerPolicy::TrustDomain(self.ca.trust_domain().clone());
        let client_cfg = client(
            &mesh(&newest.identity, &self.bundle(&self.versions[a].0), self.now),
            td.clone(),
        );
        let server_cfg =
            server(&mesh(&oldest.identity, &self.bundle(&self.versions[b].0), self.now), td);
        match handshake(client_cfg, server_cfg) {
            Ok((c, s)) => {
                prop_assert_eq!(peer_spiffe_id(&c), Some(oldest.id.clone()));
                prop_assert_eq!(peer_spiffe_id(&s), Some(newest.id.clone()));
                Ok(())
            }
            Err(r) => {
                Err(TestCaseError::fail(format!("t={} handshake refused: {r:?}", self.now.secs())))
            }
        }
    }
}

fn now_after(leaf: &Leaf, now: UnixTime) -> bool {
    now.secs() > leaf.valid_before.secs()
}

fn proptest_config(cases: u32) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0x5052_4f43_4f4e_5355_u64);
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(cases);
    eprintln!(
        "seed={seed} reproduce: PROPTEST_RNG_SEED={seed} cargo test -p proconsul-runtime-tokio --test tls_rotation"
    );
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(32))]

    /// Every currently valid leaf verifies, through both verifiers, against every bundle an
    /// agent can hold (the current one, or the one before the latest update while the
    /// latest rotation's cross-signed root is valid); every verdict, including refusals of
    /// lagging agents and expired leaves, matches the oracle read off the chains.
    #[test]
    fn valid_leaves_verify_against_every_bundle_an_agent_can_hold(
        ca_seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 6..=20),
    ) {
        let mut world = World::new(ca_seed);
        world.check()?;
        for s in &steps {
            world.apply(s);
            world.check()?;
        }
    }
}
