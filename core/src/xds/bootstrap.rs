//! The Envoy bootstrap `proconsul connect envoy` writes (ENVOY.md §1): a static
//! `local_agent` cluster forced to HTTP/2, and ADS over gRPC to it for listeners and
//! clusters, delta by default as Consul does. Envoy has no serde types, so this is JSON.

use serde_json::{Value, json};

use super::ads::Protocol;

/// Everything a bootstrap depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapParams {
    /// `node.id`: the proxy's service id (`web-sidecar-proxy`, `mesh-gateway`).
    pub proxy_id: String,
    /// `node.cluster`: the service the proxy fronts (or `mesh-gateway`).
    pub cluster: String,
    /// The agent's gRPC (xDS) address.
    pub agent_grpc_host: String,
    /// The agent's gRPC port (8502 by convention).
    pub agent_grpc_port: u16,
    /// Envoy's admin listener address.
    pub admin_host: String,
    /// Envoy's admin port (19000 by default).
    pub admin_port: u16,
    /// ACL token sent as `x-consul-token` metadata on the ADS stream.
    pub token: String,
    /// Delta (default) or state-of-the-world ADS.
    pub protocol: Protocol,
    /// Datacenter, exposed to Envoy as node metadata.
    pub datacenter: String,
}

/// The bootstrap JSON.
pub fn envoy_bootstrap(p: &BootstrapParams) -> Value {
    let api_type = match p.protocol {
        Protocol::Delta => "DELTA_GRPC",
        Protocol::StateOfTheWorld => "GRPC",
    };
    let ads_source = json!({"ads": {}, "resource_api_version": "V3"});
    json!({
        "admin": {
            "access_log_path": "/dev/null",
            "address": {"socket_address": {"address": p.admin_host, "port_value": p.admin_port}}
        },
        "node": {
            "id": p.proxy_id,
            "cluster": p.cluster,
            "metadata": {"namespace": "default", "partition": "default", "datacenter": p.datacenter}
        },
        "static_resources": {
            "clusters": [{
                "name": "local_agent",
                "connect_timeout": "1s",
                "type": "STATIC",
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http2_protocol_options": {}}
                    }
                },
                "load_assignment": {
                    "cluster_name": "local_agent",
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": p.agent_grpc_host, "port_value": p.agent_grpc_port
                    }}}}]}]
                }
            }]
        },
        "dynamic_resources": {
            "lds_config": ads_source,
            "cds_config": ads_source,
            "ads_config": {
                "api_type": api_type,
                "transport_api_version": "V3",
                "grpc_services": [{
                    "envoy_grpc": {"cluster_name": "local_agent"},
                    "initial_metadata": [{"key": "x-consul-token", "value": p.token}]
                }]
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BootstrapParams {
        BootstrapParams {
            proxy_id: "web-sidecar-proxy".into(),
            cluster: "web".into(),
            agent_grpc_host: "127.0.0.1".into(),
            agent_grpc_port: 8502,
            admin_host: "127.0.0.1".into(),
            admin_port: 19000,
            token: "secret".into(),
            protocol: Protocol::Delta,
            datacenter: "dc1".into(),
        }
    }

    #[test]
    fn bootstrap_points_ads_at_the_local_agent_over_http2() {
        let b = envoy_bootstrap(&params());
        assert_eq!(b["node"]["id"], "web-sidecar-proxy");
        assert_eq!(b["node"]["cluster"], "web");
        let agent = &b["static_resources"]["clusters"][0];
        assert_eq!(agent["name"], "local_agent");
        assert_eq!(
            agent["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                ["explicit_http_config"]["http2_protocol_options"],
            json!({})
        );
        assert_eq!(
            agent["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
                ["port_value"],
            8502
        );
        let ads = &b["dynamic_resources"]["ads_config"];
        assert_eq!(ads["api_type"], "DELTA_GRPC");
        assert_eq!(ads["grpc_services"][0]["envoy_grpc"]["cluster_name"], "local_agent");
        assert_eq!(
            ads["grpc_services"][0]["initial_metadata"][0],
            json!({"key": "x-consul-token", "value": "secret"})
        );
        assert_eq!(
            b["dynamic_resources"]["lds_config"],
            json!({"ads": {}, "resource_api_version": "V3"})
        );
        assert_eq!(
            b["dynamic_resources"]["cds_config"],
            json!({"ads": {}, "resource_api_version": "V3"})
        );
        assert_eq!(b["admin"]["address"]["socket_address"]["port_value"], 19000);
        let sotw =
            envoy_bootstrap(&BootstrapParams { protocol: Protocol::StateOfTheWorld, ..params() });
        assert_eq!(sotw["dynamic_resources"]["ads_config"]["api_type"], "GRPC");
    }
}
