//! One ADS stream's state machine (CONSUL-FACTS.md §7), sans-IO: feed it Envoy's requests
//! and new resource sets, drain responses with [`AdsSession::poll_response`].
//!
//! Rules it keeps, per type: subscriptions (wildcard or by name); a nonce per response from
//! one counter per stream; at most one unacknowledged response; an ACK makes the pending
//! versions the acknowledged state; a NACK keeps the last good state, records Envoy's error,
//! and the rejected versions are not sent again until they change. Across types: secrets,
//! clusters, endpoints before listeners and routes; listeners and routes wait while clusters
//! or endpoints are unacknowledged; cluster, endpoint and secret removals wait until
//! listeners and routes have settled; re-sending a parent re-sends its children.

use std::collections::{BTreeMap, BTreeSet};

use super::messages::{AdsError, DeltaRequest, Nack, Protocol, Response, SotwRequest, XdsResource};
use crate::xds::{ResourceSet, TypeUrl, Versioned};

/// The most names one proxy may subscribe to per type.
pub const MAX_SUBSCRIPTIONS: usize = 100_000;

#[derive(Debug, Default)]
struct Pending {
    nonce: String,
    upserts: BTreeMap<String, String>,
    removals: Vec<String>,
    set_version: String,
}

#[derive(Debug, Default)]
struct TypeState {
    requested: bool,
    wildcard: bool,
    names: BTreeSet<String>,
    /// What Envoy has acknowledged: name → version.
    acked: BTreeMap<String, String>,
    pending: Option<Pending>,
    /// Versions Envoy rejected; not offered again until they change.
    nacked: BTreeMap<String, String>,
    /// Removals Envoy rejected; not repeated until the next resource set.
    nacked_removals: BTreeSet<String>,
    /// SotW: the rejected set version.
    nacked_set: Option<String>,
    /// SotW: the acknowledged set version.
    acked_set: Option<String>,
    /// Names to resend even if unchanged (re-subscribed, or their parent was resent).
    force: BTreeSet<String>,
    last_nack: Option<Nack>,
    /// At least one response of this type was sent on the stream.
    responded: bool,
}

/// The protocol state of one ADS stream.
#[derive(Debug)]
pub struct AdsSession<R> {
    protocol: Protocol,
    nonce: u64,
    types: BTreeMap<TypeUrl, TypeState>,
    resources: ResourceSet<R>,
    allow_empty: BTreeSet<TypeUrl>,
}

impl<R: XdsResource> AdsSession<R> {
    /// A new stream. `allow_empty` lists types for which an empty first response is sent
    /// (gateways may legitimately have no clusters; Envoy waits for a first answer).
    pub fn new(protocol: Protocol, allow_empty: BTreeSet<TypeUrl>) -> Self {
        AdsSession {
            protocol,
            nonce: 0,
            types: BTreeMap::new(),
            resources: ResourceSet::new(),
            allow_empty,
        }
    }

    /// Replaces the resources this proxy should have (a new snapshot was generated).
    pub fn set_resources(&mut self, resources: ResourceSet<R>) {
        self.resources = resources;
        for state in self.types.values_mut() {
            state.nacked_removals.clear();
        }
    }

    /// The last NACK Envoy sent for `type_url`, if any.
    pub fn last_nack(&self, type_url: TypeUrl) -> Option<&Nack> {
        self.types.get(&type_url)?.last_nack.as_ref()
    }

    /// The versions Envoy has acknowledged for `type_url`.
    pub fn acknowledged(&self, type_url: TypeUrl) -> BTreeMap<String, String> {
        self.types.get(&type_url).map(|t| t.acked.clone()).unwrap_or_default()
    }

    fn parse_type(url: &str) -> Result<TypeUrl, AdsError> {
        TypeUrl::parse(url).ok_or_else(|| AdsError::UnknownType(url.to_owned()))
    }

    /// Feeds a delta request: subscription changes and ACK/NACK of an earlier response.
    pub fn handle_delta_request(&mut self, req: DeltaRequest) -> Result<(), AdsError> {
        if self.protocol != Protocol::Delta {
            return Err(AdsError::WrongProtocol("delta", "state-of-the-world"));
        }
        let t = Self::parse_type(&req.type_url)?;
        let state = self.types.entry(t).or_default();
        let count = state.names.len() + req.subscribe.len();
        if count > MAX_SUBSCRIPTIONS {
            return Err(AdsError::TooManySubscriptions {
                type_url: t,
                count,
                max: MAX_SUBSCRIPTIONS,
            });
        }
        if !state.requested {
            state.requested = true;
            state.wildcard = req.subscribe.is_empty() && t.is_wildcard_by_default();
            state.acked.extend(req.initial_versions);
        }
        for name in req.subscribe {
            if name == "*" {
                state.wildcard = true;
            } else {
                // Re-subscribing asks for the resource again: forget what Envoy had.
                state.acked.remove(&name);
                state.names.insert(name);
            }
        }
        for name in req.unsubscribe {
            if name == "*" {
                state.wildcard = false;
            } else {
                state.names.remove(&name);
                state.acked.remove(&name);
            }
        }
        state.acknowledge(&req.response_nonce, req.error_detail);
        Ok(())
    }

