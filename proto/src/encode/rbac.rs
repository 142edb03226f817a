//! `config.rbac.v3.RBAC` and the network and HTTP RBAC filters that carry it.
//!
//! Envoy's `policies` is a protobuf map (a `HashMap` in prost): its encoded order is
//! random, which is why versions are hashed from the ordered model, never from these bytes.

use envoy_types::pb::envoy::config::rbac::v3 as rbac_v3;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3 as http_rbac_v3;
use envoy_types::pb::envoy::extensions::filters::network::rbac::v3 as network_rbac_v3;
use proconsul_core::xds::model::{
    NetworkRbac, Permission, Principal, Rbac, RbacAction, RbacPolicy,
};

use super::string_matcher;

/// `envoy.filters.network.rbac` (L4 intentions; `stat_prefix` is required by Envoy).
pub(super) fn network(r: &NetworkRbac) -> network_rbac_v3::Rbac {
    network_rbac_v3::Rbac {
        rules: Some(rules(&r.rules)),
        stat_prefix: r.stat_prefix.clone(),
        ..Default::default()
    }
}

/// `envoy.filters.http.rbac` (intentions of http-like services).
pub(super) fn http(r: &Rbac) -> http_rbac_v3::Rbac {
    http_rbac_v3::Rbac { rules: Some(rules(r)), ..Default::default() }
}

/// The rules; always present, so `ALLOW` with no policies denies everyone (Consul's
/// default-deny `rules: {}`).
fn rules(r: &Rbac) -> rbac_v3::Rbac {
    let action = match r.action {
        RbacAction::Allow => rbac_v3::rbac::Action::Allow,
        RbacAction::Deny => rbac_v3::rbac::Action::Deny,
    };
    rbac_v3::Rbac {
        action: action as i32,
        policies: r.policies.iter().map(|(name, p)| (name.clone(), policy(p))).collect(),
        audit_logging_options: None,
    }
}

fn policy(p: &RbacPolicy) -> rbac_v3::Policy {
    rbac_v3::Policy {
        permissions: p.permissions.iter().map(permission).collect(),
        principals: p.principals.iter().map(principal).collect(),
        ..Default::default()
    }
}

fn permission(p: &Permission) -> rbac_v3::Permission {
    let rule = match p {
        Permission::Any => rbac_v3::permission::Rule::Any(true),
    };
    rbac_v3::Permission { rule: Some(rule) }
}

fn principal(p: &Principal) -> rbac_v3::Principal {
    use rbac_v3::principal::{Authenticated, Identifier, Set};
    let id = match p {
        Principal::Any => Identifier::Any(true),
        Principal::Authenticated(m) => {
            Identifier::Authenticated(Authenticated { principal_name: Some(string_matcher(m)) })
        }
        Principal::AndIds(ids) => {
            Identifier::AndIds(Set { ids: ids.iter().map(principal).collect() })
        }
        Principal::NotId(inner) => Identifier::NotId(Box::new(principal(inner))),
    };
    rbac_v3::Principal { identifier: Some(id) }
}
