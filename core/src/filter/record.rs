//! `?filter=` over the other row shapes Consul's API lists: catalog nodes, `ServiceNode` and
//! `NodeService` rows, health checks, intentions, gateway services.
//!
//! [`Filter`](super::Filter) is specialised to a service instance and evaluates typed fields;
//! these endpoints return many shapes, each a JSON document. A [`RecordFilter`] checks its
//! selectors against the [`Schema`] of the endpoint's rows when parsed (so `Nod == x` is a 400,
//! as in Consul, not a filter that silently matches nothing) and evaluates against each row as
//! the JSON the endpoint returns. Grammar, tokens, errors and operator semantics are the
//! instance filter's (see the module docs): strings take every operator (`in`/`contains` is a
//! substring test), lists and maps take membership and `is [not] empty`, integers and booleans
//! take `==`/`!=`, and an absent map key only passes `is empty` (and the negated operators).

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::MAX_DEPTH;
use super::MAX_LEN;
use super::ast::MatchOperator;
use super::error::{Expected, FieldKind, FilterError, Found};
use super::lexer::{Tok, Token, column, tokenize};
use super::schema::{is_dotted_segment, is_identifier, render};

/// The row shape an endpoint returns.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// `/v1/catalog/nodes`: Consul's `Node`.
    Node,
    /// `/v1/catalog/node/:node` services: `NodeService`.
    NodeService,
    /// `/v1/catalog/service/:service`, `/v1/catalog/services`: `ServiceNode`.
    ServiceNode,
    /// `/v1/health/{node,checks,state}`: `HealthCheck`.
    HealthCheck,
    /// `/v1/connect/intentions`: `Intention`.
    Intention,
    /// `/v1/catalog/gateway-services/:gateway`: `GatewayService`.
    GatewayService,
}

/// What a field of a row holds.
#[derive(Clone, Copy, Debug)]
enum Field {
    Str,
    Int,
    Bool,
    StrList,
    StrMap,
    /// A map whose values are groups (service tagged addresses).
    GroupMap(&'static [(&'static str, Field)]),
    Group(&'static [(&'static str, Field)]),
}

const TAGGED: &[(&str, Field)] = &[("Address", Field::Str), ("Port", Field::Int)];
const WEIGHTS: &[(&str, Field)] = &[("Passing", Field::Int), ("Warning", Field::Int)];
const CONNECT: &[(&str, Field)] = &[("Native", Field::Bool)];
const PROXY: &[(&str, Field)] = &[
    ("DestinationServiceName", Field::Str),
    ("DestinationServiceID", Field::Str),
    ("LocalServiceAddress", Field::Str),
    ("LocalServicePort", Field::Int),
    ("Mode", Field::Str),
];
const NAME: &[(&str, Field)] =
    &[("Name", Field::Str), ("Namespace", Field::Str), ("Partition", Field::Str)];

