//! A deterministic in-memory network for pool tests: N pools, a fixed one-way latency,
//! virtual time that jumps to the next delivery or deadline, crash and partition faults,
//! and a trace of every datagram and event (quinn's `Pair`, raft-rs's `Network`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::ids::{Datacenter, NodeName};
use crate::time::Instant;

use super::{Identity, Member, MemberEvent, MemberStatus, Pool, Profile, tags};

/// One line of the trace: when, at which pool, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Trace {
    Sent { at: Instant, from: SocketAddr, to: SocketAddr, bytes: Vec<u8> },
    Event { at: Instant, observer: SocketAddr, event: MemberEvent },
}

pub(super) struct SimNet {
    pub(super) now: Instant,
    latency: Duration,
    pools: BTreeMap<SocketAddr, Pool>,
    names: BTreeMap<String, SocketAddr>,
    in_flight: BTreeMap<(Instant, u64), (SocketAddr, SocketAddr, Vec<u8>)>,
    seq: u64,
    /// Pools cut off from everyone: their datagrams in either direction are lost.
    isolated: BTreeSet<SocketAddr>,
    pub(super) trace: Vec<Trace>,
    /// Datagrams a pool refused (none expected between well-behaved pools).
    pub(super) refused: usize,
}

pub(super) fn dc1() -> Datacenter {
    Datacenter::new("dc1").unwrap()
}

/// The identity of test node `name` at `10.0.0.<index>:8301`, a server with an RPC tag.
pub(super) fn identity(name: &str, index: u8) -> Identity {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, index)), 8301);
    let tags = BTreeMap::from([
        (tags::ROLE.to_owned(), tags::ROLE_SERVER.to_owned()),
        (tags::RPC_ADDR.to_owned(), format!("10.0.0.{index}:8300")),
    ]);
    Identity::new(NodeName::new(name).unwrap(), dc1(), addr, tags).unwrap()
}

impl SimNet {
    pub(super) fn new() -> Self {
        SimNet {
            now: Instant::ZERO,
            latency: Duration::from_millis(1),
            pools: BTreeMap::new(),
            names: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            isolated: BTreeSet::new(),
            trace: Vec::new(),
            refused: 0,
        }
    }

    /// `n` pools named `n0..`, each seeded `seed + i`, all joined through `n0`, run until
    /// everyone sees everyone (or `limit` passes).
    pub(super) fn cluster(n: u8, profile: &Profile, seed: u64, limit: Duration) -> Self {
        let mut net = SimNet::new();
        for i in 0..n {
            net.add(identity(&format!("n{i}"), i + 1), profile.clone(), seed + u64::from(i));
        }
        for i in 1..n {
            net.join(&format!("n{i}"), "n0");
        }
        let n = usize::from(n);
        net.run_until(limit, |net| net.live().iter().all(|p| net.active_seen_by(p) == n));
        net
    }

    pub(super) fn add(&mut self, id: Identity, profile: Profile, seed: u64) -> SocketAddr {
        let addr = id.addr();
        self.names.insert(id.name().to_string(), addr);
        self.pools.insert(addr, Pool::new(id, profile, seed).unwrap());
        addr
    }

    pub(super) fn addr(&self, name: &str) -> SocketAddr {
        self.names[name]
    }

    pub(super) fn pool(&mut self, name: &str) -> &mut Pool {
        let addr = self.addr(name);
        self.pools.get_mut(&addr).unwrap()
    }

