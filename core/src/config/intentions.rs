//! `service-intentions`: who may call a destination service (CONSUL-FACTS.md §2.1).
//!
//! Precedence is computed here on normalize (it is an output field: Consul ignores what a
//! writer puts in it) and sources are kept sorted by it, highest first.

use std::collections::BTreeMap;

use serde_json::Value;

use super::common::{entry_struct, is_zero_i32};
use super::http_match::{check_headers, check_methods, check_paths};

entry_struct! {
    /// A `service-intentions` entry: all intentions towards one destination.
    pub struct ServiceIntentions {
        /// The sources, highest precedence first after normalize.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub sources: Vec<SourceIntention>,
        /// JWT requirements, kept as written.
        #[serde(rename = "JWT", skip_serializing_if = "Option::is_none")]
        pub jwt: Option<Value>,
    }
}

/// One source of an intention.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SourceIntention {
    /// Source service, or `*`.
    pub name: String,
    /// Source cluster peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// Source partition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Source namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Source sameness group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sameness_group: String,
    /// `allow` or `deny` (L4); empty when `Permissions` are set (L7).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// L7 permissions, evaluated in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<IntentionPermission>,
    /// Computed precedence (output only).
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub precedence: i32,
    /// Always `consul`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub r#type: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Id of a legacy (pre-1.9) intention.
    #[serde(rename = "LegacyID", skip_serializing_if = "String::is_empty")]
    pub legacy_id: String,
    /// Metadata of a legacy intention.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub legacy_meta: BTreeMap<String, String>,
    /// Creation time of a legacy intention (RFC 3339), kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_create_time: Option<String>,
    /// Update time of a legacy intention (RFC 3339), kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_update_time: Option<String>,
}

/// One L7 permission.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IntentionPermission {
    /// `allow` or `deny`.
    pub action: String,
    /// HTTP request properties.
    #[serde(rename = "HTTP", skip_serializing_if = "Option::is_none")]
    pub http: Option<IntentionHttpPermission>,
    /// JWT requirements, kept as written.
    #[serde(rename = "JWT", skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Value>,
}

/// HTTP properties of an L7 permission.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IntentionHttpPermission {
    /// Exact path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_exact: String,
    /// Path prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// Path regular expression.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_regex: String,
    /// Header conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<super::router::HttpHeaderMatch>,
    /// Allowed methods.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// Consul's `countExact`: `*` namespace counts 0, `*` name 1, an exact name 2.
fn count_exact(namespace: &str, name: &str) -> i32 {
    if namespace == "*" {
        0
    } else if name == "*" {
        1
    } else {
        2
    }
}

/// Precedence of an intention (CONSUL-FACTS.md §2.2): 9 for exact-to-exact down to 1 for
/// `*/*` to `*/*`; in CE the practical values are 9, 8, 6 and 5.
pub fn precedence(src_ns: &str, src_name: &str, dst_ns: &str, dst_name: &str) -> i32 {
    let max = match count_exact(dst_ns, dst_name) {
        2 => 9,
        1 => 6,
        _ => 3,
    };
    max - (2 - count_exact(src_ns, src_name))
}

fn check_wildcard(field: &str, value: &str) -> Result<(), String> {
    if value.contains('*') && value != "*" {
        return Err(format!("{field}: wildcard character '*' cannot be used with partial values"));
    }
    Ok(())
}

