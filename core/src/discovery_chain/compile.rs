//! The compiler (CONSUL-FACTS.md §4): start node, routes, flattened splits, resolution
//! through redirects and default subsets, failover, then protocol checks.

use std::collections::BTreeMap;

use super::error::ChainError;
use super::model::{
    ChainFailover, ChainNode, ChainResolver, ChainRoute, ChainSplit, ChainTarget, CompiledChain,
    NodeType, merge_headers,
};
use crate::config::{
    ConfigEntries, GoDuration, MeshGatewayConfig, MeshGatewayMode, ResolverRedirect,
    ServiceResolver, ServiceRoute, ServiceRouteDestination, ServiceRouteHttpMatch,
    ServiceRouteMatch, ServiceRouter, ServiceSplitter, is_http_like,
};
use crate::ids::{Datacenter, Namespace, Partition, ServiceName, Sni, TrustDomain};

/// Connect timeout of a target whose resolver sets none.
pub const DEFAULT_CONNECT_TIMEOUT: GoDuration = GoDuration::from_secs(5);

/// Per-upstream overrides (the upstream definition's protocol, connect timeout and mesh
/// gateway mode). Any that changes the result marks the chain customized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Protocol override; a non-HTTP one disables routers and splitters.
    pub protocol: Option<String>,
    /// Connect timeout override for every target.
    pub connect_timeout: Option<GoDuration>,
    /// Mesh gateway mode override; `Default` means none.
    pub mesh_gateway: MeshGatewayMode,
}

/// Everything a compilation depends on.
#[derive(Debug, Clone)]
pub struct CompileRequest<'a> {
    /// The config entries in force.
    pub entries: &'a ConfigEntries,
    /// The service to compile.
    pub service: &'a ServiceName,
    /// Its namespace.
    pub namespace: &'a Namespace,
    /// Its partition.
    pub partition: &'a Partition,
    /// The datacenter compiled for: targets without an explicit datacenter live here.
    pub datacenter: &'a Datacenter,
    /// Trust domain for SNI names.
    pub trust_domain: &'a TrustDomain,
    /// Upstream overrides.
    pub overrides: Overrides,
}

/// Compiles the chain of `service` with no overrides, default partition.
pub fn compile(
    entries: &ConfigEntries,
    service: &ServiceName,
    namespace: &Namespace,
    datacenter: &Datacenter,
    trust_domain: &TrustDomain,
) -> Result<CompiledChain, ChainError> {
    compile_with(&CompileRequest {
        entries,
        service,
        namespace,
        partition: &Partition::default(),
        datacenter,
        trust_domain,
        overrides: Overrides::default(),
    })
}

/// Compiles a chain with overrides.
pub fn compile_with(req: &CompileRequest<'_>) -> Result<CompiledChain, ChainError> {
    Compiler::new(req).run()
}

/// A target before validation: the fields redirects and failover rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tgt {
    service: String,
    subset: String,
    namespace: String,
    partition: String,
    datacenter: String,
    peer: String,
}

impl Tgt {
    fn id(&self) -> String {
        let mut id = String::new();
        if !self.subset.is_empty() {
            id.push_str(&self.subset);
            id.push('.');
        }
        id.push_str(&format!("{}.{}.{}.", self.service, self.namespace, self.partition));
        if self.peer.is_empty() {
            id.push_str(&self.datacenter);
        } else {
            id.push_str(&format!("external.{}", self.peer));
        }
        id
    }

    /// Consul's `rewriteTarget`: a new service resets the subset; a datacenter and a peer
    /// exclude each other.
    fn rewrite(
        &self,
        service: &str,
        subset: &str,
        ns: &str,
        ap: &str,
        dc: &str,
        peer: &str,
    ) -> Tgt {
        let mut t = self.clone();
        if !service.is_empty() && service != t.service {
            t.service = service.to_owned();
            t.subset.clear();
        }
        if !subset.is_empty() {
            t.subset = subset.to_owned();
        }
        if !ns.is_empty() {
            t.namespace = ns.to_owned();
        }
        if !ap.is_empty() {
            t.partition = ap.to_owned();
        }
        if !dc.is_empty() {
            t.datacenter = dc.to_owned();
            t.peer.clear();
        }
        if !peer.is_empty() {
            t.peer = peer.to_owned();
            t.datacenter.clear();
        }
        t
    }

