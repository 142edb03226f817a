//! Why an expression was rejected.
//!
//! Every variant carries a 1-based column counted in characters (not bytes) into the original
//! expression, so an API error or a config-entry validation message can point at the culprit.
//! Selector and operator messages keep go-bexpr's wording (`Selector "X" is not valid`,
//! `Invalid match operator ...`) because Consul users search for those strings.

use std::fmt;

use super::ast::MatchOperator;

/// A filter expression that cannot be used. Parsing is all-or-nothing: on any error no
/// [`Filter`](super::Filter) exists and nothing else changed; the caller should report the
/// message to whoever wrote the expression (HTTP 400, or a rejected config-entry write).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The token stream does not fit the grammar. Fix the expression text.
    #[error("syntax error at column {column}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based character column of the offending token.
        column: usize,
        /// What the grammar allowed here.
        expected: Expected,
        /// What was there instead.
        found: Found,
    },
    /// A character that starts no token (e.g. a lone `=` or `!`).
    #[error("syntax error at column {column}: unexpected character {character:?}{hint}", hint = char_hint(*character))]
    UnexpectedCharacter {
        /// 1-based character column.
        column: usize,
        /// The character.
        character: char,
    },
    /// A `"` or `` ` `` string with no closing quote.
    #[error("syntax error at column {column}: unterminated string literal")]
    UnterminatedString {
        /// 1-based column of the opening quote.
        column: usize,
    },
    /// A backslash escape Go's string syntax does not define, or one that names no character.
    #[error(
        "syntax error at column {column}: invalid escape sequence {sequence:?} in string literal"
    )]
    InvalidEscape {
        /// 1-based column of the backslash.
        column: usize,
        /// The escape as written, e.g. `\q` or `\xff`.
        sequence: String,
    },
    /// An unquoted value that is neither an identifier path nor a number. Quote it.
    #[error(
        "invalid value {value:?} at column {column}: an unquoted value must be an identifier \
         (v1, canary) or a number (8080, -1.5); quote anything else"
    )]
    InvalidBareValue {
        /// 1-based column of the value.
        column: usize,
        /// The value as written.
        value: String,
    },
    /// The selector names no field of a service instance.
    #[error("Selector {selector:?} is not valid (column {column})")]
    UnknownSelector {
        /// 1-based column of the selector.
        column: usize,
        /// The selector up to and including the first unknown segment.
        selector: String,
    },
    /// The operator makes no sense for the selected field's kind (e.g. `==` on a list).
    #[error(
        "Invalid match operator \"{operator}\" for selector {selector:?} (column {column}): \
         {kind} supports {supported}",
        supported = kind.supported()
    )]
    UnsupportedOperator {
        /// 1-based column of the selector.
        column: usize,
        /// The selector as resolved.
        selector: String,
        /// The operator that was written.
        operator: MatchOperator,
        /// What the selector holds.
        kind: FieldKind,
    },
    /// The value cannot be converted to the field's type (e.g. `Service.Port == http`).
    #[error(
        "Failed to coerce value {value:?} for selector {selector:?} (column {column}): expected {kind}"
    )]
    InvalidValue {
        /// 1-based column of the value.
        column: usize,
        /// The selector the value is compared with.
        selector: String,
        /// The value after unquoting.
        value: String,
        /// The type the field holds.
        kind: FieldKind,
    },
    /// The pattern of a `matches` operator does not compile (or compiles too big).
    #[error("Failed to compile regular expression {pattern:?} (column {column}): {reason}")]
    InvalidRegex {
        /// 1-based column of the pattern.
        column: usize,
        /// The pattern after unquoting.
        pattern: String,
        /// The regex engine's explanation, on one line.
        reason: String,
    },
    /// `(` and `not` nest deeper than [`MAX_DEPTH`](super::MAX_DEPTH); bounded so that a
    /// hostile `?filter=` cannot exhaust the stack.
    #[error("expression nests deeper than {max} levels of parentheses or `not` (column {column})")]
    TooDeep {
        /// 1-based column where the limit was crossed.
        column: usize,
        /// The limit.
        max: usize,
    },
    /// The text is longer than [`MAX_LEN`](super::MAX_LEN) bytes.
    #[error("expression is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Length of the rejected expression in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

