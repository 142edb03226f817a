//! Writing a config entry document back out as an HCL1 file, the way an operator would write
//! it for `consul config write`, and converting its keys to snake_case.
//!
//! The printer is independent of the parser under test: it knows only the HCL1 surface
//! syntax. A `style` word chooses, node by node, between equivalent spellings (block or
//! `key = { }`, bare or quoted keys, repeated blocks or a list literal, heredocs, trailing
//! commas), so one document exercises many of the parser's paths.

use serde_json::{Map, Value};

/// A deterministic stream of choices derived from one generated word (SplitMix64).
struct Style(u64);

impl Style {
    fn pick(&mut self) -> bool {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) & 1 == 1
    }
}

/// Prints a JSON object as an HCL1 document. Panics on `null` (HCL has none; config entry
/// documents never contain it) and on numbers HCL cannot spell (integers beyond `i64`).
pub fn to_hcl(doc: &Value, style: u64) -> String {
    let Value::Object(map) = doc else { panic!("an HCL document is an object, got {doc}") };
    let mut p = Printer { out: String::new(), style: Style(style) };
    p.body(map, 0);
    p.out
}

struct Printer {
    out: String,
    style: Style,
}

impl Printer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn body(&mut self, map: &Map<String, Value>, depth: usize) {
        for (key, value) in map {
            self.item(key, value, depth);
        }
    }

    fn item(&mut self, key: &str, value: &Value, depth: usize) {
        match value {
            // `key { ... }` and `key = { ... }` read the same.
            Value::Object(inner) if self.style.pick() => self.block(key, inner, depth),
            // Two or more repeated blocks accumulate into a list of objects. (One block alone
            // reads as an object, so a one-element list is always written as a list.)
            Value::Array(items)
                if items.len() >= 2 && items.iter().all(Value::is_object) && self.style.pick() =>
            {
                for item in items {
                    if let Value::Object(inner) = item {
                        self.block(key, inner, depth);
                    }
                }
            }
            Value::String(s) if heredoc_safe(s) && self.style.pick() => {
                self.indent(depth);
                self.key(key);
                // The content runs up to (and includes) the newline before the anchor line.
                self.out.push_str(" = <<EOT\n");
                self.out.push_str(s);
                self.out.push_str("EOT\n");
            }
            _ => {
                self.indent(depth);
                self.key(key);
                self.out.push_str(if self.style.pick() { " = " } else { ": " });
                self.value(value, depth);
                if self.style.pick() {
                    self.out.push(',');
                }
                self.out.push('\n');
            }
        }
    }

    fn block(&mut self, key: &str, inner: &Map<String, Value>, depth: usize) {
        self.indent(depth);
        self.key(key);
        self.out.push_str(" {\n");
        self.body(inner, depth + 1);
        self.indent(depth);
        self.out.push_str("}\n");
    }

    fn key(&mut self, key: &str) {
        if is_bare_key(key) && self.style.pick() {
            self.out.push_str(key);
        } else {
            quote(&mut self.out, key);
        }
    }

    fn value(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Null => panic!("HCL has no null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.out.push_str(&i.to_string());
                } else if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                    // `{:?}` keeps a fraction or exponent, so `5.0` stays a float.
                    self.out.push_str(&format!("{f:?}"));
                } else {
                    panic!("HCL1 integers are 64-bit signed, cannot print {n}");
                }
            }
            Value::String(s) => quote(&mut self.out, s),
            Value::Array(items) => {
                self.out.push('[');
                let multiline = self.style.pick();
                for (i, item) in items.iter().enumerate() {
                    if multiline {
                        self.out.push('\n');
                        self.indent(depth + 1);
                    } else if i > 0 {
                        self.out.push(' ');
                    }
                    self.value(item, depth + 1);
                    if i + 1 < items.len() || (multiline && self.style.pick()) {
                        self.out.push(',');
                    }
                }
                if multiline && !items.is_empty() {
                    self.out.push('\n');
                    self.indent(depth);
                }
                self.out.push(']');
            }
            Value::Object(map) => {
                self.out.push_str("{\n");
                self.body(map, depth + 1);
                self.indent(depth);
                self.out.push('}');
            }
        }
    }
}

/// Keys HCL1 reads as a bare identifier. Kept to ASCII so the printer does not depend on the
/// parser's notion of Unicode letters.
fn is_bare_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A heredoc holds text ending in a newline, without carriage returns, that has no line
/// which could be taken for the anchor.
fn heredoc_safe(s: &str) -> bool {
    s.ends_with('\n')
        && !s.contains('\r')
        && s.lines().all(|line| line.trim_start_matches([' ', '\t']) != "EOT")
}

/// A double-quoted HCL1 string. `$` before `{` would open an interpolation, which the
/// parser keeps verbatim up to the matching `}`, so it is written as `\u0024`.
fn quote(out: &mut String, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\u0024"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How the keys below a struct field are treated by [`snake_case_keys`].
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    /// Keys are struct field names: convert them.
    Struct,
    /// A map keyed by subset name (`Subsets`, `Failover`) whose values are structs.
    MapOfStructs,
    /// Free-form content kept exactly as written (`Meta`, `Config`, opaque passthroughs).
    Verbatim,
}

/// Fields whose content the decoder keeps as written: maps with user keys, and the
/// passthrough JSON values (`TransparentProxy`, `Limits`, ...).
const VERBATIM_FIELDS: [&str; 20] = [
    "Meta",
    "LegacyMeta",
    "Config",
    "Add",
    "Set",
    "TransparentProxy",
    "Expose",
    "EnvoyExtensions",
    "RateLimits",
    "AccessLogs",
    "FailoverPolicy",
    "PrioritizeByLocality",
    "Limits",
    "PassiveHealthCheck",
    "RingHashConfig",
    "LeastRequestConfig",
    "HashPolicies",
    "JWT",
    "LegacyCreateTime",
    "LegacyUpdateTime",
];

/// Converts every struct key of an entry document to snake_case (`PathPrefix` ->
/// `path_prefix`, `HTTP` -> `http`, `ExternalSNI` -> `external_sni`), leaving the keys of
/// free-form maps and passthrough values alone.
pub fn snake_case_keys(doc: &Value) -> Value {
    convert(doc, Keys::Struct, true)
}

fn convert(value: &Value, keys: Keys, top: bool) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| convert(v, keys, false)).collect())
        }
        Value::Object(map) if keys == Keys::Struct => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let child = if VERBATIM_FIELDS.contains(&k.as_str())
                        // service-defaults' `Destination` is a passthrough value; a route's
                        // `Destination` is a struct.
                        || (top && k == "Destination")
                    {
                        Keys::Verbatim
                    } else if k == "Subsets" || k == "Failover" {
                        Keys::MapOfStructs
                    } else {
                        Keys::Struct
                    };
                    (snake_case(k), convert(v, child, false))
                })
                .collect(),
        ),
        Value::Object(map) if keys == Keys::MapOfStructs => Value::Object(
            map.iter().map(|(k, v)| (k.clone(), convert(v, Keys::Struct, false))).collect(),
        ),
        other => other.clone(),
    }
}

/// `MutualTLSMode` -> `mutual_tls_mode`: an underscore before an upper-case letter that
/// follows a lower-case letter or digit, or that starts a word after an acronym.
pub fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
