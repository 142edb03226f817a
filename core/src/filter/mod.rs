//! Consul's filter expression language (HashiCorp go-bexpr), as used by `?filter=` on catalog
//! and health endpoints and by service-resolver subset `Filter`s.
//!
//! ```text
//!   "Service.Meta.version == v1 and not (Node.Meta.rack == r1 or Service.Tags contains legacy)"
//!        │ Filter::parse: lexer ─► parser ─► schema (selector known?) ─► compile (operator
//!        │                                    fits? value coerces? regex compiles?)
//!        ▼
//!   Filter { text, checked tree } ──── Filter::matches(&ServiceInstance) -> bool  (cannot fail)
//! ```
//!
//! Contract: every error is found by [`Filter::parse`]; evaluation never fails, never panics,
//! and depends only on the expression and the instance. Selectors are checked against the
//! shape of a service instance (Consul's `CheckServiceNode`) the way Consul 1.x checks them
//! with go-bexpr field configurations, so a typo is rejected when the filter is written
//! (`Selector "Service.Metaa" is not valid`) instead of silently matching nothing:
//!
//! ```text
//! Node.{ID, Node, Address, Datacenter, Partition}            string
//! Node.{TaggedAddresses, Meta}                               map; Node.Meta.<key> string
//! Service.{ID, Service, Address, Kind, Namespace, Partition} string
//! Service.Port, Service.Weights.{Passing, Warning}           integer  (==, !=)
//! Service.Connect.Native                                     boolean  (==, !=)
//! Service.Proxy.DestinationServiceName                       string
//! Service.Tags                                               list of strings
//! Service.Meta                                               map; Service.Meta.<key> string
//! Service.TaggedAddresses                                    map; .<key>.Address string,
//!                                                                 .<key>.Port integer
//! Checks                                                     list of checks (is [not] empty)
//! Checks.{CheckID, Name, Status, ServiceID, ServiceName}     string, per check (see below)
//! ```
//! A map key that is not an identifier is written `Service.Meta["key with.dot"]`. Names are
//! case-sensitive and keywords lowercase, as in go-bexpr.
//!
//! Semantics (go-bexpr's reflection-based evaluator, the one Consul validates with;
//! <https://developer.hashicorp.com/consul/api-docs/features/filtering>):
//! * values are `"quoted"` (Go escapes), `` `raw` ``, or bare identifiers and numbers (`v1`,
//!   `8080`); they are coerced to the field's type at parse time, so `Service.Port == 8080`
//!   compares integers and `Service.Port == http` is an error;
//! * strings take every operator: `in`/`contains` is a substring test, `is empty` means `""`;
//! * lists and maps take `in`/`contains` (membership, key presence) and `is [not] empty`;
//! * an absent map key passes `is empty` and fails every other positive test, so
//!   `Service.Meta.version != v1` is true for an instance without a `version` key;
//! * a selector through `Checks` applies the whole operator, negation included, to each check
//!   and is true if any check passes: `Checks.Status != passing` means "some check is not
//!   passing", `not (Checks.Status == critical)` means "no check is critical", and with no
//!   checks every `Checks.<field>` test is false.
//!
//! Deliberate differences from go-bexpr: `"` may be escaped inside double quotes; `matches` on
//! an absent map key is false (go-bexpr answers true: its absent-key rule predates `matches`);
//! `is empty` works on strings; `not(` and `)and(` need no space; `x["key"]` indexing is
//! accepted; nesting and length are bounded ([`MAX_DEPTH`], [`MAX_LEN`]). Integers are decimal
//! only (Go's `ParseInt(s, 0, 64)` also takes `0x1f`).

mod ast;
mod compile;
mod error;
mod eval;
mod instance;
mod lexer;
mod parser;
mod record;
mod schema;

#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

pub use ast::MatchOperator;
pub use error::{Expected, FieldKind, FilterError, Found};
pub use instance::{
    CheckInfo, ConnectInfo, NodeInfo, ProxyInfo, ServiceAddress, ServiceInfo, ServiceInstance,
    Weights,
};
pub use record::{RecordFilter, Schema};

/// Deepest nesting of `(` and `not` accepted. Parsing and evaluation recurse once per level,
/// so this bounds stack use for expressions that arrive from the network.
pub const MAX_DEPTH: usize = 64;

/// Longest expression accepted, in bytes. Far beyond any hand-written filter; keeps a hostile
/// `?filter=` from buying unbounded parse time or memory.
pub const MAX_LEN: usize = 64 * 1024;

/// A parsed, checked filter expression.
///
/// Equality, hashing and [`Display`](fmt::Display) use the original text: two filters are the
/// same if they were written the same, which is what config-entry diffing wants, and the text
/// is what Consul echoes back.
///
/// ```
/// use proconsul_core::filter::{Filter, ServiceInstance};
///
/// let subset: Filter = "Service.Meta.version == v1 and Service.Tags not contains legacy".parse()?;
/// let mut inst = ServiceInstance::default();
/// inst.service.meta.insert("version".to_owned(), "v1".to_owned());
/// assert!(subset.matches(&inst));
/// assert_eq!(
///     "Service.Metaa == v1".parse::<Filter>().unwrap_err().to_string(),
///     r#"Selector "Service.Metaa" is not valid (column 1)"#,
/// );
/// # Ok::<(), proconsul_core::filter::FilterError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Filter {
    text: String,
    expr: ast::Expr,
}

impl Filter {
    /// Parses and checks `expr`; every error a filter can have is reported here.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        if expr.len() > MAX_LEN {
            return Err(FilterError::TooLong { len: expr.len(), max: MAX_LEN });
        }
        let tree = parser::parse(expr)?;
        Ok(Filter { text: expr.to_owned(), expr: tree })
    }

    /// Whether `inst` passes the filter.
    pub fn matches(&self, inst: &ServiceInstance) -> bool {
        eval::eval(&self.expr, inst)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Filter {}

impl Hash for Filter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}