fn char_hint(c: char) -> &'static str {
    match c {
        '=' => " (did you mean \"==\"?)",
        '!' => " (did you mean \"!=\" or `not`?)",
        _ => "",
    }
}

/// What the parser was looking for when it failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Start of an expression: a match, `not` or `(`.
    Expression,
    /// A match operator after a selector.
    Operator,
    /// `in` / `not in` after a quoted value (only those put the value first).
    InOperator,
    /// `in`, `contains` or `matches` after `not`.
    AfterNot,
    /// `empty` or `not empty` after `is`.
    AfterIs,
    /// `empty` after `is not`.
    Empty,
    /// A selector such as `Service.Meta.version`.
    Selector,
    /// A value: quoted string, identifier or number.
    Value,
    /// A quoted map key inside `[...]`.
    IndexKey,
    /// `]` closing an index.
    CloseBracket,
    /// `)` closing a group.
    CloseParen,
    /// `and`, `or` or `)` after a complete match inside a group.
    AndOrCloseParen,
    /// `and`, `or` or end of input after a complete top-level match.
    AndOrEnd,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Expression => "an expression (a match, `not` or `(`)",
            Expected::Operator => {
                "a match operator (==, !=, in, not in, contains, not contains, matches, \
                 not matches, is empty, is not empty)"
            }
            Expected::InOperator => "`in` or `not in` after a quoted value",
            Expected::AfterNot => "`in`, `contains` or `matches` after `not`",
            Expected::AfterIs => "`empty` or `not empty` after `is`",
            Expected::Empty => "`empty` after `is not`",
            Expected::Selector => "a selector (e.g. Service.Meta.version)",
            Expected::Value => "a value (quoted string, identifier or number)",
            Expected::IndexKey => "a quoted map key",
            Expected::CloseBracket => "`]`",
            Expected::CloseParen => "`)`",
            Expected::AndOrCloseParen => "`and`, `or` or `)`",
            Expected::AndOrEnd => "`and`, `or` or end of input",
        })
    }
}

/// The token that did not fit.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The expression ended.
    EndOfInput,
    /// A token, as written in the source.
    Token(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::EndOfInput => f.write_str("end of input"),
            Found::Token(t) => write!(f, "`{t}`"),
        }
    }
}

/// What a selector holds; decides which operators and values it accepts.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Text (also each value of a map, and each check's fields through `Checks`).
    String,
    /// A signed integer such as `Service.Port`.
    Integer,
    /// `true`/`false` (Go's `strconv.ParseBool` spellings).
    Boolean,
    /// A list of strings (`Service.Tags`).
    StringList,
    /// A string-keyed map (`Service.Meta`); `in`/`contains` test keys.
    Map,
    /// The list of health checks itself.
    CheckList,
    /// A group of fields (`Service`, `Service.Weights`) with no value of its own.
    Group,
}

impl FieldKind {
    /// Operators the kind accepts, in the order error messages list them.
    pub fn operators(self) -> &'static [MatchOperator] {
        use MatchOperator as Op;
        match self {
            FieldKind::String => &[
                Op::Equal,
                Op::NotEqual,
                Op::In,
                Op::NotIn,
                Op::Contains,
                Op::NotContains,
                Op::Matches,
                Op::NotMatches,
                Op::IsEmpty,
                Op::IsNotEmpty,
            ],
            FieldKind::Integer | FieldKind::Boolean => &[Op::Equal, Op::NotEqual],
            FieldKind::StringList | FieldKind::Map => {
                &[Op::In, Op::NotIn, Op::Contains, Op::NotContains, Op::IsEmpty, Op::IsNotEmpty]
            }
            FieldKind::CheckList => &[Op::IsEmpty, Op::IsNotEmpty],
            FieldKind::Group => &[],
        }
    }

    fn supported(self) -> String {
        let ops = self.operators();
        if ops.is_empty() {
            return "no operators; select one of its fields".to_owned();
        }
        let names: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldKind::String => "a string",
            FieldKind::Integer => "an integer",
            FieldKind::Boolean => "a boolean (true or false)",
            FieldKind::StringList => "a list of strings",
            FieldKind::Map => "a map",
            FieldKind::CheckList => "the list of checks",
            FieldKind::Group => "a group of fields",
        })
    }
}
