//! Validation of HTTP request matches, shared by service-router routes and L7 intention
//! permissions, which Consul checks with the same rules and messages. `at` names the
//! enclosing field and `sep` joins it to a sub-field: routers write `Route[0] PathExact`,
//! intentions `Sources[0].Permissions[0].HTTP.PathExact`.

use super::router::HttpHeaderMatch;

/// The methods Envoy and Consul accept in a match.
pub(crate) const METHODS: [&str; 9] =
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];

/// At most one of the three path conditions, and exact and prefix paths start with `/`.
pub(crate) fn check_paths(
    at: &str,
    sep: &str,
    exact: &str,
    prefix: &str,
    regex: &str,
) -> Result<(), String> {
    if [exact, prefix, regex].iter().filter(|p| !p.is_empty()).count() > 1 {
        return Err(format!(
            "{at} should only contain at most one of PathExact, PathPrefix, or PathRegex"
        ));
    }
    if !exact.is_empty() && !exact.starts_with('/') {
        return Err(format!("{at}{sep}PathExact doesn't start with '/': {exact:?}"));
    }
    if !prefix.is_empty() && !prefix.starts_with('/') {
        return Err(format!("{at}{sep}PathPrefix doesn't start with '/': {prefix:?}"));
    }
    if !regex.is_empty() {
        check_regex(&format!("{at}{sep}PathRegex"), regex)?;
    }
    Ok(())
}

/// Every header condition has a name and exactly one kind of test.
pub(crate) fn check_headers(
    at: &str,
    sep: &str,
    headers: &[HttpHeaderMatch],
) -> Result<(), String> {
    for (j, h) in headers.iter().enumerate() {
        if h.name.is_empty() {
            return Err(format!("{at}{sep}Header[{j}] missing required Name field"));
        }
        let set = [
            h.present,
            !h.exact.is_empty(),
            !h.prefix.is_empty(),
            !h.suffix.is_empty(),
            !h.regex.is_empty(),
        ];
        if set.iter().filter(|b| **b).count() > 1 {
            return Err(format!(
                "{at}{sep}Header[{j}] should only contain one of Present, Exact, Prefix, Suffix, or Regex"
            ));
        }
        if !h.regex.is_empty() {
            check_regex(&format!("{at}{sep}Header[{j}] Regex"), &h.regex)?;
        }
    }
    Ok(())
}

/// Methods are known HTTP methods, each listed once (already upper-cased by normalize).
pub(crate) fn check_methods(at: &str, sep: &str, methods: &[String]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for m in methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(format!("{at}{sep}Methods contains an invalid method {m:?}"));
        }
        if !seen.insert(m) {
            return Err(format!("{at}{sep}Methods contains {m:?} more than once"));
        }
    }
    Ok(())
}

/// Envoy evaluates these as RE2; the `regex` crate accepts the same syntax minus
/// backreferences, which RE2 also refuses, so a pattern it rejects would make Envoy NACK.
pub(crate) fn check_regex(field: &str, pattern: &str) -> Result<(), String> {
    regex::Regex::new(pattern).map(|_| ()).map_err(|e| {
        let first = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
        format!("{field} {pattern:?} is not a valid regular expression: {first}")
    })
}
