//! Pieces shared by several config entry kinds.

use std::collections::BTreeMap;
use std::fmt;

/// How a proxy reaches targets in other datacenters (CONSUL-FACTS.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum MeshGatewayMode {
    /// Not set here: inherit from the next level (proxy-defaults, then `none`).
    #[default]
    Default,
    /// Dial remote instances directly.
    None,
    /// Dial the local datacenter's mesh gateways.
    Local,
    /// Dial the remote datacenter's mesh gateways.
    Remote,
}

impl MeshGatewayMode {
    /// The wire spelling: `""`, `none`, `local` or `remote`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeshGatewayMode::Default => "",
            MeshGatewayMode::None => "none",
            MeshGatewayMode::Local => "local",
            MeshGatewayMode::Remote => "remote",
        }
    }

    /// True when unset.
    pub fn is_default(&self) -> bool {
        *self == MeshGatewayMode::Default
    }
}

impl fmt::Display for MeshGatewayMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MeshGatewayMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "" => MeshGatewayMode::Default,
            "none" => MeshGatewayMode::None,
            "local" => MeshGatewayMode::Local,
            "remote" => MeshGatewayMode::Remote,
            _ => return Err(format!("Invalid Mesh Gateway Mode: {s:?}")),
        })
    }
}

impl serde::Serialize for MeshGatewayMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for MeshGatewayMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// `MeshGateway { Mode }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MeshGatewayConfig {
    /// The mode; unset inherits.
    #[serde(skip_serializing_if = "MeshGatewayMode::is_default")]
    pub mode: MeshGatewayMode,
}

impl MeshGatewayConfig {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.mode.is_default()
    }
}

/// Header manipulation on a route or split (`RequestHeaders`/`ResponseHeaders`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HttpHeaderModifiers {
    /// Headers appended to any existing value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    /// Headers replacing any existing value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Headers removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl HttpHeaderModifiers {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.remove.is_empty()
    }
}

/// The protocols Consul's discovery chain distinguishes.
pub const PROTOCOLS: [&str; 4] = ["tcp", "http", "http2", "grpc"];

/// True for protocols that allow routers and splitters (L7).
pub fn is_http_like(protocol: &str) -> bool {
    matches!(protocol, "http" | "http2" | "grpc")
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

pub(crate) fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

/// `MutualTLSMode` is empty, `strict` or `permissive`.
pub(crate) fn check_mutual_tls_mode(mode: &str) -> Result<(), String> {
    if matches!(mode, "" | "strict" | "permissive") {
        Ok(())
    } else {
        Err(format!("Invalid MutualTLSMode {mode:?}"))
    }
}

pub(crate) fn check_protocol(field: &str, protocol: &str) -> Result<(), String> {
    if protocol.is_empty() || PROTOCOLS.contains(&protocol) {
        Ok(())
    } else {
        Err(format!("{field} {protocol:?} is not supported (want one of tcp, http, http2, grpc)"))
    }
}

/// Declares a config entry struct with the fields every kind shares: `Name`, `Partition` and
/// `Namespace` first, then the kind's own fields, then `Meta` and the Raft indexes, so every
/// kind is written in the same key order. (serde's `flatten` would hide the field list the
/// forgiving reader in `de.rs` needs to name unknown keys.)
macro_rules! entry_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "PascalCase", default)]
        pub struct $name {
            /// The entry's name: the service it applies to (`global` for proxy-defaults).
            pub name: String,
            /// Admin partition (Enterprise; empty in CE).
            #[serde(skip_serializing_if = "String::is_empty")]
            pub partition: String,
            /// Namespace (Enterprise; empty in CE).
            #[serde(skip_serializing_if = "String::is_empty")]
            pub namespace: String,
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Free-form metadata.
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            pub meta: std::collections::BTreeMap<String, String>,
            /// Raft index at creation (output only).
            #[serde(skip_serializing_if = "crate::config::common::is_zero_u64")]
            pub create_index: u64,
            /// Raft index of the last change (output only).
            #[serde(skip_serializing_if = "crate::config::common::is_zero_u64")]
            pub modify_index: u64,
        }
    };
}
pub(crate) use entry_struct;
