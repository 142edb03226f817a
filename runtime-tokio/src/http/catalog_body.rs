//! Catalog request bodies read the way Consul reads them: Go's `encoding/json` matches field
//! names without regard to case (py-consul sends `{"node": ..., "service": {"service": ...}}`)
//! and ignores fields it does not know. Keys are renamed to our structs' canonical spelling by
//! walking the body along the registration's shape; free-form maps (`Meta`, `NodeMeta`,
//! `TaggedAddresses` keys, proxy `Config`) keep their keys exactly as written.

use serde_json::{Map, Value};

/// What a value in the body is.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// An object with these fields.
    Object(&'static [(&'static str, Shape)]),
    /// A list of the inner shape.
    List(&'static Shape),
    /// A map with user keys whose values have the inner shape.
    MapOf(&'static Shape),
    /// Kept exactly as written (scalars, free-form maps).
    Keep,
}

use Shape::{Keep, List, MapOf, Object};

const SERVICE_ADDRESS: Shape = Object(&[("Address", Keep), ("Port", Keep)]);
const MESH_GATEWAY: Shape = Object(&[("Mode", Keep)]);
const UPSTREAM: Shape = Object(&[
    ("DestinationType", Keep),
    ("DestinationName", Keep),
    ("Datacenter", Keep),
    ("LocalBindAddress", Keep),
    ("LocalBindPort", Keep),
    ("Config", Keep),
    ("MeshGateway", MESH_GATEWAY),
]);
const PROXY: Shape = Object(&[
    ("DestinationServiceName", Keep),
    ("DestinationServiceID", Keep),
    ("LocalServiceAddress", Keep),
    ("LocalServicePort", Keep),
    ("Mode", Keep),
    ("Config", Keep),
    ("Upstreams", List(&UPSTREAM)),
    ("MeshGateway", MESH_GATEWAY),
    ("Expose", Keep),
]);
const SERVICE: Shape = Object(&[
    ("Kind", Keep),
    ("ID", Keep),
    ("Service", Keep),
    ("Tags", Keep),
    ("Address", Keep),
    ("TaggedAddresses", MapOf(&SERVICE_ADDRESS)),
    ("Meta", Keep),
    ("Port", Keep),
    ("Weights", Object(&[("Passing", Keep), ("Warning", Keep)])),
    ("Proxy", PROXY),
    ("Connect", Object(&[("Native", Keep)])),
]);
const CHECK: Shape = Object(&[
    ("Node", Keep),
    ("CheckID", Keep),
    ("Name", Keep),
    ("Status", Keep),
    ("Notes", Keep),
    ("Output", Keep),
    ("ServiceID", Keep),
    ("ServiceName", Keep),
]);

/// `PUT /v1/catalog/register`.
pub(crate) const REGISTER: Shape = Object(&[
    ("ID", Keep),
    ("Node", Keep),
    ("Address", Keep),
    ("Datacenter", Keep),
    ("TaggedAddresses", Keep),
    ("NodeMeta", Keep),
    ("Service", SERVICE),
    ("Check", CHECK),
    ("Checks", List(&CHECK)),
    ("SkipNodeUpdate", Keep),
]);

/// `PUT /v1/catalog/deregister`.
pub(crate) const DEREGISTER: Shape =
    Object(&[("Node", Keep), ("Datacenter", Keep), ("ServiceID", Keep), ("CheckID", Keep)]);

/// Renames `value`'s keys to the canonical spelling of `shape`. An exact match wins over a
/// case-insensitive one, as in Go; unknown keys are left for serde to ignore.
pub(crate) fn canonical(value: Value, shape: Shape) -> Value {
    match (shape, value) {
        (Object(fields), Value::Object(map)) => {
            let mut out = Map::new();
            let (exact, folded): (Vec<_>, Vec<_>) =
                map.into_iter().partition(|(k, _)| fields.iter().any(|(name, _)| name == k));
            for (key, v) in exact.into_iter().chain(folded) {
                match fields.iter().find(|(name, _)| name.eq_ignore_ascii_case(&key)) {
                    Some((name, inner)) if !out.contains_key(*name) => {
                        out.insert((*name).to_owned(), canonical(v, *inner));
                    }
                    Some(_) => {}
                    None => {
                        out.insert(key, v);
                    }
                }
            }
            Value::Object(out)
        }
        (List(inner), Value::Array(items)) => {
            Value::Array(items.into_iter().map(|v| canonical(v, *inner)).collect())
        }
        (MapOf(inner), Value::Object(map)) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, canonical(v, *inner))).collect())
        }
        (_, other) => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_match_without_case_and_user_maps_keep_theirs() {
        let body = json!({
            "node": "n1", "address": "10.0.0.1", "datacenter": "dc1",
            "NodeMeta": {"Rack": "r1"},
            "service": {"service": "s1", "tags": ["a"], "meta": {"Owner": "x"},
                        "taggedaddresses": {"LAN": {"address": "1.2.3.4", "port": 80}},
                        "proxy": {"upstreams": [{"destinationname": "db"}], "config": {"Proto": 1}}},
            "check": {"name": "c1", "serviceid": "s1"},
            "WriteRequest": {"Token": "t"}
        });
        let got = canonical(body, REGISTER);
        assert_eq!(
            got,
            json!({
                "Node": "n1", "Address": "10.0.0.1", "Datacenter": "dc1",
                "NodeMeta": {"Rack": "r1"},
                "Service": {"Service": "s1", "Tags": ["a"], "Meta": {"Owner": "x"},
                            "TaggedAddresses": {"LAN": {"Address": "1.2.3.4", "Port": 80}},
                            "Proxy": {"Upstreams": [{"DestinationName": "db"}],
                                      "Config": {"Proto": 1}}},
                "Check": {"Name": "c1", "ServiceID": "s1"},
                "WriteRequest": {"Token": "t"}
            })
        );
    }

    #[test]
    fn an_exact_key_wins_over_a_folded_one() {
        let got = canonical(json!({"node": "lower", "Node": "exact"}), DEREGISTER);
        assert_eq!(got, json!({"Node": "exact"}));
    }
}
