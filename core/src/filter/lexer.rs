//! Splits expression text into tokens.
//!
//! Words are deliberately greedy: anything that is not whitespace, a quote, a bracket, a
//! parenthesis or the start of `==`/`!=` joins the current word. The parser then judges a word
//! by its role (keyword, selector, bare value), which gives targeted errors such as "quote
//! `10.0.0.1`" instead of a confusing failure three tokens later. Strings follow Go's literal
//! syntax (go-bexpr unquotes with `strconv.Unquote`): `"..."` with backslash escapes and
//! `` `...` `` raw strings.

use std::iter::Peekable;
use std::str::CharIndices;

use super::error::FilterError;

/// One lexical token; `Word` borrows the source, `Str` owns its unescaped text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Equal,
    NotEqual,
    Word(&'a str),
    Str(String),
}

/// A token with its byte span. `spaced` records whether whitespace precedes it, because
/// `Meta["k"].x` continues a selector only when the pieces touch.
#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) spaced: bool,
}

/// 1-based character column of byte offset `at`. Offsets always come from token boundaries,
/// which are char boundaries; `get` keeps a bad offset from panicking anyway.
pub(crate) fn column(src: &str, at: usize) -> usize {
    src.get(..at).map_or(1, |prefix| prefix.chars().count() + 1)
}

/// Whitespace as go-bexpr's grammar defines it; other Unicode spaces are ordinary characters.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word_char(c: char) -> bool {
    !is_space(c) && !matches!(c, '(' | ')' | '[' | ']' | '"' | '`' | '=' | '!')
}

/// Tokenizes the whole expression up front; the token count is bounded by the input length,
/// which the caller has already bounded.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut chars = src.char_indices().peekable();
    let mut tokens = Vec::new();
    let mut spaced = false;
    while let Some(&(start, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
            spaced = true;
            continue;
        }
        let tok = match c {
            '(' | ')' | '[' | ']' => {
                chars.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }
            }
            '=' | '!' => {
                chars.next();
                if chars.next_if(|&(_, n)| n == '=').is_none() {
                    return Err(FilterError::UnexpectedCharacter {
                        column: column(src, start),
                        character: c,
                    });
                }
                if c == '=' { Tok::Equal } else { Tok::NotEqual }
            }
            '"' => Tok::Str(quoted(src, &mut chars)?),
            '`' => Tok::Str(raw(src, &mut chars)?),
            _ => {
                let mut end = start;
                while let Some((i, w)) = chars.next_if(|&(_, w)| is_word_char(w)) {
                    end = i + w.len_utf8();
                }
                Tok::Word(&src[start..end])
            }
        };
        let end = chars.peek().map_or(src.len(), |&(i, _)| i);
        tokens.push(Token { tok, start, end, spaced });
        spaced = false;
    }
    Ok(tokens)
}

type Chars<'a> = Peekable<CharIndices<'a>>;

/// A backtick string: no escapes; carriage returns are dropped, as Go does.
fn raw(src: &str, chars: &mut Chars<'_>) -> Result<String, FilterError> {
    let Some((open, _)) = chars.next() else {
        return Err(FilterError::UnterminatedString { column: column(src, src.len()) });
    };
    let mut out = String::new();
    for (_, c) in chars.by_ref() {
        match c {
            '`' => return Ok(out),
            '\r' => {}
            c => out.push(c),
        }
    }
    Err(FilterError::UnterminatedString { column: column(src, open) })
}

/// A double-quoted string with Go's escapes. Byte escapes above 0x7f are refused because a
/// Rust `String` cannot hold the lone byte Go would produce.
fn quoted(src: &str, chars: &mut Chars<'_>) -> Result<String, FilterError> {
    let Some((open, _)) = chars.next() else {
        return Err(FilterError::UnterminatedString { column: column(src, src.len()) });
    };
    let mut out = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok(out),
            '\\' => out.push(escape(src, at, chars)?),
            c => out.push(c),
        }
    }
    Err(FilterError::UnterminatedString { column: column(src, open) })
}

/// Decodes the escape whose backslash is at byte `at`.
fn escape(src: &str, at: usize, chars: &mut Chars<'_>) -> Result<char, FilterError> {
    let Some((_, kind)) = chars.next() else {
        return Err(FilterError::UnterminatedString { column: column(src, at) });
    };
    let simple = match kind {
        'a' => Some('\u{07}'),
        'b' => Some('\u{08}'),
        'f' => Some('\u{0c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{0b}'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok(c);
    }
    let (digits, radix, max) = match kind {
        'x' => (2, 16, 0x7f),
        '0'..='7' => (2, 8, 0x7f),
        'u' => (4, 16, u32::MAX),
        'U' => (8, 16, u32::MAX),
        _ => (0, 16, 0),
    };
    let mut value = if radix == 8 { kind.to_digit(8) } else { Some(0) };
    let mut end = at + 1 + kind.len_utf8();
    for _ in 0..digits {
        let Some((i, d)) = chars.next_if(|&(_, d)| d != '"') else {
            value = None;
            break;
        };
        end = i + d.len_utf8();
        value = value.zip(d.to_digit(radix)).map(|(v, d)| v * radix + d);
    }
    match value.filter(|&v| digits > 0 && v <= max).and_then(char::from_u32) {
        Some(c) => Ok(c),
        None => Err(FilterError::InvalidEscape {
            column: column(src, at),
            sequence: src.get(at..end).unwrap_or_default().to_owned(),
        }),
    }
}
