//! The ADS messages the session consumes and produces, stripped of protobuf: the runtime
//! decodes Envoy's requests into these and encodes responses with `proto`.

use std::collections::BTreeMap;

use crate::xds::{TypeUrl, Versioned};

/// Which ADS flavour a stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Incremental xDS (`DeltaAggregatedResources`), the default as in Consul.
    Delta,
    /// State of the world (`StreamAggregatedResources`).
    StateOfTheWorld,
}

/// A `DeltaDiscoveryRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaRequest {
    /// The type URL as sent.
    pub type_url: String,
    /// Names to add to the subscription (empty on the first request of LDS/CDS = wildcard).
    pub subscribe: Vec<String>,
    /// Names to drop.
    pub unsubscribe: Vec<String>,
    /// On reconnect: what Envoy already has.
    pub initial_versions: BTreeMap<String, String>,
    /// Nonce of the response this acknowledges (empty for a plain subscription change).
    pub response_nonce: String,
    /// Set when Envoy rejected that response.
    pub error_detail: Option<String>,
}

/// A SotW `DiscoveryRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SotwRequest {
    /// The type URL as sent.
    pub type_url: String,
    /// The full list of names wanted (empty = all, for LDS/CDS).
    pub resource_names: Vec<String>,
    /// The version Envoy last accepted.
    pub version_info: String,
    /// Nonce of the response this acknowledges.
    pub response_nonce: String,
    /// Set when Envoy rejected that response.
    pub error_detail: Option<String>,
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<R> {
    /// A `DeltaDiscoveryResponse`.
    Delta {
        /// Resource type.
        type_url: TypeUrl,
        /// Nonce Envoy echoes in its ACK or NACK.
        nonce: String,
        /// Added or changed resources, by name.
        resources: Vec<(String, Versioned<R>)>,
        /// Names Envoy should drop.
        removed: Vec<String>,
    },
    /// A SotW `DiscoveryResponse`: every resource of the type Envoy should have.
    Sotw {
        /// Resource type.
        type_url: TypeUrl,
        /// Version of the whole set.
        version_info: String,
        /// Nonce Envoy echoes.
        nonce: String,
        /// The resources.
        resources: Vec<(String, Versioned<R>)>,
    },
}

impl<R> Response<R> {
    /// The response's type.
    pub fn type_url(&self) -> TypeUrl {
        match self {
            Response::Delta { type_url, .. } | Response::Sotw { type_url, .. } => *type_url,
        }
    }

    /// The response's nonce.
    pub fn nonce(&self) -> &str {
        match self {
            Response::Delta { nonce, .. } | Response::Sotw { nonce, .. } => nonce,
        }
    }
}

/// A request the session cannot act on; the runtime answers it with a gRPC status
/// (`InvalidArgument`) and closes the stream. The session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdsError {
    /// A type URL we do not serve.
    #[error("unsupported resource type {0:?}")]
    UnknownType(String),
    /// A delta request on a SotW stream or the reverse.
    #[error("{0} request on a {1} stream")]
    WrongProtocol(&'static str, &'static str),
    /// More subscribed names than any proxy needs.
    #[error("too many subscribed resources for {type_url}: {count} > {max}")]
    TooManySubscriptions {
        /// Type.
        type_url: TypeUrl,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// The last rejection Envoy sent for a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Nonce of the rejected response.
    pub nonce: String,
    /// Envoy's message.
    pub error_detail: String,
}

/// Resources that other resources depend on: when a parent is (re)sent, Envoy drops the
/// state of its children, so they must be resent too (Envoy's xDS protocol notes).
pub trait XdsResource {
    /// `(type, name)` of the resources this one references by name and whose state Envoy
    /// resets when this one changes: a cluster's endpoints, a listener's RDS route.
    fn children(&self) -> Vec<(TypeUrl, String)>;
}

impl XdsResource for () {
    fn children(&self) -> Vec<(TypeUrl, String)> {
        Vec::new()
    }
}
