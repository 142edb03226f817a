//! ADS request and response translation.

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::Any;
use proconsul_core::xds::ads::{DeltaRequest, Response, SotwRequest};

/// A resource's protobuf form, packed as `Any` with its v3 type URL.
pub trait EncodeResource {
    /// Encodes the resource.
    fn encode_any(&self) -> Any;
}

/// The node id of a request, when the request carries one (Envoy sends it on the first
/// request of a stream).
fn node_id(node: Option<&envoy_types::pb::envoy::config::core::v3::Node>) -> Option<String> {
    node.map(|n| n.id.clone()).filter(|id| !id.is_empty())
}

/// Translates a `DeltaDiscoveryRequest`; also returns its node id if present.
pub fn decode_delta_request(req: DeltaDiscoveryRequest) -> (Option<String>, DeltaRequest) {
    let node = node_id(req.node.as_ref());
    let mut initial: Vec<(String, String)> = req.initial_resource_versions.into_iter().collect();
    // prost maps are unordered; order them before they reach the deterministic core.
    initial.sort();
    let request = DeltaRequest {
        type_url: req.type_url,
        subscribe: req.resource_names_subscribe,
        unsubscribe: req.resource_names_unsubscribe,
        initial_versions: initial.into_iter().collect(),
        response_nonce: req.response_nonce,
        error_detail: req.error_detail.map(|s| s.message),
    };
    (node, request)
}

/// Translates a SotW `DiscoveryRequest`; also returns its node id if present.
pub fn decode_sotw_request(req: DiscoveryRequest) -> (Option<String>, SotwRequest) {
    let node = node_id(req.node.as_ref());
    let request = SotwRequest {
        type_url: req.type_url,
        resource_names: req.resource_names,
        version_info: req.version_info,
        response_nonce: req.response_nonce,
        error_detail: req.error_detail.map(|s| s.message),
    };
    (node, request)
}

/// Encodes a delta response; `None` for a SotW response.
pub fn encode_delta_response<R: EncodeResource>(
    response: &Response<R>,
) -> Option<DeltaDiscoveryResponse> {
    let Response::Delta { type_url, nonce, resources, removed } = response else { return None };
    Some(DeltaDiscoveryResponse {
        type_url: type_url.as_str().to_owned(),
        nonce: nonce.clone(),
        resources: resources
            .iter()
            .map(|(name, v)| Resource {
                name: name.clone(),
                version: v.version.clone(),
                resource: Some(v.resource.encode_any()),
                ..Default::default()
            })
            .collect(),
        removed_resources: removed.clone(),
        ..Default::default()
    })
}

/// Encodes a SotW response; `None` for a delta response.
pub fn encode_sotw_response<R: EncodeResource>(
    response: &Response<R>,
) -> Option<DiscoveryResponse> {
    let Response::Sotw { type_url, version_info, nonce, resources } = response else { return None };
    Some(DiscoveryResponse {
        type_url: type_url.as_str().to_owned(),
        version_info: version_info.clone(),
        nonce: nonce.clone(),
        resources: resources.iter().map(|(_, v)| v.resource.encode_any()).collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::config::core::v3::Node;
    use envoy_types::pb::google::rpc::Status;
    use proconsul_core::xds::{TypeUrl, Versioned};
    use prost::Message;

    use super::*;

    struct Named(String);

    impl EncodeResource for Named {
        fn encode_any(&self) -> Any {
            envoy_types::util::pack_any(Cluster { name: self.0.clone(), ..Default::default() })
        }
    }

    #[test]
    fn delta_requests_keep_node_subscriptions_and_nack_details() {
        let req = DeltaDiscoveryRequest {
            node: Some(Node { id: "web-sidecar-proxy".into(), ..Default::default() }),
            type_url: TypeUrl::Cluster.as_str().into(),
            resource_names_subscribe: vec!["a".into()],
            initial_resource_versions: [
                ("b".to_owned(), "2".to_owned()),
                ("a".to_owned(), "1".to_owned()),
            ]
            .into_iter()
            .collect(),
            response_nonce: "00000003".into(),
            error_detail: Some(Status { code: 3, message: "bad".into(), details: vec![] }),
            ..Default::default()
        };
        let (node, r) = decode_delta_request(req);
        assert_eq!(node.as_deref(), Some("web-sidecar-proxy"));
        assert_eq!(r.subscribe, ["a"]);
        assert_eq!(r.initial_versions.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            (r.response_nonce.as_str(), r.error_detail.as_deref()),
            ("00000003", Some("bad"))
        );
        let (node, _) = decode_delta_request(DeltaDiscoveryRequest::default());
        assert_eq!(node, None);
    }

    #[test]
    fn responses_pack_resources_as_any_with_versions() {
        let v = Versioned { version: "abc".into(), resource: Arc::new(Named("db".into())) };
        let delta = Response::Delta {
            type_url: TypeUrl::Cluster,
            nonce: "00000001".into(),
            resources: vec![("db".into(), v.clone())],
            removed: vec!["old".into()],
        };
        let out = encode_delta_response(&delta).unwrap();
        assert_eq!(out.type_url, TypeUrl::Cluster.as_str());
        assert_eq!(
            (out.nonce.as_str(), out.removed_resources.as_slice()),
            ("00000001", &["old".to_owned()][..])
        );
        let any = out.resources[0].resource.as_ref().unwrap();
        assert_eq!(any.type_url, TypeUrl::Cluster.as_str());
        assert_eq!(Cluster::decode(any.value.as_slice()).unwrap().name, "db");
        assert_eq!(out.resources[0].version, "abc");
        assert!(encode_sotw_response(&delta).is_none());
        let sotw = Response::Sotw {
            type_url: TypeUrl::Cluster,
            version_info: "v1".into(),
            nonce: "00000002".into(),
            resources: vec![("db".into(), v)],
        };
        let out = encode_sotw_response(&sotw).unwrap();
        assert_eq!((out.version_info.as_str(), out.resources.len()), ("v1", 1));
    }
}
