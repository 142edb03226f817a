//! Client-agent logic (Consul's `agent/local`, `agent/ae`, `agent/proxycfg`): what a node
//! runs, how it keeps the catalog in sync, and how a local sidecar's configuration is built
//! from the agent's view of the catalog.
//!
//! ```text
//!  PUT /v1/agent/service/register ─► ServiceDefinition::expand ─► LocalState (+ sidecar)
//!  LocalState + catalog rows for this node ─► sync_commands ─► Commands through the servers
//!  CatalogView (state machine or cache) + leaf + roots ─► sidecar_snapshot ─► xds::generate
//! ```

pub mod config;
pub mod local;
pub mod proxycfg;
pub mod registration;

pub use local::{LocalError, LocalExtra, LocalService, LocalState};
pub use proxycfg::{CatalogView, ProxyError, SidecarInputs, sidecar_snapshot};
pub use registration::{DerivedCheck, ExpandedService, RegistrationError, ServiceDefinition};
