//! `authorize`: may this caller open a connection to that service? The same decision
//! `/v1/agent/connect/authorize` returns, with Consul's reason strings.

use super::intention::Intention;
use crate::ids::{ServiceName, SpiffeId};

/// What happens when no intention matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultPolicy {
    /// Allow (Consul's default with ACLs disabled or `default_policy = "allow"`).
    #[default]
    Allow,
    /// Deny.
    Deny,
}

impl std::str::FromStr for DefaultPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "allow" => Ok(DefaultPolicy::Allow),
            "deny" => Ok(DefaultPolicy::Deny),
            _ => Err(format!("default policy must be 'allow' or 'deny', not {s:?}")),
        }
    }
}

/// The answer, as `{"Authorized": bool, "Reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Decision {
    /// Whether the connection may proceed.
    pub authorized: bool,
    /// Why, in Consul's words.
    pub reason: String,
}

/// Why a request could not be evaluated at all (Consul answers these with HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// No destination.
    #[error("Target service must be specified")]
    MissingTarget,
    /// The client certificate URI is not a SPIFFE ID we understand.
    #[error("ClientCertURI not a valid Connect identifier")]
    InvalidUri,
    /// A valid identity that is not a service (an agent, the CA).
    #[error("ClientCertURI not a valid Service identifier")]
    NotAService,
}

/// Parses a client certificate URI and authorizes it; the errors are the 400 cases.
pub fn authorize_uri(
    intentions: &[Intention],
    client_cert_uri: &str,
    target: &str,
    default: DefaultPolicy,
) -> Result<Decision, AuthorizeError> {
    if target.is_empty() {
        return Err(AuthorizeError::MissingTarget);
    }
    let target = ServiceName::new(target).map_err(|_| AuthorizeError::MissingTarget)?;
    let source: SpiffeId = client_cert_uri.parse().map_err(|_| AuthorizeError::InvalidUri)?;
    authorize(intentions, &source, &target, default)
}

/// Decides whether `source` may connect to `destination`. `intentions` must be in
/// evaluation order ([`Intention::all`]). The first intention for the destination whose
/// source matches decides; L7 intentions deny at connection level (they are enforced per
/// request by the proxy). Without a match the default policy decides. The source's trust
/// domain and datacenter are not checked, as in Consul.
pub fn authorize(
    intentions: &[Intention],
    source: &SpiffeId,
    destination: &ServiceName,
    default: DefaultPolicy,
) -> Result<Decision, AuthorizeError> {
    let SpiffeId::Service { partition, namespace, service, .. } = source else {
        return Err(AuthorizeError::NotAService);
    };
    // Community edition: every destination lives in the `default` namespace (a ServiceName
    // carries none); the caller's namespace comes from its SPIFFE ID.
    let matched = intentions.iter().find(|i| {
        i.matches_destination("default", destination.as_str())
            && i.matches_source(partition.as_str(), namespace.as_str(), service.as_str())
    });
    Ok(match matched {
        Some(i) if i.is_l7() => {
            Decision { authorized: false, reason: format!("Matched L7 intention: {i}") }
        }
        Some(i) => Decision {
            authorized: matches!(i.action, super::IntentionAction::Allow),
            reason: format!("Matched L4 intention: {i}"),
        },
        None => Decision {
            authorized: default == DefaultPolicy::Allow,
            reason: "Default behavior configured by ACLs".to_owned(),
        },
    })
}
