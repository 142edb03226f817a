//! CA configuration in the shape of Consul's `/v1/connect/ca/configuration`
//! (CONSUL-FACTS.md §6.1), with its limits.

use serde_json::Value;

use crate::config::GoDuration;

/// `{"Provider": "consul", "Config": {...}, "ForceWithoutCrossSigning": false}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CaConfig {
    /// Only `consul`, the built-in provider.
    pub provider: String,
    /// Provider settings.
    pub config: ProviderConfig,
    /// Rotate even when the old root cannot cross-sign the new one.
    pub force_without_cross_signing: bool,
}

/// The built-in provider's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProviderConfig {
    /// Lifetime of leaf certificates (72h).
    #[serde(rename = "LeafCertTTL")]
    pub leaf_cert_ttl: GoDuration,
    /// Lifetime of intermediates (8760h).
    #[serde(rename = "IntermediateCertTTL")]
    pub intermediate_cert_ttl: GoDuration,
    /// Lifetime of the root (87600h).
    #[serde(rename = "RootCertTTL")]
    pub root_cert_ttl: GoDuration,
    /// `ec` or `rsa`.
    pub private_key_type: String,
    /// 256 or 384 for `ec`, 2048 or 4096 for `rsa`.
    pub private_key_bits: u32,
    /// Leaf signing rate limit; 0 means unlimited.
    #[serde(rename = "CSRMaxPerSecond")]
    pub csr_max_per_second: f64,
    /// Concurrent signings; 0 means use the rate limit instead.
    #[serde(rename = "CSRMaxConcurrent")]
    pub csr_max_concurrent: u32,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            provider: "consul".into(),
            config: ProviderConfig::default(),
            force_without_cross_signing: false,
        }
    }
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            leaf_cert_ttl: GoDuration::from_secs(72 * HOUR),
            intermediate_cert_ttl: GoDuration::from_secs(8760 * HOUR),
            root_cert_ttl: GoDuration::from_secs(87600 * HOUR),
            private_key_type: "ec".into(),
            private_key_bits: 256,
            csr_max_per_second: 50.0,
            csr_max_concurrent: 0,
        }
    }
}

const HOUR: i64 = 3600;

/// A CA setting that is out of range. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CaConfigError {
    /// The field, e.g. `Config.LeafCertTTL`.
    pub field: &'static str,
    /// Why it is refused.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> CaConfigError {
    CaConfigError { field, message: message.into() }
}

impl CaConfig {
    /// Reads the API JSON (CamelCase or snake_case keys; unknown keys are refused by name).
    pub fn from_value(value: Value) -> Result<Self, CaConfigError> {
        let config: CaConfig =
            crate::config::decode_value(value).map_err(|e| refuse("CAConfig", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Consul's limits (CONSUL-FACTS.md §6.1), plus the key sizes we implement.
    pub fn validate(&self) -> Result<(), CaConfigError> {
        if self.provider != "consul" {
            return Err(refuse(
                "Provider",
                format!("unknown CA provider {:?} (only \"consul\" is built in)", self.provider),
            ));
        }
        let c = &self.config;
        let leaf = c.leaf_cert_ttl.as_nanos();
        let hour = GoDuration::from_secs(HOUR).as_nanos();
        if leaf < hour {
            return Err(refuse(
                "Config.LeafCertTTL",
                "leaf cert TTL must be greater or equal than 1h0m0s",
            ));
        }
        if leaf >= 8760 * hour {
            return Err(refuse("Config.LeafCertTTL", "leaf cert TTL must be less than 8760h0m0s"));
        }
        let intermediate = c.intermediate_cert_ttl.as_nanos();
        if intermediate < 3 * hour {
            return Err(refuse(
                "Config.IntermediateCertTTL",
                "intermediate cert TTL must be greater or equal than 3h0m0s",
            ));
        }
        if intermediate < 3 * leaf {
            return Err(refuse(
                "Config.IntermediateCertTTL",
                format!(
                    "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>={})",
                    GoDuration::from_nanos(3 * leaf)
                ),
            ));
        }
        if c.root_cert_ttl.as_nanos() <= intermediate {
            return Err(refuse(
                "Config.RootCertTTL",
                format!(
                    "root cert TTL is set and is not greater than intermediate cert ttl. root cert ttl: {}, intermediate cert ttl: {}",
                    c.root_cert_ttl, c.intermediate_cert_ttl
                ),
            ));
        }
        self.key_type()?;
        if !c.csr_max_per_second.is_finite() || c.csr_max_per_second < 0.0 {
            return Err(refuse("Config.CSRMaxPerSecond", "must be a number >= 0"));
        }
        Ok(())
    }

    /// The CA key kind these settings ask for.
    pub fn key_type(&self) -> Result<super::KeyType, CaConfigError> {
        use super::KeyType;
        match (self.config.private_key_type.as_str(), self.config.private_key_bits) {
            ("ec", 256) => Ok(KeyType::EcP256),
            ("ec", 384) => Ok(KeyType::EcP384),
            ("rsa", 2048) => Ok(KeyType::Rsa2048),
            ("rsa", 4096) => Ok(KeyType::Rsa4096),
            ("ec", bits) => Err(refuse(
                "Config.PrivateKeyBits",
                format!("EC key length must be 256 or 384 bits, not {bits}"),
            )),
            ("rsa", bits) => Err(refuse(
                "Config.PrivateKeyBits",
                format!("RSA key length must be 2048 or 4096 bits, not {bits}"),
            )),
            (other, _) => Err(refuse(
                "Config.PrivateKeyType",
                format!("private key type must be either 'ec' or 'rsa', not {other:?}"),
            )),
        }
    }
}
