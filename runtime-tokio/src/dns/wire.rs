//! hickory-proto at the edge: packets in, core questions out; core responses in, packets
//! out, cut to the client's size limit. No answer is decided here.

use hickory_proto::op::{Edns, Header, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use proconsul_core::dns::{self, QueryType, Question, RecordData};

/// RFC 1035's UDP limit for clients that do not advertise EDNS.
const UDP_MAX_PLAIN: usize = 512;
/// The largest UDP payload we advertise and send (the common EDNS buffer size; larger
/// datagrams fragment).
pub(crate) const UDP_MAX_EDNS: u16 = 4096;
/// A TCP message is framed by a 16-bit length (RFC 1035 §4.2.2).
const TCP_MAX: usize = u16::MAX as usize;

/// How the message travels, which bounds its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// A packet after decoding.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// Not worth an answer: too short for a header, or itself a response (answering those
    /// invites reflection loops).
    Drop,
    /// Refused before any lookup (FORMERR, NOTIMP); send as is.
    Reply(Vec<u8>),
    /// One standard query to answer.
    Query {
        /// The request, echoed in the response.
        request: Box<Message>,
        /// What it asks, in core's terms.
        question: Question,
    },
}

/// Decodes one DNS message. A message whose header parses but whose body does not gets
/// FORMERR, so the client stops waiting; anything shorter than a header is dropped.
pub(crate) fn decode(packet: &[u8]) -> Decoded {
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
        return Decoded::Drop;
    };
    if header.message_type == MessageType::Response {
        return Decoded::Drop;
    }
    let request = match Message::from_vec(packet) {
        Ok(request) => request,
        Err(_) => return error_reply(&header.metadata, &[], ResponseCode::FormErr),
    };
    if request.op_code != OpCode::Query {
        return error_reply(&request.metadata, &request.queries, ResponseCode::NotImp);
    }
    let [query] = request.queries.as_slice() else {
        // RFC 9619: a query carries exactly one question.
        return error_reply(&request.metadata, &request.queries, ResponseCode::FormErr);
    };
    if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
        // RFC 6891 §6.1.3: we speak EDNS version 0 only.
        return error_reply(&request.metadata, &request.queries, ResponseCode::BADVERS);
    }
    let question =
        Question::new(query.name().to_ascii(), QueryType::from_code(u16::from(query.query_type())));
    Decoded::Query { request: Box::new(request), question }
}

fn error_reply(
    request: &Metadata,
    queries: &[hickory_proto::op::Query],
    code: ResponseCode,
) -> Decoded {
    let mut reply = Message::response(request.id, request.op_code);
    reply.metadata = Metadata::response_from_request(request);
    reply.metadata.response_code = code;
    reply.add_queries(queries.iter().cloned());
    if code.high() > 0 {
        reply.set_edns(our_edns());
    }
    match reply.to_vec() {
        Ok(bytes) => Decoded::Reply(bytes),
        Err(e) => {
            tracing::warn!(error = %e, "dns: cannot encode an error reply");
            Decoded::Drop
        }
    }
}

fn our_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_MAX_EDNS).set_version(0);
    edns
}

/// Encodes `response` to `request` within the transport's limit: first whole, then without
/// the additional records (RFC 2181 §9: no TC for glue alone), else header and question
/// with TC set so the client retries over TCP. `None` only if even that fails to encode.
pub(crate) fn encode(
    request: &Message,
    response: &dns::Response,
    transport: Transport,
) -> Option<Vec<u8>> {
    let limit = match transport {
        Transport::Tcp => TCP_MAX,
        Transport::Udp => match &request.edns {
            Some(edns) => usize::from(edns.max_payload().clamp(512, UDP_MAX_EDNS)),
            None => UDP_MAX_PLAIN,
        },
    };
    let mut message = to_message(request, response);
    match message.to_vec() {
        Ok(bytes) if bytes.len() <= limit => return Some(bytes),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "dns: cannot encode a response, truncating"),
    }
    message.additionals.clear();
    if let Ok(bytes) = message.to_vec().map_err(|e| tracing::warn!(error = %e, "dns: encode"))
        && bytes.len() <= limit
    {
        return Some(bytes);
    }
    message.truncate().to_vec().map_err(|e| tracing::warn!(error = %e, "dns: encode")).ok()
}

fn to_message(request: &Message, response: &dns::Response) -> Message {
    let mut message = Message::response(request.id, request.op_code);
    message.metadata = Metadata::response_from_request(&request.metadata);
    message.metadata.authoritative = response.authoritative;
    message.metadata.response_code = match response.code {
        dns::ResponseCode::NoError => ResponseCode::NoError,
        dns::ResponseCode::FormErr => ResponseCode::FormErr,
        dns::ResponseCode::ServFail => ResponseCode::ServFail,
        dns::ResponseCode::NxDomain => ResponseCode::NXDomain,
        dns::ResponseCode::NotImp => ResponseCode::NotImp,
        dns::ResponseCode::Refused => ResponseCode::Refused,
    };
    message.add_queries(request.queries.iter().cloned());
    message.add_answers(response.answers.iter().filter_map(to_record));
    message.add_authorities(response.authority.iter().filter_map(to_record));
    message.add_additionals(response.additional.iter().filter_map(to_record));
    if request.edns.is_some() {
        // RFC 6891 §6.1.1: a request with OPT gets OPT back.
        message.set_edns(our_edns());
    }
    message
}

/// Core only emits valid names, so a failure here is a bug upstream: skip the record
/// rather than fail the whole answer.
fn to_record(record: &dns::Record) -> Option<Record> {
    let name = |s: &str| {
        Name::from_ascii(s)
            .map_err(|e| tracing::warn!(name = s, error = %e, "dns: record name does not encode"))
            .ok()
    };
    let data = match &record.data {
        RecordData::A(ip) => RData::A(A(*ip)),
        RecordData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        RecordData::Cname(target) => RData::CNAME(CNAME(name(target)?)),
        RecordData::Srv(srv) => {
            RData::SRV(SRV::new(srv.priority, srv.weight, srv.port, name(&srv.target)?))
        }
        RecordData::Soa(soa) => RData::SOA(SOA::new(
            name(&soa.mname)?,
            name(&soa.rname)?,
            soa.serial,
            saturating_i32(soa.refresh),
            saturating_i32(soa.retry),
            saturating_i32(soa.expire),
            soa.minimum,
        )),
    };
    Some(Record::from_rdata(name(&record.name)?, record.ttl, data))
}

/// SOA timers are 32-bit unsigned on the wire; hickory models three as `i32`.
fn saturating_i32(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}
