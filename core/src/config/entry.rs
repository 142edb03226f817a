//! One config entry of any kind, and reading and writing it as JSON or HCL.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::de::{self, DecodeError};
use super::{
    ProxyDefaults, ServiceDefaults, ServiceIntentions, ServiceResolver, ServiceRouter,
    ServiceSplitter,
};

/// The kinds of config entry Proconsul understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `service-defaults`
    ServiceDefaults,
    /// `proxy-defaults`
    ProxyDefaults,
    /// `service-router`
    ServiceRouter,
    /// `service-splitter`
    ServiceSplitter,
    /// `service-resolver`
    ServiceResolver,
    /// `service-intentions`
    ServiceIntentions,
    /// `ingress-gateway`
    IngressGateway,
}

impl Kind {
    /// Every kind, in the order Consul documents them.
    pub const ALL: [Kind; 7] = [
        Kind::ServiceDefaults,
        Kind::ProxyDefaults,
        Kind::ServiceRouter,
        Kind::ServiceSplitter,
        Kind::ServiceResolver,
        Kind::ServiceIntentions,
        Kind::IngressGateway,
    ];

    /// The wire name, e.g. `service-router`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ServiceDefaults => "service-defaults",
            Kind::ProxyDefaults => "proxy-defaults",
            Kind::ServiceRouter => "service-router",
            Kind::ServiceSplitter => "service-splitter",
            Kind::ServiceResolver => "service-resolver",
            Kind::ServiceIntentions => "service-intentions",
            Kind::IngressGateway => "ingress-gateway",
        }
    }

    fn known_list() -> String {
        Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ConfigError::UnknownKind(s.to_owned()))
    }
}

/// A config entry of any kind.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "entries live in ordered maps and are cloned rarely; boxing buys nothing measurable"
)]
pub enum ConfigEntry {
    /// `service-defaults`
    ServiceDefaults(ServiceDefaults),
    /// `proxy-defaults`
    ProxyDefaults(ProxyDefaults),
    /// `service-router`
    ServiceRouter(ServiceRouter),
    /// `service-splitter`
    ServiceSplitter(ServiceSplitter),
    /// `service-resolver`
    ServiceResolver(ServiceResolver),
    /// `service-intentions`
    ServiceIntentions(ServiceIntentions),
    /// `ingress-gateway`
    IngressGateway(super::IngressGateway),
}