    fn redirected(&self, r: &ResolverRedirect) -> Tgt {
        self.rewrite(
            &r.service,
            &r.service_subset,
            &r.namespace,
            &r.partition,
            &r.datacenter,
            &r.peer,
        )
    }
}

struct Compiler<'a> {
    req: &'a CompileRequest<'a>,
    entries: &'a ConfigEntries,
    disable_advanced: bool,
    nodes: BTreeMap<String, ChainNode>,
    targets: BTreeMap<String, ChainTarget>,
    /// Services touched, in visiting order, with their configured protocol.
    protocols: Vec<(String, String)>,
    /// Splitters being flattened, for cycle detection.
    splitter_stack: Vec<String>,
    customized: bool,
}

impl<'a> Compiler<'a> {
    fn new(req: &'a CompileRequest<'a>) -> Self {
        let disable_advanced = req.overrides.protocol.as_deref().is_some_and(|p| !is_http_like(p));
        Compiler {
            req,
            entries: req.entries,
            disable_advanced,
            nodes: BTreeMap::new(),
            targets: BTreeMap::new(),
            protocols: Vec::new(),
            splitter_stack: Vec::new(),
            customized: false,
        }
    }

    fn local(&self, service: &str) -> Tgt {
        Tgt {
            service: service.to_owned(),
            subset: String::new(),
            namespace: self.req.namespace.to_string(),
            partition: self.req.partition.to_string(),
            datacenter: self.req.datacenter.to_string(),
            peer: String::new(),
        }
    }

    fn note_protocol(&mut self, service: &str) {
        if !self.protocols.iter().any(|(s, _)| s == service) {
            let p = self.entries.protocol_of(service);
            self.protocols.push((service.to_owned(), p));
        }
    }

    fn run(mut self) -> Result<CompiledChain, ChainError> {
        let service = self.req.service.as_str();
        self.note_protocol(service);
        let start = match self.entries.router(service) {
            Some(router) if !self.disable_advanced => self.router_node(router)?,
            _ => self.splitter_or_resolver(self.local(service))?,
        };
        let configured = self.entries.protocol_of(service);
        self.check_protocols(&configured)?;
        let protocol = match &self.req.overrides.protocol {
            Some(p) if *p != configured => {
                self.customized = true;
                p.clone()
            }
            _ => configured,
        };
        let default = self.nodes.get(&start).and_then(|n| n.resolver.as_ref()).is_some_and(|r| {
            r.default
                && self.targets.get(&r.target).is_some_and(|t| {
                    t.service == service
                        && t.namespace == self.req.namespace.as_str()
                        && t.partition == self.req.partition.as_str()
                })
        });
        Ok(CompiledChain {
            service_name: service.to_owned(),
            namespace: self.req.namespace.to_string(),
            partition: self.req.partition.to_string(),
            datacenter: self.req.datacenter.to_string(),
            customization_hash: if self.customized {
                self.customization_hash()
            } else {
                String::new()
            },
            default,
            protocol,
            service_meta: self
                .entries
                .service_defaults(service)
                .map(|d| d.meta.clone())
                .unwrap_or_default(),
            start_node: start,
            nodes: self.nodes,
            targets: self.targets,
        })
    }

