//! `GET|PUT /v1/operator/autopilot/configuration[?cas=N]` and
//! `GET /v1/operator/autopilot/health`.
//!
//! The configuration lives in the replicated state (`Command::AutopilotSetConfig`); a PUT
//! replaces the whole record, with Go's JSON rules for the body: field names match without
//! regard to case, durations are Go strings or nanoseconds, unknown fields are ignored. The
//! health report applies the core's autopilot rule to the leader's raft metrics: 200 when the
//! cluster is healthy, 429 with the same body when not (Consul's status codes).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openraft::Instant as _;
use proconsul_core::config::GoDuration;
use proconsul_core::state::{
    AutopilotConfig, AutopilotSet, Command, ServerStats, WatchKey, failure_tolerance,
};
use serde_json::{Map, Value, json};

use super::servers::{Server, raft_metrics, servers};
use super::{ApiError, ApiState, Params, blocking, json, with_meta, write};
use crate::raft::{NodeError, ReadConsistency};

type RawQuery = Query<Vec<(String, String)>>;

/// `GET /v1/operator/autopilot/configuration`.
pub(super) async fn get_config(
    State(state): State<ApiState>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let opts = Params::from_query(query).query_options()?;
    let (config, index) =
        blocking::query(&state, &opts, &WatchKey::Autopilot, |sm| sm.autopilot_config()).await?;
    Ok(with_meta(&state, index, json(&config)))
}

/// `PUT /v1/operator/autopilot/configuration[?cas=N]`: `true`, or `false` on a CAS mismatch.
pub(super) async fn put_config(
    State(state): State<ApiState>,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let cas = Params::from_query(query).u64("cas", "Error parsing cas value")?;
    let config = decode_config(&body)
        .map_err(|e| ApiError::BadRequest(format!("Error parsing autopilot config: {e}")))?;
    let ok = write(&state, Command::AutopilotSetConfig(AutopilotSet { config, cas })).await?;
    Ok(json(&ok))
}

/// Go's `encoding/json` into `api.AutopilotConfiguration`: case-insensitive names, absent
/// fields zero.
fn decode_config(body: &[u8]) -> Result<AutopilotConfig, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Value::Object(fields) = value else {
        return Err("the body must be a JSON object".into());
    };
    let mut c = AutopilotConfig {
        cleanup_dead_servers: false,
        last_contact_threshold: GoDuration::ZERO,
        max_trailing_logs: 0,
        server_stabilization_time: GoDuration::ZERO,
        ..AutopilotConfig::default()
    };
    for (name, v) in &fields {
        match name.to_ascii_lowercase().as_str() {
            "cleanupdeadservers" => c.cleanup_dead_servers = boolean(name, v)?,
            "lastcontactthreshold" => c.last_contact_threshold = duration(name, v)?,
            "maxtrailinglogs" => c.max_trailing_logs = unsigned(name, v)?,
            "minquorum" => {
                c.min_quorum = u32::try_from(unsigned(name, v)?)
                    .map_err(|_| format!("{name}: out of range"))?;
            }
            "serverstabilizationtime" => c.server_stabilization_time = duration(name, v)?,
            "redundancyzonetag" => c.redundancy_zone_tag = string(name, v)?,
            "disableupgrademigration" => c.disable_upgrade_migration = boolean(name, v)?,
            "upgradeversiontag" => c.upgrade_version_tag = string(name, v)?,
            _ => {}
        }
    }
    Ok(c)
}

fn boolean(name: &str, v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| format!("{name}: expected true or false, got {v}"))
}

fn unsigned(name: &str, v: &Value) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("{name}: expected a non-negative integer, got {v}"))
}

fn string(name: &str, v: &Value) -> Result<String, String> {
    v.as_str().map(str::to_owned).ok_or_else(|| format!("{name}: expected a string, got {v}"))
}

fn duration(name: &str, v: &Value) -> Result<GoDuration, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{name}: {e}"))
}

