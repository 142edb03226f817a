//! A simulated Envoy: the delta ADS client of one sidecar, speaking to its local agent's
//! xDS server over the simulated network the way Envoy does, so scenarios can check what a
//! data plane would actually hold (not what the agent thinks it sent).
//!
//! Envoy's behaviour it keeps: the first request of a stream names the node; CDS and LDS
//! are wildcard subscriptions, EDS follows the EDS clusters and RDS the routes listeners
//! name (the child subscription goes out before the parent's ACK, as Envoy's ADS pausing
//! does); every response is ACKed by nonce, or NACKed when a resource does not decode;
//! what it holds survives a broken stream and is announced again as
//! `initial_resource_versions`, and a restarted proxy (host crash) starts empty.
//!
//! It also binds the listeners it holds and accepts (then drops) connections on them, as
//! Envoy listens: the agent's `Connect Sidecar Listening` TCP check dials the public
//! listener, and without it every sidecar would stay critical and every endpoint unhealthy.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proconsul_core::xds::hash::content_hash;
use proconsul_proto::envoy_types::pb::envoy::config::cluster::v3::Cluster;
use proconsul_proto::envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType,
};
use proconsul_proto::envoy_types::pb::envoy::config::core::v3::{HealthStatus, Node};
use proconsul_proto::envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use proconsul_proto::envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use proconsul_proto::envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use proconsul_proto::envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use proconsul_proto::envoy_types::pb::envoy::config::listener::v3::filter::ConfigType;
use proconsul_proto::envoy_types::pb::envoy::config::listener::v3::{FilterChain, Listener};
use proconsul_proto::envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use proconsul_proto::envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use proconsul_proto::envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use proconsul_proto::envoy_types::pb::google::protobuf::Any;
use proconsul_proto::envoy_types::pb::google::rpc::Status;
use proconsul_runtime_tokio::env::{Listener as NetListener, Net, NetConnector};
use prost::{Message, Name};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use crate::net::SimNet;
use crate::world::lock;

/// CDS.
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// EDS.
pub const ENDPOINTS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
/// LDS.
pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// RDS.
pub const ROUTES: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

/// First retry delay after a failed stream; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Bounds dialing plus the HTTP/2 handshake: turmoil TCP never retransmits, so a SYN or
/// preface lost to a partition would otherwise wait forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds the wait for the server to accept the stream (response headers).
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// A long-lived stream may be silent for hours; HTTP/2 pings are what notice that the
/// other end vanished (a partition eats the bytes without closing anything).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests waiting for the connection; a stream carries a handful per response.
const REQUEST_BUFFER: usize = 64;
/// How long queueing one request may take before the stream is presumed stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a proxy holds of one resource type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// The version it ACKed.
    pub version: String,
    /// Resource name to encoded resource.
    pub resources: BTreeMap<String, Vec<u8>>,
}

/// What one simulated proxy holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyView {
    /// Type URL to what it holds.
    pub acked: BTreeMap<String, Held>,
    /// EDS cluster name to endpoint addresses.
    pub endpoints: BTreeMap<String, Vec<SocketAddr>>,
    /// EDS cluster name to the endpoints Envoy would route to (health unknown, healthy or
    /// degraded): the agent marks instances with critical checks unhealthy rather than
    /// leaving them out, so `endpoints` alone does not show a failover.
    pub healthy: BTreeMap<String, Vec<SocketAddr>>,
    /// Addresses of the listeners it holds and could bind.
    pub listening: Vec<SocketAddr>,
    /// Whether a stream is open.
    pub connected: bool,
    /// Streams opened since the proxy (re)started: more than one means it reconnected.
    pub streams: u64,
    /// Responses rejected because a resource did not decode.
    pub nacks: u64,
    /// Why the last stream ended or failed to open, for diagnosing a stuck scenario.
    pub last_error: Option<String>,
}

