//! The list-narrowing query parameters Consul's catalog and health reads share: `?tag=`
//! (repeatable, all must match, case-insensitive), `?node-meta=key:value` (repeatable, all
//! must match), `?peer=` and `?filter=` (a go-bexpr expression over each row); `?near=` orders
//! the rows by estimated round trip from a node (`_agent`: this agent's).
//!
//! Parsed once per request so a bad `?filter` is a 400 before anything is read.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::response::Response;
use proconsul_core::filter::{Filter, RecordFilter, Schema};
use proconsul_core::state::{Node, Service, StateMachine, WatchKey};
use serde_json::Value;

use super::{ApiError, ApiState, Params, QueryOptions, blocking, json, with_meta};

/// The shape a `?filter` is checked against, per endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows {
    /// `/v1/health/{service,connect,ingress}`: Consul's `CheckServiceNode`, handled by the
    /// core's instance filter.
    Instances,
    /// Any other row shape.
    Records(Schema),
}

/// A `?filter` parsed for its endpoint's rows.
pub(crate) enum RowFilter {
    Instances(Filter),
    Records(RecordFilter),
}

/// What a list read keeps.
pub(crate) struct Selection {
    pub(crate) tags: Vec<String>,
    pub(crate) node_meta: BTreeMap<String, String>,
    /// `?peer=`: no cluster peerings exist, so any non-empty peer selects nothing.
    pub(crate) peer: Option<String>,
    pub(crate) filter: Option<RowFilter>,
    /// `?near=`: a node name, or `_agent` for this agent's node.
    pub(crate) near: Option<String>,
}

impl Selection {
    /// Splits the raw query into the usual [`Params`] and the selection.
    pub(crate) fn parse(
        Query(pairs): Query<Vec<(String, String)>>,
        rows: Rows,
    ) -> Result<(Params, Selection), ApiError> {
        let mut tags = Vec::new();
        let mut node_meta = BTreeMap::new();
        for (k, v) in &pairs {
            match k.as_str() {
                "tag" => tags.push(v.to_lowercase()),
                // Consul's `parseMetaFilter`: `key:value`, or `key` alone for an empty value.
                "node-meta" => {
                    let (key, value) = v.split_once(':').unwrap_or((v.as_str(), ""));
                    node_meta.insert(key.to_owned(), value.to_owned());
                }
                _ => {}
            }
        }
        let params = Params::from_query(Query(pairs));
        let peer = params.get("peer").filter(|p| !p.is_empty()).map(str::to_owned);
        let filter = match params.get("filter").filter(|f| !f.is_empty()) {
            None => None,
            Some(text) => Some(parse_filter(text, rows)?),
        };
        let near = params.get("near").filter(|n| !n.is_empty()).map(str::to_owned);
        Ok((params, Selection { tags, node_meta, peer, filter, near }))
    }

    /// Applies `?near` to `rows` (a no-op without it): `_agent` is this agent's node.
    pub(crate) fn sort_near<T>(
        &self,
        state: &ApiState,
        sm: &StateMachine,
        rows: &mut [T],
        node_of: impl Fn(&T) -> &str,
    ) {
        let Some(near) = &self.near else { return };
        let near = if near == "_agent" { state.node_name() } else { near.as_str() };
        sm.sort_near(near, rows, node_of);
    }

    /// False when `?peer` names a peer: nothing is imported from peers.
    pub(crate) fn local(&self) -> bool {
        self.peer.is_none()
    }

    /// The node carries every `?node-meta` pair.
    pub(crate) fn node_matches(&self, node: &Node) -> bool {
        self.node_meta.iter().all(|(k, v)| node.meta.get(k) == Some(v))
    }

    /// The instance carries every `?tag` (ignoring case).
    pub(crate) fn tags_match(&self, service: &Service) -> bool {
        self.tags.iter().all(|want| service.tags.iter().any(|t| t.to_lowercase() == *want))
    }

    /// The `?filter` record filter, when the endpoint's rows are records.
    pub(crate) fn record_filter(&self) -> Option<&RecordFilter> {
        match &self.filter {
            Some(RowFilter::Records(f)) => Some(f),
            _ => None,
        }
    }

    /// The `?filter` instance filter, when the endpoint's rows are service instances.
    pub(crate) fn instance_filter(&self) -> Option<&Filter> {
        match &self.filter {
            Some(RowFilter::Instances(f)) => Some(f),
            _ => None,
        }
    }
}

fn parse_filter(text: &str, rows: Rows) -> Result<RowFilter, ApiError> {
    let bad = |e: proconsul_core::filter::FilterError| {
        ApiError::BadRequest(format!("Failed to create boolean expression evaluator: {e}"))
    };
    Ok(match rows {
        Rows::Instances => RowFilter::Instances(Filter::parse(text).map_err(bad)?),
        Rows::Records(schema) => {
            RowFilter::Records(RecordFilter::parse(text, schema).map_err(bad)?)
        }
    })
}

/// A list read answered the way every catalog and health list is: `read` runs as a blocking
/// query on `key`, its rows (Consul JSON with a `Node` field) are ordered by `?near`, and the
/// answer carries the index headers.
pub(crate) async fn respond_rows(
    state: &ApiState,
    opts: &QueryOptions,
    sel: &Selection,
    key: &WatchKey,
    read: impl Fn(&StateMachine) -> Vec<Value>,
) -> Result<Response, ApiError> {
    let (rows, index) = blocking::query(state, opts, key, |sm| {
        let mut rows = read(sm);
        sel.sort_near(state, sm, &mut rows, node_name);
        rows
    })
    .await?;
    Ok(with_meta(state, index, json(&rows)))
}

/// The `Node` field of a row, for `?near`.
pub(crate) fn node_name(row: &Value) -> &str {
    row["Node"].as_str().unwrap_or_default()
}
