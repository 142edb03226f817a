//! Recursive-descent parser for go-bexpr's grammar, checking each match as it goes.
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | "(" expr ")" | match
//! match    := selector ("==" | "!=" | ["not"] "contains" | ["not"] "matches") value
//!           | selector "is" ["not"] "empty"
//!           | value ["not"] "in" selector
//! selector := word ("[" string "]" ("." word)?)*      e.g. Service.Meta["a.b"]
//! value    := string | identifier-path | number
//! ```
//!
//! Precedence is `not` > `and` > `or`, as in go-bexpr. Keywords are lowercase only. Unlike
//! go-bexpr, `not(` and `)and(` need no space: words end at punctuation, so nothing that
//! go-bexpr accepts changes meaning. Recursion only happens through `(` and `not`, and both
//! count against [`MAX_DEPTH`].

use super::MAX_DEPTH;
use super::ast::{Expr, MatchOperator, Predicate};
use super::compile::{Site, compile};
use super::error::{Expected, FilterError, Found};
use super::lexer::{Tok, Token, column, tokenize};
use super::schema::{is_dotted_segment, is_identifier, render, resolve};

/// Longest token text quoted back in a syntax error; a 60 KiB string literal helps no one.
const FOUND_MAX_CHARS: usize = 40;

/// Parses and checks `src`.
pub(crate) fn parse(src: &str) -> Result<Expr, FilterError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser { src, tokens, pos: 0, depth: 0 };
    let expr = parser.or()?;
    if parser.pos < parser.tokens.len() {
        return Err(parser.unexpected(Expected::AndOrEnd));
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

/// The first operand of a match, before the operator tells us whether it is a selector or a
/// value.
struct Term {
    start: usize,
    end: usize,
    kind: TermKind,
}

enum TermKind {
    Quoted(String),
    /// A well-formed selector path (also the shape of a bare identifier value).
    Path(Vec<String>),
    /// A word that is not a selector; may still be a bare number.
    Word,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self) -> Option<&'a str> {
        match self.peek()?.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    fn eat_word(&mut self, keyword: &str) -> bool {
        let hit = self.peek_word() == Some(keyword);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// True (and consumed) if the next token is `tok` written flush against the previous one.
    fn eat_adjacent(&mut self, tok: &Tok<'_>) -> bool {
        let hit = self.peek().is_some_and(|t| !t.spaced && &t.tok == tok);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn column(&self, at: usize) -> usize {
        column(self.src, at)
    }

    /// A syntax error at the current token (or at the end).
    fn unexpected(&self, expected: Expected) -> FilterError {
        let (at, found) = match self.peek() {
            None => (self.src.len(), Found::EndOfInput),
            Some(t) => (t.start, Found::Token(self.excerpt(t.start, t.end))),
        };
        FilterError::Syntax { column: self.column(at), expected, found }
    }

    fn excerpt(&self, start: usize, end: usize) -> String {
        let text = self.src.get(start..end).unwrap_or_default();
        if text.chars().count() <= FOUND_MAX_CHARS {
            return text.to_owned();
        }
        let mut short: String = text.chars().take(FOUND_MAX_CHARS).collect();
        short.push('…');
        short
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
        let Some(token) = self.peek() else {
            return Err(self.unexpected(Expected::Expression));
        };
        let start = token.start;
        let is_not = token.tok == Tok::Word("not");
        let is_group = token.tok == Tok::LParen;
        if !is_not && !is_group {
            return self.matcher();
        }
        if self.depth >= MAX_DEPTH {
            return Err(FilterError::TooDeep { column: self.column(start), max: MAX_DEPTH });
        }
        self.pos += 1;
        self.depth += 1;
        let inner =
            if is_not { self.unary().map(|e| Expr::Not(Box::new(e))) } else { self.group() };
        self.depth -= 1;
        inner
    }

    /// The rest of `( expr )` after the opening parenthesis.
    fn group(&mut self) -> Result<Expr, FilterError> {
        let inner = self.or()?;
        if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
            self.pos += 1;
            return Ok(inner);
        }
        let expected =
            if self.peek().is_some() { Expected::AndOrCloseParen } else { Expected::CloseParen };
        Err(self.unexpected(expected))
    }

    fn matcher(&mut self) -> Result<Expr, FilterError> {
        let first = self.term(Expected::Expression)?;
        let operator = self.operator(&first)?;
        let (selector, value) = if operator.value_first() {
            let value = self.as_value(first)?;
            let selector = self.term(Expected::Selector)?;
            (selector, Some(value))
        } else {
            let value = if operator.takes_value() {
                let term = self.term(Expected::Value)?;
                Some(self.as_value(term)?)
            } else {
                None
            };
            (first, value)
        };
        let (path, selector_start) = self.as_selector(selector)?;
        let selected = resolve(&path).map_err(|bad| FilterError::UnknownSelector {
            column: self.column(selector_start),
            selector: render(path.get(..=bad).unwrap_or(&path)),
        })?;
        let rendered = render(&path);
        let (text, value_start) = value.unwrap_or_default();
        let site = Site {
            selector: &rendered,
            selector_column: self.column(selector_start),
            value_column: self.column(value_start),
        };
        let test = compile(selected, operator, &text, &site)?;
        let value = operator.takes_value().then_some(text);
        Ok(Expr::Match(Predicate { selector: rendered, operator, value, test }))
    }

    /// Reads a quoted string or a selector-shaped word (with any `["key"]` indexes).
    fn term(&mut self, expected: Expected) -> Result<Term, FilterError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(expected));
        };
        let (start, end) = (token.start, token.end);
        let word = match &token.tok {
            Tok::Str(s) => {
                let kind = TermKind::Quoted(s.clone());
                self.pos += 1;
                return Ok(Term { start, end, kind });
            }
            Tok::Word(w) => *w,
            _ => return Err(self.unexpected(expected)),
        };
        self.pos += 1;
        let Some(mut path) = dotted(word, true) else {
            return Ok(Term { start, end, kind: TermKind::Word });
        };
        let mut end = end;
        while self.eat_adjacent(&Tok::LBracket) {
            path.push(self.index_key()?);
            end = self.previous_end();
            let touching = self.peek().is_some_and(|t| !t.spaced);
            if let Some(more) = self.peek_word().and_then(|w| w.strip_prefix('.'))
                && touching
            {
                self.pos += 1;
                end = self.previous_end();
                let Some(segments) = dotted(more, false) else {
                    return Err(FilterError::Syntax {
                        column: self.column(start),
                        expected: Expected::Selector,
                        found: Found::Token(self.excerpt(start, end)),
                    });
                };
                path.extend(segments);
            }
        }
        Ok(Term { start, end, kind: TermKind::Path(path) })
    }

    fn previous_end(&self) -> usize {
        self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)).map_or(self.src.len(), |t| t.end)
    }

    /// The rest of `[ "key" ]` after the `[`.
    fn index_key(&mut self) -> Result<String, FilterError> {
        let key = match self.peek() {
            Some(Token { tok: Tok::Str(s), .. }) => s.clone(),
            _ => return Err(self.unexpected(Expected::IndexKey)),
        };
        self.pos += 1;
        if !self.peek().is_some_and(|t| t.tok == Tok::RBracket) {
            return Err(self.unexpected(Expected::CloseBracket));
        }
        self.pos += 1;
        Ok(key)
    }

    fn operator(&mut self, first: &Term) -> Result<MatchOperator, FilterError> {
        use MatchOperator as Op;
        let op_start = self.peek().map_or(self.src.len(), |t| t.start);
        let is_quoted = matches!(first.kind, TermKind::Quoted(_));
        let simple = match self.peek().map(|t| &t.tok) {
            Some(Tok::Equal) => Some(Op::Equal),
            Some(Tok::NotEqual) => Some(Op::NotEqual),
            Some(Tok::Word("contains")) => Some(Op::Contains),
            Some(Tok::Word("matches")) => Some(Op::Matches),
            Some(Tok::Word("in")) => Some(Op::In),
            _ => None,
        };
        let op = if let Some(op) = simple {
            self.pos += 1;
            op
        } else if self.eat_word("is") {
            let negated = self.eat_word("not");
            if !self.eat_word("empty") {
                return Err(self.unexpected(if negated {
                    Expected::Empty
                } else {
                    Expected::AfterIs
                }));
            }
            if negated { Op::IsNotEmpty } else { Op::IsEmpty }
        } else if self.eat_word("not") {
            let op = match self.peek_word() {
                Some("in") => Op::NotIn,
                Some("contains") => Op::NotContains,
                Some("matches") => Op::NotMatches,
                _ => return Err(self.unexpected(Expected::AfterNot)),
            };
            self.pos += 1;
            op
        } else {
            let expected = if is_quoted { Expected::InOperator } else { Expected::Operator };
            return Err(self.unexpected(expected));
        };
        if is_quoted && !op.value_first() {
            // The quoted value is fine; it is the operator that cannot follow a value.
            return Err(FilterError::Syntax {
                column: self.column(op_start),
                expected: Expected::InOperator,
                found: Found::Token(self.excerpt(op_start, self.previous_end())),
            });
        }
        Ok(op)
    }

    fn as_selector(&self, term: Term) -> Result<(Vec<String>, usize), FilterError> {
        match term.kind {
            TermKind::Path(path) => Ok((path, term.start)),
            TermKind::Quoted(_) | TermKind::Word => Err(FilterError::Syntax {
                column: self.column(term.start),
                expected: Expected::Selector,
                found: Found::Token(self.excerpt(term.start, term.end)),
            }),
        }
    }

    /// A value's text and start offset. Bare words must look like go-bexpr values so that an
    /// expression we accept means the same thing to Consul.
    fn as_value(&self, term: Term) -> Result<(String, usize), FilterError> {
        let raw = self.src.get(term.start..term.end).unwrap_or_default();
        match term.kind {
            TermKind::Quoted(text) => Ok((text, term.start)),
            // An indexed path (`a["b"]`) is a selector, never a value.
            TermKind::Path(_) if !raw.contains('[') => Ok((raw.to_owned(), term.start)),
            TermKind::Word if is_number(raw) => Ok((raw.to_owned(), term.start)),
            TermKind::Path(_) | TermKind::Word => Err(FilterError::InvalidBareValue {
                column: self.column(term.start),
                value: self.excerpt(term.start, term.end),
            }),
        }
    }
}

/// Splits a dotted word into selector segments, or `None` if it is not selector-shaped.
/// `first` requires the leading segment to be an identifier.
fn dotted(word: &str, first: bool) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    for (i, seg) in word.split('.').enumerate() {
        let ok = if i == 0 && first { is_identifier(seg) } else { is_dotted_segment(seg) };
        if !ok {
            return None;
        }
        segments.push(seg.to_owned());
    }
    Some(segments)
}

/// go-bexpr number literal: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(digits)
}
