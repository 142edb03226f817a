//! One query end to end: decode, let core plan it, read the catalog if core asks, let core
//! choose the records, encode.

use std::sync::Arc;

use proconsul_core::dns::{self, DnsConfig, Plan, Response};
use proconsul_core::time::UnixTime;

use super::catalog::DnsCatalog;
use super::wire::{self, Decoded, Transport};

/// What every socket task shares.
pub(crate) struct Handler {
    pub(crate) catalog: Arc<dyn DnsCatalog>,
    pub(crate) config: DnsConfig,
}

impl Handler {
    /// The reply to one packet, or `None` to send nothing.
    pub(crate) async fn handle(&self, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let (request, question) = match wire::decode(packet) {
            Decoded::Drop => return None,
            Decoded::Reply(bytes) => return Some(bytes),
            Decoded::Query { request, question } => (request, question),
        };
        let now = unix_now();
        let response = match dns::plan(&self.config, &question, now) {
            Plan::Respond(response) => response,
            Plan::Service(lookup) => {
                match self.catalog.service_instances(&lookup.service, lookup.connect).await {
                    Ok(found) => dns::answer_service(&self.config, &question, &lookup, &found, now),
                    Err(e) => catalog_failed(&question.name, &e),
                }
            }
            Plan::Node(lookup) => match self.catalog.node(&lookup.node).await {
                Ok(found) => dns::answer_node(&self.config, &question, found.as_ref(), now),
                Err(e) => catalog_failed(&question.name, &e),
            },
        };
        wire::encode(&request, &response, transport)
    }
}

fn catalog_failed(name: &str, error: &str) -> Response {
    tracing::warn!(name, error, "dns: catalog read failed, answering SERVFAIL");
    Response::server_failure()
}

/// The SOA serial is the wall clock in Unix seconds, as in Consul.
#[allow(clippy::disallowed_methods, reason = "the SOA serial is Unix seconds, as Consul's")]
fn unix_now() -> UnixTime {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    UnixTime(since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}
