//! Type-checks one match expression: operator against the field's kind, value against the
//! field's type, regex compilation. Everything that could fail at evaluation time in go-bexpr
//! fails here instead, once, so [`Filter::matches`](super::Filter::matches) cannot.

use regex::RegexBuilder;

use super::ast::{ListTest, Match, MatchOperator, StrTest};
use super::error::{FieldKind, FilterError};
use super::schema::Selected;

/// Compiled-program budget per regex. The pattern length is already capped by `MAX_LEN`, but
/// counted repetition (`a{1000}{1000}`) can still blow up; the engine refuses past this.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Where the pieces of a match expression sit in the source, for error columns.
pub(crate) struct Site<'a> {
    pub(crate) selector: &'a str,
    pub(crate) selector_column: usize,
    pub(crate) value_column: usize,
}

/// Builds the positive test for `selected <operator> value`; `value` is ignored by
/// `is [not] empty`. Negation stays in the operator.
pub(crate) fn compile(
    selected: Selected,
    operator: MatchOperator,
    value: &str,
    site: &Site<'_>,
) -> Result<Match, FilterError> {
    use MatchOperator as Op;
    let kind = selected.kind();
    let unsupported = || FilterError::UnsupportedOperator {
        column: site.selector_column,
        selector: site.selector.to_owned(),
        operator,
        kind,
    };
    if !kind.operators().contains(&operator) {
        return Err(unsupported());
    }
    let text = || value.to_owned();
    let compiled = match (selected, operator) {
        (Selected::Str(f), op) => Match::Str(f, str_test(op, value, site)?),
        (Selected::Check(f), op) => Match::Check(f, str_test(op, value, site)?),
        (Selected::Int(f), Op::Equal | Op::NotEqual) => {
            let n = value.parse::<i64>().map_err(|_| invalid(value, kind, site))?;
            Match::Int(f, n)
        }
        (Selected::Bool(f), Op::Equal | Op::NotEqual) => {
            Match::Bool(f, parse_bool(value).ok_or_else(|| invalid(value, kind, site))?)
        }
        (Selected::Tags, Op::IsEmpty | Op::IsNotEmpty) => Match::Tags(ListTest::Empty),
        (Selected::Tags, Op::In | Op::NotIn | Op::Contains | Op::NotContains) => {
            Match::Tags(ListTest::Has(text()))
        }
        (Selected::Map(f), Op::IsEmpty | Op::IsNotEmpty) => Match::Map(f, ListTest::Empty),
        (Selected::Map(f), Op::In | Op::NotIn | Op::Contains | Op::NotContains) => {
            Match::Map(f, ListTest::Has(text()))
        }
        (Selected::Checks, Op::IsEmpty | Op::IsNotEmpty) => Match::ChecksEmpty,
        // `FieldKind::operators` already refused these; kept total instead of panicking.
        _ => return Err(unsupported()),
    };
    Ok(compiled)
}

/// Every operator is valid on a string (checked by the caller against `FieldKind::String`).
fn str_test(operator: MatchOperator, value: &str, site: &Site<'_>) -> Result<StrTest, FilterError> {
    use MatchOperator as Op;
    Ok(match operator {
        Op::IsEmpty | Op::IsNotEmpty => StrTest::Empty,
        Op::Equal | Op::NotEqual => StrTest::Equal(value.to_owned()),
        Op::In | Op::NotIn | Op::Contains | Op::NotContains => StrTest::Contains(value.to_owned()),
        Op::Matches | Op::NotMatches => StrTest::Matches(regex(value, site.value_column)?),
    })
}

fn invalid(value: &str, kind: FieldKind, site: &Site<'_>) -> FilterError {
    FilterError::InvalidValue {
        column: site.value_column,
        selector: site.selector.to_owned(),
        value: value.to_owned(),
        kind,
    }
}

/// Go's `strconv.ParseBool` spellings, which go-bexpr uses to coerce boolean fields.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Compiles once at parse time. Like Go's `regexp.MatchString`, the match is unanchored.
fn regex(pattern: &str, column: usize) -> Result<regex::Regex, FilterError> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
        FilterError::InvalidRegex { column, pattern: pattern.to_owned(), reason: one_line(&e) }
    })
}

/// The regex crate explains syntax errors over several lines (pattern, caret, `error: ...`);
/// an API error or a config-entry message wants just the explanation.
fn one_line(err: &regex::Error) -> String {
    let full = err.to_string();
    let explained = full.lines().rev().find_map(|l| l.trim().strip_prefix("error: "));
    match explained {
        Some(reason) => reason.to_owned(),
        None => full.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}
