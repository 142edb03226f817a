//! Reading a check from Consul's agent JSON.
//!
//! Clients write the same check in several spellings: the API's `ServiceID`/`TLSSkipVerify`,
//! config-file snake_case (`service_id`, `tls_skip_verify`), and py-consul's lowercase
//! (`serviceid`, `http`, `args`). Go's JSON decoder matches keys ignoring case and Consul's
//! `UnmarshalJSON` adds the snake forms, so keys are compared ignoring case, `_` and `-`.
//! Unknown keys are ignored, as Go does (clients echo `Type`, `Definition`, `Node` back);
//! a key given twice in two spellings is refused rather than silently picked.
//!
//! Durations are Go duration strings or integers of nanoseconds (py-consul sends
//! `"interval": 10`, i.e. 10ns, which the scheduler raises to the 1s floor as Consul does).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::CheckDefinitionError as E;
use super::definition::{
    CheckKind, CheckOptions, CheckSpec, HttpCheck, TcpCheck, UnsupportedCheck, UnsupportedKind,
};
use crate::config::GoDuration;
use crate::state::HealthStatus;

/// Every key we read: folded spelling -> Consul's spelling (which errors name).
const KEYS: &[(&str, &str)] = &[
    ("id", "ID"),
    ("checkid", "CheckID"),
    ("name", "Name"),
    ("notes", "Notes"),
    ("serviceid", "ServiceID"),
    ("status", "Status"),
    ("ttl", "TTL"),
    ("http", "HTTP"),
    ("method", "Method"),
    ("header", "Header"),
    ("body", "Body"),
    ("tlsskipverify", "TLSSkipVerify"),
    ("tlsservername", "TLSServerName"),
    ("disableredirects", "DisableRedirects"),
    ("tcp", "TCP"),
    ("tcpusetls", "TCPUseTLS"),
    ("interval", "Interval"),
    ("timeout", "Timeout"),
    ("deregistercriticalserviceafter", "DeregisterCriticalServiceAfter"),
    ("successbeforepassing", "SuccessBeforePassing"),
    ("failuresbeforewarning", "FailuresBeforeWarning"),
    ("failuresbeforecritical", "FailuresBeforeCritical"),
    ("outputmaxsize", "OutputMaxSize"),
    // `Args` is the API's name for `ScriptArgs`; both fill one slot.
    ("args", "ScriptArgs"),
    ("scriptargs", "ScriptArgs"),
    ("script", "Script"),
    ("dockercontainerid", "DockerContainerID"),
    ("shell", "Shell"),
    ("grpc", "GRPC"),
    ("grpcusetls", "GRPCUseTLS"),
    ("h2ping", "H2PING"),
    ("h2pingusetls", "H2PingUseTLS"),
    ("udp", "UDP"),
    ("osservice", "OSService"),
    ("aliasnode", "AliasNode"),
    ("aliasservice", "AliasService"),
];

fn fold(key: &str) -> String {
    key.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect()
}

impl CheckSpec {
    /// Reads one check object (the body of `check/register`, or one entry of a service's
    /// `Checks`).
    pub fn from_json(value: &Value) -> Result<Self, E> {
        Fields::new(value, "")?.spec()
    }
}

/// Reads a service registration's `Check` and `Checks` values (either may be absent or
/// null). An empty `Check` object is skipped, as Consul skips a zero `CheckType`; every
/// entry of `Checks` must be a valid check. Errors name `Check.<key>` or `Checks[i].<key>`.
pub fn decode_service_checks(
    check: Option<&Value>,
    checks: Option<&Value>,
) -> Result<Vec<CheckSpec>, E> {
    let mut specs = Vec::new();
    match check {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) if map.is_empty() => {}
        Some(v) => specs.push(Fields::new(v, "Check")?.spec()?),
    }
    match checks {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                specs.push(Fields::new(item, &format!("Checks[{i}]"))?.spec()?);
            }
        }
        Some(_) => {
            return Err(E::WrongType { field: "Checks".into(), expected: "a list of checks" });
        }
    }
    Ok(specs)
}