/// Why a config entry was refused. Nothing was stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The text is not valid HCL.
    #[error("invalid HCL: {0}")]
    Hcl(String),
    /// The document is not an object.
    #[error("config entry must be an object")]
    NotAnObject,
    /// No `Kind` field.
    #[error("Kind is required (known kinds: {})", Kind::known_list())]
    MissingKind,
    /// `Kind` is not a string.
    #[error("Kind must be a string (known kinds: {known})", known = Kind::known_list())]
    KindNotAString,
    /// A `Kind` we do not know.
    #[error("invalid config entry kind: {0:?} (known kinds: {known})", known = Kind::known_list())]
    UnknownKind(String),
    /// A field is unknown, duplicated or of the wrong type.
    #[error("{0}")]
    Decode(DecodeError),
    /// The entry is valid alone but would break a discovery chain or an intention.
    #[error("{0}")]
    Graph(super::GraphError),
    /// The entry decoded but breaks a rule of its kind; the message is Consul's.
    #[error("{kind} {name:?}: {message}")]
    Invalid {
        /// Kind of the entry.
        kind: Kind,
        /// Name of the entry.
        name: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

impl ConfigEntry {
    /// The entry's kind.
    pub fn kind(&self) -> Kind {
        match self {
            ConfigEntry::ServiceDefaults(_) => Kind::ServiceDefaults,
            ConfigEntry::ProxyDefaults(_) => Kind::ProxyDefaults,
            ConfigEntry::ServiceRouter(_) => Kind::ServiceRouter,
            ConfigEntry::ServiceSplitter(_) => Kind::ServiceSplitter,
            ConfigEntry::ServiceResolver(_) => Kind::ServiceResolver,
            ConfigEntry::ServiceIntentions(_) => Kind::ServiceIntentions,
            ConfigEntry::IngressGateway(_) => Kind::IngressGateway,
        }
    }

    /// The entry's name.
    pub fn name(&self) -> &str {
        match self {
            ConfigEntry::ServiceDefaults(e) => &e.name,
            ConfigEntry::ProxyDefaults(e) => &e.name,
            ConfigEntry::ServiceRouter(e) => &e.name,
            ConfigEntry::ServiceSplitter(e) => &e.name,
            ConfigEntry::ServiceResolver(e) => &e.name,
            ConfigEntry::ServiceIntentions(e) => &e.name,
            ConfigEntry::IngressGateway(e) => &e.name,
        }
    }

    /// Reads an entry from Consul API JSON (CamelCase or snake_case keys), then normalizes
    /// and validates it on its own.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads an entry from an HCL file as `consul config write` takes it.
    pub fn from_hcl(text: &str) -> Result<Self, ConfigError> {
        let value = super::hcl1::parse(text).map_err(|e| ConfigError::Hcl(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads an entry from a decoded document, then normalizes and validates it.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let mut entry = Self::decode(value)?;
        entry.normalize();
        entry.validate()?;
        Ok(entry)
    }

    /// Decodes without normalizing or validating: for tools that want to report every
    /// problem of a file, and for tests of validation itself.
    pub fn decode(value: Value) -> Result<Self, ConfigError> {
        let Value::Object(mut map) = value else { return Err(ConfigError::NotAnObject) };
        let kind_key = map
            .keys()
            .find(|k| de::fold_key(k) == "kind")
            .cloned()
            .ok_or(ConfigError::MissingKind)?;
        let kind = match map.shift_remove(&kind_key) {
            Some(Value::String(s)) => s.parse::<Kind>()?,
            Some(_) => return Err(ConfigError::KindNotAString),
            None => return Err(ConfigError::MissingKind),
        };
        let body = Value::Object(map);
        let decoded = match kind {
            Kind::ServiceDefaults => de::from_value(body).map(ConfigEntry::ServiceDefaults),
            Kind::ProxyDefaults => de::from_value(body).map(ConfigEntry::ProxyDefaults),
            Kind::ServiceRouter => de::from_value(body).map(ConfigEntry::ServiceRouter),
            Kind::ServiceSplitter => de::from_value(body).map(ConfigEntry::ServiceSplitter),
            Kind::ServiceResolver => de::from_value(body).map(ConfigEntry::ServiceResolver),
            Kind::ServiceIntentions => de::from_value(body).map(ConfigEntry::ServiceIntentions),
            Kind::IngressGateway => de::from_value(body).map(ConfigEntry::IngressGateway),
        };
        decoded.map_err(ConfigError::Decode)
    }

    /// Consul's `Normalize`: lower-cases protocols and actions, upper-cases methods, rounds
    /// split weights to 0.01, computes intention precedence.
    pub fn normalize(&mut self) {
        match self {
            ConfigEntry::ServiceDefaults(e) => e.normalize(),
            ConfigEntry::ProxyDefaults(e) => e.normalize(),
            ConfigEntry::ServiceRouter(e) => e.normalize(),
            ConfigEntry::ServiceSplitter(e) => e.normalize(),
            ConfigEntry::ServiceResolver(e) => e.normalize(),
            ConfigEntry::ServiceIntentions(e) => e.normalize(),
            ConfigEntry::IngressGateway(e) => e.normalize(),
        }
    }

    /// Consul's `Validate`: the rules an entry must meet on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let result = match self {
            ConfigEntry::ServiceDefaults(e) => e.validate(),
            ConfigEntry::ProxyDefaults(e) => e.validate(),
            ConfigEntry::ServiceRouter(e) => e.validate(),
            ConfigEntry::ServiceSplitter(e) => e.validate(),
            ConfigEntry::ServiceResolver(e) => e.validate(),
            ConfigEntry::ServiceIntentions(e) => e.validate(),
            ConfigEntry::IngressGateway(e) => e.validate(),
        };
        result.and_then(|()| self.check_names()).map_err(|message| ConfigError::Invalid {
            kind: self.kind(),
            name: self.name().to_owned(),
            message,
        })
    }

    /// Names end up in SPIFFE IDs, SNI labels and Envoy resource names; refuse one that can
    /// never be a service name here, where it was written, not deep inside xDS generation.
    fn check_names(&self) -> Result<(), String> {
        crate::ids::ServiceName::new(self.name()).map_err(|e| format!("Name: {e}"))?;
        for referenced in super::graph::references(self) {
            crate::ids::ServiceName::new(referenced).map_err(|e| e.to_string())?;
        }
        if let ConfigEntry::ServiceIntentions(e) = self {
            for (i, s) in e.sources.iter().enumerate() {
                crate::ids::ServiceName::new(s.name.as_str())
                    .map_err(|e| format!("Sources[{i}].Name: {e}"))?;
            }
        }
        Ok(())
    }

    /// The entry as Consul API JSON (`Kind` first, CamelCase keys, empty fields omitted).
    pub fn to_value(&self) -> Value {
        let body = match self {
            ConfigEntry::ServiceDefaults(e) => serde_json::to_value(e),
            ConfigEntry::ProxyDefaults(e) => serde_json::to_value(e),
            ConfigEntry::ServiceRouter(e) => serde_json::to_value(e),
            ConfigEntry::ServiceSplitter(e) => serde_json::to_value(e),
            ConfigEntry::ServiceResolver(e) => serde_json::to_value(e),
            ConfigEntry::ServiceIntentions(e) => serde_json::to_value(e),
            ConfigEntry::IngressGateway(e) => serde_json::to_value(e),
        };
        let mut out = Map::new();
        out.insert("Kind".into(), Value::String(self.kind().as_str().into()));
        // Serializing plain structs of strings, numbers and maps with string keys cannot fail.
        if let Ok(Value::Object(fields)) = body {
            out.extend(fields);
        }
        Value::Object(out)
    }

    /// The entry as pretty-printed Consul API JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }
}

impl serde::Serialize for ConfigEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for ConfigEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        ConfigEntry::from_value(value).map_err(serde::de::Error::custom)
    }
}