const NODE: &[(&str, Field)] = &[
    ("ID", Field::Str),
    ("Node", Field::Str),
    ("Address", Field::Str),
    ("Datacenter", Field::Str),
    ("Partition", Field::Str),
    ("PeerName", Field::Str),
    ("TaggedAddresses", Field::StrMap),
    ("Meta", Field::StrMap),
];
const NODE_SERVICE: &[(&str, Field)] = &[
    ("Kind", Field::Str),
    ("ID", Field::Str),
    ("Service", Field::Str),
    ("Tags", Field::StrList),
    ("Address", Field::Str),
    ("TaggedAddresses", Field::GroupMap(TAGGED)),
    ("Meta", Field::StrMap),
    ("Port", Field::Int),
    ("Weights", Field::Group(WEIGHTS)),
    ("EnableTagOverride", Field::Bool),
    ("Proxy", Field::Group(PROXY)),
    ("Connect", Field::Group(CONNECT)),
    ("Namespace", Field::Str),
    ("Partition", Field::Str),
    ("PeerName", Field::Str),
];
const SERVICE_NODE: &[(&str, Field)] = &[
    ("ID", Field::Str),
    ("Node", Field::Str),
    ("Address", Field::Str),
    ("Datacenter", Field::Str),
    ("TaggedAddresses", Field::StrMap),
    ("NodeMeta", Field::StrMap),
    ("ServiceKind", Field::Str),
    ("ServiceID", Field::Str),
    ("ServiceName", Field::Str),
    ("ServiceTags", Field::StrList),
    ("ServiceAddress", Field::Str),
    ("ServiceTaggedAddresses", Field::GroupMap(TAGGED)),
    ("ServiceWeights", Field::Group(WEIGHTS)),
    ("ServiceMeta", Field::StrMap),
    ("ServicePort", Field::Int),
    ("ServiceEnableTagOverride", Field::Bool),
    ("ServiceProxy", Field::Group(PROXY)),
    ("ServiceConnect", Field::Group(CONNECT)),
    ("Namespace", Field::Str),
    ("Partition", Field::Str),
    ("PeerName", Field::Str),
];
const HEALTH_CHECK: &[(&str, Field)] = &[
    ("Node", Field::Str),
    ("CheckID", Field::Str),
    ("Name", Field::Str),
    ("Status", Field::Str),
    ("Notes", Field::Str),
    ("Output", Field::Str),
    ("ServiceID", Field::Str),
    ("ServiceName", Field::Str),
    ("ServiceTags", Field::StrList),
    ("Type", Field::Str),
    ("Namespace", Field::Str),
    ("Partition", Field::Str),
    ("PeerName", Field::Str),
];
const INTENTION: &[(&str, Field)] = &[
    ("ID", Field::Str),
    ("Description", Field::Str),
    ("SourcePeer", Field::Str),
    ("SourceNS", Field::Str),
    ("SourceName", Field::Str),
    ("DestinationNS", Field::Str),
    ("DestinationName", Field::Str),
    ("SourcePartition", Field::Str),
    ("DestinationPartition", Field::Str),
    ("SourceType", Field::Str),
    ("Action", Field::Str),
    ("Precedence", Field::Int),
    ("Meta", Field::StrMap),
];
const GATEWAY_SERVICE: &[(&str, Field)] = &[
    ("Gateway", Field::Group(NAME)),
    ("Service", Field::Group(NAME)),
    ("GatewayKind", Field::Str),
    ("Port", Field::Int),
    ("Protocol", Field::Str),
    ("Hosts", Field::StrList),
    ("CAFile", Field::Str),
    ("CertFile", Field::Str),
    ("KeyFile", Field::Str),
    ("SNI", Field::Str),
    ("FromWildcard", Field::Bool),
];

impl Schema {
    fn fields(self) -> &'static [(&'static str, Field)] {
        match self {
            Schema::Node => NODE,
            Schema::NodeService => NODE_SERVICE,
            Schema::ServiceNode => SERVICE_NODE,
            Schema::HealthCheck => HEALTH_CHECK,
            Schema::Intention => INTENTION,
            Schema::GatewayService => GATEWAY_SERVICE,
        }
    }
}

impl Field {
    fn kind(self) -> FieldKind {
        match self {
            Field::Str => FieldKind::String,
            Field::Int => FieldKind::Integer,
            Field::Bool => FieldKind::Boolean,
            Field::StrList => FieldKind::StringList,
            Field::StrMap | Field::GroupMap(_) => FieldKind::Map,
            Field::Group(_) => FieldKind::Group,
        }
    }
}

/// Resolves a selector path to its field; `Err(n)`: segment `n` names nothing.
fn resolve(schema: Schema, path: &[String]) -> Result<Field, usize> {
    let mut fields = schema.fields();
    let mut at = 0;
    loop {
        let Some(seg) = path.get(at) else { return Err(at) };
        let field = fields.iter().find(|(n, _)| *n == seg).map(|(_, f)| *f).ok_or(at)?;
        at += 1;
        let rest = path.len() - at;
        match (field, rest) {
            (f, 0) => return Ok(f),
            (Field::StrMap, 1) => return Ok(Field::Str),
            (Field::StrMap, _) => return Err(at + 1),
            (Field::GroupMap(group), _) => {
                // `.key` picks one value; what follows is a field of it.
                at += 1;
                if path.len() == at {
                    return Ok(Field::Group(group));
                }
                fields = group;
            }
            (Field::Group(group), _) => fields = group,
            _ => return Err(at),
        }
    }
}

/// The test one match applies, after coercion.
#[derive(Clone, Debug)]
enum Test {
    StrEq(String),
    StrHas(String),
    StrRegex(Regex),
    IntEq(i64),
    BoolEq(bool),
    Contains(String),
    Empty,
}

#[derive(Clone, Debug)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Match { path: Vec<String>, test: Test, negated: bool },
}

/// A `?filter` expression checked against one row [`Schema`].
#[derive(Clone, Debug)]
pub struct RecordFilter {
    text: String,
    expr: Expr,
}

