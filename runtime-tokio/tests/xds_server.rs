//! The ADS gRPC server over real loopback sockets: a tonic client plays Envoy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proconsul_core::xds::ads::XdsResource;
use proconsul_core::xds::{ResourceSet, TypeUrl, Versioned};
use proconsul_proto::EncodeResource;
use proconsul_proto::envoy_types::pb::envoy::config::cluster::v3::Cluster;
use proconsul_proto::envoy_types::pb::envoy::config::core::v3::Node;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer;
use proconsul_proto::envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest,
};
use proconsul_proto::envoy_types::pb::google::protobuf::Any;
use proconsul_proto::envoy_types::pb::google::rpc::Status as RpcStatus;
use proconsul_runtime_tokio::xds::{AdsServer, Snapshots};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};

struct TestCluster(String);

impl XdsResource for TestCluster {
    fn children(&self) -> Vec<(TypeUrl, String)> {
        Vec::new()
    }
}

impl EncodeResource for TestCluster {
    fn encode_any(&self) -> Any {
        proconsul_proto::envoy_types::util::pack_any(Cluster {
            name: self.0.clone(),
            ..Default::default()
        })
    }
}

fn clusters(items: &[(&str, &str)]) -> ResourceSet<TestCluster> {
    let mut set = ResourceSet::new();
    let by_name: BTreeMap<String, Versioned<TestCluster>> = items
        .iter()
        .map(|(n, v)| {
            (
                (*n).to_owned(),
                Versioned {
                    version: (*v).to_owned(),
                    resource: Arc::new(TestCluster((*n).to_owned())),
                },
            )
        })
        .collect();
    set.insert(TypeUrl::Cluster, by_name);
    set
}

async fn serve(snapshots: Arc<Snapshots<TestCluster>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = AdsServer::new(snapshots, BTreeSet::new());
    #[allow(
        clippy::disallowed_methods,
        reason = "the test hosts the gRPC server beside its client"
    )]
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AggregatedDiscoveryServiceServer::new(server))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

fn node(id: &str) -> Option<Node> {
    Some(Node { id: id.into(), ..Default::default() })
}

fn names(r: &DeltaDiscoveryResponse) -> Vec<String> {
    r.resources
        .iter()
        .map(|res| Cluster::decode(res.resource.as_ref().unwrap().value.as_slice()).unwrap().name)
        .collect()
}

async fn next<T>(s: &mut tonic::Streaming<T>) -> Result<T, tonic::Status>
where
    T: Message + Default + 'static,
{
    tokio::time::timeout(Duration::from_secs(5), s.message())
        .await
        .expect("a response in time")
        .map(|m| m.expect("stream open"))
}

#[tokio::test]
async fn delta_stream_subscribes_acks_and_gets_only_changes() {
    let snapshots = Arc::new(Snapshots::new());
    snapshots.set("web-sidecar-proxy", clusters(&[("a", "1"), ("b", "1")]));
    let url = serve(snapshots.clone()).await;
    let mut client = AggregatedDiscoveryServiceClient::connect(url).await.unwrap();
    let (tx, rx) = mpsc::channel(8);
    tx.send(DeltaDiscoveryRequest {
        node: node("web-sidecar-proxy"),
        type_url: TypeUrl::Cluster.as_str().into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut inbound =
        client.delta_aggregated_resources(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let first = next(&mut inbound).await.unwrap();
    assert_eq!(first.nonce, "00000001");
    assert_eq!(names(&first), ["a", "b"]);
    tx.send(DeltaDiscoveryRequest {
        type_url: TypeUrl::Cluster.as_str().into(),
        response_nonce: first.nonce.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    snapshots.set("web-sidecar-proxy", clusters(&[("a", "2")]));
    let second = next(&mut inbound).await.unwrap();
    assert_eq!(names(&second), ["a"], "only the changed cluster");
    assert_eq!(second.resources[0].version, "2");
    // b is removed only after the listeners settle; there are none, so it follows the ACK.
    tx.send(DeltaDiscoveryRequest {
        type_url: TypeUrl::Cluster.as_str().into(),
        response_nonce: second.nonce.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let third = next(&mut inbound).await.unwrap();
    assert_eq!(third.removed_resources, ["b"]);
    // A NACK is not answered by resending the same thing.
    tx.send(DeltaDiscoveryRequest {
        type_url: TypeUrl::Cluster.as_str().into(),
        response_nonce: third.nonce.clone(),
        error_detail: Some(RpcStatus { code: 3, message: "rejected".into(), details: vec![] }),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), inbound.next()).await.is_err(),
        "nothing resent"
    );
}

#[tokio::test]
async fn bad_streams_get_a_grpc_status_with_a_clear_message() {
    let snapshots: Arc<Snapshots<TestCluster>> = Arc::new(Snapshots::new());
    snapshots.set("known", clusters(&[("a", "1")]));
    let url = serve(snapshots).await;
    let mut client = AggregatedDiscoveryServiceClient::connect(url).await.unwrap();
    for (first, code, text) in [
        (
            DeltaDiscoveryRequest {
                type_url: TypeUrl::Cluster.as_str().into(),
                ..Default::default()
            },
            tonic::Code::InvalidArgument,
            "must carry node.id",
        ),
        (
            DeltaDiscoveryRequest {
                node: node("stranger"),
                type_url: TypeUrl::Cluster.as_str().into(),
                ..Default::default()
            },
            tonic::Code::NotFound,
            "no proxy with id \"stranger\"",
        ),
        (
            DeltaDiscoveryRequest {
                node: node("known"),
                type_url: "type.googleapis.com/nope".into(),
                ..Default::default()
            },
            tonic::Code::InvalidArgument,
            "unsupported resource type",
        ),
    ] {
        let (tx, rx) = mpsc::channel(1);
        tx.send(first).await.unwrap();
        let mut inbound =
            client.delta_aggregated_resources(ReceiverStream::new(rx)).await.unwrap().into_inner();
        let status = next(&mut inbound).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(text), "{status:?}");
    }
}

#[tokio::test]
async fn state_of_the_world_streams_are_served_too() {
    let snapshots = Arc::new(Snapshots::new());
    snapshots.set("gw", clusters(&[("x", "1"), ("y", "1")]));
    let url = serve(snapshots.clone()).await;
    let mut client = AggregatedDiscoveryServiceClient::connect(url).await.unwrap();
    let (tx, rx) = mpsc::channel(8);
    tx.send(DiscoveryRequest {
        node: node("gw"),
        type_url: TypeUrl::Cluster.as_str().into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut inbound =
        client.stream_aggregated_resources(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let first = next(&mut inbound).await.unwrap();
    assert_eq!(first.resources.len(), 2);
    tx.send(DiscoveryRequest {
        type_url: TypeUrl::Cluster.as_str().into(),
        version_info: first.version_info.clone(),
        response_nonce: first.nonce.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    snapshots.set("gw", clusters(&[("x", "1")]));
    let second = next(&mut inbound).await.unwrap();
    assert_eq!(second.resources.len(), 1, "the whole set, y gone by absence");
    assert_ne!(second.version_info, first.version_info);
}
