//! HCL version 1 → `serde_json::Value`, the way `consul config write` reads a config entry file.
//!
//! Consul still decodes config entry files with HashiCorp's HCL1 library
//! (<https://developer.hashicorp.com/consul/docs/connect/config-entries>), whose dialect lets
//! blocks appear inside object literals (`routes = [{ match { http { .. } } }]`). HCL2 parsers
//! reject that, so we carry our own small parser for the subset config entries use.
//!
//! Contract:
//! - The document is a body: items separated by newlines or commas, each `key = value`,
//!   `key { body }` or `key "label" .. { body }` (labels nest as objects). `:` may stand for `=`.
//! - A key seen twice at one level is allowed only when every occurrence is an object (repeated
//!   blocks); the occurrences then accumulate, in source order, into a JSON array.
//! - Strings keep `${...}` verbatim: Consul never interpolates, so neither do we.
//! - Integers become `i64` JSON numbers (a leading `0` means octal, as in HCL1), anything with a
//!   fraction or exponent becomes `f64`.
//! - Every failure is an [`HclError`] with a 1-based line and column; no input panics, and
//!   nesting deeper than [`MAX_DEPTH`] is refused so the recursive parser (and serde_json's
//!   recursive drop) stay within the stack.
//!
//! Deliberately left out, because config entry files don't use them: bare-word block labels
//! (`service web { }`; labels must be quoted), `\x`/octal string escapes, and HCL1's JSON input
//! mode (JSON files should go straight to serde_json).

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use lexer::{Lexer, Pos, Tok};

mod lexer;

#[cfg(test)]
#[path = "hcl1_tests.rs"]
mod tests;

/// How many objects, lists, blocks and block labels may nest. Real config entries nest fewer than
/// ten levels; the cap exists so hostile input can't exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses an HCL1 document into the JSON value Consul's decoder would see.
///
/// The result is always a JSON object (an empty document gives `{}`). Object keys keep their
/// source order.
pub fn parse(input: &str) -> Result<Value, HclError> {
    let mut parser = Parser { lexer: Lexer::new(input), peeked: None };
    parser.body(0, false).map(Value::Object)
}

/// Why a document was rejected, and where.
///
/// Parsing is all-or-nothing: on error no partial value is returned; the caller should report
/// the position and message to whoever wrote the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
#[error("line {line}, column {column}: {kind}")]
pub struct HclError {
    /// 1-based line of the offending character or token.
    pub line: usize,
    /// 1-based column, counted in Unicode scalar values (a tab counts as one).
    pub column: usize,
    /// What went wrong.
    pub kind: HclErrorKind,
}

/// The specific problem behind an [`HclError`]; its `Display` is the human-readable message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HclErrorKind {
    /// A token appeared where the grammar allows something else.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows here, with context (e.g. "`=` or `{` after key \"match\"").
        expected: String,
        /// A short description of what was there instead.
        found: String,
    },
    /// A character that starts no token at all (e.g. `@`, `+`, a control character).
    #[error("unexpected character {found:?}, expected a key, value or punctuation")]
    UnexpectedChar {
        /// The character.
        found: char,
    },
    /// A `"` string ran into a newline or the end of input; the position is its opening quote.
    #[error("unterminated string, expected a closing `\"` on the same line")]
    UnterminatedString,
    /// A `/*` comment was never closed; the position is its opening `/*`.
    #[error("unterminated comment, expected `*/`")]
    UnterminatedComment,
    /// A heredoc's closing anchor line was never found; the position is its `<<`.
    #[error("unterminated heredoc, expected a line containing only `{anchor}`")]
    UnterminatedHeredoc {
        /// The anchor that should have closed it.
        anchor: String,
    },
    /// A `<<` not followed by an anchor word and a newline.
    #[error("invalid heredoc, expected {expected}")]
    InvalidHeredoc {
        /// What was missing.
        expected: &'static str,
    },
    /// A backslash escape HCL1 does not define, or a `\u` that is not a Unicode scalar value.
    #[error(
        "invalid escape `\\{escape}`, expected one of \\n \\t \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX"
    )]
    InvalidEscape {
        /// The text after the backslash that was examined.
        escape: String,
    },
    /// A number that is malformed or does not fit (`i64` for integers, finite `f64` for floats).
    #[error("invalid number `{text}`: {reason}")]
    InvalidNumber {
        /// The number as written.
        text: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A key repeated at one level where one of the occurrences is not an object.
    #[error(
        "duplicate key {key:?} (first set on line {first_line}), expected only blocks or objects to repeat"
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Line of its first occurrence.
        first_line: usize,
    },
    /// Objects, lists, blocks and labels nest deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {limit} levels, expected a flatter document")]
    TooDeep {
        /// The limit that was hit.
        limit: usize,
    },
}

/// Builds one level's JSON object, enforcing the repeated-key rule.
#[derive(Default)]
struct Level {
    map: Map<String, Value>,
    /// First line of each key, and whether its value is already an accumulated array.
    seen: BTreeMap<String, (usize, bool)>,
}