impl ServiceIntentions {
    pub(crate) fn normalize(&mut self) {
        let dst_ns = if self.namespace.is_empty() { "default" } else { &self.namespace };
        for s in &mut self.sources {
            s.action = s.action.to_ascii_lowercase();
            if s.r#type.is_empty() {
                s.r#type = "consul".into();
            }
            let src_ns = if s.namespace.is_empty() { "default" } else { &s.namespace };
            s.precedence = precedence(src_ns, &s.name, dst_ns, &self.name);
            for p in &mut s.permissions {
                p.action = p.action.to_ascii_lowercase();
                if let Some(h) = &mut p.http {
                    for m in &mut h.methods {
                        *m = m.to_ascii_uppercase();
                    }
                }
            }
        }
        // Highest precedence first; ties by source, as Consul's sorter does.
        self.sources.sort_by(|a, b| {
            b.precedence.cmp(&a.precedence).then_with(|| {
                (&a.sameness_group, &a.peer, &a.partition, &a.namespace, &a.name).cmp(&(
                    &b.sameness_group,
                    &b.peer,
                    &b.partition,
                    &b.namespace,
                    &b.name,
                ))
            })
        });
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Name is required".into());
        }
        check_wildcard("Name", &self.name)?;
        if self.namespace == "*" && self.name != "*" {
            return Err("Name: exact value cannot follow wildcard namespace".into());
        }
        if self.sources.is_empty() && self.jwt.is_none() {
            return Err("At least one source is required".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            self.validate_source(i, s)?;
            // An empty partition or namespace is `default`: spelling it out is the same source.
            let fold = |v: &str| if v.is_empty() { "default".to_owned() } else { v.to_owned() };
            let key = (&s.peer, fold(&s.partition), fold(&s.namespace), &s.sameness_group, &s.name);
            if !seen.insert(key) {
                return Err(format!("Sources[{i}] defines {:?} more than once", s.name));
            }
        }
        Ok(())
    }

    fn validate_source(&self, i: usize, s: &SourceIntention) -> Result<(), String> {
        if s.name.is_empty() {
            return Err(format!("Sources[{i}].Name is required"));
        }
        check_wildcard(&format!("Sources[{i}].Name"), &s.name)?;
        check_wildcard(&format!("Sources[{i}].Namespace"), &s.namespace)?;
        if s.namespace == "*" && s.name != "*" {
            return Err(format!("Sources[{i}].Name: exact value cannot follow wildcard namespace"));
        }
        for (field, value) in
            [("Partition", &s.partition), ("Peer", &s.peer), ("SamenessGroup", &s.sameness_group)]
        {
            if value.contains('*') {
                return Err(format!("Sources[{i}].{field}: cannot use wildcard '*' in {field}"));
            }
        }
        if !s.peer.is_empty() && !s.partition.is_empty() {
            return Err(format!(
                "Sources[{i}].Peer: cannot set Peer and Partition at the same time."
            ));
        }
        if !matches!(s.r#type.as_str(), "" | "consul") {
            return Err(format!("Sources[{i}].Type must be set to 'consul'"));
        }
        if s.permissions.is_empty() {
            if !matches!(s.action.as_str(), "allow" | "deny") {
                return Err(format!("Sources[{i}].Action must be set to 'allow' or 'deny'"));
            }
            return Ok(());
        }
        if !s.action.is_empty() {
            return Err(format!(
                "Sources[{i}].Action must be omitted if Permissions are specified"
            ));
        }
        if self.name == "*" {
            return Err(format!(
                "Sources[{i}].Permissions cannot be specified on intentions with wildcarded destinations"
            ));
        }
        for (j, p) in s.permissions.iter().enumerate() {
            validate_permission(i, j, p)?;
        }
        Ok(())
    }

    /// True when any source carries L7 permissions (the destination must then speak HTTP).
    pub fn has_l7_permissions(&self) -> bool {
        self.sources.iter().any(|s| !s.permissions.is_empty())
    }
}

fn validate_permission(i: usize, j: usize, p: &IntentionPermission) -> Result<(), String> {
    let at = format!("Sources[{i}].Permissions[{j}]");
    if !matches!(p.action.as_str(), "allow" | "deny") {
        return Err(format!("{at}.Action must be set to 'allow' or 'deny'"));
    }
    let Some(h) = &p.http else {
        if p.jwt.is_none() {
            return Err(format!("{at}.HTTP is required"));
        }
        return Ok(());
    };
    let at = format!("{at}.HTTP");
    check_paths(&at, ".", &h.path_exact, &h.path_prefix, &h.path_regex)?;
    check_headers(&at, ".", &h.header)?;
    check_methods(&at, ".", &h.methods)?;
    let paths = [&h.path_exact, &h.path_prefix, &h.path_regex];
    let empty = paths.iter().all(|v| v.is_empty()) && h.header.is_empty() && h.methods.is_empty();
    if empty && p.jwt.is_none() {
        return Err(format!("{at} should not be empty"));
    }
    Ok(())
}