/// `GET /v1/operator/autopilot/health`: answered by the leader, which alone sees every
/// server's replication progress.
pub(super) async fn health(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let metrics = raft_metrics(&state);
    if metrics.current_leader != Some(state.node.id()) {
        return Err(NodeError::NotLeader { leader: metrics.current_leader }.into());
    }
    let (config, members) = state
        .node
        .read(ReadConsistency::Stale, |sm| (sm.autopilot_config(), servers(&state, sm)))
        .await?;
    let term = metrics.current_term;
    let last_index = metrics.last_log_index.unwrap_or(0);
    let stats = |s: &Server| {
        let matched = metrics.replication.as_ref().and_then(|r| r.get(&s.raft_id).cloned());
        let heartbeat = metrics.heartbeat.as_ref().and_then(|h| h.get(&s.raft_id).cloned());
        ServerStats {
            leader: s.leader,
            last_contact: if s.leader {
                Some(Duration::ZERO)
            } else {
                heartbeat.flatten().map(|at| at.elapsed())
            },
            // Replication acks carry the leader's term: a server that acked is in it.
            last_term: if s.leader || matched.is_some() { term } else { 0 },
            last_index: if s.leader {
                last_index
            } else {
                matched.flatten().map_or(0, |id| id.index)
            },
        }
    };
    let mut rows = Vec::new();
    let (mut voters, mut healthy_voters, mut all_healthy) = (0, 0, true);
    for s in &members {
        let st = stats(s);
        let healthy = config.server_healthy(term, last_index, &st);
        if s.voter {
            voters += 1;
            healthy_voters += usize::from(healthy);
            all_healthy &= healthy;
        }
        rows.push(server_row(s, &st, healthy));
    }
    let body = json!({
        "Healthy": all_healthy,
        "FailureTolerance": failure_tolerance(healthy_voters, voters),
        "Servers": rows,
    });
    let status = if all_healthy { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
    Ok((status, json(&body)).into_response())
}

/// One server of the health report (api.ServerHealth). Gossip state is not visible to the
/// raft layer, so `SerfStatus` reports `alive` for servers in raft contact and `failed`
/// otherwise.
fn server_row(s: &Server, st: &ServerStats, healthy: bool) -> Value {
    let mut row = Map::new();
    row.insert("ID".into(), s.id.clone().into());
    row.insert("Name".into(), s.node.clone().into());
    row.insert("Address".into(), s.address.clone().into());
    let serf = if st.last_contact.is_some() { "alive" } else { "failed" };
    row.insert("SerfStatus".into(), serf.into());
    row.insert("Leader".into(), s.leader.into());
    let contact = st.last_contact.map_or(Value::from("-1ns"), |d| {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        GoDuration::from_nanos(nanos).to_string().into()
    });
    row.insert("LastContact".into(), contact);
    row.insert("LastTerm".into(), st.last_term.into());
    row.insert("LastIndex".into(), st.last_index.into());
    row.insert("Healthy".into(), healthy.into());
    row.insert("Voter".into(), s.voter.into());
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::decode_config;

    #[test]
    fn body_decodes_like_go_json() {
        let c = decode_config(
            br#"{"cleanupdeadservers": true, "LastContactThreshold": "1s",
                 "ServerStabilizationTime": 5000000000, "MinQuorum": 3, "Other": 1}"#,
        )
        .unwrap();
        assert!(c.cleanup_dead_servers);
        assert_eq!(c.last_contact_threshold.to_string(), "1s");
        assert_eq!(c.server_stabilization_time.to_string(), "5s");
        assert_eq!((c.min_quorum, c.max_trailing_logs), (3, 0), "absent fields are zero");
        let only = decode_config(br#"{"CleanupDeadServers": false}"#).unwrap();
        assert!(!only.cleanup_dead_servers);
        assert_eq!(only.last_contact_threshold.to_string(), "0s");
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let e = decode_config(br#"{"CleanupDeadServers": "yes"}"#).unwrap_err();
        assert!(e.starts_with("CleanupDeadServers: expected true or false"), "{e}");
        let e = decode_config(br#"{"LastContactThreshold": "soon"}"#).unwrap_err();
        assert!(e.starts_with("LastContactThreshold: "), "{e}");
        let e = decode_config(br#"{"MinQuorum": -1}"#).unwrap_err();
        assert!(e.starts_with("MinQuorum: expected a non-negative integer"), "{e}");
        assert!(decode_config(b"[1]").is_err());
        assert!(decode_config(b"{").is_err());
    }
}
