//! Why a check definition or a scheduler call was refused.

use super::CheckId;

/// A check definition that cannot be registered. Nothing was stored; the HTTP layer answers
/// 400 with this message (prefixed `Invalid check: ` where Consul does).
///
/// `field` is the key's path as the client wrote it, with Consul's casing (`Checks[1].Interval`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckDefinitionError {
    /// The body (or one entry of `Checks`) is not a JSON object.
    #[error("{field}: expected an object")]
    NotAnObject {
        /// Where it was (`Check`, `Checks[0]`), empty for the whole body.
        field: String,
    },
    /// A key holds the wrong JSON type.
    #[error("{field}: expected {expected}")]
    WrongType {
        /// The key's path.
        field: String,
        /// What the key takes (`a string`, `a duration such as "10s"`).
        expected: &'static str,
    },
    /// The same key appears twice in different spellings (`TTL` and `ttl`).
    #[error("{field}: given twice (as {first:?} and {second:?})")]
    DuplicateKey {
        /// The key's path.
        field: String,
        /// The first spelling.
        first: String,
        /// The second spelling.
        second: String,
    },
    /// A duration string that is not a Go duration.
    #[error("{field}: invalid duration {value:?}")]
    BadDuration {
        /// The key's path.
        field: String,
        /// The string given.
        value: String,
    },
    /// A count below zero (`SuccessBeforePassing`, `FailuresBeforeCritical`, ...).
    #[error("{field}: must be >= 0")]
    Negative {
        /// The key's path.
        field: String,
    },
    /// `OutputMaxSize` below zero (Consul's wording).
    #[error("MaxOutputMaxSize must be positive")]
    NegativeOutputMaxSize,
    /// `Status` other than `passing`, `warning` or `critical`.
    #[error("{field}: status must be \"passing\", \"warning\" or \"critical\", got {value:?}")]
    BadStatus {
        /// The key's path.
        field: String,
        /// The value given.
        value: String,
    },
    /// `PUT /v1/agent/check/register` without a `Name` (Consul: `Missing check name`).
    #[error("Missing check name")]
    MissingName,
    /// An empty check id (Consul: `CheckID missing`).
    #[error("CheckID missing")]
    MissingId,
    /// `ID` and `CheckID` both given and different.
    #[error("{field}: ID {id:?} and CheckID {check_id:?} disagree")]
    ConflictingIds {
        /// The object's path.
        field: String,
        /// The `ID` value.
        id: String,
        /// The `CheckID` value.
        check_id: String,
    },
    /// Both `Interval` and `TTL` set (Consul's wording).
    #[error("Interval and TTL cannot both be specified")]
    IntervalAndTtl,
    /// Two check kinds in one definition (`HTTP` and `TCP`): a check probes one thing.
    #[error("{first} and {second} cannot both be specified")]
    ConflictingKinds {
        /// The first kind's key.
        first: &'static str,
        /// The second kind's key.
        second: &'static str,
    },
    /// An interval check without a positive `Interval` (Consul's wording).
    #[error("Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks")]
    MissingInterval,
    /// No kind at all and no positive `TTL` (Consul's wording).
    #[error("TTL must be > 0 for TTL checks")]
    MissingTtl,
}

impl CheckDefinitionError {
    /// The offending key's path, or `""` when the error is about the definition as a whole.
    pub fn field(&self) -> &str {
        match self {
            CheckDefinitionError::NotAnObject { field }
            | CheckDefinitionError::WrongType { field, .. }
            | CheckDefinitionError::DuplicateKey { field, .. }
            | CheckDefinitionError::BadDuration { field, .. }
            | CheckDefinitionError::Negative { field }
            | CheckDefinitionError::BadStatus { field, .. }
            | CheckDefinitionError::ConflictingIds { field, .. } => field,
            CheckDefinitionError::NegativeOutputMaxSize => "OutputMaxSize",
            CheckDefinitionError::MissingName => "Name",
            CheckDefinitionError::MissingId => "CheckID",
            CheckDefinitionError::IntervalAndTtl | CheckDefinitionError::MissingInterval => {
                "Interval"
            }
            CheckDefinitionError::ConflictingKinds { second, .. } => second,
            CheckDefinitionError::MissingTtl => "TTL",
        }
    }
}

/// `update_ttl` on an id that is not a TTL check. Nothing changed; Consul answers 500 with
/// this message, and clients (Spring Cloud, go-kit) match on its text to re-register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CheckID {0:?} does not have associated TTL")]
pub struct NoTtlError(pub String);

/// `add` refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddCheckError {
    /// The scheduler already runs [`super::SchedulerConfig::max_checks`] checks; remove some
    /// first. Bounds every per-check table and queue.
    #[error("cannot add check {id}: the agent already runs {max} checks")]
    TooManyChecks {
        /// The refused check.
        id: CheckId,
        /// The limit.
        max: usize,
    },
}