/// One held resource: its server version (for `initial_resource_versions` and the digest)
/// and its bytes.
#[derive(Debug, Clone)]
struct Resource {
    version: String,
    bytes: Vec<u8>,
}

/// The proxy's memory, which outlives streams as Envoy's config does.
#[derive(Default)]
struct State {
    /// Type URL to name to resource.
    held: BTreeMap<String, BTreeMap<String, Resource>>,
    /// Type URL to the last version ACKed (kept even when the server sends no change).
    versions: BTreeMap<String, String>,
    /// EDS names subscribed (clusters of discovery type EDS).
    eds: BTreeSet<String>,
    /// RDS names subscribed (routes named by HTTP listeners).
    rds: BTreeSet<String>,
    /// EDS name to `(address, routable)`.
    endpoints: BTreeMap<String, Vec<(SocketAddr, bool)>>,
    /// Bound listeners by the address the listener resource names; they outlive streams.
    listening: BTreeMap<SocketAddr, Box<dyn NetListener>>,
}

/// Clears `connected` when the proxy's task is dropped with its host's runtime (a crash),
/// so the harness never sees a dead proxy as connected.
struct Disconnect(Arc<Mutex<ProxyView>>);

impl Drop for Disconnect {
    fn drop(&mut self) {
        lock(&self.0).connected = false;
    }
}