    /// Feeds a state-of-the-world request.
    pub fn handle_sotw_request(&mut self, req: SotwRequest) -> Result<(), AdsError> {
        if self.protocol != Protocol::StateOfTheWorld {
            return Err(AdsError::WrongProtocol("state-of-the-world", "delta"));
        }
        let t = Self::parse_type(&req.type_url)?;
        if req.resource_names.len() > MAX_SUBSCRIPTIONS {
            return Err(AdsError::TooManySubscriptions {
                type_url: t,
                count: req.resource_names.len(),
                max: MAX_SUBSCRIPTIONS,
            });
        }
        let state = self.types.entry(t).or_default();
        state.requested = true;
        state.wildcard = req.resource_names.is_empty() && t.is_wildcard_by_default();
        let names: BTreeSet<String> = req.resource_names.into_iter().collect();
        if names != state.names {
            state.names = names;
            state.acked_set = None;
        }
        state.acknowledge(&req.response_nonce, req.error_detail);
        Ok(())
    }

    /// The next response to send, or `None` when Envoy is up to date or we must wait for
    /// an acknowledgement. Call until `None` after every input.
    pub fn poll_response(&mut self) -> Option<Response<R>> {
        let pending = |s: &Self, t: TypeUrl| s.types.get(&t).is_some_and(|x| x.pending.is_some());
        let cds_eds_pending =
            pending(self, TypeUrl::Cluster) || pending(self, TypeUrl::ClusterLoadAssignment);
        for t in TypeUrl::ALL {
            let is_lds_rds = matches!(t, TypeUrl::Listener | TypeUrl::RouteConfiguration);
            if pending(self, t) || (is_lds_rds && cds_eds_pending) {
                continue;
            }
            if let Some(r) = self.build(t, is_lds_rds || self.protocol == Protocol::StateOfTheWorld)
            {
                return Some(r);
            }
        }
        let lds_rds_busy = [TypeUrl::Listener, TypeUrl::RouteConfiguration]
            .into_iter()
            .any(|t| pending(self, t) || self.has_upserts(t));
        if lds_rds_busy || self.protocol == Protocol::StateOfTheWorld {
            return None;
        }
        for t in [TypeUrl::Cluster, TypeUrl::ClusterLoadAssignment, TypeUrl::Secret] {
            if !pending(self, t)
                && let Some(r) = self.build_removals(t)
            {
                return Some(r);
            }
        }
        None
    }

    fn desired(&self, t: TypeUrl) -> BTreeMap<&String, &Versioned<R>> {
        let Some(state) = self.types.get(&t).filter(|s| s.requested) else {
            return BTreeMap::new();
        };
        let Some(all) = self.resources.get(&t) else { return BTreeMap::new() };
        all.iter().filter(|(name, _)| state.wildcard || state.names.contains(*name)).collect()
    }

