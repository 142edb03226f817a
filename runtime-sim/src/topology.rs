//! What a simulation runs: datacenters of servers and client agents, the services those
//! clients register (each with a sidecar), and a simulated proxy per sidecar.
//!
//! Every host has a *logical* address, its address inside its datacenter's private network
//! (`10.0.0.x` for servers, `10.0.1.x` for clients, the same in every datacenter), and a
//! unique *simulation* address that turmoil routes (`10.<dc>.0.x`, `10.<dc>.1.x`). Agents
//! bind and advertise the simulation address; reports use names and logical addresses.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

/// Client agents or servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A raft server (also an agent).
    Server,
    /// A client agent.
    Client,
}

/// One simulated proxy: an xDS client standing in for the Envoy of one sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    /// The sidecar's service id (Envoy's node id).
    pub id: String,
    /// The service it fronts.
    pub service: String,
}

/// One host.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Node name, unique in the simulation (`dc1-server1`).
    pub name: String,
    /// Datacenter name.
    pub dc: String,
    /// Server or client.
    pub role: Role,
    /// The address inside its datacenter.
    pub logical: Ipv4Addr,
    /// The address turmoil routes.
    pub ip: Ipv4Addr,
    /// Service definitions (Consul's JSON) registered at start.
    pub services: Vec<Value>,
    /// The proxies on this host.
    pub proxies: Vec<ProxySpec>,
}

/// Datacenters, hosts and services.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    dcs: Vec<String>,
    hosts: Vec<HostSpec>,
}

impl Topology {
    /// No datacenters yet.
    pub fn new() -> Self {
        Topology::default()
    }

    /// Adds datacenter `dc` with `servers` servers and `clients` client agents, named
    /// `{dc}-server{i}` and `{dc}-client{i}` from 1.
    pub fn datacenter(mut self, dc: &str, servers: u8, clients: u8) -> Self {
        self.dcs.push(dc.to_owned());
        let n = u8::try_from(self.dcs.len()).unwrap_or(u8::MAX);
        for (role, count, subnet) in [(Role::Server, servers, 0u8), (Role::Client, clients, 1)] {
            for i in 1..=count {
                let kind = if role == Role::Server { "server" } else { "client" };
                self.hosts.push(HostSpec {
                    name: format!("{dc}-{kind}{i}"),
                    dc: dc.to_owned(),
                    role,
                    logical: Ipv4Addr::new(10, 0, subnet, 10 + i),
                    ip: Ipv4Addr::new(10, n, subnet, 10 + i),
                    services: Vec::new(),
                    proxies: Vec::new(),
                });
            }
        }
        self
    }

    /// Registers service `name` on port `port` of client `host`, with a sidecar whose
    /// upstreams are `(service, local port)` pairs, and a simulated proxy for that sidecar.
    ///
    /// # Panics
    /// When `host` is not in the topology (a mistake in the scenario itself).
    pub fn service(mut self, host: &str, name: &str, port: u16, upstreams: &[(&str, u16)]) -> Self {
        let upstreams: Vec<Value> = upstreams
            .iter()
            .map(|(dest, bind)| json!({"destination_name": dest, "local_bind_port": bind}))
            .collect();
        let def = json!({
            "name": name,
            "id": name,
            "port": port,
            "connect": {"sidecar_service": {"proxy": {"upstreams": upstreams}}},
        });
        let spec = self
            .hosts
            .iter_mut()
            .find(|h| h.name == host)
            .unwrap_or_else(|| panic!("no host {host} in the topology"));
        spec.services.push(def);
        spec.proxies
            .push(ProxySpec { id: format!("{name}-sidecar-proxy"), service: name.to_owned() });
        self
    }

    /// Every host, servers of a datacenter first.
    pub fn hosts(&self) -> &[HostSpec] {
        &self.hosts
    }

    /// The datacenters in order.
    pub fn datacenters(&self) -> &[String] {
        &self.dcs
    }
}
