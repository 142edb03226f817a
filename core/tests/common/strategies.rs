//! Strategies for config entries that are valid on their own (CONSUL-FACTS.md §3), built as
//! the public structs so every field of every kind is reachable. Names come from small pools
//! so entries refer to each other; free text (meta, header values, descriptions) is drawn to
//! stress escaping in every output format.
//!
//! The strategies produce raw, possibly un-normalized entries (`HTTP`, `get`, `ALLOW`), and
//! fix up combinations Consul forbids in their `prop_map`s instead of filtering, so no case
//! is rejected.

use std::collections::{BTreeMap, BTreeSet};

use proconsul_core::config::{
    ConfigEntry, GoDuration, HttpHeaderModifiers, IntentionHttpPermission, IntentionPermission,
    MeshGatewayConfig, MeshGatewayMode, ProxyDefaults, ServiceDefaults, ServiceIntentions,
    SourceIntention, UpstreamConfig, UpstreamConfiguration,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

pub use super::routing::{
    header_match, methods, service_resolver, service_router, service_splitter,
};

pub const SERVICES: [&str; 4] = ["web", "db", "api", "billing"];
pub const SUBSETS: [&str; 4] = ["v1", "v2", "canary", "blue-green"];
pub const DATACENTERS: [&str; 3] = ["dc1", "dc2", "dc3"];
pub const METHODS: [&str; 9] =
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];
pub const RETRY_ON: [&str; 6] =
    ["5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "unavailable"];
/// Subset filters that Consul's filter grammar accepts.
pub const FILTERS: [&str; 6] = [
    "Service.Meta.version == v1",
    "Service.Meta.version == v2",
    "Service.Tags contains canary",
    "Service.Meta.env != prod and Service.Port == 8080",
    "not (Node.Meta.rack == r1 or Service.Tags contains legacy)",
    "",
];
pub const REGEXES: [&str; 4] = ["^/api/.*", "/v[0-9]+/", "[a-z]+", r".*\.json$"];
pub const PATHS: [&str; 4] = ["/", "/api", "/v1/users", "/a/b/"];

/// Characters that need care in JSON, HCL strings and HCL interpolation.
const TRICKY: [char; 20] = [
    '"', '\\', '\n', '\t', '\r', '$', '{', '}', '#', '/', '*', '=', ' ', 'a', 'µ', '\u{7}',
    '\u{0}', '\u{feff}', '😀', '\'',
];

pub fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    select(items).prop_map(str::to_owned).boxed()
}

/// One of `items` or the empty string (an unset field).
pub fn maybe(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![1 => Just(String::new()), 2 => pick(items)].boxed()
}

/// Free text: mostly tame, sometimes any printable Unicode, sometimes escape-heavy.
pub fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{0,7}",
        1 => "\\PC{0,10}",
        1 => vec(select(&TRICKY[..]), 0..8).prop_map(|cs| cs.into_iter().collect::<String>()),
    ]
    .boxed()
}

/// Text that is never empty, for fields whose emptiness means "unset".
pub fn nonempty_text() -> BoxedStrategy<String> {
    text().prop_map(|s| if s.is_empty() { "x".to_owned() } else { s }).boxed()
}

pub fn meta() -> BoxedStrategy<BTreeMap<String, String>> {
    let key = prop_oneof![pick(&["env", "team", "version", "Owner", "x.y", "a b"]), text()];
    btree_map(key, text(), 0..3).boxed()
}