impl RecordFilter {
    /// Parses `expr` and checks every selector, operator and value against `schema`.
    pub fn parse(expr: &str, schema: Schema) -> Result<Self, FilterError> {
        if expr.len() > MAX_LEN {
            return Err(FilterError::TooLong { len: expr.len(), max: MAX_LEN });
        }
        let tokens = tokenize(expr)?;
        let mut p = Parser { src: expr, tokens, pos: 0, depth: 0, schema };
        let tree = p.or()?;
        if p.pos < p.tokens.len() {
            return Err(p.unexpected(Expected::AndOrEnd));
        }
        Ok(RecordFilter { text: expr.to_owned(), expr: tree })
    }

    /// Whether `row` (the endpoint's JSON for one row) passes.
    pub fn matches(&self, row: &Value) -> bool {
        eval(&self.expr, row)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn eval(e: &Expr, row: &Value) -> bool {
    match e {
        Expr::And(items) => items.iter().all(|i| eval(i, row)),
        Expr::Or(items) => items.iter().any(|i| eval(i, row)),
        Expr::Not(inner) => !eval(inner, row),
        Expr::Match { path, test, negated } => {
            let value = path.iter().try_fold(row, |v, seg| v.get(seg.as_str()));
            positive(value, test) != *negated
        }
    }
}

/// The positive form of a match; `value` is `None` for an absent map key.
fn positive(value: Option<&Value>, test: &Test) -> bool {
    let Some(value) = value else { return matches!(test, Test::Empty) };
    let text = || match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match test {
        Test::StrEq(want) => text() == *want,
        Test::StrHas(part) => text().contains(part.as_str()),
        Test::StrRegex(re) => re.is_match(&text()),
        Test::IntEq(want) => value.as_i64() == Some(*want),
        Test::BoolEq(want) => value.as_bool() == Some(*want),
        Test::Contains(item) => match value {
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(item.as_str())),
            Value::Object(map) => map.contains_key(item),
            _ => false,
        },
        Test::Empty => match value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(m) => m.is_empty(),
            _ => false,
        },
    }
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
    schema: Schema,
}