    fn upserts(&self, t: TypeUrl) -> Vec<(String, Versioned<R>)> {
        let Some(state) = self.types.get(&t) else { return Vec::new() };
        self.desired(t)
            .into_iter()
            .filter(|(name, v)| {
                state.force.contains(*name)
                    || (state.acked.get(*name) != Some(&v.version)
                        && state.nacked.get(*name) != Some(&v.version))
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    fn has_upserts(&self, t: TypeUrl) -> bool {
        self.protocol == Protocol::Delta && !self.upserts(t).is_empty()
    }

    fn removals(&self, t: TypeUrl) -> Vec<String> {
        let Some(state) = self.types.get(&t) else { return Vec::new() };
        let desired = self.desired(t);
        state
            .acked
            .keys()
            .filter(|n| !desired.contains_key(n) && !state.nacked_removals.contains(*n))
            .cloned()
            .collect()
    }

    fn next_nonce(&mut self) -> String {
        self.nonce += 1;
        format!("{:08x}", self.nonce)
    }

    fn build(&mut self, t: TypeUrl, with_removals: bool) -> Option<Response<R>> {
        if !self.types.get(&t).is_some_and(|s| s.requested) {
            return None;
        }
        match self.protocol {
            Protocol::Delta => {
                let upserts = self.upserts(t);
                let removed = if with_removals { self.removals(t) } else { Vec::new() };
                let empty_first = self.allow_empty.contains(&t)
                    && self.types.get(&t).is_some_and(|s| !s.responded);
                if upserts.is_empty() && removed.is_empty() && !empty_first {
                    return None;
                }
                self.mark_sent(t, &upserts, &removed, String::new());
                let nonce = self.current_nonce();
                Some(Response::Delta { type_url: t, nonce, resources: upserts, removed })
            }
            Protocol::StateOfTheWorld => self.build_sotw(t),
        }
    }

    fn build_sotw(&mut self, t: TypeUrl) -> Option<Response<R>> {
        let resources: Vec<(String, Versioned<R>)> =
            self.desired(t).into_iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let set_version = set_version(&resources);
        let state = self.types.get(&t)?;
        let forced = !state.force.is_empty();
        if !forced
            && (state.acked_set.as_deref() == Some(&set_version)
                || state.nacked_set.as_deref() == Some(&set_version))
        {
            return None;
        }
        // An empty set is only news to an Envoy that has something, or, for types that may
        // be empty, as the first answer it waits for.
        let has_something = !state.acked.is_empty();
        if resources.is_empty()
            && !has_something
            && (state.responded || !self.allow_empty.contains(&t))
        {
            return None;
        }
        self.mark_sent(t, &resources, &[], set_version.clone());
        let nonce = self.current_nonce();
        Some(Response::Sotw { type_url: t, version_info: set_version, nonce, resources })
    }

    fn build_removals(&mut self, t: TypeUrl) -> Option<Response<R>> {
        let removed = self.removals(t);
        if removed.is_empty() {
            return None;
        }
        self.mark_sent(t, &[], &removed, String::new());
        let nonce = self.current_nonce();
        Some(Response::Delta { type_url: t, nonce, resources: Vec::new(), removed })
    }

    fn current_nonce(&self) -> String {
        format!("{:08x}", self.nonce)
    }

    /// Records a response as pending and marks the children of resent parents.
    fn mark_sent(
        &mut self,
        t: TypeUrl,
        upserts: &[(String, Versioned<R>)],
        removals: &[String],
        set_version: String,
    ) {
        let nonce = self.next_nonce();
        let mut children: Vec<(TypeUrl, String)> = Vec::new();
        for (name, v) in upserts {
            children.extend(v.resource.children());
            if t == TypeUrl::Cluster {
                children.push((TypeUrl::ClusterLoadAssignment, name.clone()));
            }
        }
        let state = self.types.entry(t).or_default();
        state.responded = true;
        for (name, _) in upserts {
            state.force.remove(name);
        }
        state.pending = Some(Pending {
            nonce,
            upserts: upserts.iter().map(|(n, v)| (n.clone(), v.version.clone())).collect(),
            removals: removals.to_vec(),
            set_version,
        });
        for (ct, name) in children {
            let child = self.types.entry(ct).or_default();
            if child.requested && (child.wildcard || child.names.contains(&name)) {
                child.force.insert(name);
            }
        }
    }
}

impl TypeState {
    /// Applies an ACK or NACK of the pending response; other nonces are stale and ignored.
    fn acknowledge(&mut self, nonce: &str, error_detail: Option<String>) {
        if nonce.is_empty() || self.pending.as_ref().is_none_or(|p| p.nonce != nonce) {
            return;
        }
        let Some(p) = self.pending.take() else { return };
        match error_detail.filter(|e| !e.is_empty()) {
            Some(error_detail) => {
                self.nacked.extend(p.upserts);
                self.nacked_removals.extend(p.removals);
                if !p.set_version.is_empty() {
                    self.nacked_set = Some(p.set_version);
                }
                self.last_nack = Some(Nack { nonce: p.nonce, error_detail });
            }
            None => {
                for name in p.upserts.keys() {
                    self.nacked.remove(name);
                }
                if p.set_version.is_empty() {
                    self.acked.extend(p.upserts);
                } else {
                    self.acked = p.upserts;
                    self.acked_set = Some(p.set_version);
                    self.nacked_set = None;
                }
                for name in &p.removals {
                    self.acked.remove(name);
                }
            }
        }
    }
}

/// The SotW `version_info` of a set: the content hash of its sorted names and versions.
fn set_version<R>(resources: &[(String, Versioned<R>)]) -> String {
    let pairs: Vec<(&str, &str)> =
        resources.iter().map(|(n, v)| (n.as_str(), v.version.as_str())).collect();
    crate::xds::hash::content_hash(&pairs).to_hex()
}