/// A passthrough JSON value (never null: HCL cannot write it, and `Some(null)` is `None`).
pub fn opaque() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..100_000).prop_map(Value::from),
        select(&[0.5f64, 1.0, -2.25, 1e-3, 33.33][..]).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        let key = prop_oneof![
            pick(&["Port", "dialed_directly", "MaxConnections", "Paths", "Field"]),
            text()
        ];
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(key, inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Durations that are valid (non-negative), from `0s` to many hours with odd fractions.
pub fn duration() -> BoxedStrategy<GoDuration> {
    prop_oneof![
        2 => Just(GoDuration::ZERO),
        1 => (1i64..7200).prop_map(GoDuration::from_secs),
        1 => (1i64..100_000).prop_map(GoDuration::from_millis),
        1 => (1i64..1_000_000_000_000_000).prop_map(GoDuration::from_nanos),
    ]
    .boxed()
}

pub fn protocol() -> BoxedStrategy<String> {
    pick(&["", "tcp", "http", "HTTP", "http2", "grpc", "Grpc"])
}

fn mesh_gateway() -> BoxedStrategy<MeshGatewayConfig> {
    select(
        &[
            MeshGatewayMode::Default,
            MeshGatewayMode::None,
            MeshGatewayMode::Local,
            MeshGatewayMode::Remote,
        ][..],
    )
    .prop_map(|mode| MeshGatewayConfig { mode })
    .boxed()
}

pub fn header_name() -> BoxedStrategy<String> {
    prop_oneof![pick(&["x-version", "X-Canary", "cookie", "user-agent"]), nonempty_text()].boxed()
}

pub fn header_mods() -> BoxedStrategy<Option<HttpHeaderModifiers>> {
    option::of(
        (
            btree_map(header_name(), text(), 0..3),
            btree_map(header_name(), text(), 0..3),
            vec(header_name(), 0..3),
        )
            .prop_map(|(add, set, remove)| HttpHeaderModifiers { add, set, remove }),
    )
    .boxed()
}

fn upstream(named: bool) -> BoxedStrategy<UpstreamConfig> {
    (
        (
            if named { pick(&SERVICES) } else { Just(String::new()).boxed() },
            maybe(&["peer1"]),
            protocol(),
        ),
        (0..10_000u32, mesh_gateway(), maybe(&["exact_balance"]), any::<bool>()),
        (option::of(opaque()), option::of(opaque()), maybe(&["{\"name\": \"x\"}"])),
    )
        .prop_map(
            |((name, peer, protocol), (connect_timeout_ms, mesh_gateway, balance, ddf), rest)| {
                let (limits, passive_health_check, envoy_listener_json) = rest;
                UpstreamConfig {
                    name,
                    peer,
                    protocol,
                    connect_timeout_ms,
                    mesh_gateway,
                    balance_outbound_connections: balance,
                    disable_default_filter: ddf,
                    limits,
                    passive_health_check,
                    envoy_listener_json,
                    ..Default::default()
                }
            },
        )
        .boxed()
}

pub fn service_defaults() -> BoxedStrategy<ConfigEntry> {
    let upstream_config = (vec(upstream(true), 0..3), option::of(upstream(false)))
        .prop_map(|(overrides, defaults)| UpstreamConfiguration { overrides, defaults });
    (
        (
            pick(&SERVICES),
            protocol(),
            maybe(&["direct", "transparent"]),
            maybe(&["strict", "permissive"]),
        ),
        (
            mesh_gateway(),
            maybe(&["web.example.com", "db.external"]),
            0..3u8,
            upstream_config,
            opaque(),
        ),
        (0..5000u32, 0..5000u32, 0..5000u32, maybe(&["exact_balance"])),
        (option::of(opaque()), option::of(opaque()), option::of(opaque()), option::of(opaque())),
        meta(),
    )
        .prop_map(|(a, b, c, d, meta)| {
            let (name, protocol, mode, mutual_tls_mode) = a;
            let (mesh_gateway, external_sni, which, upstream_config, destination) = b;
            let (
                max_inbound_connections,
                local_connect_timeout_ms,
                local_request_timeout_ms,
                balance,
            ) = c;
            let (transparent_proxy, expose, rate_limits, envoy_extensions) = d;
            ConfigEntry::ServiceDefaults(ServiceDefaults {
                name,
                protocol,
                mode,
                transparent_proxy,
                mutual_tls_mode,
                mesh_gateway,
                expose,
                external_sni,
                upstream_config: (which == 1).then_some(upstream_config),
                destination: (which == 2).then_some(destination),
                max_inbound_connections,
                local_connect_timeout_ms,
                local_request_timeout_ms,
                balance_inbound_connections: balance,
                rate_limits,
                envoy_extensions,
                meta,
                ..Default::default()
            })
        })
        .boxed()
}

pub fn proxy_defaults() -> BoxedStrategy<ConfigEntry> {
    let key =
        pick(&["envoy_prometheus_bind_addr", "local_connect_timeout_ms", "Nested", "max_conns"]);
    let config = (btree_map(key, opaque(), 0..3), option::of(protocol())).prop_map(|(mut c, p)| {
        if let Some(p) = p {
            c.insert("protocol".to_owned(), Value::String(p));
        }
        c
    });
    (
        (
            maybe(&["global"]),
            config,
            maybe(&["direct", "transparent"]),
            maybe(&["strict", "permissive"]),
        ),
        (mesh_gateway(), option::of(opaque()), option::of(opaque()), option::of(opaque())),
        (option::of(opaque()), option::of(opaque()), option::of(opaque()), meta()),
    )
        .prop_map(|((name, config, mode, mutual_tls_mode), b, c)| {
            let (mesh_gateway, transparent_proxy, expose, access_logs) = b;
            let (envoy_extensions, failover_policy, prioritize_by_locality, meta) = c;
            ConfigEntry::ProxyDefaults(ProxyDefaults {
                name,
                config,
                mode,
                transparent_proxy,
                mutual_tls_mode,
                mesh_gateway,
                expose,
                access_logs,
                envoy_extensions,
                failover_policy,
                prioritize_by_locality,
                meta,
                ..Default::default()
            })
        })
        .boxed()
}

fn permission() -> BoxedStrategy<IntentionPermission> {
    (
        pick(&["allow", "deny", "ALLOW", "Deny"]),
        0..4u8,
        pick(&PATHS),
        pick(&REGEXES),
        vec(header_match(), 0..2),
        methods(),
    )
        .prop_map(|(action, which, path, regex, header, methods)| {
            let mut http = IntentionHttpPermission { header, methods, ..Default::default() };
            match which {
                1 => http.path_exact = path,
                2 => http.path_prefix = path,
                3 => http.path_regex = regex,
                _ => {}
            }
            if which == 0 && http.header.is_empty() && http.methods.is_empty() {
                http.path_prefix = "/".to_owned();
            }
            IntentionPermission { action, http: Some(http), jwt: None }
        })
        .boxed()
}

/// `(peer, partition, sameness group)`: at most one set, so the combination is valid.
fn source_origin() -> BoxedStrategy<(String, String, String)> {
    prop_oneof![
        3 => Just((String::new(), String::new(), String::new())),
        1 => Just(("peer1".to_owned(), String::new(), String::new())),
        1 => Just((String::new(), "part1".to_owned(), String::new())),
        1 => Just((String::new(), String::new(), "sg1".to_owned())),
    ]
    .boxed()
}

fn source() -> BoxedStrategy<SourceIntention> {
    (
        (pick(&["web", "db", "api", "billing", "*"]), source_origin(), maybe(&["default"])),
        (pick(&["allow", "deny", "ALLOW", "Deny"]), vec(permission(), 0..3), maybe(&["consul"])),
        (
            text(),
            maybe(&["5d1f0f2c-6b3e-4c39-9a53-0123456789ab"]),
            meta(),
            option::of(pick(&["2024-01-02T03:04:05Z"])),
        ),
    )
        .prop_map(|((name, (peer, partition, sameness_group), namespace), b, c)| {
            let (action, permissions, r#type) = b;
            let (description, legacy_id, legacy_meta, legacy_create_time) = c;
            SourceIntention {
                name,
                peer,
                partition,
                namespace,
                sameness_group,
                action: if permissions.is_empty() { action } else { String::new() },
                permissions,
                r#type,
                description,
                legacy_id,
                legacy_meta,
                legacy_update_time: legacy_create_time.clone(),
                legacy_create_time,
                ..Default::default()
            }
        })
        .boxed()
}

pub fn service_intentions() -> BoxedStrategy<ConfigEntry> {
    (pick(&["web", "db", "api", "*"]), vec(source(), 1..5), option::of(opaque()), meta())
        .prop_map(|(name, sources, jwt, meta)| {
            let mut seen = BTreeSet::new();
            let sources = sources
                .into_iter()
                .filter(|s| {
                    // Empty and `default` are the same partition or namespace.
                    let fold = |v: &str| if v.is_empty() { "default" } else { v }.to_owned();
                    seen.insert((
                        s.peer.clone(),
                        fold(&s.partition),
                        fold(&s.namespace),
                        s.sameness_group.clone(),
                        s.name.clone(),
                    ))
                })
                .map(|mut s| {
                    // L7 permissions are refused on a wildcard destination.
                    if name == "*" && !s.permissions.is_empty() {
                        s.permissions.clear();
                        s.action = "allow".to_owned();
                    }
                    s
                })
                .collect();
            ConfigEntry::ServiceIntentions(ServiceIntentions {
                name,
                sources,
                jwt,
                meta,
                ..Default::default()
            })
        })
        .boxed()
}

/// Entries of `kind`, sometimes with the CE namespace and partition spelled out as
/// `default` (every kind shares those fields; a splitter copies its namespace to its legs).
pub fn scoped(kind: BoxedStrategy<ConfigEntry>) -> BoxedStrategy<ConfigEntry> {
    (kind, maybe(&["default"]), maybe(&["default"]))
        .prop_map(|(mut entry, ns, ap)| {
            let (namespace, partition) = match &mut entry {
                ConfigEntry::ServiceDefaults(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::ProxyDefaults(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::ServiceRouter(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::ServiceSplitter(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::ServiceResolver(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::ServiceIntentions(e) => (&mut e.namespace, &mut e.partition),
                ConfigEntry::IngressGateway(e) => (&mut e.namespace, &mut e.partition),
            };
            *namespace = ns;
            *partition = ap;
            entry
        })
        .boxed()
}

/// A valid entry of any of the six kinds.
pub fn any_entry() -> BoxedStrategy<ConfigEntry> {
    scoped(
        prop_oneof![
            service_defaults(),
            proxy_defaults(),
            service_router(),
            service_splitter(),
            service_resolver(),
            service_intentions(),
        ]
        .boxed(),
    )
}
