//! Query names to lookups, following Consul's DNS grammar (Consul docs, "DNS interface" and
//! "Service lookups"):
//!
//! ```text
//!  [tag.]<service>.service[.<locality>].<domain>     _<service>._<tag|tcp>[.service][.<locality>].<domain>
//!  <service>.connect[.<locality>].<domain>           <node>.node[.<locality>].<domain>
//!  <hex ip>.addr[.<locality>].<domain>               locality: <dc>  |  <dc>.dc, default.ns, default.ap pairs
//! ```
//!
//! The rightmost kind label wins, so a tag may itself contain dots (`v1.2.web.service`), and
//! a node name may too. Everything is compared lower-case: DNS names are case-insensitive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::config::Domain;
use super::record::QueryType;

/// A service or Connect lookup: which instances the catalog must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLookup {
    /// Service name, lower-case; the catalog MUST match it case-insensitively.
    pub service: String,
    /// Keep only instances with this tag (case-insensitive); core applies it.
    pub tag: Option<String>,
    /// `.connect.`: the Connect-capable endpoints (sidecar proxies and native instances)
    /// instead of the service's own instances.
    pub connect: bool,
}

/// A node lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLookup {
    /// Node name, lower-case; the catalog MUST match it case-insensitively.
    pub node: String,
}

/// What a query name means, before the datacenter is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedName {
    /// Not under the domain: refused, there is no recursion.
    OutsideDomain,
    /// The domain itself (`consul.`).
    Apex,
    /// Under the domain but not a name Consul answers: NXDOMAIN.
    Invalid {
        /// Why, for logs and tests.
        reason: &'static str,
    },
    /// `...service...` or `...connect...`.
    Service {
        /// The instances to read.
        lookup: ServiceLookup,
        /// The datacenter label, lower-case, if the name has one.
        datacenter: Option<String>,
    },
    /// `<node>.node...`.
    Node {
        /// The node to read.
        lookup: NodeLookup,
        /// The datacenter label, lower-case, if the name has one.
        datacenter: Option<String>,
    },
    /// `<hex>.addr...`: an address encoded in the name (SRV targets of instances whose
    /// address differs from their node's).
    Addr {
        /// The decoded address.
        ip: IpAddr,
        /// The datacenter label, lower-case, if the name has one.
        datacenter: Option<String>,
    },
}

enum Kind {
    Service,
    Connect,
    Node,
    Addr,
    /// Kinds Consul has that Proconsul does not serve yet.
    Unsupported(&'static str),
}

fn kind_of(label: &str) -> Option<Kind> {
    Some(match label {
        "service" => Kind::Service,
        "connect" => Kind::Connect,
        "node" => Kind::Node,
        "addr" => Kind::Addr,
        "query" => Kind::Unsupported("prepared queries are not served over DNS yet"),
        "ingress" => Kind::Unsupported("ingress gateways are not served over DNS"),
        "virtual" => Kind::Unsupported("virtual IPs are not served over DNS"),
        _ => return None,
    })
}

/// Parses `qname` (any case, absolute or relative) under `domain`. `qtype` matters only for
/// Consul's shortcut that lets an SRV query drop the `service` label
/// (`_web._tcp.consul`).
pub fn parse_name(domain: &Domain, qname: &str, qtype: QueryType) -> ParsedName {
    let mut name = qname.to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    let Some(prefix) = domain.strip_from(&name) else {
        return ParsedName::OutsideDomain;
    };
    let Some(relative) = prefix.strip_suffix('.') else {
        return ParsedName::Apex;
    };
    let labels: Vec<&str> = relative.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return invalid("the name has an empty label");
    }
    let Some((parts_end, locality_start, kind)) = find_kind(&labels, qtype) else {
        return invalid("no service, connect, node or addr label");
    };
    let parts = &labels[..parts_end];
    let datacenter = match parse_locality(&labels[locality_start..]) {
        Ok(dc) => dc,
        Err(reason) => return invalid(reason),
    };
    match kind {
        Kind::Service => match service(parts) {
            Ok(lookup) => ParsedName::Service { lookup, datacenter },
            Err(reason) => invalid(reason),
        },
        Kind::Connect => match parts {
            [service] => ParsedName::Service {
                lookup: ServiceLookup { service: (*service).to_owned(), tag: None, connect: true },
                datacenter,
            },
            _ => invalid("a connect name has exactly one label before `connect`"),
        },
        Kind::Node if parts.is_empty() => invalid("a node name is required before `node`"),
        Kind::Node => ParsedName::Node { lookup: NodeLookup { node: parts.join(".") }, datacenter },
        Kind::Addr => match parts {
            [hex] => match decode_hex_ip(hex) {
                Some(ip) => ParsedName::Addr { ip, datacenter },
                None => invalid("an addr label is 8 (IPv4) or 32 (IPv6) hex digits"),
            },
            _ => invalid("an addr name has exactly one label before `addr`"),
        },
        Kind::Unsupported(reason) => invalid(reason),
    }
}

