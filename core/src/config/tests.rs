//! Reading, writing and validating config entries.

use super::*;
use serde_json::json;

fn invalid(v: serde_json::Value) -> String {
    match ConfigEntry::from_value(v) {
        Err(ConfigError::Invalid { message, .. }) => message,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn camel_case_and_snake_case_json_read_the_same() {
    let camel = json!({
        "Kind": "service-router", "Name": "counting",
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin"}},
                    "Destination": {"Service": "counting-admin", "PrefixRewrite": "/"}}]
    });
    let snake = json!({
        "kind": "service-router", "name": "counting",
        "routes": [{"match": {"http": {"path_prefix": "/admin"}},
                    "destination": {"service": "counting-admin", "prefix_rewrite": "/"}}]
    });
    let a = ConfigEntry::from_value(camel).unwrap();
    let b = ConfigEntry::from_value(snake).unwrap();
    assert_eq!(a, b);
    let ConfigEntry::ServiceRouter(r) = &a else { panic!("kind") };
    let http = r.routes[0].r#match.as_ref().unwrap().http.as_ref().unwrap();
    assert_eq!(http.path_prefix, "/admin");
}

#[test]
fn writes_consul_api_casing_with_kind_first() {
    let e = ConfigEntry::from_value(json!({
        "kind": "service-defaults", "name": "web", "protocol": "HTTP",
        "mesh_gateway": {"mode": "local"}, "external_sni": "web.example.com"
    }))
    .unwrap();
    let out = e.to_value();
    assert_eq!(
        out,
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http",
               "MeshGateway": {"Mode": "local"}, "ExternalSNI": "web.example.com"})
    );
    assert_eq!(out.as_object().unwrap().keys().next().unwrap(), "Kind");
}

#[test]
fn hcl_files_as_consul_config_write_takes_them() {
    let router = ConfigEntry::from_hcl(
        r#"
kind = "service-router"
name = "counting"
routes = [
  {
    match {
      http {
        path_prefix = "/admin"
      }
    }
    destination {
      service        = "counting-admin"
      prefix_rewrite = "/"
    }
  },
]
"#,
    )
    .unwrap();
    let json = ConfigEntry::from_value(json!({
        "Kind": "service-router", "Name": "counting",
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin"}},
                    "Destination": {"Service": "counting-admin", "PrefixRewrite": "/"}}]
    }))
    .unwrap();
    assert_eq!(router, json);

    let intentions = ConfigEntry::from_hcl(
        r#"
Kind = "service-intentions"
Name = "db"
Sources {
  Name   = "web"
  Action = "allow"
}
Sources {
  Name   = "*"
  Action = "deny"
}
"#,
    )
    .unwrap();
    let ConfigEntry::ServiceIntentions(i) = intentions else { panic!("kind") };
    assert_eq!(i.sources.len(), 2);
    assert_eq!((i.sources[0].name.as_str(), i.sources[0].precedence), ("web", 9));
    assert_eq!((i.sources[1].name.as_str(), i.sources[1].precedence), ("*", 8));

    let resolver = ConfigEntry::from_hcl(
        r#"
kind           = "service-resolver"
name           = "counting-admin"
default_subset = "v1"
connect_timeout = "15s"
subsets = {
  v1 = { filter = "Service.Meta.version == v1" }
  v2 = { filter = "Service.Meta.version == v2", only_passing = true }
}
failover = {
  "*" = { datacenters = ["dc-aws", "dc-gcp"] }
}
"#,
    )
    .unwrap();
    let ConfigEntry::ServiceResolver(r) = resolver else { panic!("kind") };
    assert_eq!(r.subsets["v2"].filter, "Service.Meta.version == v2");
    assert!(r.subsets["v2"].only_passing);
    assert_eq!(r.failover["*"].datacenters, ["dc-aws", "dc-gcp"]);
    assert_eq!(r.connect_timeout, GoDuration::from_secs(15));
}

