//! Registering and removing the agent's services and checks: core decodes and expands the
//! definitions, the local state records them, the check runner runs them, and the catalog
//! is synced right after.

use std::time::Duration;

use proconsul_core::agent::{DerivedCheck, ServiceDefinition};
use proconsul_core::checks::{
    CheckDefinition, CheckId, CheckKind, CheckOptions, TcpCheck, decode_service_checks,
    service_check_definitions,
};
use proconsul_core::state::{Check, HealthStatus};
use serde_json::Value;

use super::Agent;

/// Why a registration was refused (400 with this message).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    /// The body or a field is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The named service or check is not on this agent (404).
    #[error("{0}")]
    NotFound(String),
    /// The check runner refused (500, as Consul answers a TTL update of a non-TTL check).
    #[error("{0}")]
    Internal(String),
}

/// Interval of a sidecar's listening check (Consul's 10 s).
const SIDECAR_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// The catalog row of a check as registered (status from the definition).
fn check_row(def: &CheckDefinition) -> Check {
    let output = match &def.kind {
        CheckKind::Unsupported(u) => u.output(),
        _ => String::new(),
    };
    Check {
        check_id: def.id.as_str().to_owned(),
        name: def.name.clone(),
        status: def.status,
        notes: def.notes.clone(),
        output,
        service_id: def.service_id.clone().unwrap_or_default(),
        ..Check::default()
    }
}

impl Agent {
    /// `PUT /v1/agent/service/register`: the service, its sidecar, all their checks.
    pub(crate) async fn register_service(
        &self,
        body: Value,
        replace_existing_checks: bool,
    ) -> Result<(), RegistryError> {
        let def = ServiceDefinition::from_json(body)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let expanded = {
            let local = self.local();
            def.expand(&|p| local.sidecar_port_taken(p))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?
        };
        // Decode every check before changing anything, so a bad one registers nothing.
        let mut all_checks = Vec::new();
        for e in &expanded {
            let checks = Value::Array(e.checks.clone());
            let specs = decode_service_checks(None, Some(&checks))
                .map_err(|err| RegistryError::Invalid(format!("Invalid check: {err}")))?;
            let mut defs = service_check_definitions(&e.service.id, &e.service.service, specs)
                .map_err(|err| RegistryError::Invalid(format!("Invalid check: {err}")))?;
            for derived in &e.derived_checks {
                defs.push(derived_definition(&e.service.id, derived)?);
            }
            all_checks.push(defs);
        }
        let parent_id = expanded[0].service.id.clone();
        for (i, (e, defs)) in expanded.into_iter().zip(all_checks).enumerate() {
            let sidecar_of = (i > 0).then(|| parent_id.clone());
            let old_checks: Vec<String> = if replace_existing_checks {
                self.local()
                    .checks()
                    .values()
                    .filter(|c| c.service_id == e.service.id)
                    .map(|c| c.check_id.clone())
                    .collect()
            } else {
                Vec::new()
            };
            for id in &old_checks {
                self.stop_check(id).await;
            }
            self.local().add_service_with(e.service, sidecar_of, replace_existing_checks, e.extra);
            for def in defs {
                self.add_check_definition(def).await?;
            }
        }
        self.changed();
        Ok(())
    }

    /// `PUT /v1/agent/service/deregister/:id`.
    pub(crate) async fn deregister_service(&self, id: &str) -> Result<(), RegistryError> {
        let (ids, checks) = self.local().remove_service(id);
        if ids.is_empty() {
            return Err(RegistryError::NotFound(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )));
        }
        for check in checks {
            self.stop_check(&check).await;
        }
        self.changed();
        Ok(())
    }

    /// `PUT /v1/agent/check/register`.
    pub(crate) async fn register_check(&self, body: &Value) -> Result<(), RegistryError> {
        let def = CheckDefinition::from_json(body)
            .map_err(|e| RegistryError::Invalid(format!("Invalid check: {e}")))?;
        self.add_check_definition(def).await?;
        self.changed();
        Ok(())
    }

    async fn add_check_definition(&self, def: CheckDefinition) -> Result<(), RegistryError> {
        let id = def.id.as_str().to_owned();
        // Consul answers 404 for a check on a service the agent does not have.
        self.local()
            .add_check(check_row(&def))
            .map_err(|e| RegistryError::NotFound(e.to_string()))?;
        super::lock(&self.check_defs).insert(id.clone(), def.clone());
        if let Err(e) = self.checks.add(def).await {
            self.local().remove_check(&id);
            super::lock(&self.check_defs).remove(&id);
            return Err(RegistryError::Invalid(e.to_string()));
        }
        Ok(())
    }

    /// Stops running a check and forgets its definition.
    async fn stop_check(&self, id: &str) {
        super::lock(&self.check_defs).remove(id);
        // A stopped runner has nothing to stop.
        let _ = self.checks.remove(id).await;
    }

    /// `PUT /v1/agent/check/deregister/:id`.
    pub(crate) async fn deregister_check(&self, id: &str) -> Result<(), RegistryError> {
        if !self.local().remove_check(id) {
            return Err(RegistryError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            )));
        }
        self.stop_check(id).await;
        self.changed();
        Ok(())
    }

    /// `/v1/agent/check/{pass,warn,fail}/:id` and `update/:id`: a TTL check's new state.
    pub(crate) async fn update_ttl(
        &self,
        id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<(), RegistryError> {
        if !self.local().checks().contains_key(id) {
            return Err(RegistryError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            )));
        }
        self.checks
            .update_ttl(id, status, output)
            .await
            .map_err(|e| RegistryError::Internal(e.to_string()))?;
        self.apply_status(id, status, output);
        Ok(())
    }

    /// Records a check's new status locally and wakes anti-entropy when it changed.
    pub(crate) fn apply_status(&self, id: &str, status: HealthStatus, output: &str) {
        let changed = self.local().update_check(id, status, output).unwrap_or(false);
        if changed {
            self.changed();
        }
    }
}

/// The definition of a check the agent adds to a sidecar it expanded.
fn derived_definition(
    sidecar_id: &str,
    derived: &DerivedCheck,
) -> Result<CheckDefinition, RegistryError> {
    let bad =
        |e: proconsul_core::checks::CheckDefinitionError| RegistryError::Invalid(e.to_string());
    Ok(match derived {
        DerivedCheck::Listening { check_id, tcp } => CheckDefinition {
            id: CheckId::new(check_id.clone()).map_err(bad)?,
            name: "Connect Sidecar Listening".into(),
            notes: String::new(),
            service_id: Some(sidecar_id.to_owned()),
            status: HealthStatus::Critical,
            kind: CheckKind::Tcp(TcpCheck {
                addr: tcp.clone(),
                use_tls: false,
                tls_skip_verify: false,
                tls_server_name: None,
                interval: SIDECAR_CHECK_INTERVAL,
                timeout: None,
            }),
            options: CheckOptions::default(),
        },
        DerivedCheck::Alias { check_id, alias_service } => CheckDefinition {
            id: CheckId::new(check_id.clone()).map_err(bad)?,
            name: format!("Connect Sidecar Aliasing {alias_service}"),
            notes: String::new(),
            service_id: Some(sidecar_id.to_owned()),
            status: HealthStatus::Critical,
            kind: CheckKind::Alias { service_id: alias_service.clone() },
            options: CheckOptions::default(),
        },
    })
}
