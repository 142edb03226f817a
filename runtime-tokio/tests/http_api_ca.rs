//! The Connect CA endpoints over a single-node raft with a CA manager, driven with
//! `tower::ServiceExt::oneshot`: roots (JSON and `?pem`), configuration (Consul's shape,
//! round trip, rotation, 400s naming the field), the internal signing endpoint (Consul's
//! `IssuedCert`, 400s naming why an identity is refused, 429 at the CSR rate limit), and a
//! server without a CA manager.

mod ca_support;
mod raft_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ca_support::{NOW, agent_id, csr, manager_config, service_id, verify};
use openraft::BasicNode;
use proconsul_core::ca::{CaConfig, pem_decode_all, pem_encode};
use proconsul_runtime_tokio::ca_manager::CaManager;
use proconsul_runtime_tokio::http::{router, with_connect_ca};
use proconsul_runtime_tokio::raft::RaftNode;
use proconsul_runtime_tokio::raft::mem_network::MemRouter;
use raft_support::{WAIT, start};
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Api {
    app: Router,
    node: Arc<RaftNode>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    index: Option<u64>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn single_node() -> (Arc<RaftNode>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemRouter::new();
    let node = start(1, &dir.path().join("raft.redb"), &mem).await;
    node.raft().initialize(BTreeMap::from([(1, BasicNode::default())])).await.unwrap();
    node.raft().wait(Some(WAIT)).current_leader(1, "self-elected").await.unwrap();
    (Arc::new(node), dir)
}

/// A leader with its CA established (`tweak` adjusts the settings of the new CA).
async fn api_with(tweak: impl FnOnce(&mut CaConfig)) -> Api {
    let (node, dir) = single_node().await;
    let mut initial = CaConfig::default();
    tweak(&mut initial);
    let ca = Arc::new(CaManager::new(node.clone(), manager_config(11, Some(initial))));
    ca.establish(NOW).await.expect("CA established");
    Api { app: with_connect_ca(router(node.clone(), 7), ca), node, _dir: dir }
}

async fn api() -> Api {
    api_with(|_| {}).await
}

impl Api {
    async fn call(&self, method: Method, uri: &str, body: impl Into<Body>) -> Reply {
        let req = Request::builder().method(method).uri(uri).body(body.into()).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let index = header("X-Consul-Index").map(|v| v.parse().unwrap());
        let content_type = header("Content-Type");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, content_type, index, body }
    }
    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, Body::empty()).await
    }
    async fn put_json(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, body.to_string()).await
    }
    async fn trust_domain(&self) -> String {
        self.get("/v1/connect/ca/roots").await.json()["TrustDomain"].as_str().unwrap().to_owned()
    }
    async fn sign(&self, csr_der: &[u8], requester: Value) -> Reply {
        let body =
            json!({"CSR": pem_encode("CERTIFICATE REQUEST", csr_der), "Requester": requester});
        self.put_json("/v1/internal/connect/ca/sign", body).await
    }
    async fn shutdown(self) {
        self.node.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn roots_have_consuls_shape_and_a_pem_form() {
    let api = api().await;
    let r = api.get("/v1/connect/ca/roots").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.index.unwrap() > 1);
    let body = r.json();
    let td = body["TrustDomain"].as_str().unwrap();
    assert!(td.ends_with(".consul") && td.len() == 36 + 7, "{td}");
    let roots = body["Roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    let root = &roots[0];
    assert_eq!(body["ActiveRootID"], root["ID"]);
    assert_eq!(root["Active"], true);
    assert_eq!(root["Name"], "Consul CA Primary Cert");
    assert_eq!(root["ExternalTrustDomain"], td.trim_end_matches(".consul"));
    assert_eq!(root["IntermediateCerts"], json!([]));
    assert_eq!(
        (root["PrivateKeyType"].as_str(), root["PrivateKeyBits"].as_u64()),
        (Some("ec"), Some(256))
    );
    assert_eq!(root["NotBefore"], "2027-01-15T08:00:00Z");
    assert!(root["SigningKeyID"].as_str().unwrap().contains(':'));
    assert!(root["RootCert"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(root["ModifyIndex"].as_u64(), r.index);
    assert!(!r.text().contains("PRIVATE KEY"), "roots never carry keys");

    let pem = api.get("/v1/connect/ca/roots?pem=true").await;
    assert_eq!(pem.status, StatusCode::OK);
    assert_eq!(pem.content_type.as_deref(), Some("application/pem-certificate-chain"));
    assert_eq!(pem.text(), root["RootCert"].as_str().unwrap());
    // py-consul sends pem=0 for JSON.
    assert_eq!(api.get("/v1/connect/ca/roots?pem=0").await.json(), body);
    let bad = api.get("/v1/connect/ca/roots?pem=maybe").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.text(), "The 'pem' query parameter must be a boolean value");
    api.shutdown().await;
}

#[tokio::test]
async fn configuration_reads_as_consul_writes_it_and_round_trips() {
    let api = api().await;
    let td = api.trust_domain().await;
    let r = api.get("/v1/connect/ca/configuration").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let config = r.json();
    assert_eq!(config["Provider"], "consul");
    assert_eq!(config["ClusterID"], td.trim_end_matches(".consul"));
    assert_eq!(config["State"], Value::Null);
    assert_eq!(config["ForceWithoutCrossSigning"], false);
    assert_eq!(config["Config"]["LeafCertTTL"], "72h");
    assert_eq!(config["Config"]["IntermediateCertTTL"], "8760h");
    assert_eq!(config["Config"]["RootCertTTL"], "87600h");
    assert_eq!(config["Config"]["PrivateKeyType"], "ec");
    assert_eq!(config["Config"]["PrivateKeyBits"], 256);
    assert_eq!(config["ModifyIndex"].as_u64(), r.index);

    // What GET returns can be PUT back as is (ClusterID, State and indexes are ignored).
    let r = api.put_json("/v1/connect/ca/configuration", config.clone()).await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, String::new()));

    let mut shorter = config.clone();
    shorter["Config"]["LeafCertTTL"] = json!("24h");
    let r = api.put_json("/v1/connect/ca/configuration", shorter).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let after = api.get("/v1/connect/ca/configuration").await;
    assert_eq!(after.json()["Config"]["LeafCertTTL"], "24h");
    assert!(after.index.unwrap() > config["ModifyIndex"].as_u64().unwrap());
    let roots = api.get("/v1/connect/ca/roots").await.json();
    assert_eq!(roots["Roots"].as_array().unwrap().len(), 1, "a TTL change keeps the root");
    let issued = api.sign(&csr(&service_id(&td, "dc1", "web"), 1), json!("Any")).await.json();
    assert_eq!(issued["ValidBefore"], "2027-01-16T08:00:00Z", "new leaves use the new TTL");

    // ?cas must name the configuration's current ModifyIndex.
    let stale = format!("/v1/connect/ca/configuration?cas={}", config["ModifyIndex"]);
    let r = api.put_json(&stale, config.clone()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().contains("ModifyIndex is"), "{}", r.text());
    let current = format!("/v1/connect/ca/configuration?cas={}", after.index.unwrap());
    assert_eq!(api.put_json(&current, config).await.status, StatusCode::OK);
    api.shutdown().await;
}

