//! `service-resolver`: subsets, redirects, failover and timeouts of a service
//! (CONSUL-FACTS.md §3.5).

use std::collections::BTreeMap;

use serde_json::Value;

use super::common::{entry_struct, is_false};
use super::duration::GoDuration;

entry_struct! {
    /// A `service-resolver` entry.
    pub struct ServiceResolver {
        /// Subset used when a request names none.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub default_subset: String,
        /// Named subsets of the service's instances.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub subsets: BTreeMap<String, ResolverSubset>,
        /// Sends every request for this service elsewhere.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub redirect: Option<ResolverRedirect>,
        /// Failover per subset name, or `*` for all.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub failover: BTreeMap<String, ResolverFailover>,
        /// Connect timeout to instances (default 5s in the compiled chain).
        #[serde(skip_serializing_if = "GoDuration::is_zero_ref")]
        pub connect_timeout: GoDuration,
        /// Request timeout (default: Envoy's 15s).
        #[serde(skip_serializing_if = "GoDuration::is_zero_ref")]
        pub request_timeout: GoDuration,
        /// Load balancing policy.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub load_balancer: Option<LoadBalancer>,
        /// Locality preferences, kept as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub prioritize_by_locality: Option<Value>,
    }
}

/// A named subset: the instances matching a filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResolverSubset {
    /// Filter expression over the service instance (`Service.Meta.version == v1`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// Only instances whose checks all pass.
    #[serde(skip_serializing_if = "is_false")]
    pub only_passing: bool,
}

/// Where a redirect sends requests.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResolverRedirect {
    /// Target service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Target subset (requires `Service`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Target namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Target partition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Target datacenter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Target cluster peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// Target sameness group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sameness_group: String,
}

impl ResolverRedirect {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == ResolverRedirect::default()
    }
}

/// Where requests go when the primary target has no healthy instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResolverFailover {
    /// Failover service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Failover subset.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Failover namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Datacenters to try in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    /// Explicit targets to try in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<FailoverTarget>,
    /// Ordering policy, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<FailoverPolicy>,
    /// Sameness group to fail over through.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sameness_group: String,
}

/// One explicit failover target.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FailoverTarget {
    /// Service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Subset.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Partition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Datacenter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Cluster peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
}

/// `Failover[..].Policy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FailoverPolicy {
    /// `""`, `sequential` or `order-by-locality`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Region order for `order-by-locality`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// `LoadBalancer { Policy, ... }`; the hash policies are kept as written.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoadBalancer {
    /// `""`, `random`, `round_robin`, `least_request`, `ring_hash` or `maglev`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub policy: String,
    /// Ring hash sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_hash_config: Option<Value>,
    /// Least-request choice count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub least_request_config: Option<Value>,
    /// Hash policies (ring_hash and maglev only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hash_policies: Vec<Value>,
}

impl ServiceResolver {
    /// Consul's `IsDefault`: nothing but the name is set, so the compiled resolver node is
    /// marked `Default`.
    pub fn is_default(&self) -> bool {
        self.default_subset.is_empty()
            && self.subsets.is_empty()
            && self.redirect.is_none()
            && self.failover.is_empty()
            && self.connect_timeout.is_zero()
            && self.request_timeout.is_zero()
            && self.load_balancer.is_none()
            && self.prioritize_by_locality.is_none()
    }