    fn check_protocols(&self, chain_protocol: &str) -> Result<(), ChainError> {
        let chain = self.req.service.to_string();
        if let Some((service, protocol)) = self.protocols.iter().find(|(_, p)| p != chain_protocol)
        {
            return Err(ChainError::InconsistentProtocols {
                chain,
                service: service.clone(),
                protocol: protocol.clone(),
                expected: chain_protocol.to_owned(),
            });
        }
        let advanced = self.nodes.values().any(|n| n.r#type != NodeType::Resolver);
        if advanced && !is_http_like(chain_protocol) {
            return Err(ChainError::AdvancedRoutingNotPermitted {
                chain,
                protocol: chain_protocol.to_owned(),
            });
        }
        Ok(())
    }

    /// Eight hex digits that change whenever the applied overrides change (the stable
    /// content hash of the overrides); it only has to be stable and distinct, not Consul's
    /// bytes.
    fn customization_hash(&self) -> String {
        let o = &self.req.overrides;
        let key = (&o.protocol, o.connect_timeout.map(|d| d.as_nanos()), o.mesh_gateway.as_str());
        let mut hex = crate::xds::hash::content_hash(&key).to_hex();
        hex.truncate(8);
        hex
    }

    fn splitter_or_resolver(&mut self, t: Tgt) -> Result<String, ChainError> {
        if !self.disable_advanced
            && t.subset.is_empty()
            && let Some(splitter) = self.entries.splitter(&t.service)
        {
            self.note_protocol(&t.service);
            return self.splitter_node(splitter);
        }
        self.resolver_node(t)
    }

    fn router_node(&mut self, router: &ServiceRouter) -> Result<String, ChainError> {
        let own = self.local(&router.name);
        let key = format!("router:{}.{}.{}", router.name, own.namespace, own.partition);
        let mut routes = Vec::with_capacity(router.routes.len() + 1);
        for route in &router.routes {
            let dest = route.destination.clone().unwrap_or_default();
            let t = own.rewrite(&dest.service, "", &dest.namespace, &dest.partition, "", "");
            let next = if dest.service_subset.is_empty() {
                self.splitter_or_resolver(t)?
            } else {
                self.resolver_node(Tgt { subset: dest.service_subset.clone(), ..t })?
            };
            routes.push(ChainRoute { definition: route.clone(), next_node: next });
        }
        let catch_all = ServiceRoute {
            r#match: Some(ServiceRouteMatch {
                http: Some(ServiceRouteHttpMatch {
                    path_prefix: "/".into(),
                    ..ServiceRouteHttpMatch::default()
                }),
            }),
            destination: Some(ServiceRouteDestination {
                service: router.name.clone(),
                namespace: own.namespace.clone(),
                partition: own.partition.clone(),
                ..ServiceRouteDestination::default()
            }),
        };
        let next = self.splitter_or_resolver(own.clone())?;
        routes.push(ChainRoute { definition: catch_all, next_node: next });
        let name = key["router:".len()..].to_owned();
        self.nodes.insert(
            key.clone(),
            ChainNode {
                r#type: NodeType::Router,
                name,
                routes,
                splits: Vec::new(),
                resolver: None,
                load_balancer: None,
            },
        );
        Ok(key)
    }

    fn splitter_key(&self, splitter: &ServiceSplitter) -> String {
        let own = self.local(&splitter.name);
        format!("splitter:{}.{}.{}", splitter.name, own.namespace, own.partition)
    }

    fn splitter_node(&mut self, splitter: &ServiceSplitter) -> Result<String, ChainError> {
        let key = self.splitter_key(splitter);
        if self.nodes.contains_key(&key) {
            return Ok(key);
        }
        let splits = self.flatten(splitter)?;
        // A splitter takes the first hash-based load balancer of its legs, so sticky
        // sessions survive the split (Consul does the same).
        let load_balancer = splits
            .iter()
            .filter_map(|s| self.nodes.get(&s.next_node)?.load_balancer.clone())
            .find(|lb| matches!(lb.policy.as_str(), "ring_hash" | "maglev"));
        self.nodes.insert(
            key.clone(),
            ChainNode {
                r#type: NodeType::Splitter,
                name: key["splitter:".len()..].to_owned(),
                routes: Vec::new(),
                splits,
                resolver: None,
                load_balancer,
            },
        );
        Ok(key)
    }

    /// The legs of a splitter with nested splitters folded in: a leg to another service's
    /// splitter is replaced by that splitter's legs, weights multiplied.
    fn flatten(&mut self, splitter: &ServiceSplitter) -> Result<Vec<ChainSplit>, ChainError> {
        let key = self.splitter_key(splitter);
        if let Some(pos) = self.splitter_stack.iter().position(|k| *k == key) {
            let mut path = self.splitter_stack[pos..].to_vec();
            path.push(key);
            return Err(ChainError::CircularReference(path));
        }
        self.splitter_stack.push(key);
        let own = self.local(&splitter.name);
        let mut out = Vec::new();
        for split in &splitter.splits {
            let t = own.rewrite(&split.service, "", &split.namespace, &split.partition, "", "");
            let child = (split.service_subset.is_empty() && t.service != splitter.name)
                .then(|| self.entries.splitter(&t.service))
                .flatten();
            match child {
                Some(child) => {
                    self.note_protocol(&t.service);
                    for leg in self.flatten(child)? {
                        let mut definition = leg.definition.clone();
                        definition.request_headers = merge_headers(
                            split.request_headers.as_ref(),
                            leg.definition.request_headers.as_ref(),
                        );
                        definition.response_headers = merge_headers(
                            split.response_headers.as_ref(),
                            leg.definition.response_headers.as_ref(),
                        );
                        let weight = (split.weight * leg.weight).round() / 100.0;
                        out.push(ChainSplit { definition, weight, next_node: leg.next_node });
                    }
                }
                None => {
                    let next =
                        self.resolver_node(Tgt { subset: split.service_subset.clone(), ..t })?;
                    out.push(ChainSplit {
                        definition: split.clone(),
                        weight: split.weight,
                        next_node: next,
                    });
                }
            }
        }
        self.splitter_stack.pop();
        Ok(out)
    }

    /// Follows redirects and applies the default subset until the target settles.
    fn resolve(&mut self, start: Tgt) -> Result<Tgt, ChainError> {
        let mut seen: Vec<String> = Vec::new();
        let mut t = start;
        loop {
            let id = t.id();
            if seen.contains(&id) {
                seen.push(id);
                return Err(ChainError::CircularRedirect(seen));
            }
            seen.push(id);
            self.note_protocol(&t.service);
            let resolver = self.entries.resolver(&t.service);
            if let Some(r) = resolver.and_then(|r| r.redirect.as_ref())
                && r.sameness_group.is_empty()
                && t.peer.is_empty()
            {
                let next = t.redirected(r);
                if next != t {
                    t = next;
                    continue;
                }
            }
            if t.subset.is_empty()
                && let Some(r) = resolver
            {
                t.subset.clone_from(&r.default_subset);
            }
            if !t.subset.is_empty() && !resolver.is_some_and(|r| r.subsets.contains_key(&t.subset))
            {
                return Err(ChainError::MissingSubset { service: t.service, subset: t.subset });
            }
            return Ok(t);
        }
    }

    fn check_external(&self, service: &str) -> Result<(), ChainError> {
        let external =
            self.entries.service_defaults(service).is_some_and(|d| !d.external_sni.is_empty());
        let Some(r) = self.entries.resolver(service) else { return Ok(()) };
        let what = if !external {
            return Ok(());
        } else if r.redirect.is_some() {
            "redirects"
        } else if !r.subsets.is_empty() {
            "subsets"
        } else if !r.failover.is_empty() {
            "failover"
        } else {
            return Ok(());
        };
        Err(ChainError::ExternalSni { service: service.to_owned(), what })
    }

    fn connect_timeout(&mut self, resolver: Option<&ServiceResolver>) -> GoDuration {
        let configured = resolver
            .map(|r| r.connect_timeout)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        match self.req.overrides.connect_timeout {
            Some(d) if !d.is_zero() => {
                if d != configured {
                    self.customized = true;
                }
                d
            }
            _ => configured,
        }
    }

    fn resolver_node(&mut self, start: Tgt) -> Result<String, ChainError> {
        let t = self.resolve(start)?;
        let id = t.id();
        let key = format!("resolver:{id}");
        if self.nodes.contains_key(&key) {
            return Ok(key);
        }
        let resolver = self.entries.resolver(&t.service);
        self.check_external(&t.service)?;
        self.insert_target(&t)?;
        let failover = self.failover(&t, resolver)?;
        let connect_timeout = self.connect_timeout(resolver);
        self.nodes.insert(
            key.clone(),
            ChainNode {
                r#type: NodeType::Resolver,
                name: id.clone(),
                routes: Vec::new(),
                splits: Vec::new(),
                resolver: Some(ChainResolver {
                    default: resolver.is_none_or(ServiceResolver::is_default),
                    connect_timeout,
                    request_timeout: resolver.map(|r| r.request_timeout).unwrap_or_default(),
                    target: id,
                    failover,
                }),
                load_balancer: resolver.and_then(|r| r.load_balancer.clone()),
            },
        );
        Ok(key)
    }

    /// Failover applies to the primary resolution only; each failover target is resolved
    /// through redirects and default subsets but gets no node and no failover of its own,
    /// which is why circular failover is allowed.
    fn failover(
        &mut self,
        primary: &Tgt,
        resolver: Option<&ServiceResolver>,
    ) -> Result<Option<ChainFailover>, ChainError> {
        let Some(r) = resolver else { return Ok(None) };
        let Some(f) = r.failover.get(&primary.subset).or_else(|| r.failover.get("*")) else {
            return Ok(None);
        };
        let candidates: Vec<Tgt> = if !f.datacenters.is_empty() {
            f.datacenters.iter().map(|dc| primary.rewrite("", "", "", "", dc, "")).collect()
        } else if !f.targets.is_empty() {
            f.targets
                .iter()
                .map(|ft| {
                    primary.rewrite(
                        &ft.service,
                        &ft.service_subset,
                        &ft.namespace,
                        &ft.partition,
                        &ft.datacenter,
                        &ft.peer,
                    )
                })
                .collect()
        } else {
            vec![primary.rewrite(&f.service, &f.service_subset, &f.namespace, "", "", "")]
        };
        let mut ids: Vec<String> = Vec::new();
        for candidate in candidates {
            let t = if candidate.peer.is_empty() { self.resolve(candidate)? } else { candidate };
            let id = t.id();
            if id == primary.id() || ids.contains(&id) {
                continue;
            }
            self.insert_target(&t)?;
            ids.push(id);
        }
        Ok((!ids.is_empty()).then_some(ChainFailover { targets: ids }))
    }

    fn mesh_gateway_mode(&mut self, service: &str, external: bool) -> MeshGatewayMode {
        if external {
            return MeshGatewayMode::Default;
        }
        let mut mode =
            self.entries.service_defaults(service).map(|d| d.mesh_gateway.mode).unwrap_or_default();
        if mode.is_default() {
            mode = self.entries.proxy_defaults().map(|p| p.mesh_gateway.mode).unwrap_or_default();
        }
        let o = self.req.overrides.mesh_gateway;
        if !o.is_default() && o != mode {
            self.customized = true;
            mode = o;
        }
        mode
    }

    fn insert_target(&mut self, t: &Tgt) -> Result<(), ChainError> {
        let id = t.id();
        if self.targets.contains_key(&id) {
            return Ok(());
        }
        let external_sni = self
            .entries
            .service_defaults(&t.service)
            .map(|d| d.external_sni.clone())
            .unwrap_or_default();
        let external = !external_sni.is_empty();
        let resolver = self.entries.resolver(&t.service);
        let subset = resolver.and_then(|r| r.subsets.get(&t.subset)).cloned().unwrap_or_default();
        let name = if t.peer.is_empty() {
            Sni::service(
                &ServiceName::new(&t.service)?,
                Some(&t.subset),
                &Namespace::new(&t.namespace)?,
                &Partition::new(&t.partition)?,
                &Datacenter::new(&t.datacenter)?,
                self.req.trust_domain,
            )
            .to_string()
        } else {
            ServiceName::new(&t.service)?;
            String::new()
        };
        let mode = self.mesh_gateway_mode(&t.service, external);
        let connect_timeout = self.connect_timeout(resolver);
        self.targets.insert(
            id.clone(),
            ChainTarget {
                id,
                service: t.service.clone(),
                service_subset: t.subset.clone(),
                namespace: t.namespace.clone(),
                partition: t.partition.clone(),
                datacenter: t.datacenter.clone(),
                peer: t.peer.clone(),
                mesh_gateway: MeshGatewayConfig { mode },
                subset,
                connect_timeout,
                external,
                sni: if external { external_sni } else { name.clone() },
                name,
            },
        );
        Ok(())
    }
}
