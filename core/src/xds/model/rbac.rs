//! Role-based access control (`config.rbac.v3.RBAC`), the form intentions take in Envoy
//! (CONSUL-FACTS.md §2.3). The same rules serve the network filter (L4, `tcp` services) and
//! the HTTP filter (http-like services).

use std::collections::BTreeMap;

use super::common::StringMatcher;

/// What matching a policy means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RbacAction {
    /// Allow what a policy matches, deny the rest (default deny: the policies list the
    /// allow intentions). Envoy's default, so `rules: {}` in Consul's golden files.
    #[default]
    Allow,
    /// Deny what a policy matches, allow the rest (default allow: the policies list the
    /// deny intentions).
    Deny,
}

/// `RBAC`: an action and named policies. Policies are a map in Envoy; ordered here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Rbac {
    /// The action.
    pub action: RbacAction,
    /// Policies by name (`consul-intentions-layer4`, `consul-intentions-layer7-<i>`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, RbacPolicy>,
}

/// `Policy`: matches when any permission and any principal match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RbacPolicy {
    /// What the caller may do.
    pub permissions: Vec<Permission>,
    /// Who the caller is.
    pub principals: Vec<Principal>,
}

/// `Permission`. Intentions without L7 permissions grant everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Any action.
    Any,
}

/// `Principal`: the caller's identity, its client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// Anyone.
    Any,
    /// `authenticated.principal_name`: the certificate's URI SAN (its SPIFFE ID).
    Authenticated(StringMatcher),
    /// `and_ids`: all of these.
    AndIds(Vec<Principal>),
    /// `not_id`: not this one.
    NotId(Box<Principal>),
}

/// `extensions.filters.network.rbac.v3.RBAC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct NetworkRbac {
    /// Stats prefix (`connect_authz`: dashboards read `connect_authz.rbac.denied`).
    pub stat_prefix: String,
    /// The rules.
    pub rules: Rbac,
}
