//! The JSON of the internal signing endpoint (`PUT /v1/internal/connect/ca/sign`), shared by
//! the HTTP handler that answers it and the follower that forwards to it.

use std::collections::BTreeSet;

use proconsul_core::ca::{IssuedCert, Requester};
use proconsul_core::ids::SpiffeId;

/// The request: a CSR in PEM and who asks for it.
///
/// `{"CSR": "-----BEGIN CERTIFICATE REQUEST-----...", "Requester": {"Agent": "<node id>"}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The CSR, PEM encoded.
    #[serde(rename = "CSR")]
    pub csr: String,
    /// Who asks (without ACLs, the caller states it; the CA checks the identity against it).
    #[serde(rename = "Requester", default)]
    pub requester: RequesterJson,
}

/// [`Requester`] on the wire: `"Any"`, `{"Agent": "<node id>"}` or `{"Services": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequesterJson {
    /// An operator or server: any identity of this datacenter.
    #[default]
    Any,
    /// A client agent asking for its own agent certificate.
    Agent(String),
    /// A token with `service:write` on these services.
    Services(BTreeSet<String>),
}

impl From<&RequesterJson> for Requester {
    fn from(r: &RequesterJson) -> Self {
        match r {
            RequesterJson::Any => Requester::Any,
            RequesterJson::Agent(node) => Requester::Agent(node.clone()),
            RequesterJson::Services(names) => Requester::Services(names.clone()),
        }
    }
}

impl From<&Requester> for RequesterJson {
    fn from(r: &Requester) -> Self {
        match r {
            Requester::Any => RequesterJson::Any,
            Requester::Agent(node) => RequesterJson::Agent(node.clone()),
            Requester::Services(names) => RequesterJson::Services(names.clone()),
        }
    }
}

/// A signed leaf and the raft index of the CA state that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLeaf {
    /// The leaf with its chain and validity.
    pub cert: IssuedCert,
    /// Modify index of the CA provider state in force (Consul's Create/ModifyIndex).
    pub index: u64,
}

/// Consul's `IssuedCert` JSON: the core's fields (`SerialNumber`, `CertPEM`, `Service`,
/// `ServiceURI`, `ValidAfter`, `ValidBefore`, plus our `RootID`), an empty `PrivateKeyPEM`
/// (the key stays with the requester), `Agent`/`AgentURI` for agent leaves,
/// `Kind`/`KindURI` for mesh gateways, and `CreateIndex`/`ModifyIndex`.
///
/// `ServiceURI` carries the leaf's URI whatever its kind (Consul leaves it empty for agent
/// and gateway leaves); readers of those kinds should use `AgentURI`/`KindURI`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IssuedCertJson {
    /// The core's fields.
    #[serde(flatten)]
    pub cert: IssuedCert,
    /// Always empty here.
    #[serde(rename = "PrivateKeyPEM", default)]
    pub private_key_pem: String,
    /// Agent leaves: the node id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// Agent leaves: the SPIFFE ID.
    #[serde(rename = "AgentURI", default, skip_serializing_if = "String::is_empty")]
    pub agent_uri: String,
    /// Mesh gateway leaves: `mesh-gateway`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Mesh gateway leaves: the SPIFFE ID.
    #[serde(rename = "KindURI", default, skip_serializing_if = "String::is_empty")]
    pub kind_uri: String,
    /// The CA state's index.
    pub create_index: u64,
    /// The CA state's index.
    pub modify_index: u64,
}

impl From<&IssuedLeaf> for IssuedCertJson {
    fn from(leaf: &IssuedLeaf) -> Self {
        let mut json = IssuedCertJson {
            cert: leaf.cert.clone(),
            private_key_pem: String::new(),
            agent: String::new(),
            agent_uri: String::new(),
            kind: String::new(),
            kind_uri: String::new(),
            create_index: leaf.index,
            modify_index: leaf.index,
        };
        match leaf.cert.uri.parse::<SpiffeId>() {
            Ok(SpiffeId::Agent { node_id, .. }) => {
                json.agent = node_id;
                json.agent_uri = leaf.cert.uri.clone();
            }
            Ok(SpiffeId::MeshGateway { .. }) => {
                json.kind = "mesh-gateway".into();
                json.kind_uri = leaf.cert.uri.clone();
            }
            _ => {}
        }
        json
    }
}

impl From<IssuedCertJson> for IssuedLeaf {
    fn from(json: IssuedCertJson) -> Self {
        IssuedLeaf { cert: json.cert, index: json.modify_index }
    }
}
