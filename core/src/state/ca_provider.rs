//! The CA's private provider state (keys, signer, serial counter), replicated so that any
//! server that becomes leader rebuilds the same CA (see `crate::ca::CaProviderState`).
//!
//! One command writes the provider state, the roots it publishes and the configuration
//! together, with an optional CAS on the provider state's modify index, as Consul updates
//! roots and configuration in one atomic CAS raft operation: a reader never sees roots that
//! the stored signer does not match, and two leaders racing to bootstrap cannot both win.
//!
//! The provider state holds private keys. It is readable only through
//! [`StateMachine::ca_provider`], which no endpoint may serve; roots readers get
//! [`StateMachine::ca_roots`].

use crate::ca::{CaConfig, CaProviderState};

use super::{Changes, StateError, StateMachine};

/// The provider state with the raft index that last changed it (the CAS token).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredCaProvider {
    /// The state.
    pub state: CaProviderState,
    /// Raft index of the write that last changed it (never 0).
    pub modify_index: u64,
}

impl StateMachine {
    pub(super) fn ca_set_provider_state(
        &mut self,
        tx: &mut Changes,
        state: &CaProviderState,
        config: &CaConfig,
        cas: Option<u64>,
    ) -> Result<bool, StateError> {
        let current = self.ca_provider.as_ref().map_or(0, |p| p.modify_index);
        if cas.is_some_and(|cas| cas != current) {
            return Ok(false);
        }
        // Everything is checked before anything changes, so the three parts move together.
        config.validate().map_err(StateError::CaConfig)?;
        state.validate().map_err(StateError::CaState)?;
        let roots = state.roots_response();
        self.ca_set_roots(tx, &roots)?;
        self.ca_set_config(tx, config)?;
        if self.ca_provider.as_ref().map(|p| &p.state) != Some(state) {
            self.ca_provider =
                Some(StoredCaProvider { state: state.clone(), modify_index: tx.index });
        }
        Ok(true)
    }

    /// The CA's private provider state with its modify index, for the leader's CA manager
    /// only. It contains private keys: never serve it from an endpoint.
    pub fn ca_provider(&self) -> Option<&StoredCaProvider> {
        self.ca_provider.as_ref()
    }
}

#[cfg(test)]
#[path = "ca_provider_tests.rs"]
mod tests;