    pub(crate) fn normalize(&mut self) {}

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Name is required".into());
        }
        if self.name == "*" {
            return Err(
                "service-resolver name must be the name of a service, and not a wildcard".into()
            );
        }
        for (name, subset) in &self.subsets {
            if !is_valid_subset_name(name) {
                return Err(format!(
                    "Subset {name:?} is invalid: must be 63 characters or fewer, begin or end with lower case alphanumeric characters, and contain lower case alphanumeric characters or '-' in between"
                ));
            }
            if !subset.filter.is_empty()
                && let Err(e) = crate::filter::Filter::parse(&subset.filter)
            {
                return Err(format!("Filter for subset {name:?} is not a valid expression: {e}"));
            }
        }
        if !self.default_subset.is_empty() && !self.subsets.contains_key(&self.default_subset) {
            return Err(format!("DefaultSubset {:?} is not a valid subset", self.default_subset));
        }
        if let Some(r) = &self.redirect {
            self.validate_redirect(r)?;
        }
        for (key, f) in &self.failover {
            self.validate_failover(key, f)?;
        }
        if self.connect_timeout.is_negative() {
            return Err(format!("Bad ConnectTimeout '{}', must be >= 0", self.connect_timeout));
        }
        if self.request_timeout.is_negative() {
            return Err(format!("Bad RequestTimeout '{}', must be >= 0", self.request_timeout));
        }
        if let Some(lb) = &self.load_balancer {
            validate_load_balancer(lb)?;
        }
        Ok(())
    }

    fn validate_redirect(&self, r: &ResolverRedirect) -> Result<(), String> {
        if !self.failover.is_empty() {
            return Err("Redirect and Failover cannot both be set".into());
        }
        if r.is_empty() {
            return Err("Redirect is empty".into());
        }
        if r.service.is_empty() {
            for (field, value) in [
                ("ServiceSubset", &r.service_subset),
                ("Namespace", &r.namespace),
                ("Partition", &r.partition),
                ("Peer", &r.peer),
            ] {
                if !value.is_empty() {
                    return Err(format!("Redirect.{field} defined without Redirect.Service"));
                }
            }
        } else if r.service == self.name
            && !r.service_subset.is_empty()
            && !self.subsets.contains_key(&r.service_subset)
        {
            return Err(format!(
                "Redirect.ServiceSubset {:?} is not a valid subset of {:?}",
                r.service_subset, r.service
            ));
        }
        if !r.peer.is_empty() && !r.datacenter.is_empty() {
            return Err("Redirect.Peer cannot be set with Redirect.Datacenter".into());
        }
        if !r.sameness_group.is_empty() && (!r.peer.is_empty() || !r.datacenter.is_empty()) {
            return Err(
                "Redirect.SamenessGroup cannot be set with Redirect.Peer or Redirect.Datacenter"
                    .into(),
            );
        }
        Ok(())
    }

    fn validate_failover(&self, key: &str, f: &ResolverFailover) -> Result<(), String> {
        if key != "*" && !self.subsets.contains_key(key) {
            return Err(format!("Bad Failover[{key:?}]: not a valid subset subset"));
        }
        if f.service.is_empty()
            && f.service_subset.is_empty()
            && f.namespace.is_empty()
            && f.datacenters.is_empty()
            && f.targets.is_empty()
            && f.sameness_group.is_empty()
        {
            return Err(format!(
                "Bad Failover[{key:?}]: one of Service, ServiceSubset, Namespace, Targets, SamenessGroup, or Datacenters is required"
            ));
        }
        if !f.targets.is_empty() {
            for (field, set) in [
                ("Datacenters", !f.datacenters.is_empty()),
                ("ServiceSubset", !f.service_subset.is_empty()),
                ("Service", !f.service.is_empty()),
            ] {
                if set {
                    return Err(format!(
                        "Bad Failover[{key:?}]: Targets cannot be set with {field}"
                    ));
                }
            }
        }
        if f.datacenters.iter().any(String::is_empty) {
            return Err(format!("Bad Failover[{key:?}].Datacenters: found empty datacenter"));
        }
        if f.service.is_empty()
            && !f.service_subset.is_empty()
            && !self.subsets.contains_key(&f.service_subset)
        {
            return Err(format!(
                "Bad Failover[{key:?}].ServiceSubset {:?} is not a valid subset of {:?}",
                f.service_subset, self.name
            ));
        }
        for (i, t) in f.targets.iter().enumerate() {
            let at = format!("Bad Failover[{key:?}].Targets[{i}]");
            if !t.peer.is_empty() && !t.service_subset.is_empty() {
                return Err(format!("{at}: Peer cannot be set with ServiceSubset"));
            }
            if !t.peer.is_empty() && !t.datacenter.is_empty() {
                return Err(format!("{at}: Peer cannot be set with Datacenter"));
            }
            if !t.partition.is_empty() && !t.datacenter.is_empty() {
                return Err(format!("{at}: Partition cannot be set with Datacenter"));
            }
            if !t.partition.is_empty() && !t.peer.is_empty() {
                return Err(format!("{at}: Partition cannot be set with Peer"));
            }
        }
        if let Some(p) = &f.policy
            && !matches!(p.mode.as_str(), "" | "sequential" | "order-by-locality")
        {
            return Err(format!("Bad Failover[{key:?}].Policy: mode {:?} is not valid", p.mode));
        }
        Ok(())
    }
}

fn validate_load_balancer(lb: &LoadBalancer) -> Result<(), String> {
    let policies = ["", "random", "round_robin", "least_request", "ring_hash", "maglev"];
    if !policies.contains(&lb.policy.as_str()) {
        return Err(format!("Bad LoadBalancer policy: {:?} is not supported", lb.policy));
    }
    if !lb.hash_policies.is_empty() && !matches!(lb.policy.as_str(), "ring_hash" | "maglev") {
        return Err(format!(
            "Bad LoadBalancer policy: hash policies are only supported with ring_hash or maglev, not {:?}",
            lb.policy
        ));
    }
    if lb.ring_hash_config.is_some() && lb.policy != "ring_hash" {
        return Err(format!(
            "Bad LoadBalancer configuration. RingHashConfig specified for incompatible load balancing policy {:?}",
            lb.policy
        ));
    }
    if lb.least_request_config.is_some() && lb.policy != "least_request" {
        return Err(format!(
            "Bad LoadBalancer configuration. LeastRequestConfig specified for incompatible load balancing policy {:?}",
            lb.policy
        ));
    }
    Ok(())
}

/// Subset names become SNI labels, so they must be DNS labels.
pub fn is_valid_subset_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}
