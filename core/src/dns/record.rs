//! Core's own DNS vocabulary: a question, the records of an answer and the response code.
//! The runtime maps these to and from a wire library; core stays free of one.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The type a question asks for, by its IANA code (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueryType {
    /// `A` (1): an IPv4 address.
    A,
    /// `NS` (2).
    Ns,
    /// `CNAME` (5).
    Cname,
    /// `SOA` (6).
    Soa,
    /// `TXT` (16).
    Txt,
    /// `AAAA` (28): an IPv6 address.
    Aaaa,
    /// `SRV` (33): address and port (RFC 2782).
    Srv,
    /// `ANY` (255): every address record Consul has for the name.
    Any,
    /// Any other type: answered with no records.
    Other(u16),
}

impl QueryType {
    /// The type for a wire code.
    pub fn from_code(code: u16) -> Self {
        match code {
            1 => QueryType::A,
            2 => QueryType::Ns,
            5 => QueryType::Cname,
            6 => QueryType::Soa,
            16 => QueryType::Txt,
            28 => QueryType::Aaaa,
            33 => QueryType::Srv,
            255 => QueryType::Any,
            other => QueryType::Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> u16 {
        match self {
            QueryType::A => 1,
            QueryType::Ns => 2,
            QueryType::Cname => 5,
            QueryType::Soa => 6,
            QueryType::Txt => 16,
            QueryType::Aaaa => 28,
            QueryType::Srv => 33,
            QueryType::Any => 255,
            QueryType::Other(code) => code,
        }
    }
}

/// One question: an absolute or relative name (any case) and a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name as asked, e.g. `web.service.consul.`; answers are owned by it verbatim.
    pub name: String,
    /// What is asked for.
    pub qtype: QueryType,
}

impl Question {
    /// A question for `name` of type `qtype`.
    pub fn new(name: impl Into<String>, qtype: QueryType) -> Self {
        Question { name: name.into(), qtype }
    }
}

/// An `SRV` record's data (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Srv {
    /// Lower is preferred; Consul always sends 1.
    pub priority: u16,
    /// Share of traffic among equal priorities: the instance's `Weights`.
    pub weight: u16,
    /// The instance's port.
    pub port: u16,
    /// Absolute name of the host (`<node>.node.<dc>.<domain>`, `<hex>.addr.<dc>.<domain>`
    /// or the instance's own hostname).
    pub target: String,
}

/// An `SOA` record's data (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Soa {
    /// Primary name server (`ns.<domain>`).
    pub mname: String,
    /// Responsible mailbox (`hostmaster.<domain>`).
    pub rname: String,
    /// Zone version: Unix seconds, as Consul.
    pub serial: u32,
    /// Seconds before secondaries refresh.
    pub refresh: u32,
    /// Seconds between failed refreshes.
    pub retry: u32,
    /// Seconds after which secondaries stop answering.
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308).
    pub minimum: u32,
}

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias to an absolute name, for instances registered with a hostname.
    Cname(String),
    /// Service location.
    Srv(Srv),
    /// Zone authority, sent with negative answers.
    Soa(Soa),
}

/// One resource record (class IN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Record {
    /// Owner name, absolute.
    pub name: String,
    /// Seconds a resolver may cache it.
    pub ttl: u32,
    /// The data.
    pub data: RecordData,
}

/// The response codes Proconsul sends (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseCode {
    /// The name exists; the answer may still be empty (NODATA, with an SOA).
    NoError,
    /// The query could not be parsed.
    FormErr,
    /// The catalog could not be read.
    ServFail,
    /// No such name under the domain (with an SOA).
    NxDomain,
    /// The opcode is not a standard query.
    NotImp,
    /// The name is outside the domain and recursion is not offered.
    Refused,
}

/// A complete answer to one question, before wire encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response code.
    pub code: ResponseCode,
    /// Whether the server speaks for the zone (the AA bit): true for names under the domain.
    pub authoritative: bool,
    /// Records answering the question, in a deterministic order.
    pub answers: Vec<Record>,
    /// The zone's SOA on negative answers.
    pub authority: Vec<Record>,
    /// Addresses of the SRV targets.
    pub additional: Vec<Record>,
}

impl Response {
    /// An empty response with `code`.
    pub fn new(code: ResponseCode, authoritative: bool) -> Self {
        Response {
            code,
            authoritative,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    /// REFUSED: the name is not ours and we do not recurse.
    pub fn refused() -> Self {
        Response::new(ResponseCode::Refused, false)
    }

    /// SERVFAIL: the catalog read failed; the client may retry.
    pub fn server_failure() -> Self {
        Response::new(ResponseCode::ServFail, false)
    }
}
