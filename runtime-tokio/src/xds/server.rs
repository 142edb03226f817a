//! The tonic `AggregatedDiscoveryService`: delta (Consul's default) and state of the world.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;

use proconsul_core::xds::ads::{AdsSession, Protocol, XdsResource};
use proconsul_core::xds::{ResourceSet, TypeUrl};
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use proconsul_proto::{
    EncodeResource, decode_delta_request, decode_sotw_request, encode_delta_response,
    encode_sotw_response,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::SnapshotSource;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Responses buffered per stream before the task waits for Envoy to read.
const STREAM_BUFFER: usize = 16;

/// The ADS gRPC service over a [`SnapshotSource`].
pub struct AdsServer<R> {
    source: Arc<dyn SnapshotSource<R>>,
    allow_empty: BTreeSet<TypeUrl>,
}

impl<R> AdsServer<R> {
    /// A server answering from `source`. `allow_empty` lists types sent even when empty
    /// (for gateways, whose Envoy waits for a first CDS answer).
    pub fn new(source: Arc<dyn SnapshotSource<R>>, allow_empty: BTreeSet<TypeUrl>) -> Self {
        AdsServer { source, allow_empty }
    }
}

/// One protocol flavour's translation, so a single stream loop serves both.
trait Flavour: Send + 'static {
    type Req: Send + 'static;
    type Resp: Send + 'static;
    const PROTOCOL: Protocol;
    fn handle<R: XdsResource>(
        session: &mut AdsSession<R>,
        req: Self::Req,
    ) -> Result<Option<String>, Status>;
    fn encode<R: XdsResource + EncodeResource>(
        r: &proconsul_core::xds::ads::Response<R>,
    ) -> Option<Self::Resp>;
}

struct Delta;
struct Sotw;

fn refused(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

impl Flavour for Delta {
    type Req = DeltaDiscoveryRequest;
    type Resp = DeltaDiscoveryResponse;
    const PROTOCOL: Protocol = Protocol::Delta;
    fn handle<R: XdsResource>(
        s: &mut AdsSession<R>,
        req: Self::Req,
    ) -> Result<Option<String>, Status> {
        let (node, req) = decode_delta_request(req);
        s.handle_delta_request(req).map_err(refused)?;
        Ok(node)
    }
    fn encode<R: XdsResource + EncodeResource>(
        r: &proconsul_core::xds::ads::Response<R>,
    ) -> Option<Self::Resp> {
        encode_delta_response(r)
    }
}

impl Flavour for Sotw {
    type Req = DiscoveryRequest;
    type Resp = DiscoveryResponse;
    const PROTOCOL: Protocol = Protocol::StateOfTheWorld;
    fn handle<R: XdsResource>(
        s: &mut AdsSession<R>,
        req: Self::Req,
    ) -> Result<Option<String>, Status> {
        let (node, req) = decode_sotw_request(req);
        s.handle_sotw_request(req).map_err(refused)?;
        Ok(node)
    }
    fn encode<R: XdsResource + EncodeResource>(
        r: &proconsul_core::xds::ads::Response<R>,
    ) -> Option<Self::Resp> {
        encode_sotw_response(r)
    }
}

/// Sends every response the session has; false once Envoy is gone.
async fn flush<F: Flavour, R: XdsResource + EncodeResource>(
    session: &mut AdsSession<R>,
    tx: &mpsc::Sender<Result<F::Resp, Status>>,
) -> bool {
    while let Some(response) = session.poll_response() {
        if let Some(encoded) = F::encode(&response)
            && tx.send(Ok(encoded)).await.is_err()
        {
            return false;
        }
    }
    true
}

/// The life of one stream: the first request names the proxy; then requests and new
/// resource sets are fed to the session until either side goes away.
async fn run_stream<F, R>(
    mut inbound: Streaming<F::Req>,
    tx: mpsc::Sender<Result<F::Resp, Status>>,
    source: Arc<dyn SnapshotSource<R>>,
    allow_empty: BTreeSet<TypeUrl>,
) where
    F: Flavour,
    F::Req: prost::Message + Default,
    R: XdsResource + EncodeResource + Send + Sync + 'static,
{
    let Ok(Some(first)) = inbound.message().await else { return };
    let mut session = AdsSession::new(F::PROTOCOL, allow_empty);
    let node = match F::handle(&mut session, first) {
        Ok(Some(node)) => node,
        Ok(None) => {
            let _ = tx
                .send(Err(Status::invalid_argument(
                    "the first request of a stream must carry node.id",
                )))
                .await;
            return;
        }
        Err(status) => {
            let _ = tx.send(Err(status)).await;
            return;
        }
    };
    let mut snapshots: watch::Receiver<Arc<ResourceSet<R>>> = match source.subscribe(&node) {
        Ok(rx) => rx,
        Err(message) => {
            let _ = tx.send(Err(Status::not_found(message))).await;
            return;
        }
    };
    session.set_resources(ResourceSet::clone(&snapshots.borrow_and_update()));
    if !flush::<F, R>(&mut session, &tx).await {
        return;
    }
    loop {
        tokio::select! {
            biased;
            message = inbound.message() => match message {
                Ok(Some(req)) => {
                    if let Err(status) = F::handle(&mut session, req) {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
                Ok(None) | Err(_) => return,
            },
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                session.set_resources(ResourceSet::clone(&snapshots.borrow_and_update()));
            }
        }
        if !flush::<F, R>(&mut session, &tx).await {
            return;
        }
    }
}

fn start<F, R>(
    inbound: Streaming<F::Req>,
    source: Arc<dyn SnapshotSource<R>>,
    allow_empty: BTreeSet<TypeUrl>,
) -> BoxStream<F::Resp>
where
    F: Flavour,
    F::Req: prost::Message + Default,
    R: XdsResource + EncodeResource + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    #[allow(clippy::disallowed_methods, reason = "one task per ADS stream is the runtime's job")]
    tokio::spawn(run_stream::<F, R>(inbound, tx, source, allow_empty));
    Box::pin(ReceiverStream::new(rx))
}

#[tonic::async_trait]
impl<R> AggregatedDiscoveryService for AdsServer<R>
where
    R: XdsResource + EncodeResource + Send + Sync + 'static,
{
    type StreamAggregatedResourcesStream = BoxStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = BoxStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let stream =
            start::<Sotw, R>(request.into_inner(), self.source.clone(), self.allow_empty.clone());
        Ok(Response::new(stream))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let stream =
            start::<Delta, R>(request.into_inner(), self.source.clone(), self.allow_empty.clone());
        Ok(Response::new(stream))
    }
}