/// The known keys of one object, by Consul's spelling.
struct Fields<'a> {
    prefix: String,
    values: BTreeMap<&'static str, &'a Value>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, prefix: &str) -> Result<Self, E> {
        let Value::Object(map) = value else {
            return Err(E::NotAnObject { field: prefix.to_owned() });
        };
        let mut values = BTreeMap::new();
        let mut spelled: BTreeMap<&'static str, &str> = BTreeMap::new();
        for (key, v) in map {
            let folded = fold(key);
            let Some(&(_, canonical)) = KEYS.iter().find(|(f, _)| *f == folded) else {
                continue;
            };
            if let Some(first) = spelled.insert(canonical, key) {
                return Err(E::DuplicateKey {
                    field: join(prefix, canonical),
                    first: first.to_owned(),
                    second: key.clone(),
                });
            }
            if !v.is_null() {
                values.insert(canonical, v);
            }
        }
        Ok(Fields { prefix: prefix.to_owned(), values })
    }

    fn path(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    fn string(&self, key: &'static str) -> Result<Option<String>, E> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(E::WrongType { field: self.path(key), expected: "a string" }),
        }
    }

    /// A string that counts only when non-empty (kind selectors such as `HTTP`).
    fn non_empty(&self, key: &'static str) -> Result<Option<String>, E> {
        Ok(self.string(key)?.filter(|s| !s.is_empty()))
    }

    fn boolean(&self, key: &'static str) -> Result<bool, E> {
        match self.values.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(E::WrongType { field: self.path(key), expected: "true or false" }),
        }
    }

    fn integer(&self, key: &'static str) -> Result<Option<i64>, E> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(E::WrongType { field: self.path(key), expected: "an integer" }),
            },
            Some(_) => Err(E::WrongType { field: self.path(key), expected: "an integer" }),
        }
    }

    fn count(&self, key: &'static str) -> Result<u32, E> {
        match self.integer(key)? {
            None => Ok(0),
            Some(i) if i < 0 => Err(E::Negative { field: self.path(key) }),
            Some(i) => u32::try_from(i)
                .map_err(|_| E::WrongType { field: self.path(key), expected: "a 32-bit count" }),
        }
    }

    /// A duration, positive or not: Consul reads `TTL: "-1s"` and then refuses it with its
    /// own message, and treats a non-positive timeout as "use the default".
    fn duration(&self, key: &'static str) -> Result<Option<GoDuration>, E> {
        let expected = "a duration such as \"10s\" or a number of nanoseconds";
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| E::BadDuration { field: self.path(key), value: s.clone() }),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(ns) => Ok(Some(GoDuration::from_nanos(ns))),
                None => Err(E::WrongType { field: self.path(key), expected }),
            },
            Some(_) => Err(E::WrongType { field: self.path(key), expected }),
        }
    }

    fn positive_duration(&self, key: &'static str) -> Result<Option<Duration>, E> {
        Ok(self.duration(key)?.and_then(GoDuration::to_std).filter(|d| !d.is_zero()))
    }

    fn string_list(&self, key: &'static str) -> Result<Vec<String>, E> {
        let expected = "a list of strings";
        match self.values.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(E::WrongType { field: self.path(key), expected }),
                })
                .collect(),
            Some(_) => Err(E::WrongType { field: self.path(key), expected }),
        }
    }

    /// `Header`: `{"X-Foo": ["a", "b"]}`; a single string stands for a list of one.
    fn header(&self) -> Result<BTreeMap<String, Vec<String>>, E> {
        let Some(value) = self.values.get("Header") else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(map) = value else {
            return Err(E::WrongType { field: self.path("Header"), expected: "an object" });
        };
        header_map(map, &self.path("Header"))
    }

    fn status(&self) -> Result<Option<HealthStatus>, E> {
        Ok(match self.string("Status")?.as_deref() {
            None | Some("") => None,
            Some("passing") => Some(HealthStatus::Passing),
            Some("warning") => Some(HealthStatus::Warning),
            Some("critical") => Some(HealthStatus::Critical),
            Some(other) => {
                return Err(E::BadStatus { field: self.path("Status"), value: other.to_owned() });
            }
        })
    }

    fn id(&self) -> Result<Option<String>, E> {
        let id = self.non_empty("ID")?;
        let check_id = self.non_empty("CheckID")?;
        match (id, check_id) {
            (Some(id), Some(check_id)) if id != check_id => {
                Err(E::ConflictingIds { field: self.prefix.clone(), id, check_id })
            }
            (Some(id), _) => Ok(Some(id)),
            (None, check_id) => Ok(check_id),
        }
    }

    fn options(&self) -> Result<CheckOptions, E> {
        let output_max_size = match self.integer("OutputMaxSize")? {
            Some(n) if n < 0 => return Err(E::NegativeOutputMaxSize),
            Some(0) | None => None,
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        Ok(CheckOptions {
            deregister_critical_service_after: self
                .positive_duration("DeregisterCriticalServiceAfter")?,
            success_before_passing: self.count("SuccessBeforePassing")?,
            failures_before_warning: self.count("FailuresBeforeWarning")?,
            failures_before_critical: self.count("FailuresBeforeCritical")?,
            output_max_size,
        })
    }

    fn spec(&self) -> Result<CheckSpec, E> {
        Ok(CheckSpec {
            id: self.id()?,
            name: self.string("Name")?,
            notes: self.string("Notes")?.unwrap_or_default(),
            service_id: self.non_empty("ServiceID")?,
            status: self.status()?,
            kind: self.kind()?,
            options: self.options()?,
        })
    }

    /// Consul's `CheckType.Validate`, made strict about mixing kinds: one check probes one
    /// thing, so `HTTP` with `TCP` is refused instead of silently running only the HTTP part.
    fn kind(&self) -> Result<CheckKind, E> {
        let ttl = self.positive_duration("TTL")?;
        let interval = self.positive_duration("Interval")?;
        if ttl.is_some() && interval.is_some() {
            return Err(E::IntervalAndTtl);
        }
        let script =
            !self.string_list("ScriptArgs")?.is_empty() || self.non_empty("Script")?.is_some();
        let mut kinds: Vec<&'static str> = Vec::new();
        if ttl.is_some() {
            kinds.push("TTL");
        }
        for key in ["HTTP", "TCP", "UDP", "GRPC", "H2PING", "OSService"] {
            if self.non_empty(key)?.is_some() {
                kinds.push(key);
            }
        }
        if script {
            kinds.push(if self.values.contains_key("Script") { "Script" } else { "ScriptArgs" });
        }
        let alias_node = self.non_empty("AliasNode")?;
        let alias_service = self.non_empty("AliasService")?;
        if alias_node.is_some() || alias_service.is_some() {
            kinds.push(if alias_node.is_some() { "AliasNode" } else { "AliasService" });
        }
        if let [first, second, ..] = kinds[..] {
            return Err(E::ConflictingKinds { first, second });
        }
        let Some(&kind) = kinds.first() else {
            return Err(E::MissingTtl);
        };
        match kind {
            "TTL" => Ok(CheckKind::Ttl { ttl: ttl.unwrap_or_default() }),
            "AliasService" => {
                Ok(CheckKind::Alias { service_id: alias_service.unwrap_or_default() })
            }
            "AliasNode" => Ok(CheckKind::Unsupported(UnsupportedCheck {
                kind: UnsupportedKind::RemoteAlias,
                field: "AliasNode",
                interval: None,
            })),
            _ => {
                let interval = interval.ok_or(E::MissingInterval)?;
                self.interval_kind(kind, interval)
            }
        }
    }

    fn interval_kind(&self, kind: &'static str, interval: Duration) -> Result<CheckKind, E> {
        let timeout = self.positive_duration("Timeout")?;
        let tls_server_name = self.non_empty("TLSServerName")?;
        let tls_skip_verify = self.boolean("TLSSkipVerify")?;
        Ok(match kind {
            "HTTP" => CheckKind::Http(HttpCheck {
                url: self.non_empty("HTTP")?.unwrap_or_default(),
                method: self.non_empty("Method")?.unwrap_or_else(|| "GET".to_owned()),
                header: self.header()?,
                body: self.string("Body")?.unwrap_or_default(),
                tls_skip_verify,
                tls_server_name,
                disable_redirects: self.boolean("DisableRedirects")?,
                interval,
                timeout,
            }),
            "TCP" => CheckKind::Tcp(TcpCheck {
                addr: self.non_empty("TCP")?.unwrap_or_default(),
                use_tls: self.boolean("TCPUseTLS")?,
                tls_skip_verify,
                tls_server_name,
                interval,
                timeout,
            }),
            other => {
                let (kind, field) = match other {
                    "UDP" => (UnsupportedKind::Udp, "UDP"),
                    "GRPC" => (UnsupportedKind::Grpc, "GRPC"),
                    "H2PING" => (UnsupportedKind::H2Ping, "H2PING"),
                    "OSService" => (UnsupportedKind::OsService, "OSService"),
                    _ if self.non_empty("DockerContainerID")?.is_some() => {
                        (UnsupportedKind::Docker, "DockerContainerID")
                    }
                    script_key => (UnsupportedKind::Script, script_key),
                };
                CheckKind::Unsupported(UnsupportedCheck { kind, field, interval: Some(interval) })
            }
        })
    }
}

fn header_map(map: &Map<String, Value>, path: &str) -> Result<BTreeMap<String, Vec<String>>, E> {
    let expected = "a list of strings";
    let mut out = BTreeMap::new();
    for (name, v) in map {
        let field = || E::WrongType { field: format!("{path}.{name}"), expected };
        let values = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(field))
                .collect::<Result<_, _>>()?,
            Value::Null => Vec::new(),
            _ => return Err(field()),
        };
        out.insert(name.clone(), values);
    }
    Ok(out)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}