/// Runs the proxy forever: one ADS stream at a time, reconnecting with a bounded backoff
/// whenever a stream cannot open or ends.
pub async fn run(server: SocketAddr, id: String, service: String, view: Arc<Mutex<ProxyView>>) {
    *lock(&view) = ProxyView::default();
    let _guard = Disconnect(view.clone());
    let mut state = State::default();
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut progressed = false;
        let result = stream(server, &id, &service, &mut state, &view, &mut progressed).await;
        {
            let mut v = lock(&view);
            v.connected = false;
            v.last_error = Some(match result {
                Ok(()) => "the server ended the stream".to_owned(),
                Err(e) => e,
            });
        }
        if progressed {
            backoff = MIN_BACKOFF;
        }
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                () = &mut sleep => break,
                failed = accept_any(&state.listening) => state.close(failed),
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One ADS stream, from dialing until it breaks; `progressed` is set once a response
/// arrived (a healthy stream resets the backoff).
async fn stream(
    server: SocketAddr,
    id: &str,
    service: &str,
    state: &mut State,
    view: &Arc<Mutex<ProxyView>>,
    progressed: &mut bool,
) -> Result<(), String> {
    let endpoint = Endpoint::from_shared(format!("http://{server}"))
        .map_err(|e| format!("endpoint {server}: {e}"))?
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let connector = NetConnector::new(Arc::new(SimNet), CONNECT_TIMEOUT);
    let channel = timeout(CONNECT_TIMEOUT, endpoint.connect_with_connector(connector))
        .await
        .map_err(|_| format!("connecting to {server}: timed out"))?
        .map_err(|e| format!("connecting to {server}: {e}"))?;
    let (tx, rx) = mpsc::channel(REQUEST_BUFFER);
    for request in state.opening(id, service) {
        tx.try_send(request).map_err(|e| format!("queueing a subscription: {e}"))?;
    }
    let mut client = AggregatedDiscoveryServiceClient::new(channel);
    let response =
        timeout(OPEN_TIMEOUT, client.delta_aggregated_resources(ReceiverStream::new(rx)))
            .await
            .map_err(|_| "opening the ADS stream: timed out".to_owned())?
            .map_err(|s| format!("opening the ADS stream: {s}"))?;
    let mut inbound = response.into_inner();
    {
        let mut v = lock(view);
        v.connected = true;
        v.streams += 1;
    }
    loop {
        let message = tokio::select! {
            biased;
            message = inbound.message() => message,
            failed = accept_any(&state.listening) => {
                state.close(failed);
                state.publish(view, false);
                continue;
            }
        };
        let Some(response) = message.map_err(|s| format!("ADS stream: {s}"))? else {
            return Ok(());
        };
        *progressed = true;
        let is_lds = response.type_url == LISTENER;
        let (requests, nacked) = state.apply(response);
        if is_lds && !nacked {
            state.listen().await;
        }
        for request in requests {
            timeout(SEND_TIMEOUT, tx.send(request))
                .await
                .map_err(|_| "sending a request: timed out".to_owned())?
                .map_err(|_| "sending a request: the stream is closed".to_owned())?;
        }
        state.publish(view, nacked);
    }
}

/// Accepts one connection on any bound listener and closes it (a TCP check only needs the
/// handshake); pending forever without listeners. Returns the listener whose accept
/// failed, to be dropped rather than retried in a busy loop.
async fn accept_any(listening: &BTreeMap<SocketAddr, Box<dyn NetListener>>) -> Option<SocketAddr> {
    if listening.is_empty() {
        return std::future::pending().await;
    }
    let accepts = listening.iter().map(|(addr, l)| {
        let addr = *addr;
        Box::pin(async move { l.accept().await.err().map(|_| addr) })
    });
    let (failed, _, _) = futures::future::select_all(accepts).await;
    failed
}

impl State {
    /// The requests that open a stream: CDS (with the node) and LDS as wildcards, then
    /// the EDS and RDS names already followed, each announcing what is held.
    fn opening(&self, id: &str, service: &str) -> Vec<DeltaDiscoveryRequest> {
        let mut out = Vec::new();
        let mut cds = self.subscription(CLUSTER, Vec::new());
        cds.node = Some(Node { id: id.to_owned(), cluster: service.to_owned(), ..Node::default() });
        out.push(cds);
        if !self.eds.is_empty() {
            out.push(self.subscription(ENDPOINTS, self.eds.iter().cloned().collect()));
        }
        out.push(self.subscription(LISTENER, Vec::new()));
        if !self.rds.is_empty() {
            out.push(self.subscription(ROUTES, self.rds.iter().cloned().collect()));
        }
        out
    }

    fn subscription(&self, type_url: &str, names: Vec<String>) -> DeltaDiscoveryRequest {
        let initial = self
            .held
            .get(type_url)
            .map(|held| held.iter().map(|(n, r)| (n.clone(), r.version.clone())).collect())
            .unwrap_or_default();
        DeltaDiscoveryRequest {
            type_url: type_url.to_owned(),
            resource_names_subscribe: names,
            initial_resource_versions: initial,
            ..DeltaDiscoveryRequest::default()
        }
    }

    /// Takes one response: the requests to send in order (new child subscriptions, then the
    /// ACK or NACK) and whether it was rejected.
    fn apply(&mut self, response: DeltaDiscoveryResponse) -> (Vec<DeltaDiscoveryRequest>, bool) {
        let type_url = response.type_url.clone();
        let decoded = match decode_all(&response) {
            Ok(decoded) => decoded,
            Err(message) => {
                let nack = DeltaDiscoveryRequest {
                    type_url,
                    response_nonce: response.nonce,
                    error_detail: Some(Status { code: 3, message, details: Vec::new() }),
                    ..DeltaDiscoveryRequest::default()
                };
                return (vec![nack], true);
            }
        };
        // Envoy ignores named resources it did not ask for (a reply racing an unsubscribe).
        let followed = match type_url.as_str() {
            ENDPOINTS => Some(&self.eds),
            ROUTES => Some(&self.rds),
            _ => None,
        };
        let held = self.held.entry(type_url.clone()).or_default();
        for (r, dec) in response.resources.iter().zip(decoded) {
            if followed.is_some_and(|names| !names.contains(&r.name)) {
                continue;
            }
            let bytes = r.resource.as_ref().map(|a| a.value.clone()).unwrap_or_default();
            held.insert(r.name.clone(), Resource { version: r.version.clone(), bytes });
            if let Decoded::Endpoints(addrs) = dec {
                self.endpoints.insert(r.name.clone(), addrs);
            }
        }
        for name in &response.removed_resources {
            held.remove(name);
            if type_url == ENDPOINTS {
                self.endpoints.remove(name);
            }
        }
        let version = if response.system_version_info.is_empty() {
            digest(held)
        } else {
            response.system_version_info.clone()
        };
        self.versions.insert(type_url.clone(), version);

        let mut out = Vec::new();
        if type_url == CLUSTER {
            let wanted = self.children(CLUSTER, eds_name);
            out.extend(self.follow(ENDPOINTS, wanted));
        } else if type_url == LISTENER {
            let wanted = self.children(LISTENER, rds_names);
            out.extend(self.follow(ROUTES, wanted));
        }
        out.push(DeltaDiscoveryRequest {
            type_url,
            response_nonce: response.nonce,
            ..DeltaDiscoveryRequest::default()
        });
        (out, false)
    }

    /// The child names the held resources of `type_url` reference.
    fn children<M: Message + Default>(
        &self,
        type_url: &str,
        names: fn(&M) -> Vec<String>,
    ) -> BTreeSet<String> {
        let Some(held) = self.held.get(type_url) else { return BTreeSet::new() };
        held.values()
            .filter_map(|r| M::decode(r.bytes.as_slice()).ok())
            .flat_map(|m| names(&m))
            .collect()
    }

    /// Binds the listeners held and not yet bound, and drops those no longer held. A port
    /// that cannot be bound is left out of `listening` (Envoy would report the listener
    /// as failed; the agent's TCP check then stays critical, which is the point).
    async fn listen(&mut self) {
        let wanted: BTreeSet<SocketAddr> = self
            .held
            .get(LISTENER)
            .into_iter()
            .flat_map(|h| h.values())
            .filter_map(|r| Listener::decode(r.bytes.as_slice()).ok())
            .filter_map(|l| listener_addr(&l))
            .collect();
        self.listening.retain(|addr, _| wanted.contains(addr));
        for addr in wanted {
            if !self.listening.contains_key(&addr)
                && let Ok(listener) = SimNet.listen(addr).await
            {
                self.listening.insert(addr, listener);
            }
        }
    }

    /// Drops a listener whose accept failed.
    fn close(&mut self, failed: Option<SocketAddr>) {
        if let Some(addr) = failed {
            self.listening.remove(&addr);
        }
    }

    /// Moves the `child` subscription to `wanted`: the request to send, if it changed.
    /// Names dropped are forgotten at once, as Envoy drops the state of a removed cluster
    /// or listener (the server sends no removal for an unsubscribed name).
    fn follow(&mut self, child: &str, wanted: BTreeSet<String>) -> Option<DeltaDiscoveryRequest> {
        let current = if child == ENDPOINTS { &mut self.eds } else { &mut self.rds };
        let subscribe: Vec<String> = wanted.difference(current).cloned().collect();
        let unsubscribe: Vec<String> = current.difference(&wanted).cloned().collect();
        if subscribe.is_empty() && unsubscribe.is_empty() {
            return None;
        }
        *current = wanted;
        if let Some(held) = self.held.get_mut(child) {
            for name in &unsubscribe {
                held.remove(name);
            }
            if self.versions.contains_key(child) {
                self.versions.insert(child.to_owned(), digest(held));
            }
        }
        if child == ENDPOINTS {
            for name in &unsubscribe {
                self.endpoints.remove(name);
            }
        }
        Some(DeltaDiscoveryRequest {
            type_url: child.to_owned(),
            resource_names_subscribe: subscribe,
            resource_names_unsubscribe: unsubscribe,
            ..DeltaDiscoveryRequest::default()
        })
    }

    /// Shows the harness what is held now.
    fn publish(&self, view: &Mutex<ProxyView>, nacked: bool) {
        let mut v = lock(view);
        if nacked {
            v.nacks += 1;
        }
        v.acked = self
            .versions
            .iter()
            .map(|(type_url, version)| {
                let resources = self
                    .held
                    .get(type_url)
                    .map(|h| h.iter().map(|(n, r)| (n.clone(), r.bytes.clone())).collect())
                    .unwrap_or_default();
                (type_url.clone(), Held { version: version.clone(), resources })
            })
            .collect();
        v.endpoints = self
            .endpoints
            .iter()
            .map(|(name, eps)| (name.clone(), eps.iter().map(|(a, _)| *a).collect()))
            .collect();
        v.healthy = self
            .endpoints
            .iter()
            .map(|(name, eps)| {
                (name.clone(), eps.iter().filter(|(_, ok)| *ok).map(|(a, _)| *a).collect())
            })
            .collect();
        v.listening = self.listening.keys().copied().collect();
    }
}

/// A response's version when the server sends none (our delta server never does): the
/// content hash of the held names and versions, the same digest a SotW stream would carry
/// as `version_info` for that set.
fn digest(held: &BTreeMap<String, Resource>) -> String {
    let pairs: Vec<(&str, &str)> =
        held.iter().map(|(n, r)| (n.as_str(), r.version.as_str())).collect();
    content_hash(&pairs).to_hex()
}

/// What decoding found worth keeping beyond the bytes.
enum Decoded {
    Endpoints(Vec<(SocketAddr, bool)>),
    Other,
}

/// Decodes every resource of a response, as Envoy validates a whole update before
/// applying any of it.
fn decode_all(response: &DeltaDiscoveryResponse) -> Result<Vec<Decoded>, String> {
    response
        .resources
        .iter()
        .map(|r| {
            let any = r.resource.as_ref().ok_or_else(|| format!("{}: no resource", r.name))?;
            decode(&response.type_url, any).map_err(|e| format!("{}: {e}", r.name))
        })
        .collect()
}

fn decode(type_url: &str, any: &Any) -> Result<Decoded, String> {
    if any.type_url != type_url {
        return Err(format!("a {} in a {type_url} response", any.type_url));
    }
    let bytes = any.value.as_slice();
    let bad = |e: prost::DecodeError| e.to_string();
    match type_url {
        CLUSTER => Cluster::decode(bytes).map(|_| Decoded::Other).map_err(bad),
        LISTENER => Listener::decode(bytes).map(|_| Decoded::Other).map_err(bad),
        ROUTES => RouteConfiguration::decode(bytes).map(|_| Decoded::Other).map_err(bad),
        ENDPOINTS => {
            let cla = ClusterLoadAssignment::decode(bytes).map_err(bad)?;
            endpoint_addrs(&cla).map(Decoded::Endpoints)
        }
        _ => Ok(Decoded::Other),
    }
}

/// Every socket address of a load assignment, sorted, with whether Envoy would route to it.
fn endpoint_addrs(cla: &ClusterLoadAssignment) -> Result<Vec<(SocketAddr, bool)>, String> {
    let routable =
        [HealthStatus::Unknown, HealthStatus::Healthy, HealthStatus::Degraded].map(|h| h as i32);
    let mut out = Vec::new();
    for lb in cla.endpoints.iter().flat_map(|l| &l.lb_endpoints) {
        let Some(HostIdentifier::Endpoint(endpoint)) = &lb.host_identifier else { continue };
        let Some(AddressKind::SocketAddress(sa)) =
            endpoint.address.as_ref().and_then(|a| a.address.as_ref())
        else {
            continue;
        };
        let ip: IpAddr =
            sa.address.parse().map_err(|_| format!("endpoint address {:?}", sa.address))?;
        let Some(PortSpecifier::PortValue(port)) = sa.port_specifier else {
            return Err(format!("endpoint {ip} has no port value"));
        };
        let port = u16::try_from(port).map_err(|_| format!("endpoint port {port}"))?;
        out.push((SocketAddr::new(ip, port), routable.contains(&lb.health_status)));
    }
    out.sort();
    Ok(out)
}

/// The socket address a listener binds.
fn listener_addr(listener: &Listener) -> Option<SocketAddr> {
    let Some(AddressKind::SocketAddress(sa)) = listener.address.as_ref()?.address.as_ref() else {
        return None;
    };
    let Some(PortSpecifier::PortValue(port)) = sa.port_specifier else { return None };
    Some(SocketAddr::new(sa.address.parse().ok()?, u16::try_from(port).ok()?))
}

/// The EDS name of a cluster Envoy would subscribe to, if it is an EDS cluster.
fn eds_name(cluster: &Cluster) -> Vec<String> {
    let eds = DiscoveryType::Eds as i32;
    if cluster.cluster_discovery_type != Some(ClusterDiscoveryType::Type(eds)) {
        return Vec::new();
    }
    let service = cluster.eds_cluster_config.as_ref().map(|c| c.service_name.clone());
    vec![service.filter(|s| !s.is_empty()).unwrap_or_else(|| cluster.name.clone())]
}

/// The RDS route names a listener's HTTP connection managers load.
fn rds_names(listener: &Listener) -> Vec<String> {
    let chains = listener.filter_chains.iter().chain(listener.default_filter_chain.as_ref());
    chains
        .flat_map(|c: &FilterChain| &c.filters)
        .filter_map(|f| match &f.config_type {
            Some(ConfigType::TypedConfig(any))
                if any.type_url == HttpConnectionManager::type_url() =>
            {
                HttpConnectionManager::decode(any.value.as_slice()).ok()
            }
            _ => None,
        })
        .filter_map(|hcm| match hcm.route_specifier {
            Some(RouteSpecifier::Rds(rds)) => Some(rds.route_config_name),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proconsul_proto::envoy_types::pb::envoy::config::cluster::v3::cluster::EdsClusterConfig;
    use proconsul_proto::envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress};
    use proconsul_proto::envoy_types::pb::envoy::config::endpoint::v3::{
        Endpoint, LbEndpoint, LocalityLbEndpoints,
    };
    use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::Resource as Wire;

    use super::*;
    use crate::{Fault, SimConfig, Topology, World};

    fn any<M: Message + Name>(m: &M) -> Any {
        Any { type_url: M::type_url(), value: m.encode_to_vec() }
    }

    fn response(
        type_url: &str,
        nonce: &str,
        resources: Vec<(&str, Any)>,
    ) -> DeltaDiscoveryResponse {
        DeltaDiscoveryResponse {
            type_url: type_url.to_owned(),
            nonce: nonce.to_owned(),
            resources: resources
                .into_iter()
                .map(|(name, a)| Wire {
                    name: name.to_owned(),
                    version: format!("v-{name}"),
                    resource: Some(a),
                    ..Wire::default()
                })
                .collect(),
            ..DeltaDiscoveryResponse::default()
        }
    }

    fn eds_cluster(name: &str, service_name: &str) -> Cluster {
        Cluster {
            name: name.to_owned(),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            eds_cluster_config: Some(EdsClusterConfig {
                service_name: service_name.to_owned(),
                ..EdsClusterConfig::default()
            }),
            ..Cluster::default()
        }
    }

    fn cla(name: &str, addrs: &[(&str, u32)]) -> ClusterLoadAssignment {
        let lb_endpoints = addrs
            .iter()
            .map(|(ip, port)| LbEndpoint {
                host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                    address: Some(Address {
                        address: Some(AddressKind::SocketAddress(SocketAddress {
                            address: (*ip).to_owned(),
                            port_specifier: Some(PortSpecifier::PortValue(*port)),
                            ..SocketAddress::default()
                        })),
                    }),
                    ..Endpoint::default()
                })),
                ..LbEndpoint::default()
            })
            .collect();
        ClusterLoadAssignment {
            cluster_name: name.to_owned(),
            endpoints: vec![LocalityLbEndpoints { lb_endpoints, ..LocalityLbEndpoints::default() }],
            ..ClusterLoadAssignment::default()
        }
    }

    /// The client side of Envoy's delta protocol without a network: EDS follows CDS
    /// (subscription before the ACK), endpoints are decoded and dropped with their
    /// cluster, and a resource that does not decode is NACKed without touching what is held.
    #[test]
    fn follows_clusters_acks_and_nacks() {
        let view = Mutex::new(ProxyView::default());
        let mut state = State::default();
        let local = Cluster { name: "local_app".into(), ..Cluster::default() };
        let cds = response(
            CLUSTER,
            "01",
            vec![
                ("api", any(&eds_cluster("api", ""))),
                ("db", any(&eds_cluster("db", "db-eds"))),
                ("local_app", any(&local)),
            ],
        );
        let (reqs, nacked) = state.apply(cds);
        state.publish(&view, nacked);
        assert!(!nacked);
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].type_url, ENDPOINTS);
        assert_eq!(reqs[0].resource_names_subscribe, ["api", "db-eds"]);
        assert_eq!((reqs[1].type_url.as_str(), reqs[1].response_nonce.as_str()), (CLUSTER, "01"));
        assert!(reqs[1].error_detail.is_none());

        let eds = response(
            ENDPOINTS,
            "02",
            vec![
                ("api", any(&cla("api", &[("10.0.0.2", 21001), ("10.0.0.1", 21000)]))),
                ("stray", any(&cla("stray", &[("10.0.0.3", 1)]))),
            ],
        );
        let (reqs, nacked) = state.apply(eds);
        state.publish(&view, nacked);
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].response_nonce, "02");
        let v = lock(&view).clone();
        assert_eq!(
            v.endpoints["api"],
            ["10.0.0.1:21000".parse::<SocketAddr>().unwrap(), "10.0.0.2:21001".parse().unwrap()]
        );
        assert_eq!(v.acked[ENDPOINTS].resources.keys().collect::<Vec<_>>(), ["api"]);
        let cds_version = v.acked[CLUSTER].version.clone();
        assert_eq!(cds_version.len(), 32);

        let bad = response(
            CLUSTER,
            "03",
            vec![("api", Any { type_url: Cluster::type_url(), value: vec![0xff, 0xff] })],
        );
        let (reqs, nacked) = state.apply(bad);
        state.publish(&view, nacked);
        assert!(nacked);
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].response_nonce, "03");
        assert!(reqs[0].error_detail.as_ref().is_some_and(|s| !s.message.is_empty()));
        assert_eq!(lock(&view).nacks, 1);
        assert_eq!(lock(&view).acked[CLUSTER].version, cds_version);

        let mut removal = response(CLUSTER, "04", Vec::new());
        removal.removed_resources = vec!["api".into()];
        let (reqs, _) = state.apply(removal);
        state.publish(&view, false);
        assert_eq!(reqs[0].resource_names_unsubscribe, ["api"]);
        let v = lock(&view).clone();
        assert!(!v.endpoints.contains_key("api"));
        assert_ne!(v.acked[CLUSTER].version, cds_version);

        let reopen = state.opening("web-sidecar-proxy", "web");
        let types: Vec<&str> = reopen.iter().map(|r| r.type_url.as_str()).collect();
        assert_eq!(types, [CLUSTER, ENDPOINTS, LISTENER]);
        assert_eq!(reopen[0].node.as_ref().map(|n| n.id.as_str()), Some("web-sidecar-proxy"));
        assert_eq!(reopen[0].initial_resource_versions.len(), 2);
        assert_eq!(reopen[1].resource_names_subscribe, ["db-eds"]);
    }

    /// A real agent in a one-server, one-client world configures the web sidecar's proxy:
    /// its upstream cluster, local app, listeners, and the api sidecar's address.
    #[test]
    fn proxy_receives_config_from_its_agent() {
        let topo = Topology::new()
            .datacenter("dc1", 1, 1)
            .service("dc1-client1", "web", 8080, &[("api", 9191)])
            .service("dc1-client1", "api", 8081, &[]);
        let mut world = World::new(&topo, SimConfig::new(1)).unwrap();
        #[allow(clippy::disallowed_methods, reason = "reports the test's wall time")]
        let started = Instant::now();
        let api_cluster = |v: &ProxyView| {
            v.acked.get(CLUSTER)?.resources.keys().find(|n| n.starts_with("api.")).cloned()
        };
        let ok = world
            .run_until(Duration::from_secs(60), |w| {
                let Some(v) = w.proxy("dc1-client1", "web-sidecar-proxy") else { return false };
                let Some(api) = api_cluster(&v) else { return false };
                v.acked.contains_key(LISTENER)
                    && v.endpoints.get(&api).is_some_and(|e| !e.is_empty())
            })
            .unwrap();
        let simulated = world.now();
        let wall = started.elapsed();
        eprintln!("simulated {simulated:?}, wall {wall:?}");
        let v = world.proxy("dc1-client1", "web-sidecar-proxy").unwrap();
        if !ok {
            eprintln!("{v:#?}");
            eprintln!("{}", world.trace().tail(40));
        }
        assert!(ok, "the web proxy was not configured in 60 s of simulated time");
        assert!(v.connected);
        assert_eq!(v.nacks, 0);
        let cds = &v.acked[CLUSTER];
        assert!(!cds.version.is_empty());
        assert!(cds.resources.contains_key("local_app"), "clusters: {:?}", cds.resources.keys());
        let api = api_cluster(&v).unwrap();
        assert!(!v.acked[LISTENER].version.is_empty());
        assert!(!v.acked[LISTENER].resources.is_empty());
        let endpoints = &v.endpoints[&api];
        assert_eq!(endpoints.len(), 1, "{endpoints:?}");
        assert_eq!(endpoints[0].ip(), "10.1.1.11".parse::<IpAddr>().unwrap());
        assert!((21000..=21255).contains(&endpoints[0].port()), "{endpoints:?}");

        // The proxies listen, so the agent's sidecar TCP checks pass (10 s interval) and the
        // api endpoint turns routable.
        let healthy = world
            .run_until(Duration::from_secs(60), |w| {
                w.proxy("dc1-client1", "web-sidecar-proxy")
                    .is_some_and(|v| v.healthy.get(&api).is_some_and(|h| !h.is_empty()))
            })
            .unwrap();
        let v = world.proxy("dc1-client1", "web-sidecar-proxy").unwrap();
        assert!(
            healthy,
            "api's sidecar never turned healthy: {:?}\n{}",
            v.endpoints,
            world.trace().tail(40)
        );
        assert_eq!(v.healthy[&api], v.endpoints[&api]);
        let public = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 21000);
        assert!(v.listening.contains(&public), "{:?}", v.listening);
        let api_proxy = world.proxy("dc1-client1", "api-sidecar-proxy").unwrap();
        assert!(
            api_proxy.listening.contains(&SocketAddr::new(public.ip(), endpoints[0].port())),
            "{:?}",
            api_proxy.listening
        );
        eprintln!("healthy at {:?}, wall {:?}", world.now(), started.elapsed());

        // A crash takes the proxy down with its host; after the restart it starts empty and
        // is configured again.
        world.apply(&Fault::Crash("dc1-client1".into())).unwrap();
        world.step().unwrap();
        assert!(!world.proxy("dc1-client1", "web-sidecar-proxy").unwrap().connected);
        world.apply(&Fault::Restart("dc1-client1".into())).unwrap();
        let again = world
            .run_until(Duration::from_secs(60), |w| {
                w.proxy("dc1-client1", "web-sidecar-proxy").is_some_and(|v| {
                    v.connected && v.acked.contains_key(LISTENER) && v.endpoints.contains_key(&api)
                })
            })
            .unwrap();
        let v = world.proxy("dc1-client1", "web-sidecar-proxy").unwrap();
        assert!(again, "not configured after the restart: {v:?}\n{}", world.trace().tail(40));
        eprintln!("configured again at {:?}, wall {:?}", world.now(), started.elapsed());
    }
}
