//! The check identifier: unique per agent, the key of every scheduler table.

use std::borrow::Borrow;
use std::fmt;

use super::CheckDefinitionError;

/// A check's id on its agent (`CheckID`): `mem`, `service:web1`, `service:web1:2`.
///
/// Consul only requires it to be non-empty; anything else a client sends (spaces, slashes)
/// is kept as written so that `/v1/agent/check/pass/<id>` finds it again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(String);

impl CheckId {
    /// Validates the id: it MUST be non-empty (Consul: `CheckID missing`).
    pub fn new(id: impl Into<String>) -> Result<Self, CheckDefinitionError> {
        let id = id.into();
        if id.is_empty() {
            return Err(CheckDefinitionError::MissingId);
        }
        Ok(CheckId(id))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string (what `state::Check::check_id` holds).
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lets the scheduler's tables be looked up with the `&str` taken from a URL path.
impl Borrow<str> for CheckId {
    fn borrow(&self) -> &str {
        &self.0
    }
}
