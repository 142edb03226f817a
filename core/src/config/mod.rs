//! Reading configuration files written for Consul, so operators can reuse them unchanged.

pub mod hcl1;
