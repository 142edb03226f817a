//! What Envoy forgets when a resource is (re)sent: the ADS session resends these children
//! so Envoy never waits on state it dropped (Envoy's xDS protocol, "eventual consistency
//! considerations"; [`XdsResource`]).
//!
//! A cluster's children, its same-named load assignment, are the session's own rule; here
//! only listeners contribute: every RDS route configuration their HTTP connection managers
//! name. Inline route configurations are part of the listener and are not children.

use super::{Listener, NetworkFilter, Resource, RouteSpecifier};
use crate::xds::TypeUrl;
use crate::xds::ads::XdsResource;

impl XdsResource for Resource {
    fn children(&self) -> Vec<(TypeUrl, String)> {
        match self {
            Resource::Listener(l) => rds_route_names(l)
                .map(|name| (TypeUrl::RouteConfiguration, name.to_owned()))
                .collect(),
            Resource::Cluster(_)
            | Resource::RouteConfiguration(_)
            | Resource::ClusterLoadAssignment(_)
            | Resource::Secret(_) => Vec::new(),
        }
    }
}

/// Route configuration names a listener fetches over RDS, in filter chain order, each once.
fn rds_route_names(l: &Listener) -> impl Iterator<Item = &str> {
    let mut seen: Vec<&str> = Vec::new();
    for chain in &l.filter_chains {
        for filter in &chain.filters {
            if let NetworkFilter::HttpConnectionManager(hcm) = filter
                && let RouteSpecifier::Rds { route_config_name } = &hcm.route_specifier
                && !seen.contains(&route_config_name.as_str())
            {
                seen.push(route_config_name);
            }
        }
    }
    seen.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::model::{
        Cluster, ClusterLoadAssignment, DiscoveryType, FilterChain, ForwardClientCert,
        HttpConnectionManager, HttpFilter, LbPolicy, SocketAddress, TcpProxy, TrafficDirection,
    };

    fn hcm(routes: RouteSpecifier) -> NetworkFilter {
        NetworkFilter::HttpConnectionManager(Box::new(HttpConnectionManager {
            stat_prefix: "upstream.x".into(),
            route_specifier: routes,
            http_filters: vec![HttpFilter::Router],
            tracing: None,
            upgrade_types: Vec::new(),
            http2: false,
            forward_client_cert: ForwardClientCert::Sanitize,
        }))
    }

    fn listener(filters: Vec<Vec<NetworkFilter>>) -> Resource {
        Resource::Listener(Listener {
            name: "l".into(),
            address: SocketAddress::new("127.0.0.1", 9001),
            listener_filters: Vec::new(),
            filter_chains: filters
                .into_iter()
                .map(|filters| FilterChain {
                    filter_chain_match: None,
                    filters,
                    transport_socket: None,
                })
                .collect(),
            traffic_direction: TrafficDirection::Outbound,
        })
    }

    fn rds(name: &str) -> RouteSpecifier {
        RouteSpecifier::Rds { route_config_name: name.into() }
    }

    #[test]
    fn listeners_report_each_rds_route_they_reference_once() {
        let l = listener(vec![
            vec![hcm(rds("counting"))],
            vec![hcm(rds("db?dc=dc2"))],
            vec![hcm(rds("counting"))],
        ]);
        assert_eq!(
            l.children(),
            [
                (TypeUrl::RouteConfiguration, "counting".to_owned()),
                (TypeUrl::RouteConfiguration, "db?dc=dc2".to_owned()),
            ]
        );
    }

    #[test]
    fn inline_routes_tcp_proxies_and_other_types_have_no_children() {
        let inline = RouteSpecifier::RouteConfig(crate::xds::model::RouteConfiguration {
            name: "public_listener".into(),
            virtual_hosts: Vec::new(),
            validate_clusters: false,
        });
        let tcp =
            NetworkFilter::TcpProxy(TcpProxy { stat_prefix: "p".into(), cluster: "c".into() });
        assert!(listener(vec![vec![hcm(inline)], vec![tcp]]).children().is_empty());
        let cla = ClusterLoadAssignment {
            cluster_name: "c".into(),
            endpoints: Vec::new(),
            overprovisioning_factor: None,
        };
        let cluster = Cluster {
            name: "c".into(),
            alt_stat_name: None,
            discovery: DiscoveryType::Eds,
            connect_timeout: crate::config::GoDuration::from_secs(5),
            lb_policy: LbPolicy::RoundRobin,
            circuit_breakers: None,
            outlier_detection: None,
            healthy_panic_threshold: None,
            http2: false,
            transport_socket: None,
        };
        // The session itself resends a cluster's same-named endpoints.
        assert!(Resource::Cluster(cluster).children().is_empty());
        assert!(Resource::ClusterLoadAssignment(cla).children().is_empty());
    }
}