fn invalid(reason: &'static str) -> ParsedName {
    ParsedName::Invalid { reason }
}

/// Where the kind is: `(end of the name parts, start of the locality labels, kind)`.
/// The rightmost kind label wins; for SRV a rightmost `_`-label stands in for a missing
/// `service` label (`_web._tcp[.dc1].consul`), as Consul's dispatcher scans.
fn find_kind(labels: &[&str], qtype: QueryType) -> Option<(usize, usize, Kind)> {
    for (i, label) in labels.iter().enumerate().rev() {
        if let Some(kind) = kind_of(label) {
            return Some((i, i + 1, kind));
        }
        if qtype == QueryType::Srv && label.starts_with('_') {
            return Some((i + 1, i + 1, Kind::Service));
        }
    }
    None
}

/// The labels after the kind: none, one datacenter, or Consul's `<value>.<key>` pairs
/// (`dc1.dc`, `default.ns`, `default.ap`). Namespaces and partitions other than `default`
/// are Enterprise features, and peers need peering: none exist here, so they are NXDOMAIN.
fn parse_locality(labels: &[&str]) -> Result<Option<String>, &'static str> {
    match labels {
        [] => Ok(None),
        [dc] => Ok(Some((*dc).to_owned())),
        _ if !labels.len().is_multiple_of(2) => Err("too many labels after the query kind"),
        _ => {
            let mut dc = None;
            for pair in labels.chunks_exact(2) {
                match (pair[0], pair[1]) {
                    (value, "dc") if dc.is_none() => dc = Some(value.to_owned()),
                    (_, "dc") => return Err("the datacenter is given twice"),
                    ("default", "ns" | "ap") => {}
                    (_, "ns" | "ap") => {
                        return Err("only the default namespace and partition exist");
                    }
                    (_, "peer") => return Err("cluster peering is not supported"),
                    _ => return Err("unknown locality label (expected dc, ns or ap)"),
                }
            }
            Ok(dc)
        }
    }
}

/// The service and tag of a service name: RFC 2782's `_<service>._<tag>` where `_tcp`
/// means no tag (Consul's reading), else `[tag.]<service>` with a tag that may hold dots.
fn service(parts: &[&str]) -> Result<ServiceLookup, &'static str> {
    let (service, tag) = match parts {
        [] => return Err("a service name is required before `service`"),
        [svc, tag] if svc.starts_with('_') && tag.starts_with('_') => {
            let (svc, tag) = (&svc[1..], &tag[1..]);
            if svc.is_empty() || tag.is_empty() {
                return Err("an RFC 2782 label is only `_`");
            }
            (svc.to_owned(), (tag != "tcp").then(|| tag.to_owned()))
        }
        [rest @ .., svc] => ((*svc).to_owned(), (!rest.is_empty()).then(|| rest.join("."))),
    };
    Ok(ServiceLookup { service, tag, connect: false })
}

/// Consul's `.addr.` encoding: the address's bytes in hex, 8 digits for IPv4, 32 for IPv6.
fn decode_hex_ip(hex: &str) -> Option<IpAddr> {
    // `from_str_radix` would accept a sign, so check the digits first.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect();
    match bytes?.as_slice() {
        b if b.len() == 4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        b if b.len() == 16 => {
            let octets: [u8; 16] = b.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// The `.addr.` label for `ip` (inverse of [`decode_hex_ip`]).
pub(crate) fn encode_hex_ip(ip: IpAddr) -> String {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    octets.iter().map(|b| format!("{b:02x}")).collect()
}
