//! Prepared queries (Consul's `/v1/query`): stored service lookups, replicated like the
//! catalog, resolved by id or by name and executed against the health table.
//!
//! Resolution follows Consul's `PreparedQueryResolve`: an exact id; else an exact name
//! (case-insensitive); else the template whose name is the longest prefix of the lookup
//! (a template with an empty name matches everything). A template is rendered for the
//! name it was looked up by (see [`super::query_exec`]) before it is explained or executed.
//! Validation runs in the HTTP layer before proposing ([`PreparedQuery::validate`]) and
//! again in apply, where the checks against other rows (names, sessions) live.

use std::collections::BTreeMap;

use crate::config::GoDuration;

use super::query_exec;
use super::{Changes, StateError, StateMachine, WatchKey};

/// The only template type Consul defines.
pub const TEMPLATE_NAME_PREFIX_MATCH: &str = "name_prefix_match";

/// `Service.Failover`: other datacenters to try when no local instance is healthy.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryFailover {
    /// Try the N nearest datacenters.
    #[serde(rename = "NearestN")]
    pub nearest_n: i64,
    /// Datacenters to try, in order.
    pub datacenters: Vec<String>,
}

/// `Service.Connect`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryConnect {
    /// Return the Connect-capable endpoints (sidecars, native instances) instead.
    pub enabled: bool,
}

/// What a prepared query looks up (Consul's `ServiceQuery`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceQuery {
    /// The service name (may interpolate `${...}` in a template).
    pub service: String,
    /// Failover policy.
    pub failover: QueryFailover,
    /// Checks that never make an instance unhealthy here.
    #[serde(rename = "IgnoreCheckIDs")]
    pub ignore_check_ids: Vec<String>,
    /// Drop `warning` instances too, not only `critical` ones.
    pub only_passing: bool,
    /// Sort by distance to this node (`_agent` for the caller's agent).
    pub near: String,
    /// Required tags; a leading `!` means the tag must be absent. Case-insensitive.
    pub tags: Vec<String>,
    /// Node metadata that must match exactly.
    pub node_meta: BTreeMap<String, String>,
    /// Service metadata that must match exactly.
    pub service_meta: BTreeMap<String, String>,
    /// Connect endpoints instead of the service's own instances.
    pub connect: QueryConnect,
}

/// `DNS` options of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryDns {
    /// TTL of DNS answers, a Go duration; empty means the agent's default.
    #[serde(rename = "TTL")]
    pub ttl: String,
}

/// `Template` options of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryTemplate {
    /// `""` (not a template) or [`TEMPLATE_NAME_PREFIX_MATCH`].
    #[serde(rename = "Type")]
    pub kind: String,
    /// Applied to the looked-up name; its groups feed `${match(N)}`.
    pub regexp: String,
    /// Drop tags that render empty.
    pub remove_empty_tags: bool,
}

impl QueryTemplate {
    /// True for a template query.
    pub fn is_template(&self) -> bool {
        !self.kind.is_empty()
    }
}

/// A prepared query as stored, replicated and returned (Consul's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PreparedQuery {
    /// UUID, drawn by the runtime.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name to look the query up by; may be empty (then only by id, or a catch-all template).
    pub name: String,
    /// A session the query lives and dies with.
    pub session: String,
    /// Token the query executes with (ACLs are not enforced here; kept for clients).
    pub token: String,
    /// The lookup.
    pub service: ServiceQuery,
    /// DNS options.
    #[serde(rename = "DNS")]
    pub dns: QueryDns,
    /// Template options.
    pub template: QueryTemplate,
    /// Raft index that created the query.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Why a prepared query was refused. Nothing changed; report the message to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// No id (the runtime draws one: a runtime bug).
    #[error("Missing query ID")]
    MissingId,
    /// A create whose id is taken (the runtime redraws on collision).
    #[error("Query ID {0:?} already exists")]
    DuplicateId(String),
    /// An update or delete of an id that does not exist.
    #[error("Cannot {op} non-existent prepared query: '{id}'")]
    UnknownQuery {
        /// `modify` or `delete`.
        op: &'static str,
        /// The id.
        id: String,
    },
    /// `Service.Service` is empty.
    #[error("Must provide a Service name to query")]
    MissingService,
    /// `Service.Failover.NearestN` is negative.
    #[error("Bad NearestN '{0}', must be >= 0")]
    NegativeNearestN(i64),
    /// `DNS.TTL` is not a duration.
    #[error("Bad DNS TTL '{ttl}': {reason}")]
    BadDnsTtl {
        /// The TTL given.
        ttl: String,
        /// Why it is refused.
        reason: String,
    },
    /// `Template.Type` is unknown.
    #[error("Bad Template.Type '{0}'")]
    BadTemplateType(String),
    /// `Template.Regexp` does not compile.
    #[error("Bad Template.Regexp '{regexp}': {reason}")]
    BadRegexp {
        /// The expression.
        regexp: String,
        /// The compiler's reason.
        reason: String,
    },
    /// A `${...}` a template cannot render.
    #[error("Failed to parse template field {field}: unknown interpolation {expr:?}")]
    BadInterpolation {
        /// The field, e.g. `Service.Service`.
        field: &'static str,
        /// The expression inside `${}`.
        expr: String,
    },
    /// `Session` names no live session.
    #[error("invalid session {0:?}")]
    InvalidSession(String),
    /// Another query already has this name.
    #[error("name '{0}' aliases an existing query name")]
    NameTaken(String),
    /// The name is another query's id.
    #[error("name '{0}' aliases an existing query ID")]
    NameIsAnId(String),
    /// A second catch-all template (empty name).
    #[error("a query template with an empty name already exists")]
    EmptyTemplateTaken,
}

