//! `config.endpoint.v3.ClusterLoadAssignment`.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use proconsul_core::xds::model::{
    ClusterLoadAssignment, HealthStatus, LbEndpoint, LocalityLbEndpoints,
};

use super::{address, u32_value};

/// A load assignment (EDS resource, or inline in STATIC and LOGICAL_DNS clusters).
pub(crate) fn cluster_load_assignment(
    c: &ClusterLoadAssignment,
) -> endpoint_v3::ClusterLoadAssignment {
    endpoint_v3::ClusterLoadAssignment {
        cluster_name: c.cluster_name.clone(),
        endpoints: c.endpoints.iter().map(locality).collect(),
        policy: c.overprovisioning_factor.map(|f| endpoint_v3::cluster_load_assignment::Policy {
            overprovisioning_factor: Some(u32_value(f)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn locality(l: &LocalityLbEndpoints) -> endpoint_v3::LocalityLbEndpoints {
    endpoint_v3::LocalityLbEndpoints {
        priority: l.priority,
        load_balancing_weight: l.load_balancing_weight.map(u32_value),
        lb_endpoints: l.lb_endpoints.iter().map(lb_endpoint).collect(),
        ..Default::default()
    }
}

fn lb_endpoint(e: &LbEndpoint) -> endpoint_v3::LbEndpoint {
    endpoint_v3::LbEndpoint {
        host_identifier: Some(endpoint_v3::lb_endpoint::HostIdentifier::Endpoint(
            endpoint_v3::Endpoint { address: Some(address(&e.address)), ..Default::default() },
        )),
        health_status: health(e.health_status) as i32,
        load_balancing_weight: e.load_balancing_weight.map(u32_value),
        ..Default::default()
    }
}

fn health(h: HealthStatus) -> core_v3::HealthStatus {
    match h {
        HealthStatus::Unknown => core_v3::HealthStatus::Unknown,
        HealthStatus::Healthy => core_v3::HealthStatus::Healthy,
        HealthStatus::Unhealthy => core_v3::HealthStatus::Unhealthy,
    }
}