/// A match operand before the operator tells which side is the selector.
struct Term {
    start: usize,
    end: usize,
    quoted: Option<String>,
    path: Option<Vec<String>>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token<'_>> {
        self.tokens.get(self.pos)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let hit = matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if *w == word);
        self.pos += usize::from(hit);
        hit
    }

    fn unexpected(&self, expected: Expected) -> FilterError {
        match self.peek() {
            None => FilterError::Syntax {
                column: column(self.src, self.src.len()),
                expected,
                found: Found::EndOfInput,
            },
            Some(t) => FilterError::Syntax {
                column: column(self.src, t.start),
                expected,
                found: Found::Token(self.src.get(t.start..t.end).unwrap_or_default().to_owned()),
            },
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.and()?];
        while self.eat_word("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.unary()?];
        while self.eat_word("and") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Expr::And(items) })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek() else { return Err(self.unexpected(Expected::Expression)) };
        let (start, is_not, is_group) = (t.start, t.tok == Tok::Word("not"), t.tok == Tok::LParen);
        if !is_not && !is_group {
            return self.matcher();
        }
        if self.depth >= MAX_DEPTH {
            return Err(FilterError::TooDeep { column: column(self.src, start), max: MAX_DEPTH });
        }
        self.pos += 1;
        self.depth += 1;
        let inner = if is_not {
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else {
            let inner = self.or()?;
            if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
                self.pos += 1;
                Ok(inner)
            } else if self.peek().is_some() {
                Err(self.unexpected(Expected::AndOrCloseParen))
            } else {
                Err(self.unexpected(Expected::CloseParen))
            }
        };
        self.depth -= 1;
        inner
    }

    fn term(&mut self, expected: Expected) -> Result<Term, FilterError> {
        let Some(t) = self.peek() else { return Err(self.unexpected(expected)) };
        let (start, end) = (t.start, t.end);
        let term = match &t.tok {
            Tok::Str(s) => Term { start, end, quoted: Some(s.clone()), path: None },
            Tok::Word(w) => Term { start, end, quoted: None, path: dotted(w) },
            _ => return Err(self.unexpected(expected)),
        };
        self.pos += 1;
        // `Meta["key"]` indexing: the bracket must touch the selector.
        let mut term = term;
        while term.path.is_some()
            && self.peek().is_some_and(|t| !t.spaced && t.tok == Tok::LBracket)
        {
            self.pos += 1;
            let key = match self.peek() {
                Some(Token { tok: Tok::Str(s), .. }) => s.clone(),
                _ => return Err(self.unexpected(Expected::IndexKey)),
            };
            self.pos += 1;
            if !self.peek().is_some_and(|t| t.tok == Tok::RBracket) {
                return Err(self.unexpected(Expected::CloseBracket));
            }
            term.end = self.tokens[self.pos].end;
            self.pos += 1;
            if let Some(path) = &mut term.path {
                path.push(key);
            }
        }
        Ok(term)
    }

    fn operator(&mut self) -> Result<MatchOperator, FilterError> {
        use MatchOperator as Op;
        let simple = match self.peek().map(|t| &t.tok) {
            Some(Tok::Equal) => Some(Op::Equal),
            Some(Tok::NotEqual) => Some(Op::NotEqual),
            Some(Tok::Word("contains")) => Some(Op::Contains),
            Some(Tok::Word("matches")) => Some(Op::Matches),
            Some(Tok::Word("in")) => Some(Op::In),
            _ => None,
        };
        if let Some(op) = simple {
            self.pos += 1;
            return Ok(op);
        }
        if self.eat_word("is") {
            let negated = self.eat_word("not");
            if !self.eat_word("empty") {
                return Err(self.unexpected(if negated {
                    Expected::Empty
                } else {
                    Expected::AfterIs
                }));
            }
            return Ok(if negated { Op::IsNotEmpty } else { Op::IsEmpty });
        }
        if self.eat_word("not") {
            let op = match self.peek().map(|t| &t.tok) {
                Some(Tok::Word("in")) => Op::NotIn,
                Some(Tok::Word("contains")) => Op::NotContains,
                Some(Tok::Word("matches")) => Op::NotMatches,
                _ => return Err(self.unexpected(Expected::AfterNot)),
            };
            self.pos += 1;
            return Ok(op);
        }
        Err(self.unexpected(Expected::Operator))
    }

    fn matcher(&mut self) -> Result<Expr, FilterError> {
        use MatchOperator as Op;
        let first = self.term(Expected::Expression)?;
        let op = self.operator()?;
        let value_first = matches!(op, Op::In | Op::NotIn);
        let (selector, value) = if value_first {
            (self.term(Expected::Selector)?, Some(first))
        } else if matches!(op, Op::IsEmpty | Op::IsNotEmpty) {
            (first, None)
        } else {
            (first, Some(self.term(Expected::Value)?))
        };
        let Some(path) = selector.path.filter(|_| selector.quoted.is_none()) else {
            return Err(FilterError::Syntax {
                column: column(self.src, selector.start),
                expected: Expected::Selector,
                found: Found::Token(
                    self.src.get(selector.start..selector.end).unwrap_or_default().to_owned(),
                ),
            });
        };
        let sel_col = column(self.src, selector.start);
        let field = resolve(self.schema, &path).map_err(|bad| FilterError::UnknownSelector {
            column: sel_col,
            selector: render(path.get(..=bad).unwrap_or(&path)),
        })?;
        let rendered = render(&path);
        let kind = field.kind();
        if !kind.operators().contains(&op) {
            return Err(FilterError::UnsupportedOperator {
                column: sel_col,
                selector: rendered,
                operator: op,
                kind,
            });
        }
        let (text, value_col) = match value {
            None => (String::new(), sel_col),
            Some(v) => (self.value_text(&v)?, column(self.src, v.start)),
        };
        let invalid = || FilterError::InvalidValue {
            column: value_col,
            selector: rendered.clone(),
            value: text.clone(),
            kind,
        };
        let test = match (field, op) {
            (_, Op::IsEmpty | Op::IsNotEmpty) => Test::Empty,
            (Field::Str, Op::Equal | Op::NotEqual) => Test::StrEq(text.clone()),
            (Field::Str, Op::In | Op::NotIn | Op::Contains | Op::NotContains) => {
                Test::StrHas(text.clone())
            }
            (Field::Str, _) => {
                Test::StrRegex(RegexBuilder::new(&text).size_limit(1 << 20).build().map_err(
                    |e| FilterError::InvalidRegex {
                        column: value_col,
                        pattern: text.clone(),
                        reason: e.to_string().replace('\n', " "),
                    },
                )?)
            }
            (Field::Int, _) => Test::IntEq(text.parse().map_err(|_| invalid())?),
            (Field::Bool, _) => Test::BoolEq(match text.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
                "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
                _ => return Err(invalid()),
            }),
            _ => Test::Contains(text.clone()),
        };
        let negated = matches!(
            op,
            Op::NotEqual | Op::NotIn | Op::NotContains | Op::NotMatches | Op::IsNotEmpty
        );
        Ok(Expr::Match { path, test, negated })
    }

    /// A value's text: quoted, or a bare identifier path or number (go-bexpr's bare values).
    fn value_text(&self, t: &Term) -> Result<String, FilterError> {
        let raw = self.src.get(t.start..t.end).unwrap_or_default();
        if let Some(q) = &t.quoted {
            return Ok(q.clone());
        }
        if (t.path.is_some() && !raw.contains('[')) || is_number(raw) {
            return Ok(raw.to_owned());
        }
        Err(FilterError::InvalidBareValue {
            column: column(self.src, t.start),
            value: raw.to_owned(),
        })
    }
}

