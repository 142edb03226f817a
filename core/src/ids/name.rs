//! Validated name newtypes: datacenters, services, namespaces, partitions, nodes.
//!
//! Names travel into SPIFFE IDs, SNI labels and Envoy resource names, so a bad one must be
//! refused where it enters the system rather than deep inside xDS generation. The rules are
//! deliberately those every such name shares (non-empty, bounded, printable, no whitespace);
//! narrower rules (DNS labels for subsets, `*` only where wildcards mean something) live with
//! the feature that needs them.

use std::fmt;
use std::str::FromStr;

/// Longest name we accept, in bytes. Consul has no single limit; this keeps every derived
/// name (SNI, cluster names) comfortably bounded.
pub const NAME_MAX_BYTES: usize = 256;

/// Why a name was refused. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name was empty.
    #[error("{kind} name is required")]
    Empty {
        /// What kind of name it was (e.g. `service`).
        kind: &'static str,
    },
    /// The name was longer than [`NAME_MAX_BYTES`].
    #[error("{kind} name {name:?} is longer than {NAME_MAX_BYTES} bytes")]
    TooLong {
        /// What kind of name it was.
        kind: &'static str,
        /// The offending name.
        name: String,
    },
    /// The name contained whitespace or a control character.
    #[error("{kind} name {name:?} contains whitespace or a control character")]
    BadCharacter {
        /// What kind of name it was.
        kind: &'static str,
        /// The offending name.
        name: String,
    },
}

pub(crate) fn check_name(kind: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > NAME_MAX_BYTES {
        return Err(NameError::TooLong { kind, name: name.to_owned() });
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NameError::BadCharacter { kind, name: name.to_owned() });
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// Validates and wraps a name.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                check_name($kind, &name)?;
                Ok(Self(name))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// True when the name is the wildcard `*`.
            pub fn is_wildcard(&self) -> bool {
                self.0 == "*"
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

macro_rules! defaulted_name {
    ($ty:ident) => {
        impl $ty {
            /// The `default` value, which Consul CE uses everywhere and omits from paths.
            pub fn default_name() -> Self {
                Self("default".to_owned())
            }

            /// True for `default`.
            pub fn is_default(&self) -> bool {
                self.0 == "default"
            }

            /// Reads an optional name where empty means `default`, as Consul does.
            pub fn or_default(name: &str) -> Result<Self, NameError> {
                if name.is_empty() { Ok(Self::default_name()) } else { Self::new(name) }
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::default_name()
            }
        }
    };
}

name_type!(
    /// A datacenter name such as `dc1`.
    Datacenter,
    "datacenter"
);
name_type!(
    /// A service name such as `web`; `*` where a wildcard is meaningful (intentions).
    ServiceName,
    "service"
);
name_type!(
    /// A namespace; always `default` in the community edition.
    Namespace,
    "namespace"
);
name_type!(
    /// An admin partition; always `default` in the community edition.
    Partition,
    "partition"
);
name_type!(
    /// A node (agent) name.
    NodeName,
    "node"
);
defaulted_name!(Namespace);
defaulted_name!(Partition);
