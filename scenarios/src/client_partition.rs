//! A client agent is cut off from every server.
//!
//! Checks: while cut off it keeps answering `/v1/agent/connect/authorize` from its cache
//! (a deny written before the cut still denies, another source is still allowed); a new
//! `api` instance registered meanwhile reaches its `web` proxy after the heal.

use std::time::Duration;

use proconsul_runtime_sim::{Fault, Role, SimConfig, Topology, World};

use crate::http::{Verb, call};
use crate::leader_crash::elect;
use crate::mesh;

const CUT_OFF: &str = "dc1-client1";

/// web (on client1) calls api (on client2).
pub fn topology() -> Topology {
    Topology::new()
        .datacenter("dc1", 3, 2)
        .service("dc1-client1", "web", 8080, &[("api", 9191)])
        .service("dc1-client2", "api", 8081, &[])
}

/// One run.
pub fn run(seed: u64) -> crate::Run {
    let mut world = World::new(&topology(), SimConfig::new(seed))?;
    let result = body(&mut world);
    Ok((world, result))
}

fn http(world: &World, host: &str) -> Result<String, String> {
    world.http_addr(host).ok_or(format!("no host {host}"))
}

/// Asks `agent` whether `source` may call `target`.
fn authorized(
    world: &mut World,
    agent: &str,
    trust_domain: &str,
    source: &str,
    target: &str,
) -> Result<bool, String> {
    let addr = http(world, agent)?;
    let body = format!(
        r#"{{"Target":"{target}","ClientCertURI":"spiffe://{trust_domain}/ns/default/dc/dc1/svc/{source}"}}"#
    );
    let (status, text) = call(world, &addr, Verb::Post, "/v1/agent/connect/authorize", &body)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("authorize answered {status} {text}: {e}"))?;
    v["Authorized"].as_bool().ok_or(format!("authorize answered {text}"))
}

/// api endpoints in web's proxy configuration (api-2 has no sidecar running, so its
/// endpoint is configured but unhealthy: it counts, the configuration is what converges).
fn api_endpoints(world: &World) -> usize {
    mesh::upstream_configured(world, CUT_OFF, "web-sidecar-proxy", "api").map_or(0, |e| e.len())
}

fn body(world: &mut World) -> Result<(), String> {
    let leader = elect(world)?;
    let server = http(world, &leader)?;
    let configured = world.run_until(Duration::from_secs(90), |w| api_endpoints(w) == 1)?;
    if !configured {
        return Err("web's proxy never held api's endpoint".into());
    }
    let (_, roots) = call(world, &server, Verb::Get, "/v1/connect/ca/roots", "")?;
    let roots: serde_json::Value =
        serde_json::from_str(&roots).map_err(|e| format!("roots: {e}"))?;
    let td = roots["TrustDomain"].as_str().ok_or("no trust domain")?.to_owned();
    let (status, _) = call(
        world,
        &server,
        Verb::Put,
        "/v1/connect/intentions/exact?source=api&destination=web",
        r#"{"Action":"deny"}"#,
    )?;
    if status != 200 {
        return Err(format!("writing the intention answered {status}"));
    }
    // The client's cache learns the deny through its blocking query.
    let learned = {
        let mut seen = false;
        for _ in 0..20 {
            if !authorized(world, CUT_OFF, &td, "api", "web")? {
                seen = true;
                break;
            }
            world.run_for(Duration::from_millis(500))?;
        }
        seen
    };
    if !learned {
        return Err("the client agent never learned the deny".into());
    }
    let servers: Vec<String> =
        world.hosts().filter(|h| h.role == Role::Server).map(|h| h.name.clone()).collect();
    world.apply(&Fault::Partition(vec![CUT_OFF.into()], servers.clone()))?;
    world.run_for(Duration::from_secs(5))?;
    for round in 0..3 {
        if authorized(world, CUT_OFF, &td, "api", "web")? {
            return Err(format!(
                "round {round}: cut off, the client allowed api -> web despite the deny"
            ));
        }
        if !authorized(world, CUT_OFF, &td, "dashboard", "web")? {
            return Err(format!(
                "round {round}: cut off, the client denied dashboard -> web (default allow)"
            ));
        }
        world.run_for(Duration::from_secs(3))?;
    }
    // Meanwhile a second api instance registers on client2.
    let client2 = http(world, "dc1-client2")?;
    let (status, text) = call(
        world,
        &client2,
        Verb::Put,
        "/v1/agent/service/register",
        r#"{"Name":"api","ID":"api-2","Port":8082,"Connect":{"SidecarService":{}}}"#,
    )?;
    if status != 200 {
        return Err(format!("registering api-2 answered {status}: {text}"));
    }
    world.run_for(Duration::from_secs(10))?;
    if api_endpoints(world) != 1 {
        return Err(format!(
            "cut off, web's proxy changed to {} api endpoints",
            api_endpoints(world)
        ));
    }
    world.apply(&Fault::Heal(vec![CUT_OFF.into()], servers))?;
    let caught_up = world.run_until(Duration::from_secs(60), |w| api_endpoints(w) == 2)?;
    if !caught_up {
        return Err(format!(
            "60 s after the heal web's proxy holds {} api endpoints, not 2",
            api_endpoints(world)
        ));
    }
    if authorized(world, CUT_OFF, &td, "api", "web")? {
        return Err("after the heal api -> web is allowed despite the deny".into());
    }
    crate::invariants::one_leader_per_term(world.trace())
}
