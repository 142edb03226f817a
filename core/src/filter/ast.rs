//! The checked expression tree a [`Filter`](super::Filter) evaluates.
//!
//! By the time a tree exists, every selector has been resolved against the
//! [`schema`](super::schema), every value coerced to its field's type and every regex compiled,
//! so [`eval`](super::eval) has no failure path: each [`Match`] variant pairs a field kind with
//! only the tests that make sense for it, and the compiler rejects the other combinations.

use std::fmt;

use regex::Regex;

/// The ten match operators of go-bexpr, kept as the user wrote them (`contains` and `in` mean
/// the same test but are distinct here) so errors can quote the expression back.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOperator {
    /// `Sel == Value`
    Equal,
    /// `Sel != Value`
    NotEqual,
    /// `Value in Sel`
    In,
    /// `Value not in Sel`
    NotIn,
    /// `Sel contains Value`
    Contains,
    /// `Sel not contains Value`
    NotContains,
    /// `Sel is empty`
    IsEmpty,
    /// `Sel is not empty`
    IsNotEmpty,
    /// `Sel matches "regex"`
    Matches,
    /// `Sel not matches "regex"`
    NotMatches,
}

impl MatchOperator {
    /// Spelling in expression text; also what errors print.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOperator::Equal => "==",
            MatchOperator::NotEqual => "!=",
            MatchOperator::In => "in",
            MatchOperator::NotIn => "not in",
            MatchOperator::Contains => "contains",
            MatchOperator::NotContains => "not contains",
            MatchOperator::IsEmpty => "is empty",
            MatchOperator::IsNotEmpty => "is not empty",
            MatchOperator::Matches => "matches",
            MatchOperator::NotMatches => "not matches",
        }
    }

    /// Negated operators evaluate their positive twin and flip it, so one rule per positive test
    /// covers both (including absent map keys: `==` fails there, hence `!=` holds).
    pub(crate) fn is_negated(self) -> bool {
        matches!(
            self,
            MatchOperator::NotEqual
                | MatchOperator::NotIn
                | MatchOperator::NotContains
                | MatchOperator::IsNotEmpty
                | MatchOperator::NotMatches
        )
    }

    /// `Value in Sel` puts the value first; everything else is `Sel op [Value]`.
    pub(crate) fn value_first(self) -> bool {
        matches!(self, MatchOperator::In | MatchOperator::NotIn)
    }

    /// `is empty` / `is not empty` take no value.
    pub(crate) fn takes_value(self) -> bool {
        !matches!(self, MatchOperator::IsEmpty | MatchOperator::IsNotEmpty)
    }
}

impl fmt::Display for MatchOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Boolean structure. `And`/`Or` are flattened n-ary nodes so that long chains neither deepen
/// recursion in the evaluator nor count against the nesting limit.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Match(Predicate),
}

/// One checked match expression plus the source it came from (for canonical printing).
#[derive(Clone, Debug)]
pub(crate) struct Predicate {
    /// Canonical selector text, e.g. `Service.Meta["a.b"]`.
    pub(crate) selector: String,
    pub(crate) operator: MatchOperator,
    /// The value after unquoting; `None` for `is [not] empty`.
    pub(crate) value: Option<String>,
    pub(crate) test: Match,
}

/// A resolved field and the positive test to run on it; [`Predicate::operator`] says whether
/// to negate.
#[derive(Clone, Debug)]
pub(crate) enum Match {
    Str(StrField, StrTest),
    /// A string field of each check: true if any check passes (go-bexpr's implicit "any").
    Check(CheckStr, StrTest),
    Int(IntField, i64),
    Bool(BoolField, bool),
    Tags(ListTest),
    Map(MapField, ListTest),
    ChecksEmpty,
}

/// Tests a single string (or each string of a through-list selector) can take.
#[derive(Clone, Debug)]
pub(crate) enum StrTest {
    Equal(String),
    /// Substring, as go-bexpr's `in`/`contains` on a string.
    Contains(String),
    Matches(Regex),
    Empty,
}

/// Tests on a collection: membership (list element or map key) or emptiness.
#[derive(Clone, Debug)]
pub(crate) enum ListTest {
    Has(String),
    Empty,
}

/// Node fields that hold one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeStr {
    Id,
    Node,
    Address,
    Datacenter,
    Partition,
}

/// Service fields that hold one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceStr {
    Id,
    Service,
    Address,
    Kind,
    Namespace,
    Partition,
    ProxyDestinationServiceName,
}

/// Per-check string fields; a selector through `Checks` is true if any check passes the test
/// (negation included, so `Checks.Status != passing` means "some check is not passing").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckStr {
    CheckId,
    Name,
    Status,
    ServiceId,
    ServiceName,
}

/// Every selector that yields text. Map-entry variants carry the key, which may be absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StrField {
    Node(NodeStr),
    NodeMeta(String),
    NodeTaggedAddress(String),
    Service(ServiceStr),
    ServiceMeta(String),
    ServiceTaggedAddress(String),
}

/// Every selector that yields an integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IntField {
    Port,
    WeightsPassing,
    WeightsWarning,
    /// `Service.TaggedAddresses.<key>.Port`; the key may be absent.
    TaggedAddressPort(String),
}

/// Every selector that yields a boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolField {
    ConnectNative,
}

/// Every selector that yields a string-keyed map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapField {
    NodeMeta,
    NodeTaggedAddresses,
    ServiceMeta,
    ServiceTaggedAddresses,
}

/// Canonical text: values always double-quoted, parentheses only where the tree needs them
/// (so canonical text never nests deeper than the source did). Parsing it yields the same
/// tree, which the round-trip property tests rely on.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(items) => write_joined(f, items, " or ", |e| matches!(e, Expr::Or(_))),
            Expr::And(items) => {
                write_joined(f, items, " and ", |e| matches!(e, Expr::Or(_) | Expr::And(_)))
            }
            Expr::Not(inner) => match **inner {
                Expr::Or(_) | Expr::And(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Expr::Match(p) => p.fmt(f),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Expr],
    sep: &str,
    needs_parens: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.operator.value_first()) {
            (None, _) => write!(f, "{} {}", self.selector, self.operator),
            (Some(v), true) => write!(f, "{} {} {}", Quoted(v), self.operator, self.selector),
            (Some(v), false) => write!(f, "{} {} {}", self.selector, self.operator, Quoted(v)),
        }
    }
}

/// Writes a double-quoted literal using only escapes the lexer accepts (Rust's `{:?}` would
/// emit `\u{..}`, which Go-style string syntax does not have).
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\U{:08x}", u32::from(c))?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}
