//! Strategies for the routing kinds (CONSUL-FACTS.md §3.3-3.5): `service-router`,
//! `service-splitter` and `service-resolver`, valid on their own, with the HTTP match pieces
//! that L7 intention permissions share.

use std::collections::{BTreeMap, BTreeSet};

use proconsul_core::config::{
    ConfigEntry, FailoverPolicy, FailoverTarget, HttpHeaderMatch, HttpQueryMatch, LoadBalancer,
    ResolverFailover, ResolverRedirect, ResolverSubset, ServiceResolver, ServiceRoute,
    ServiceRouteDestination, ServiceRouteHttpMatch, ServiceRouteMatch, ServiceRouter, ServiceSplit,
    ServiceSplitter,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::subsequence;

use super::strategies::{
    DATACENTERS, FILTERS, METHODS, PATHS, REGEXES, RETRY_ON, SERVICES, SUBSETS, duration,
    header_mods, header_name, maybe, meta, nonempty_text, opaque, pick,
};

/// Methods without repeats, some in lower case (normalize upper-cases them).
pub fn methods() -> BoxedStrategy<Vec<String>> {
    (subsequence(&METHODS[..], 0..=3), any::<u8>())
        .prop_map(|(ms, lower)| {
            let spell = |(i, m): (usize, &&str)| {
                if (lower >> i) & 1 == 1 { m.to_ascii_lowercase() } else { (*m).to_owned() }
            };
            ms.iter().enumerate().map(spell).collect()
        })
        .boxed()
}

pub fn header_match() -> BoxedStrategy<HttpHeaderMatch> {
    (header_name(), 0..6u8, nonempty_text(), pick(&REGEXES), any::<bool>())
        .prop_map(|(name, which, value, regex, invert)| {
            let mut m = HttpHeaderMatch { name, invert, ..HttpHeaderMatch::default() };
            match which {
                1 => m.present = true,
                2 => m.exact = value,
                3 => m.prefix = value,
                4 => m.suffix = value,
                5 => m.regex = regex,
                _ => {}
            }
            m
        })
        .boxed()
}

fn query_match() -> BoxedStrategy<HttpQueryMatch> {
    (header_name(), 0..4u8, nonempty_text(), pick(&REGEXES))
        .prop_map(|(name, which, value, regex)| {
            let mut m = HttpQueryMatch { name, ..HttpQueryMatch::default() };
            match which {
                1 => m.present = true,
                2 => m.exact = value,
                3 => m.regex = regex,
                _ => {}
            }
            m
        })
        .boxed()
}

fn http_match() -> BoxedStrategy<ServiceRouteHttpMatch> {
    (
        0..4u8,
        pick(&PATHS),
        pick(&REGEXES),
        vec(header_match(), 0..3),
        vec(query_match(), 0..2),
        methods(),
    )
        .prop_map(|(which, path, regex, header, query_param, methods)| {
            let mut m =
                ServiceRouteHttpMatch { header, query_param, methods, ..Default::default() };
            match which {
                1 => m.path_exact = path,
                2 => m.path_prefix = path,
                3 => m.path_regex = regex,
                _ => {}
            }
            m
        })
        .boxed()
}

fn route_destination() -> BoxedStrategy<ServiceRouteDestination> {
    (
        (maybe(&SERVICES), maybe(&SUBSETS), maybe(&["", "default"]), maybe(&["/", "/new"])),
        (duration(), duration(), 0..5u32, any::<bool>()),
        (subsequence(&RETRY_ON[..], 0..3), vec(500..600u32, 0..3), header_mods(), header_mods()),
    )
        .prop_map(|((service, service_subset, namespace, prefix_rewrite), timing, retry)| {
            let (request_timeout, idle_timeout, num_retries, retry_on_connect_failure) = timing;
            let (retry_on, retry_on_status_codes, request_headers, response_headers) = retry;
            ServiceRouteDestination {
                service,
                service_subset,
                namespace,
                partition: String::new(),
                prefix_rewrite,
                request_timeout,
                idle_timeout,
                num_retries,
                retry_on_connect_failure,
                retry_on: retry_on.into_iter().map(str::to_owned).collect(),
                retry_on_status_codes,
                request_headers,
                response_headers,
            }
        })
        .boxed()
}

fn route() -> BoxedStrategy<ServiceRoute> {
    let r#match = option::of(option::of(http_match()).prop_map(|http| ServiceRouteMatch { http }));
    (r#match, option::of(route_destination()))
        .prop_map(|(r#match, mut destination)| {
            let http = r#match.as_ref().and_then(|m| m.http.as_ref());
            let has_path =
                http.is_some_and(|h| !h.path_exact.is_empty() || !h.path_prefix.is_empty());
            if let Some(d) = destination.as_mut().filter(|_| !has_path) {
                d.prefix_rewrite.clear();
            }
            ServiceRoute { r#match, destination }
        })
        .boxed()
}

pub fn service_router() -> BoxedStrategy<ConfigEntry> {
    (pick(&SERVICES), vec(route(), 0..4), meta())
        .prop_map(|(name, routes, meta)| {
            ConfigEntry::ServiceRouter(ServiceRouter { name, routes, meta, ..Default::default() })
        })
        .boxed()
}

/// Integer hundredths that sum to exactly 10000, one per leg.
pub fn hundredths(legs: usize) -> BoxedStrategy<Vec<i64>> {
    let cut = prop_oneof![0i64..=10_000, (0i64..=100).prop_map(|p| p * 100)];
    vec(cut, legs.saturating_sub(1))
        .prop_map(|mut cuts| {
            cuts.sort_unstable();
            let mut prev = 0;
            let mut out = Vec::with_capacity(cuts.len() + 1);
            for c in cuts {
                out.push(c - prev);
                prev = c;
            }
            out.push(10_000 - prev);
            out
        })
        .boxed()
}

pub fn service_splitter() -> BoxedStrategy<ConfigEntry> {
    let leg = (maybe(&SERVICES), maybe(&SUBSETS), header_mods(), header_mods());
    (pick(&SERVICES), vec(leg, 1..5), meta())
        .prop_flat_map(|(name, legs, meta)| {
            // Consul refuses two legs to the same destination (an empty service is the
            // splitter's own).
            let mut seen = BTreeSet::new();
            let legs: Vec<_> = legs
                .into_iter()
                .filter(|(svc, subset, _, _)| {
                    let svc = if svc.is_empty() { name.clone() } else { svc.clone() };
                    seen.insert((svc, subset.clone()))
                })
                .collect();
            let n = legs.len();
            (Just(name), Just(legs), hundredths(n), Just(meta))
        })
        .prop_map(|(name, legs, weights, meta)| {
            let splits = legs
                .into_iter()
                .zip(weights)
                .map(|((service, service_subset, request_headers, response_headers), w)| {
                    ServiceSplit {
                        weight: w as f64 / 100.0,
                        service,
                        service_subset,
                        namespace: String::new(),
                        partition: String::new(),
                        request_headers,
                        response_headers,
                    }
                })
                .collect();
            ConfigEntry::ServiceSplitter(ServiceSplitter {
                name,
                splits,
                meta,
                ..Default::default()
            })
        })
        .boxed()
}

fn redirect() -> BoxedStrategy<ResolverRedirect> {
    (
        maybe(&SERVICES),
        maybe(&SUBSETS),
        maybe(&DATACENTERS),
        maybe(&["peer1", "peer-2"]),
        maybe(&["sg1"]),
    )
        .prop_map(|(service, service_subset, datacenter, peer, sameness_group)| ResolverRedirect {
            service,
            service_subset,
            namespace: String::new(),
            partition: String::new(),
            datacenter,
            peer,
            sameness_group,
        })
        .boxed()
}

fn failover_target() -> BoxedStrategy<FailoverTarget> {
    (
        maybe(&SERVICES),
        maybe(&SUBSETS),
        maybe(&["", "part1"]),
        maybe(&DATACENTERS),
        maybe(&["peer1"]),
    )
        .prop_map(|(service, service_subset, partition, datacenter, peer)| {
            let mut t = FailoverTarget {
                service,
                service_subset,
                partition,
                namespace: String::new(),
                datacenter,
                peer,
            };
            if !t.peer.is_empty() {
                t.service_subset.clear();
                t.datacenter.clear();
                t.partition.clear();
            }
            if !t.datacenter.is_empty() {
                t.partition.clear();
            }
            t
        })
        .boxed()
}

fn failover() -> BoxedStrategy<ResolverFailover> {
    let policy = option::of(
        (maybe(&["sequential", "order-by-locality"]), vec(pick(&["us-east-1", "eu-west-1"]), 0..2))
            .prop_map(|(mode, regions)| FailoverPolicy { mode, regions }),
    );
    (
        maybe(&SERVICES),
        maybe(&SUBSETS),
        vec(pick(&DATACENTERS), 0..3),
        vec(failover_target(), 0..3),
        policy,
    )
        .prop_map(|(service, service_subset, datacenters, targets, policy)| {
            let mut f = ResolverFailover {
                service,
                service_subset,
                datacenters,
                targets,
                policy,
                ..Default::default()
            };
            if !f.targets.is_empty() {
                f.service.clear();
                f.service_subset.clear();
                f.datacenters.clear();
            }
            f
        })
        .boxed()
}

fn load_balancer() -> BoxedStrategy<Option<LoadBalancer>> {
    let lb = (
        pick(&["", "random", "round_robin", "least_request", "ring_hash", "maglev"]),
        option::of(opaque()),
        vec(opaque(), 0..3),
    )
        .prop_map(|(policy, config, hash_policies)| {
            let mut lb = LoadBalancer { policy, ..LoadBalancer::default() };
            match lb.policy.as_str() {
                "ring_hash" => {
                    lb.ring_hash_config = config;
                    lb.hash_policies = hash_policies;
                }
                "maglev" => lb.hash_policies = hash_policies,
                "least_request" => lb.least_request_config = config,
                _ => {}
            }
            lb
        });
    option::of(lb).boxed()
}

pub fn service_resolver() -> BoxedStrategy<ConfigEntry> {
    let subset = (pick(&FILTERS), any::<bool>())
        .prop_map(|(filter, only_passing)| ResolverSubset { filter, only_passing });
    (
        (pick(&SERVICES), btree_map(pick(&SUBSETS), subset, 0..3), any::<prop::sample::Index>()),
        (0..3u8, redirect(), btree_map(maybe(&SUBSETS), failover(), 1..3)),
        (duration(), duration(), load_balancer(), option::of(opaque()), meta()),
    )
        .prop_map(|((name, subsets, default_pick), (mode, redirect, failover), rest)| {
            let (connect_timeout, request_timeout, load_balancer, prioritize_by_locality, meta) =
                rest;
            let keys: Vec<&String> = subsets.keys().collect();
            let default_subset = match keys.len() {
                0 => String::new(),
                n => default_pick.get(&keys[..n]).to_string(),
            };
            let mut r = ServiceResolver {
                name,
                default_subset,
                connect_timeout,
                request_timeout,
                load_balancer,
                prioritize_by_locality,
                meta,
                ..Default::default()
            };
            match mode {
                1 => r.redirect = Some(valid_redirect(&r.name, &subsets, redirect)),
                2 => r.failover = valid_failover(&subsets, failover),
                _ => {}
            }
            r.subsets = subsets;
            ConfigEntry::ServiceResolver(r)
        })
        .boxed()
}

fn valid_redirect(
    own: &str,
    subsets: &BTreeMap<String, ResolverSubset>,
    mut r: ResolverRedirect,
) -> ResolverRedirect {
    if r.service.is_empty() {
        r.service_subset.clear();
        r.peer.clear();
    }
    if r.service == own && !subsets.contains_key(&r.service_subset) {
        r.service_subset.clear();
    }
    if !r.peer.is_empty() {
        r.datacenter.clear();
    }
    if !r.peer.is_empty() || !r.datacenter.is_empty() {
        r.sameness_group.clear();
    }
    if r.is_empty() {
        r.datacenter = "dc2".to_owned();
    }
    r
}

/// Failover keyed by `*` or an existing subset; a subset-only failover must name one of the
/// resolver's own subsets; something must be set.
fn valid_failover(
    subsets: &BTreeMap<String, ResolverSubset>,
    raw: BTreeMap<String, ResolverFailover>,
) -> BTreeMap<String, ResolverFailover> {
    raw.into_iter()
        .map(|(key, mut f)| {
            let key = if subsets.contains_key(&key) { key } else { "*".to_owned() };
            if f.service.is_empty() && !subsets.contains_key(&f.service_subset) {
                f.service_subset.clear();
            }
            let empty = f.service.is_empty()
                && f.service_subset.is_empty()
                && f.datacenters.is_empty()
                && f.targets.is_empty();
            if empty {
                f.datacenters = vec!["dc2".to_owned()];
            }
            (key, f)
        })
        .collect()
}
