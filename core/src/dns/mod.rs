//! Consul's DNS interface as pure decisions: what a query name asks for, and which records
//! answer it (Consul docs, "DNS interface",
//! <https://developer.hashicorp.com/consul/docs/services/discovery/dns-overview>).
//!
//! ```text
//!  Question ──► plan(config, question, now) ──► Plan::Respond(Response)       REFUSED outside the domain,
//!                        │                                                    NXDOMAIN + SOA, apex, .addr.
//!                        ├─► Plan::Service(lookup) ─► runtime reads every instance of the name
//!                        │                                 └─► answer_service(..) ─► Response
//!                        └─► Plan::Node(lookup)    ─► runtime reads the node
//!                                                          └─► answer_node(..)    ─► Response
//! ```
//!
//! Core owns the grammar (`[tag.]web.service[.dc].consul`, `_web._tcp.service.consul`,
//! `web.connect.consul`, `node1.node.consul`, `<hex>.addr.consul`), health and tag filtering,
//! SRV targets and glue, and negative answers. The runtime owns the wire format (hickory),
//! sockets, EDNS and truncation, so core depends on no DNS crate. Answers keep the catalog's
//! order (node name, then instance id); Consul shuffles, but clients must not rely on order
//! and a fixed one keeps servers and replays identical.

mod answer;
mod config;
mod instance;
mod name;
mod record;

pub use answer::{Plan, answer_node, answer_service, plan, soa};
pub use config::{DnsConfig, DnsConfigError, Domain};
pub use instance::{Instance, NodeAddress};
pub use name::{NodeLookup, ParsedName, ServiceLookup, parse_name};
pub use record::{QueryType, Question, Record, RecordData, Response, ResponseCode, Soa, Srv};

#[cfg(test)]
mod tests;