impl Level {
    fn insert(&mut self, key: String, value: Value, at: Pos) -> Result<(), HclError> {
        let Some((first_line, accumulated)) = self.seen.get_mut(&key) else {
            self.seen.insert(key.clone(), (at.line, false));
            self.map.insert(key, value);
            return Ok(());
        };
        let slot = self.map.get_mut(&key);
        match slot {
            Some(Value::Array(items)) if *accumulated && value.is_object() => items.push(value),
            Some(slot) if !*accumulated && slot.is_object() && value.is_object() => {
                let first = slot.take();
                *slot = Value::Array(vec![first, value]);
                *accumulated = true;
            }
            _ => {
                let first_line = *first_line;
                return Err(at.error(HclErrorKind::DuplicateKey { key, first_line }));
            }
        }
        Ok(())
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<(Pos, Tok)>,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<(Pos, Tok), HclError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> Result<&Tok, HclError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().map_or(&Tok::Eof, |(_, tok)| tok))
    }

    fn skip_newlines(&mut self) -> Result<(), HclError> {
        while *self.peek()? == Tok::Newline {
            self.next()?;
        }
        Ok(())
    }

    /// Parses items until `}` (when `braced`, consuming it) or end of input.
    fn body(&mut self, depth: usize, braced: bool) -> Result<Map<String, Value>, HclError> {
        let mut level = Level::default();
        loop {
            self.skip_newlines()?;
            let (at, tok) = self.next()?;
            let key = match tok {
                Tok::Eof if !braced => break,
                Tok::Punct('}') if braced => break,
                Tok::Ident(key) | Tok::Str(key) => key,
                other => {
                    let expected = if braced { "a key or `}`" } else { "a key or end of input" };
                    return Err(at.unexpected(expected, &other));
                }
            };
            let value = self.item_value(&key, depth)?;
            // A closing bracket already delimits the item, so `a {} b {}` on one line is fine;
            // after a scalar, demand a separator so `port = 80 90` is caught.
            let delimited = matches!(value, Value::Object(_) | Value::Array(_));
            level.insert(key.clone(), value, at)?;
            match self.peek()? {
                Tok::Punct(',') => {
                    self.next()?;
                }
                // A misplaced `}` or end of input is reported by the loop, with better context.
                Tok::Newline | Tok::Punct('}') | Tok::Eof => {}
                _ if delimited => {}
                _ => {
                    let (at, found) = self.next()?;
                    let expected = format!("a newline or `,` after the value of {key:?}");
                    return Err(at.unexpected(expected, &found));
                }
            }
        }
        Ok(level.map)
    }

    /// Parses what follows a key: `= value`, `{ body }` or `"label" .. { body }`.
    fn item_value(&mut self, key: &str, depth: usize) -> Result<Value, HclError> {
        let (at, tok) = self.next()?;
        let mut labels = Vec::new();
        let open = match tok {
            Tok::Punct('=' | ':') => return self.value(depth),
            Tok::Punct('{') => at,
            Tok::Str(label) => {
                labels.push(label);
                loop {
                    let (at, tok) = self.next()?;
                    match tok {
                        Tok::Str(label) => labels.push(label),
                        Tok::Punct('{') => break at,
                        other => {
                            let expected = format!("`{{` or another label in block {key:?}");
                            return Err(at.unexpected(expected, &other));
                        }
                    }
                }
            }
            other => return Err(at.unexpected(format!("`=` or `{{` after key {key:?}"), &other)),
        };
        let depth = descend(depth + labels.len(), open)?;
        let mut value = Value::Object(self.body(depth, true)?);
        for label in labels.into_iter().rev() {
            value = Value::Object(Map::from_iter([(label, value)]));
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Value, HclError> {
        let (at, tok) = self.next()?;
        Ok(match tok {
            Tok::Str(s) | Tok::Heredoc(s) => Value::String(s),
            Tok::Int(n) => Value::Number(n.into()),
            // The lexer only yields finite floats, so the `None` arm is unreachable in practice.
            Tok::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Tok::Ident(word) if word == "true" => Value::Bool(true),
            Tok::Ident(word) if word == "false" => Value::Bool(false),
            Tok::Punct('{') => Value::Object(self.body(descend(depth, at)?, true)?),
            Tok::Punct('[') => Value::Array(self.list(descend(depth, at)?)?),
            other => {
                let expected = "a value (string, number, `true`, `false`, `[` or `{`)";
                return Err(at.unexpected(expected, &other));
            }
        })
    }

    /// Parses list elements after `[`; newlines may appear anywhere, commas separate.
    fn list(&mut self, depth: usize) -> Result<Vec<Value>, HclError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines()?;
            if *self.peek()? == Tok::Punct(']') {
                self.next()?;
                return Ok(items);
            }
            items.push(self.value(depth)?);
            self.skip_newlines()?;
            match self.next()? {
                (_, Tok::Punct(',')) => {}
                (_, Tok::Punct(']')) => return Ok(items),
                (at, other) => return Err(at.unexpected("`,` or `]` in list", &other)),
            }
        }
    }
}

fn descend(depth: usize, at: Pos) -> Result<usize, HclError> {
    if depth >= MAX_DEPTH {
        return Err(at.error(HclErrorKind::TooDeep { limit: MAX_DEPTH }));
    }
    Ok(depth + 1)
}