impl PreparedQuery {
    /// Consul's `parseQuery`: the checks that need no other row.
    pub fn validate(&self) -> Result<(), QueryError> {
        if self.service.service.is_empty() {
            return Err(QueryError::MissingService);
        }
        if self.service.failover.nearest_n < 0 {
            return Err(QueryError::NegativeNearestN(self.service.failover.nearest_n));
        }
        if !self.dns.ttl.is_empty() {
            let bad = |reason: String| QueryError::BadDnsTtl { ttl: self.dns.ttl.clone(), reason };
            let ttl: GoDuration = self.dns.ttl.parse().map_err(|e| bad(format!("{e}")))?;
            if ttl.is_negative() {
                return Err(bad("must be >= 0".into()));
            }
        }
        if self.template.is_template() {
            query_exec::validate_template(self)?;
        }
        Ok(())
    }
}

/// Creates (`create: true`, the id must be new) or replaces (the id must exist) a query.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QuerySet {
    /// The query, id included; indexes are ignored.
    pub query: PreparedQuery,
    /// Create rather than update.
    pub create: bool,
}

/// Deletes a query; the id must exist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDelete {
    /// Query id.
    #[serde(rename = "ID")]
    pub id: String,
}

impl StateMachine {
    pub(super) fn query_set(
        &mut self,
        tx: &mut Changes,
        cmd: &QuerySet,
    ) -> Result<bool, StateError> {
        let mut q = cmd.query.clone();
        if q.id.is_empty() {
            return Err(QueryError::MissingId.into());
        }
        q.validate()?;
        let existing = self.queries.get(&q.id);
        match (cmd.create, existing) {
            (true, Some(_)) => return Err(QueryError::DuplicateId(q.id).into()),
            (false, None) => {
                return Err(QueryError::UnknownQuery { op: "modify", id: q.id }.into());
            }
            _ => {}
        }
        if !q.session.is_empty() && !self.sessions.by_id.contains_key(&q.session) {
            return Err(QueryError::InvalidSession(q.session).into());
        }
        self.check_query_name(&q)?;
        q.create_index = existing.map_or(tx.index, |e| e.create_index);
        q.modify_index = tx.index;
        self.queries.insert(q.id.clone(), q);
        tx.touch(WatchKey::PreparedQueries);
        Ok(true)
    }

    /// Names are unique (case-insensitive), never another query's id, and there is at most
    /// one catch-all template.
    fn check_query_name(&self, q: &PreparedQuery) -> Result<(), QueryError> {
        let others = self.queries.values().filter(|o| o.id != q.id);
        if q.name.is_empty() {
            if q.template.is_template()
                && others.clone().any(|o| o.name.is_empty() && o.template.is_template())
            {
                return Err(QueryError::EmptyTemplateTaken);
            }
            return Ok(());
        }
        if self.queries.contains_key(&q.name) {
            return Err(QueryError::NameIsAnId(q.name.clone()));
        }
        if others.clone().any(|o| o.name.eq_ignore_ascii_case(&q.name)) {
            return Err(QueryError::NameTaken(q.name.clone()));
        }
        Ok(())
    }

    pub(super) fn query_delete(
        &mut self,
        tx: &mut Changes,
        cmd: &QueryDelete,
    ) -> Result<bool, StateError> {
        if self.queries.remove(&cmd.id).is_none() {
            return Err(QueryError::UnknownQuery { op: "delete", id: cmd.id.clone() }.into());
        }
        tx.touch(WatchKey::PreparedQueries);
        Ok(true)
    }

    /// Consul deletes the queries bound to a session when the session goes.
    pub(super) fn drop_queries_of_session(&mut self, tx: &mut Changes, session: &str) {
        let before = self.queries.len();
        self.queries.retain(|_, q| q.session != session);
        if self.queries.len() != before {
            tx.touch(WatchKey::PreparedQueries);
        }
    }

    /// One query by id, unrendered (`GET /v1/query/<id>`, [`WatchKey::PreparedQueries`]).
    pub fn prepared_query(&self, id: &str) -> Option<&PreparedQuery> {
        self.queries.get(id)
    }

    /// Every query by id (`GET /v1/query`, [`WatchKey::PreparedQueries`]).
    pub fn prepared_queries(&self) -> impl Iterator<Item = &PreparedQuery> {
        self.queries.values()
    }

    /// The query `id_or_name` names, rendered for that name when it is a template
    /// (`/v1/query/<id-or-name>/explain` and `/execute`). `Err` when a template cannot render.
    pub fn resolve_query(&self, id_or_name: &str) -> Result<Option<PreparedQuery>, QueryError> {
        if let Some(q) = self.queries.get(id_or_name) {
            return Ok(Some(q.clone()));
        }
        let exact = self.queries.values().find(|q| q.name.eq_ignore_ascii_case(id_or_name));
        let found = exact.or_else(|| self.longest_prefix_template(id_or_name));
        let Some(q) = found else { return Ok(None) };
        if !q.template.is_template() {
            return Ok(Some(q.clone()));
        }
        query_exec::render(q, id_or_name).map(Some)
    }

    fn longest_prefix_template(&self, name: &str) -> Option<&PreparedQuery> {
        let lower = name.to_ascii_lowercase();
        self.queries
            .values()
            .filter(|q| q.template.is_template())
            .filter(|q| lower.starts_with(&q.name.to_ascii_lowercase()))
            .max_by(|a, b| a.name.len().cmp(&b.name.len()).then_with(|| b.id.cmp(&a.id)))
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