/// A dotted, selector-shaped word, or `None`.
fn dotted(word: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (i, seg) in word.split('.').enumerate() {
        let ok = if i == 0 { is_identifier(seg) } else { is_dotted_segment(seg) };
        if !ok {
            return None;
        }
        out.push(seg.to_owned());
    }
    Some(out)
}

/// go-bexpr number literal: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(status: &str, tags: &[&str]) -> Value {
        json!({"Node": "n1", "CheckID": "service:web", "Status": status, "ServiceID": "web",
               "ServiceTags": tags, "Notes": ""})
    }

    fn passes(expr: &str, schema: Schema, row: &Value) -> bool {
        RecordFilter::parse(expr, schema).unwrap_or_else(|e| panic!("{expr}: {e}")).matches(row)
    }

    #[test]
    fn strings_lists_and_negation() {
        let row = check("passing", &["prod", "v1"]);
        let s = Schema::HealthCheck;
        assert!(passes(r#"ServiceID == "web""#, s, &row));
        assert!(!passes(r#"ServiceID == "db""#, s, &row));
        assert!(passes(r#"ServiceID != "db""#, s, &row));
        assert!(passes(r#""prod" in ServiceTags"#, s, &row));
        assert!(passes(r#"ServiceTags not contains canary"#, s, &row));
        assert!(passes(r#"CheckID contains "web""#, s, &row), "substring on strings");
        assert!(passes(r#"Status matches "^pass""#, s, &row));
        assert!(passes("Notes is empty and ServiceTags is not empty", s, &row));
        assert!(passes(r#"not (Status == critical) or Node == x"#, s, &row));
        assert!(passes("Type is empty", s, &row), "a field the row lacks reads as empty");
    }

    #[test]
    fn maps_groups_and_numbers() {
        let row = json!({"Node": "n1", "ServiceTags": ["prod"], "ServicePort": 8080,
            "NodeMeta": {"rack": "r1"}, "ServiceConnect": {"Native": true},
            "ServiceTaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 80}}});
        let s = Schema::ServiceNode;
        assert!(passes("ServicePort == 8080", s, &row));
        assert!(passes("ServiceConnect.Native == true", s, &row));
        assert!(passes("NodeMeta.rack == r1", s, &row));
        assert!(passes(r#"NodeMeta["rack"] == r1"#, s, &row));
        assert!(passes("rack in NodeMeta", s, &row));
        assert!(passes("NodeMeta.zone is empty", s, &row), "absent key is empty");
        assert!(!passes("NodeMeta.zone == x", s, &row));
        assert!(passes("NodeMeta.zone != x", s, &row));
        assert!(passes("ServiceTaggedAddresses.lan.Port == 80", s, &row));
        assert!(!passes("ServiceTaggedAddresses.wan.Port == 80", s, &row));
    }

    #[test]
    fn errors_are_found_when_parsing() {
        let err = |e: &str, s| RecordFilter::parse(e, s).unwrap_err().to_string();
        assert_eq!(err("Nod == x", Schema::Node), r#"Selector "Nod" is not valid (column 1)"#);
        assert_eq!(
            err("Meta.a.b == x", Schema::Node),
            r#"Selector "Meta.a.b" is not valid (column 1)"#
        );
        assert!(err("ServicePort == http", Schema::ServiceNode).starts_with("Failed to coerce"));
        assert!(err("ServiceTags == x", Schema::ServiceNode).starts_with("Invalid match operator"));
        assert!(err("not a valid expression((", Schema::Node).starts_with("syntax error"));
        assert!(err("Node ==", Schema::Node).starts_with("syntax error"));
        assert!(err(r#"Node matches "(""#, Schema::Node).starts_with("Failed to compile"));
        let deep = format!("{}Node == x{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(err(&deep, Schema::Node).contains("nests deeper"));
    }

    #[test]
    fn every_schema_knows_its_identity_fields() {
        for (schema, expr) in [
            (Schema::Node, "Node == a"),
            (Schema::NodeService, "Service == a"),
            (Schema::ServiceNode, "ServiceName == a"),
            (Schema::HealthCheck, "CheckID == a"),
            (Schema::Intention, "SourceName == a and Precedence == 9"),
            (Schema::GatewayService, "Service.Name == a"),
        ] {
            assert!(RecordFilter::parse(expr, schema).is_ok(), "{schema:?}: {expr}");
        }
    }
}
