//! Characters → tokens for the HCL1 parser, with 1-based positions for error messages.
//!
//! Strings, heredocs and numbers are decoded here, so the parser only sees finished values.

use super::{HclError, HclErrorKind};

/// Where a token or character starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pos {
    pub(super) line: usize,
    pub(super) column: usize,
}

impl Pos {
    pub(super) fn error(self, kind: HclErrorKind) -> HclError {
        HclError { line: self.line, column: self.column, kind }
    }

    pub(super) fn unexpected(self, expected: impl Into<String>, found: &Tok) -> HclError {
        self.error(HclErrorKind::Unexpected { expected: expected.into(), found: found.describe() })
    }
}

/// Tokens carry decoded values, so the parser never looks at source text again.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Heredoc(String),
    Int(i64),
    Float(f64),
    /// One of `{ } [ ] = : ,`.
    Punct(char),
    /// Significant because newlines separate body items.
    Newline,
    Eof,
}

impl Tok {
    /// Short enough that an error message stays on one line even for a huge string token.
    fn describe(&self) -> String {
        fn clip(s: &str) -> String {
            let mut out: String = s.chars().take(24).collect();
            if s.chars().nth(24).is_some() {
                out.push('…');
            }
            out
        }
        match self {
            Tok::Ident(s) => format!("identifier `{}`", clip(s)),
            Tok::Str(s) => format!("string {:?}", clip(s)),
            Tok::Heredoc(_) => "heredoc".to_owned(),
            Tok::Int(n) => format!("number `{n}`"),
            Tok::Float(f) => format!("number `{f:?}`"),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Newline => "newline".to_owned(),
            Tok::Eof => "end of input".to_owned(),
        }
    }
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

pub(super) fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The one-letter escapes Go's string syntax defines, which HCL1 inherits.
const SIMPLE_ESCAPES: [(char, char); 9] = [
    ('n', '\n'),
    ('t', '\t'),
    ('r', '\r'),
    ('"', '"'),
    ('\\', '\\'),
    ('a', '\u{7}'),
    ('b', '\u{8}'),
    ('f', '\u{c}'),
    ('v', '\u{b}'),
];

/// Turns characters into tokens on demand, tracking line and column.
pub(super) struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next character; always on a char boundary.
    offset: usize,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Lexer { src, offset: 0, line: 1, column: 1 }
    }

    fn here(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.offset..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, mut pred: impl FnMut(char) -> bool) -> &'a str {
        let start = self.offset;
        while self.peek().is_some_and(&mut pred) {
            self.bump();
        }
        &self.src[start..self.offset]
    }

    pub(super) fn next_token(&mut self) -> Result<(Pos, Tok), HclError> {
        loop {
            // A BOM is whitespace so files saved by Windows editors still parse.
            self.bump_while(|c| matches!(c, ' ' | '\t' | '\r' | '\u{feff}'));
            let start = self.here();
            let Some(c) = self.peek() else {
                return Ok((start, Tok::Eof));
            };
            if let Some(tok) = match c {
                '\n' => Some(Tok::Newline),
                '{' | '}' | '[' | ']' | '=' | ':' | ',' => Some(Tok::Punct(c)),
                _ => None,
            } {
                self.bump();
                return Ok((start, tok));
            }
            let tok = match (c, self.peek2()) {
                ('#', _) | ('/', Some('/')) => {
                    self.bump_while(|c| c != '\n');
                    continue;
                }
                ('/', Some('*')) => {
                    if self.block_comment(start)? {
                        Tok::Newline
                    } else {
                        continue;
                    }
                }
                ('"', _) => Tok::Str(self.string(start)?),
                ('<', Some('<')) => Tok::Heredoc(self.heredoc(start)?),
                ('-', _) | ('0'..='9', _) => self.number(start)?,
                (c, _) if is_ident_start(c) => {
                    Tok::Ident(self.bump_while(is_ident_continue).to_owned())
                }
                (found, _) => return Err(start.error(HclErrorKind::UnexpectedChar { found })),
            };
            return Ok((start, tok));
        }
    }

    /// Skips a `/* */` comment. Returns whether it spanned a newline, because such a comment
    /// separates items just as the newline it swallowed would have.
    fn block_comment(&mut self, start: Pos) -> Result<bool, HclError> {
        let Some(len) = self.rest()[2..].find("*/") else {
            return Err(start.error(HclErrorKind::UnterminatedComment));
        };
        let body = &self.rest()[..len + 4];
        let spans_line = body.contains('\n');
        for _ in body.chars() {
            self.bump();
        }
        Ok(spans_line)
    }

    fn string(&mut self, start: Pos) -> Result<String, HclError> {
        self.bump(); // opening quote
        let mut out = String::new();
        // Depth inside `${ ... }`: HCL1 lets quotes appear there without ending the string, and
        // Consul keeps the whole interpolation as text.
        let mut braces = 0usize;
        loop {
            let at = self.here();
            let c = match self.bump() {
                None => return Err(start.error(HclErrorKind::UnterminatedString)),
                Some('\n') if braces == 0 => {
                    return Err(start.error(HclErrorKind::UnterminatedString));
                }
                Some(c) => c,
            };
            match c {
                '"' if braces == 0 => return Ok(out),
                '\\' if braces == 0 => out.push(self.escape(at)?),
                '\\' => {
                    out.push('\\');
                    out.extend(self.bump());
                }
                '$' if self.peek() == Some('{') => {
                    out.push_str("${");
                    self.bump();
                    braces += 1;
                }
                '{' if braces > 0 => {
                    out.push('{');
                    braces += 1;
                }
                '}' if braces > 0 => {
                    out.push('}');
                    braces -= 1;
                }
                c => out.push(c),
            }
        }
    }

    /// Decodes the escape after a backslash (already consumed) that sits at `at`.
    fn escape(&mut self, at: Pos) -> Result<char, HclError> {
        let invalid = |escape: String| at.error(HclErrorKind::InvalidEscape { escape });
        let c = self.bump().ok_or_else(|| invalid(String::new()))?;
        if let Some(&(_, decoded)) = SIMPLE_ESCAPES.iter().find(|(name, _)| *name == c) {
            return Ok(decoded);
        }
        let width = match c {
            'u' => 4,
            'U' => 8,
            other => return Err(invalid(other.to_string())),
        };
        let digits: String = self.rest().chars().take(width).collect();
        let escape = format!("{c}{digits}");
        if digits.len() != width || !digits.chars().all(|d| d.is_ascii_hexdigit()) {
            return Err(invalid(escape));
        }
        for _ in 0..width {
            self.bump();
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| invalid(escape))
    }

    /// Reads `<<ANCHOR` or `<<-ANCHOR` up to and including the closing anchor line.
    ///
    /// As in HCL1, the closing line may be indented in both forms. With `<<-`, the closing
    /// line's indentation is removed from every content line, provided all non-empty lines
    /// carry it; otherwise the text is kept as written rather than guessing.
    fn heredoc(&mut self, start: Pos) -> Result<String, HclError> {
        self.bump();
        self.bump();
        let indented = self.peek() == Some('-');
        if indented {
            self.bump();
        }
        let anchor = self.bump_while(|c| c.is_alphanumeric() || c == '_').to_owned();
        if anchor.is_empty() {
            let expected = "an anchor word such as `EOF` after `<<`";
            return Err(self.here().error(HclErrorKind::InvalidHeredoc { expected }));
        }
        if self.peek() == Some('\r') {
            self.bump();
        }
        if self.peek() != Some('\n') {
            let expected = "a newline right after the heredoc anchor";
            return Err(self.here().error(HclErrorKind::InvalidHeredoc { expected }));
        }
        self.bump();
        let content_start = self.offset;
        loop {
            let line_start = self.offset;
            let line = self.rest().split('\n').next().unwrap_or_default();
            let trimmed = line.trim_end_matches('\r');
            let body = trimmed.trim_start_matches([' ', '\t']);
            if body == anchor {
                let indent = &trimmed[..trimmed.len() - body.len()];
                let content = &self.src[content_start..line_start];
                for _ in line.chars() {
                    self.bump();
                }
                return Ok(if indented { unindent(content, indent) } else { content.to_owned() });
            }
            for _ in line.chars() {
                self.bump();
            }
            if self.bump().is_none() {
                return Err(start.error(HclErrorKind::UnterminatedHeredoc { anchor }));
            }
        }
    }

    fn number(&mut self, start: Pos) -> Result<Tok, HclError> {
        let begin = self.offset;
        let invalid = |lexer: &Self, reason: &'static str| {
            let text = lexer.src[begin..lexer.offset].to_owned();
            start.error(HclErrorKind::InvalidNumber { text, reason })
        };
        let negative = self.peek() == Some('-');
        if negative {
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(invalid(self, "expected a digit after `-`"));
            }
        }
        let sign = if negative { "-" } else { "" };
        if self.peek() == Some('0') && matches!(self.peek2(), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let digits = self.bump_while(|c| c.is_ascii_hexdigit());
            if digits.is_empty() {
                return Err(invalid(self, "expected hexadecimal digits after `0x`"));
            }
            self.reject_glued_suffix(start, begin)?;
            return i64::from_str_radix(&format!("{sign}{digits}"), 16)
                .map(Tok::Int)
                .map_err(|_| invalid(self, "out of range for a 64-bit integer"));
        }
        let int_part = self.bump_while(|c| c.is_ascii_digit());
        let mut is_float = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            is_float = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if self.bump_while(|c| c.is_ascii_digit()).is_empty() {
                return Err(invalid(self, "expected digits in the exponent"));
            }
        }
        self.reject_glued_suffix(start, begin)?;
        let text = &self.src[begin..self.offset];
        if is_float {
            return match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => Err(invalid(self, "out of range for a 64-bit float")),
            };
        }
        // HCL1 reads integers with Go's base prefix rules, so `010` is eight.
        let (digits, radix) = match int_part.strip_prefix('0') {
            Some(octal) if !octal.is_empty() => (octal, 8),
            _ => (int_part, 10),
        };
        if radix == 8 && !digits.chars().all(|c| c.is_digit(8)) {
            return Err(invalid(self, "a leading 0 makes it octal, expected digits 0-7"));
        }
        i64::from_str_radix(&format!("{sign}{digits}"), radix)
            .map(Tok::Int)
            .map_err(|_| invalid(self, "out of range for a 64-bit integer"))
    }

    /// Refuses `80abc` or `1.2.3`, which would otherwise split into two silently adjacent tokens.
    fn reject_glued_suffix(&self, start: Pos, begin: usize) -> Result<(), HclError> {
        match self.peek() {
            Some(c) if is_ident_continue(c) => {
                let glued = self.rest().chars().take_while(|&c| is_ident_continue(c));
                let text = self.src[begin..self.offset].chars().chain(glued).collect();
                let reason = "expected a separator after the number";
                Err(start.error(HclErrorKind::InvalidNumber { text, reason }))
            }
            _ => Ok(()),
        }
    }
}

/// Removes the closing anchor's indentation for `<<-`, or keeps the text if any line lacks it.
fn unindent(content: &str, indent: &str) -> String {
    let blank = |line: &str| line.trim_end_matches(['\r', '\n']).is_empty();
    let lines = content.split_inclusive('\n');
    if !lines.clone().all(|line| line.starts_with(indent) || blank(line)) {
        return content.to_owned();
    }
    lines.map(|line| line.strip_prefix(indent).unwrap_or(line)).collect()
}