#[test]
fn unknown_field_is_named_with_its_path() {
    let err = ConfigEntry::from_value(json!({
        "Kind": "service-router", "Name": "web",
        "Routes": [{"Match": {"HTTP": {"PathPrefx": "/x"}}}]
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Routes[0].Match.HTTP: invalid config key \"Routes[0].Match.HTTP.PathPrefx\""
    );
    let err = ConfigEntry::from_value(
        json!({"Kind": "service-defaults", "Name": "web", "Protocl": "http"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("invalid config key \"Protocl\""), "{err}");
}

#[test]
fn free_form_map_keys_are_kept_as_written() {
    let e = ConfigEntry::from_value(json!({
        "Kind": "proxy-defaults", "Name": "global",
        "Config": {"protocol": "http", "envoy_extra_static_clusters_json": "{}"},
        "Meta": {"Owner_Team": "payments"}
    }))
    .unwrap();
    let out = e.to_value();
    assert_eq!(out["Config"]["envoy_extra_static_clusters_json"], "{}");
    assert_eq!(out["Meta"]["Owner_Team"], "payments");
    let ConfigEntry::ProxyDefaults(p) = e else { panic!("kind") };
    assert_eq!(p.protocol(), "http");
}

#[test]
fn unknown_and_missing_kinds_list_the_known_ones() {
    let known = "service-defaults, proxy-defaults, service-router, service-splitter, service-resolver, service-intentions, ingress-gateway";
    let err =
        ConfigEntry::from_value(json!({"Kind": "terminating-gateway", "Name": "x"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("invalid config entry kind: \"terminating-gateway\" (known kinds: {known})")
    );
    let err = ConfigEntry::from_value(json!({"Name": "x"})).unwrap_err();
    assert_eq!(err.to_string(), format!("Kind is required (known kinds: {known})"));
}

#[test]
fn names_that_can_never_be_service_names_are_refused_where_written() {
    assert_eq!(
        invalid(json!({"Kind": "service-defaults", "Name": "a b"})),
        "Name: service name \"a b\" contains whitespace or a control character"
    );
    let router = json!({"Kind": "service-router", "Name": "web", "Routes": [{"Destination": {"Service": "ap\u{0}i"}}]});
    assert_eq!(
        invalid(router),
        "service name \"ap\\0i\" contains whitespace or a control character"
    );
    let ixn = json!({"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "we b", "Action": "allow"}]});
    assert_eq!(
        invalid(ixn),
        "Sources[0].Name: service name \"we b\" contains whitespace or a control character"
    );
    let err = ConfigEntry::from_value(json!({"Kind": ["x"], "Name": "web"})).unwrap_err();
    assert!(err.to_string().starts_with("Kind must be a string"), "{err}");
}

#[test]
fn l7_permission_validation_names_the_field() {
    let i = |perm: serde_json::Value| {
        json!({"Kind": "service-intentions", "Name": "db",
        "Sources": [{"Name": "web", "Permissions": [perm]}]})
    };
    assert_eq!(
        invalid(i(json!({"Action": "allow", "HTTP": {"PathExact": "x"}}))),
        "Sources[0].Permissions[0].HTTP.PathExact doesn't start with '/': \"x\""
    );
    assert_eq!(
        invalid(i(json!({"Action": "allow", "HTTP": {"Methods": ["GET", "YELL"]}}))),
        "Sources[0].Permissions[0].HTTP.Methods contains an invalid method \"YELL\""
    );
    assert_eq!(
        invalid(i(json!({"Action": "maybe", "HTTP": {"PathPrefix": "/"}}))),
        "Sources[0].Permissions[0].Action must be set to 'allow' or 'deny'"
    );
    assert_eq!(
        invalid(i(json!({"Action": "allow", "HTTP": {}}))),
        "Sources[0].Permissions[0].HTTP should not be empty"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let err = ConfigEntry::from_value(
        json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": "half"}]}),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("Splits[0].Weight: "), "{err}");
    let err = ConfigEntry::from_value(
        json!({"Kind": "service-defaults", "Name": "web", "MeshGateway": {"Mode": "sideways"}}),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "MeshGateway.Mode: Invalid Mesh Gateway Mode: \"sideways\"");
}

#[test]
fn splitter_weights_sum_to_100_in_hundredths() {
    let ok = json!({"Kind": "service-splitter", "Name": "web",
                    "Splits": [{"Weight": 33.33, "ServiceSubset": "a"}, {"Weight": 33.33, "ServiceSubset": "b"},
                               {"Weight": 33.34, "ServiceSubset": "c"}]});
    ConfigEntry::from_value(ok).unwrap();
    let bad = json!({"Kind": "service-splitter", "Name": "web",
                     "Splits": [{"Weight": 33.333, "ServiceSubset": "a"}, {"Weight": 33.333, "ServiceSubset": "b"},
                                {"Weight": 33.333, "ServiceSubset": "c"}]});
    assert_eq!(invalid(bad), "the sum of all split weights must be 100, not 99.990000");
    let dup = json!({"Kind": "service-splitter", "Name": "web",
                     "Splits": [{"Weight": 50}, {"Weight": 50, "Service": "web"}]});
    assert_eq!(
        invalid(dup),
        "split destination occurs more than once: service=\"web\", subset=\"\", namespace=\"\", partition=\"\""
    );
    assert_eq!(invalid(json!({"Kind": "service-splitter", "Name": "web"})), "no splits configured");
    assert_eq!(weight_hundredths(95.5), 9550);
    assert_eq!(weight_hundredths(0.5), 50);
}

#[test]
fn router_validation_uses_consul_messages() {
    let route = |m: serde_json::Value| json!({"Kind": "service-router", "Name": "web", "Routes": [{"Match": {"HTTP": m}}]});
    assert_eq!(
        invalid(route(json!({"PathExact": "x"}))),
        "Route[0] PathExact doesn't start with '/': \"x\""
    );
    assert_eq!(
        invalid(route(json!({"PathPrefix": "x"}))),
        "Route[0] PathPrefix doesn't start with '/': \"x\""
    );
    assert_eq!(
        invalid(route(json!({"PathExact": "/a", "PathPrefix": "/b"}))),
        "Route[0] should only contain at most one of PathExact, PathPrefix, or PathRegex"
    );
    assert_eq!(
        invalid(route(json!({"Header": [{"Exact": "x"}]}))),
        "Route[0] Header[0] missing required Name field"
    );
    assert_eq!(
        invalid(route(json!({"Header": [{"Name": "x", "Exact": "a", "Prefix": "b"}]}))),
        "Route[0] Header[0] should only contain one of Present, Exact, Prefix, Suffix, or Regex"
    );
    assert_eq!(
        invalid(route(json!({"QueryParam": [{"Name": "q", "Present": true, "Exact": "1"}]}))),
        "Route[0] QueryParam[0] should only contain one of Present, Exact, or Regex"
    );
    assert_eq!(
        invalid(route(json!({"Methods": ["GET", "FETCH"]}))),
        "Route[0] Methods contains an invalid method \"FETCH\""
    );
    assert_eq!(
        invalid(route(json!({"Methods": ["get", "GET"]}))),
        "Route[0] Methods contains \"GET\" more than once"
    );
    assert!(
        invalid(route(json!({"PathRegex": "(unclosed"})))
            .starts_with("Route[0] PathRegex \"(unclosed\" is not a valid regular expression")
    );
    let rewrite = json!({"Kind": "service-router", "Name": "web",
                         "Routes": [{"Match": {"HTTP": {"PathRegex": "/a.*"}}, "Destination": {"PrefixRewrite": "/"}}]});
    assert_eq!(
        invalid(rewrite),
        "Route[0] cannot make use of PrefixRewrite without configuring either PathExact or PathPrefix"
    );
    let retry = json!({"Kind": "service-router", "Name": "web", "Routes": [{"Destination": {"RetryOn": ["5xx", "sometimes"]}}]});
    assert_eq!(invalid(retry), "Route[0] contains an invalid retry condition: \"sometimes\"");
}

#[test]
fn resolver_validation_uses_consul_messages() {
    let r = |extra: serde_json::Value| {
        let mut v = json!({"Kind": "service-resolver", "Name": "web"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    assert_eq!(
        invalid(r(json!({"DefaultSubset": "v9"}))),
        "DefaultSubset \"v9\" is not a valid subset"
    );
    assert!(
        invalid(r(json!({"Subsets": {"V1": {}}})))
            .starts_with("Subset \"V1\" is invalid: must be 63 characters or fewer")
    );
    assert!(
        invalid(r(json!({"Subsets": {"v1": {"Filter": "Service.Meta.version =="}}})))
            .starts_with("Filter for subset \"v1\" is not a valid expression: ")
    );
    assert_eq!(
        invalid(r(json!({"Redirect": {"Service": "x"}, "Failover": {"*": {"Service": "y"}}}))),
        "Redirect and Failover cannot both be set"
    );
    assert_eq!(invalid(r(json!({"Redirect": {}}))), "Redirect is empty");
    assert_eq!(
        invalid(r(json!({"Redirect": {"ServiceSubset": "v1"}}))),
        "Redirect.ServiceSubset defined without Redirect.Service"
    );
    assert_eq!(
        invalid(r(json!({"Redirect": {"Service": "web", "ServiceSubset": "v1"}}))),
        "Redirect.ServiceSubset \"v1\" is not a valid subset of \"web\""
    );
    assert_eq!(
        invalid(r(json!({"Failover": {"v1": {"Service": "x"}}}))),
        "Bad Failover[\"v1\"]: not a valid subset subset"
    );
    assert_eq!(
        invalid(r(json!({"Failover": {"*": {}}}))),
        "Bad Failover[\"*\"]: one of Service, ServiceSubset, Namespace, Targets, SamenessGroup, or Datacenters is required"
    );
    assert_eq!(
        invalid(r(json!({"Failover": {"*": {"Datacenters": ["dc2", ""]}}}))),
        "Bad Failover[\"*\"].Datacenters: found empty datacenter"
    );
    assert_eq!(
        invalid(r(
            json!({"Failover": {"*": {"Targets": [{"Datacenter": "dc2"}], "Datacenters": ["dc3"]}}})
        )),
        "Bad Failover[\"*\"]: Targets cannot be set with Datacenters"
    );
    assert_eq!(
        invalid(r(json!({"ConnectTimeout": "-1s"}))),
        "Bad ConnectTimeout '-1s', must be >= 0"
    );
    assert_eq!(
        invalid(r(json!({"RequestTimeout": "-2s"}))),
        "Bad RequestTimeout '-2s', must be >= 0"
    );
}

#[test]
fn intention_validation_uses_consul_messages() {
    let i = |name: &str, sources: serde_json::Value| json!({"Kind": "service-intentions", "Name": name, "Sources": sources});
    assert_eq!(invalid(i("db", json!([]))), "At least one source is required");
    assert_eq!(invalid(i("db", json!([{"Action": "allow"}]))), "Sources[0].Name is required");
    assert_eq!(
        invalid(i("db", json!([{"Name": "web"}]))),
        "Sources[0].Action must be set to 'allow' or 'deny'"
    );
    assert_eq!(
        invalid(i("db", json!([{"Name": "web*", "Action": "allow"}]))),
        "Sources[0].Name: wildcard character '*' cannot be used with partial values"
    );
    assert_eq!(
        invalid(i("d*", json!([{"Name": "web", "Action": "allow"}]))),
        "Name: wildcard character '*' cannot be used with partial values"
    );
    assert_eq!(
        invalid(i(
            "db",
            json!([{"Name": "web", "Action": "allow"}, {"Name": "web", "Action": "deny"}])
        )),
        "Sources[1] defines \"web\" more than once"
    );
    assert_eq!(
        invalid(i(
            "db",
            json!([{"Name": "web", "Action": "deny"}, {"Name": "web", "Partition": "default", "Namespace": "default", "Action": "allow"}])
        )),
        "Sources[1] defines \"web\" more than once"
    );
    assert_eq!(
        invalid(i(
            "db",
            json!([{"Name": "web", "Action": "allow", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}])
        )),
        "Sources[0].Action must be omitted if Permissions are specified"
    );
    assert_eq!(
        invalid(i(
            "*",
            json!([{"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}])
        )),
        "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations"
    );
    assert_eq!(
        invalid(i("db", json!([{"Name": "web", "Action": "allow", "Type": "other"}]))),
        "Sources[0].Type must be set to 'consul'"
    );
    assert_eq!(
        invalid(i(
            "db",
            json!([{"Name": "web", "Action": "allow", "Peer": "p", "Partition": "x"}])
        )),
        "Sources[0].Peer: cannot set Peer and Partition at the same time."
    );
}

#[test]
fn intention_precedence_matches_consul_table() {
    assert_eq!(precedence("default", "web", "default", "db"), 9);
    assert_eq!(precedence("default", "*", "default", "db"), 8);
    assert_eq!(precedence("*", "*", "default", "db"), 7);
    assert_eq!(precedence("default", "web", "default", "*"), 6);
    assert_eq!(precedence("default", "*", "default", "*"), 5);
    assert_eq!(precedence("*", "*", "default", "*"), 4);
    assert_eq!(precedence("default", "web", "*", "*"), 3);
    assert_eq!(precedence("default", "*", "*", "*"), 2);
    assert_eq!(precedence("*", "*", "*", "*"), 1);
}

#[test]
fn service_and_proxy_defaults_validation() {
    assert_eq!(
        invalid(json!({"Kind": "service-defaults", "Name": "*"})),
        "service-defaults name must be the name of a service, and not a wildcard"
    );
    assert_eq!(invalid(json!({"Kind": "service-defaults", "Name": ""})), "Name is required");
    assert_eq!(
        invalid(json!({"Kind": "proxy-defaults", "Name": "x"})),
        "invalid name (\"x\"), only \"global\" is supported"
    );
    assert_eq!(
        invalid(
            json!({"Kind": "service-defaults", "Name": "web", "BalanceInboundConnections": "fair"})
        ),
        "invalid value for balance_inbound_connections: \"fair\""
    );
    assert_eq!(
        invalid(
            json!({"Kind": "service-defaults", "Name": "web", "UpstreamConfig": {}, "Destination": {"Addresses": ["a"]}})
        ),
        "UpstreamConfig and Destination are mutually exclusive for service defaults"
    );
}

#[test]
fn round_trip_through_api_json_is_lossless() {
    for v in [
        json!({"Kind": "service-resolver", "Name": "counting-admin", "DefaultSubset": "v1",
               "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}},
               "Failover": {"*": {"Datacenters": ["dc-aws", "dc-gcp"]}}, "ConnectTimeout": "15s",
               "LoadBalancer": {"Policy": "ring_hash", "HashPolicies": [{"Field": "header", "FieldValue": "x-user"}]}}),
        json!({"Kind": "service-splitter", "Name": "counting-admin",
               "Splits": [{"Weight": 80, "ServiceSubset": "v1", "RequestHeaders": {"Set": {"x-leg": "v1"}}},
                          {"Weight": 20, "ServiceSubset": "v2"}]}),
        json!({"Kind": "service-router", "Name": "counting",
               "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin", "Header": [{"Name": "x-debug", "Present": true}],
                                               "QueryParam": [{"Name": "q", "Exact": "1"}], "Methods": ["GET", "PUT"]}},
                           "Destination": {"Service": "counting-admin", "PrefixRewrite": "/", "RequestTimeout": "1m30s",
                                           "NumRetries": 3, "RetryOn": ["5xx"], "RetryOnStatusCodes": [503]}}]}),
        json!({"Kind": "service-intentions", "Name": "db",
               "Sources": [{"Name": "web", "Action": "allow", "Precedence": 9, "Type": "consul", "Description": "web reads"}]}),
        json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http", "local_connect_timeout_ms": 1000},
               "MeshGateway": {"Mode": "remote"}, "AccessLogs": {"Enabled": true}}),
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http", "MutualTLSMode": "strict",
               "UpstreamConfig": {"Defaults": {"ConnectTimeoutMs": 1000}, "Overrides": [{"Name": "db", "Protocol": "grpc"}]}}),
    ] {
        let e = ConfigEntry::from_value(v.clone()).unwrap();
        assert_eq!(e.to_value(), v, "written form");
        assert_eq!(ConfigEntry::from_value(e.to_value()).unwrap(), e, "re-read");
        assert_eq!(ConfigEntry::from_json(&e.to_json_pretty()).unwrap(), e, "text");
    }
}
