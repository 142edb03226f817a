//! Choosing the records that answer a question, as Consul's DNS server does (Consul docs,
//! "Service lookups" and "Node lookups"; behaviour of `agent/dns.go`): healthy instances
//! only, every answer authoritative, negative answers carrying the zone's SOA, and a
//! deterministic order (the catalog's: node name, then instance id) instead of a shuffle.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::config::DnsConfig;
use super::instance::{Instance, NodeAddress};
use super::name::{NodeLookup, ParsedName, ServiceLookup, encode_hex_ip, parse_name};
use super::record::{QueryType, Question, Record, RecordData, Response, ResponseCode, Soa, Srv};
use crate::time::UnixTime;

/// Consul's `dns_config.soa` defaults.
const SOA_REFRESH_SECS: u32 = 3600;
const SOA_RETRY_SECS: u32 = 600;
const SOA_EXPIRE_SECS: u32 = 86400;
const SOA_MIN_TTL_SECS: u32 = 0;
/// Consul gives every SRV record the same priority and spreads load by weight.
const SRV_PRIORITY: u16 = 1;

/// What to do with a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send this response; no catalog read is needed.
    Respond(Response),
    /// Read the instances named by the lookup (all of them, any health, any tag), then
    /// call [`answer_service`].
    Service(ServiceLookup),
    /// Read the node, then call [`answer_node`].
    Node(NodeLookup),
}

/// Decides how to answer `question`. `now` becomes the SOA serial (Unix seconds, as Consul).
pub fn plan(config: &DnsConfig, question: &Question, now: UnixTime) -> Plan {
    let parsed = parse_name(&config.domain, &question.name, question.qtype);
    let datacenter = match &parsed {
        ParsedName::Service { datacenter, .. }
        | ParsedName::Node { datacenter, .. }
        | ParsedName::Addr { datacenter, .. } => datacenter.as_deref(),
        _ => None,
    };
    // No federation yet: another datacenter's names do not exist from here.
    if datacenter.is_some_and(|dc| !dc.eq_ignore_ascii_case(config.datacenter.as_str())) {
        return Plan::Respond(name_error(config, now));
    }
    match parsed {
        ParsedName::OutsideDomain => Plan::Respond(Response::refused()),
        ParsedName::Invalid { .. } => Plan::Respond(name_error(config, now)),
        ParsedName::Apex => Plan::Respond(apex(config, question, now)),
        ParsedName::Service { lookup, .. } => Plan::Service(lookup),
        ParsedName::Node { lookup, .. } => Plan::Node(lookup),
        ParsedName::Addr { ip, .. } => {
            let mut answer = Answer::new(question);
            if let Some(r) = ip_record(&answer.owner, ip, question.qtype, config.node_ttl_secs) {
                answer.answer(r);
            }
            Plan::Respond(answer.finish(config, now))
        }
    }
}

/// Answers a service or Connect lookup from every instance the catalog has under the name.
///
/// Critical instances (and warning ones with `only_passing`) and, with a tag, untagged ones
/// are dropped; none left is NXDOMAIN, as in Consul. SRV answers point at
/// `<node>.node.<dc>.<domain>` (or `<hex>.addr.<dc>.<domain>` when the instance's address
/// is not its node's) with that address as an additional record.
pub fn answer_service(
    config: &DnsConfig,
    question: &Question,
    lookup: &ServiceLookup,
    instances: &[Instance],
    now: UnixTime,
) -> Response {
    let served = instances.iter().filter(|i| {
        i.is_served(config.only_passing) && lookup.tag.as_deref().is_none_or(|t| i.has_tag(t))
    });
    let mut answer = Answer::new(question);
    let mut any = false;
    for inst in served {
        any = true;
        match question.qtype {
            QueryType::Srv => answer.srv(config, inst),
            qtype => {
                let ttl = config.service_ttl_secs;
                if let Some(r) = address_record(&answer.owner, inst.effective_address(), qtype, ttl)
                {
                    answer.answer(r);
                }
            }
        }
    }
    if !any {
        return name_error(config, now);
    }
    answer.finish(config, now)
}

/// Answers a node lookup: the node's address (A/AAAA, or a CNAME for a hostname);
/// an unknown node is NXDOMAIN.
pub fn answer_node(
    config: &DnsConfig,
    question: &Question,
    node: Option<&NodeAddress>,
    now: UnixTime,
) -> Response {
    let Some(node) = node else {
        return name_error(config, now);
    };
    let mut answer = Answer::new(question);
    let ttl = config.node_ttl_secs;
    if let Some(r) = address_record(&answer.owner, &node.address, question.qtype, ttl) {
        answer.answer(r);
    }
    answer.finish(config, now)
}

/// The zone's SOA record, as Consul builds it (`ns.` and `hostmaster.` under the domain,
/// serial from the clock).
pub fn soa(config: &DnsConfig, now: UnixTime) -> Record {
    let domain = config.domain.as_str();
    Record {
        name: domain.to_owned(),
        ttl: SOA_MIN_TTL_SECS,
        data: RecordData::Soa(Soa {
            mname: format!("ns.{domain}"),
            rname: format!("hostmaster.{domain}"),
            // Consul's `uint32(time.Now().Unix())`: the low 32 bits.
            serial: (now.secs() & i64::from(u32::MAX)) as u32,
            refresh: SOA_REFRESH_SECS,
            retry: SOA_RETRY_SECS,
            expire: SOA_EXPIRE_SECS,
            minimum: SOA_MIN_TTL_SECS,
        }),
    }
}