    /// Names of the pools still running.
    pub(super) fn live(&self) -> Vec<String> {
        self.names
            .iter()
            .filter(|(_, a)| self.pools.contains_key(a))
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub(super) fn join(&mut self, from: &str, to: &str) {
        let (now, target) = (self.now, self.addr(to));
        self.pool(from).join(now, target).unwrap();
        self.drain(self.addr(from));
    }

    pub(super) fn leave(&mut self, name: &str) {
        let now = self.now;
        self.pool(name).leave(now).unwrap();
        self.drain(self.addr(name));
    }

    /// The process dies: no goodbye, its socket goes away.
    pub(super) fn crash(&mut self, name: &str) {
        let addr = self.addr(name);
        self.pools.remove(&addr);
    }

    pub(super) fn isolate(&mut self, name: &str) {
        self.isolated.insert(self.addr(name));
    }

    pub(super) fn heal(&mut self, name: &str) {
        let addr = self.addr(name);
        self.isolated.remove(&addr);
    }

    /// How `observer` currently sees `name`.
    pub(super) fn status(&self, observer: &str, name: &str) -> Option<MemberStatus> {
        self.members(observer).into_iter().find(|m| m.name.as_str() == name).map(|m| m.status)
    }

    pub(super) fn members(&self, observer: &str) -> Vec<Member> {
        self.pools[&self.addr(observer)].members()
    }

    /// Alive or suspect members in `observer`'s view, itself included.
    pub(super) fn active_seen_by(&self, observer: &str) -> usize {
        self.members(observer).iter().filter(|m| m.status.is_active()).count()
    }

    /// Events `observer` emitted about `name`, in order.
    pub(super) fn events(&self, observer: &str, name: &str) -> Vec<(Instant, MemberEvent)> {
        let addr = self.addr(observer);
        self.trace
            .iter()
            .filter_map(|t| match t {
                Trace::Event { at, observer, event }
                    if *observer == addr && event.member().name.as_str() == name =>
                {
                    Some((*at, event.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Advances virtual time step by step until `done` holds or `limit` more time passed.
    /// Returns the instant `done` first held.
    pub(super) fn run_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&SimNet) -> bool,
    ) -> Option<Instant> {
        let end = self.now.plus(limit);
        loop {
            if done(self) {
                return Some(self.now);
            }
            if !self.step(end) {
                return None;
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub(super) fn run_for(&mut self, d: Duration) {
        let _ = self.run_until(d, |_| false);
    }

    /// Jumps to the next delivery or deadline not after `end` and processes everything due
    /// then. False when nothing is due before `end` (time is left at `end`).
    fn step(&mut self, end: Instant) -> bool {
        let next_packet = self.in_flight.keys().next().map(|&(at, _)| at);
        let next_timer = self.pools.values().filter_map(Pool::poll_timeout).min();
        let Some(next) = next_packet.into_iter().chain(next_timer).min().filter(|&t| t <= end)
        else {
            self.now = end;
            return false;
        };
        self.now = self.now.max(next);
        let later = self.in_flight.split_off(&(self.now, u64::MAX));
        let due = std::mem::replace(&mut self.in_flight, later);
        for (_, (from, to, bytes)) in due {
            let lost = self.isolated.contains(&from) || self.isolated.contains(&to);
            let now = self.now;
            let Some(pool) = self.pools.get_mut(&to).filter(|_| !lost) else { continue };
            if pool.handle_data(now, &bytes).is_err() {
                self.refused += 1;
            }
            self.drain(to);
        }
        let due: Vec<SocketAddr> = self
            .pools
            .iter()
            .filter(|(_, p)| p.poll_timeout().is_some_and(|t| t <= self.now))
            .map(|(a, _)| *a)
            .collect();
        for addr in due {
            let now = self.now;
            if let Some(pool) = self.pools.get_mut(&addr) {
                pool.handle_timeout(now);
            }
            self.drain(addr);
        }
        true
    }

    fn drain(&mut self, addr: SocketAddr) {
        let Some(pool) = self.pools.get_mut(&addr) else { return };
        let at = self.now;
        while let Some((to, bytes)) = pool.poll_transmit() {
            self.trace.push(Trace::Sent { at, from: addr, to, bytes: bytes.clone() });
            self.in_flight.insert((at.plus(self.latency), self.seq), (addr, to, bytes));
            self.seq += 1;
        }
        while let Some(event) = pool.poll_event() {
            self.trace.push(Trace::Event { at, observer: addr, event });
        }
    }
}