#[tokio::test]
async fn bad_configuration_is_a_400_naming_the_field_and_changes_nothing() {
    let api = api().await;
    let before = api.get("/v1/connect/ca/configuration").await.json();
    let put = |config: Value| api.put_json("/v1/connect/ca/configuration", config);
    let cases = [
        (
            json!({"Provider": "consul", "Config": {"LeafCertTTL": "10m"}}),
            "invalid CA configuration: Config.LeafCertTTL: leaf cert TTL must be greater or equal than 1h0m0s",
        ),
        (
            json!({"Provider": "consul", "Config": {"LeafCertTTL": "9000h"}}),
            "invalid CA configuration: Config.LeafCertTTL: leaf cert TTL must be less than 8760h0m0s",
        ),
        (
            json!({"Provider": "consul", "Config": {"PrivateKeyBits": 512}}),
            "invalid CA configuration: Config.PrivateKeyBits: EC key length must be 256 or 384 bits, not 512",
        ),
        (
            json!({"Provider": "consul", "Config": {"PrivateKeyType": "rsa", "PrivateKeyBits": 1024}}),
            "invalid CA configuration: Config.PrivateKeyBits: RSA key length must be 2048 or 4096 bits, not 1024",
        ),
        (
            json!({"Provider": "consul", "Config": {"PrivateKeyType": "dsa"}}),
            "invalid CA configuration: Config.PrivateKeyType: private key type must be either 'ec' or 'rsa', not \"dsa\"",
        ),
        (
            json!({"Provider": "vault", "Config": {}}),
            "invalid CA configuration: Provider: unknown CA provider \"vault\" (only \"consul\" is built in)",
        ),
    ];
    for (body, message) in cases {
        let r = put(body.clone()).await;
        assert_eq!((r.status, r.text().as_str()), (StatusCode::BAD_REQUEST, message), "{body}");
    }
    let r = put(json!({"Provider": "consul", "Config": {"LeafTTL": "24h"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("invalid config key \"Config.LeafTTL\""), "{}", r.text());
    let r = put(json!({"Provider": "consul", "Config": {}, "State": {"PrivateKey": "x"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Provider State is read-only"), "{}", r.text());
    let r = api.call(Method::PUT, "/v1/connect/ca/configuration", "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Request decode failed: "), "{}", r.text());
    let r = api.put_json("/v1/connect/ca/configuration?cas=x", before.clone()).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::BAD_REQUEST, "Request decode failed: invalid cas")
    );
    assert_eq!(api.get("/v1/connect/ca/configuration").await.json(), before);
    api.shutdown().await;
}

#[tokio::test]
async fn a_new_key_size_rotates_the_root_and_keeps_the_old_one_published() {
    let api = api().await;
    let td = api.trust_domain().await;
    let old = api.sign(&csr(&service_id(&td, "dc1", "web"), 1), json!("Any")).await.json();
    let old_root = api.get("/v1/connect/ca/roots").await.json()["ActiveRootID"].clone();
    let body =
        json!({"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}});
    let r = api.put_json("/v1/connect/ca/configuration", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let roots = api.get("/v1/connect/ca/roots").await.json();
    let list = roots["Roots"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["Active"].as_bool(), list[0]["PrivateKeyBits"].as_u64()),
        (Some(true), Some(384))
    );
    assert_eq!(roots["ActiveRootID"], list[0]["ID"]);
    assert_eq!((list[1]["ID"].clone(), list[1]["Active"].as_bool()), (old_root, Some(false)));
    assert_eq!(list[0]["IntermediateCerts"].as_array().unwrap().len(), 1, "cross-signed copy");
    assert_eq!(roots["TrustDomain"], td.as_str(), "rotation keeps the trust domain");
    let pem = api.get("/v1/connect/ca/roots?pem=true").await;
    assert_eq!(
        pem_decode_all(&pem.text()).unwrap().len(),
        3,
        "two roots and the cross-signed copy"
    );

    let new = api.sign(&csr(&service_id(&td, "dc1", "api"), 2), json!("Any")).await.json();
    assert_eq!(new["RootID"], roots["ActiveRootID"]);
    let der = |root: &Value| pem_decode_all(root["RootCert"].as_str().unwrap()).unwrap().remove(0);
    let (new_der, old_der) = (der(&list[0]), der(&list[1]));
    let at = NOW.plus_secs(60);
    for chain in [&old["CertPEM"], &new["CertPEM"]] {
        let chain = chain.as_str().unwrap();
        verify(chain, &[new_der.clone(), old_der.clone()], at).expect("both roots trusted");
    }
    verify(new["CertPEM"].as_str().unwrap(), std::slice::from_ref(&old_der), at).expect(
        "a holder of the old bundle only verifies new leaves through the cross-signed copy",
    );
    api.shutdown().await;
}

#[tokio::test]
async fn sign_endpoint_answers_consuls_issued_cert() {
    let api = api().await;
    let td = api.trust_domain().await;
    let web = service_id(&td, "dc1", "web");
    let r = api.sign(&csr(&web, 1), json!({"Services": ["web"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cert = r.json();
    assert!(cert["SerialNumber"].as_str().unwrap().split(':').count() == 16);
    assert!(cert["CertPEM"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(cert["PrivateKeyPEM"], "");
    assert_eq!(cert["Service"], "web");
    assert_eq!(cert["ServiceURI"], web.to_string());
    assert_eq!(cert["ValidAfter"], "2027-01-15T07:59:00Z");
    assert_eq!(cert["ValidBefore"], "2027-01-18T08:00:00Z");
    let roots = api.get("/v1/connect/ca/roots").await;
    assert_eq!(cert["RootID"], roots.json()["ActiveRootID"]);
    assert_eq!(cert["CreateIndex"], cert["ModifyIndex"]);
    assert!(cert["ModifyIndex"].as_u64().unwrap() > 0);
    let root = pem_decode_all(roots.json()["Roots"][0]["RootCert"].as_str().unwrap()).unwrap();
    assert_eq!(verify(cert["CertPEM"].as_str().unwrap(), &root, NOW.plus_secs(60)).unwrap(), web);

    let agent = agent_id(&td, "node-1");
    let r = api.sign(&csr(&agent, 2), json!({"Agent": "node-1"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cert = r.json();
    assert_eq!(
        (cert["Agent"].as_str(), cert["AgentURI"].as_str()),
        (Some("node-1"), Some(agent.to_string().as_str()))
    );
    assert_eq!(cert["Service"], "");
    // Without a requester the caller may have any identity of this datacenter.
    let r = api
        .call(
            Method::PUT,
            "/v1/internal/connect/ca/sign",
            json!({"CSR": pem_encode("CERTIFICATE REQUEST", &csr(&web, 3))}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    api.shutdown().await;
}

#[tokio::test]
async fn sign_refusals_are_400s_naming_why() {
    let api = api().await;
    let td = api.trust_domain().await;
    let other_td = "22222222-2222-4222-8222-222222222222.consul";
    let r = api.sign(&csr(&service_id(other_td, "dc1", "web"), 1), json!("Any")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text(),
        format!("SPIFFE ID in CSR from a different trust domain: {other_td}, we are {td}")
    );
    let r = api.sign(&csr(&service_id(&td, "dc2", "web"), 1), json!("Any")).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::BAD_REQUEST, "SPIFFE ID in CSR from a different datacenter: dc2, we are dc1")
    );
    let other_agent = agent_id(&td, "node-2");
    let r = api.sign(&csr(&other_agent, 1), json!({"Agent": "node-1"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text(),
        format!("Permission denied: the requester may not obtain a certificate for {other_agent}")
    );
    let r = api.sign(&csr(&service_id(&td, "dc1", "db"), 1), json!({"Services": ["web"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Permission denied"), "{}", r.text());
    let r = api.put_json("/v1/internal/connect/ca/sign", json!({"CSR": "not pem"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("CSR is malformed"), "{}", r.text());
    let r = api.sign(b"garbage", json!("Any")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().starts_with("CSR is malformed or its signature does not verify"),
        "{}",
        r.text()
    );
    let r = api.put_json("/v1/internal/connect/ca/sign", json!({"Csr": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().starts_with("Request decode failed: "), "{}", r.text());
    api.shutdown().await;
}

#[tokio::test]
async fn the_csr_rate_limit_answers_429() {
    let api = api_with(|c| c.config.csr_max_per_second = 1.0).await;
    let td = api.trust_domain().await;
    let web = service_id(&td, "dc1", "web");
    assert_eq!(api.sign(&csr(&web, 1), json!("Any")).await.status, StatusCode::OK);
    let r = api.sign(&csr(&web, 2), json!("Any")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().starts_with("rate limit reached, try again later"), "{}", r.text());
    api.shutdown().await;
}

#[tokio::test]
async fn without_a_ca_manager_reads_work_and_ca_writes_are_refused() {
    let (node, _dir) = single_node().await;
    let app = router(node.clone(), 7);
    let api = Api { app, node, _dir };
    let roots = api.get("/v1/connect/ca/roots").await;
    assert_eq!(roots.status, StatusCode::OK);
    assert_eq!(roots.json(), json!({"ActiveRootID": "", "TrustDomain": "", "Roots": []}));
    let r = api.get("/v1/connect/ca/configuration").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "Connect CA is not initialized yet")
    );
    let r = api.put_json("/v1/internal/connect/ca/sign", json!({"CSR": ""})).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "Connect CA is not enabled on this server")
    );
    api.shutdown().await;
}