/// NXDOMAIN with the SOA, so resolvers can cache the negative answer (RFC 2308).
fn name_error(config: &DnsConfig, now: UnixTime) -> Response {
    let mut response = Response::new(ResponseCode::NxDomain, true);
    response.authority.push(soa(config, now));
    response
}

/// The domain itself: its SOA for SOA/ANY, else no data.
fn apex(config: &DnsConfig, question: &Question, now: UnixTime) -> Response {
    let mut answer = Answer::new(question);
    if matches!(question.qtype, QueryType::Soa | QueryType::Any) {
        answer.answer(soa(config, now));
    }
    answer.finish(config, now)
}

/// A positive response under construction; duplicates are dropped (Consul de-duplicates
/// instances sharing an address, or a node, address and port for SRV).
struct Answer {
    /// The question's name, absolute: every answer record is owned by it.
    owner: String,
    response: Response,
    seen_answers: BTreeSet<Record>,
    seen_additional: BTreeSet<Record>,
}

impl Answer {
    fn new(question: &Question) -> Self {
        let mut owner = question.name.clone();
        if !owner.ends_with('.') {
            owner.push('.');
        }
        Answer {
            owner,
            response: Response::new(ResponseCode::NoError, true),
            seen_answers: BTreeSet::new(),
            seen_additional: BTreeSet::new(),
        }
    }

    fn answer(&mut self, record: Record) {
        if self.seen_answers.insert(record.clone()) {
            self.response.answers.push(record);
        }
    }

    fn additional(&mut self, record: Record) {
        if self.seen_additional.insert(record.clone()) {
            self.response.additional.push(record);
        }
    }

    fn srv(&mut self, config: &DnsConfig, inst: &Instance) {
        let Some((target, glue)) = srv_target(config, inst) else {
            return;
        };
        let data =
            Srv { priority: SRV_PRIORITY, weight: inst.srv_weight(), port: inst.port, target };
        let ttl = config.service_ttl_secs;
        self.answer(Record { name: self.owner.clone(), ttl, data: RecordData::Srv(data) });
        if let Some(glue) = glue {
            self.additional(glue);
        }
    }

    /// NOERROR; an empty answer (NODATA) carries the SOA like a name error does.
    fn finish(mut self, config: &DnsConfig, now: UnixTime) -> Response {
        if self.response.answers.is_empty() {
            self.response.authority.push(soa(config, now));
        }
        self.response
    }
}

/// An SRV target and its address record (none for a hostname target), following Consul:
/// the node's name when the instance uses the node's address, an `.addr.` name for an
/// instance address of its own, the hostname itself otherwise. `None` if the instance has
/// no usable address at all.
fn srv_target(config: &DnsConfig, inst: &Instance) -> Option<(String, Option<Record>)> {
    let (domain, dc) = (config.domain.as_str(), config.datacenter.as_str());
    let node_ip = inst.node_address.parse::<IpAddr>().ok();
    let own_ip = inst.address.parse::<IpAddr>().ok();
    let ttl = config.service_ttl_secs;
    let ip = match (inst.address.is_empty(), own_ip) {
        (true, _) => node_ip,
        (false, Some(ip)) => Some(ip),
        (false, None) => return hostname(&inst.address).map(|h| (h, None)),
    };
    let Some(ip) = ip else {
        return hostname(&inst.node_address).map(|h| (h, None));
    };
    let by_node = format!("{}.node.{dc}.{domain}", inst.node);
    let target = if node_ip == Some(ip) && is_dns_name(&by_node) {
        by_node
    } else {
        let by_addr = format!("{}.addr.{dc}.{domain}", encode_hex_ip(ip));
        // A datacenter name DNS cannot carry still leaves the locality-free form.
        if is_dns_name(&by_addr) { by_addr } else { format!("{}.addr.{domain}", encode_hex_ip(ip)) }
    };
    let glue = ip_record(&target, ip, QueryType::Any, ttl);
    Some((target, glue))
}

/// The record for an address of either kind asked for with `qtype`.
fn address_record(owner: &str, address: &str, qtype: QueryType, ttl: u32) -> Option<Record> {
    match address.parse::<IpAddr>() {
        Ok(ip) => ip_record(owner, ip, qtype, ttl),
        Err(_) => {
            let wants =
                matches!(qtype, QueryType::A | QueryType::Aaaa | QueryType::Any | QueryType::Cname);
            let target = hostname(address).filter(|_| wants)?;
            Some(Record { name: owner.to_owned(), ttl, data: RecordData::Cname(target) })
        }
    }
}

/// An A or AAAA record for `ip` when `qtype` asks for that family (ANY asks for both).
fn ip_record(owner: &str, ip: IpAddr, qtype: QueryType, ttl: u32) -> Option<Record> {
    let data = match (ip, qtype) {
        (IpAddr::V4(v4), QueryType::A | QueryType::Any) => RecordData::A(v4),
        (IpAddr::V6(v6), QueryType::Aaaa | QueryType::Any) => RecordData::Aaaa(v6),
        _ => return None,
    };
    Some(Record { name: owner.to_owned(), ttl, data })
}

/// `address` as an absolute hostname, if it is one DNS can carry.
fn hostname(address: &str) -> Option<String> {
    let mut name = address.to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    is_dns_name(&name).then_some(name)
}

/// An absolute name of letters, digits, `-` and `_` labels (1-63 bytes each, 254 in all).
fn is_dns_name(name: &str) -> bool {
    let Some(relative) = name.strip_suffix('.') else {
        return false;
    };
    relative.len() <= 253
        && relative.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
