//! Durations as Consul writes them in config entries: Go duration strings (`"15s"`,
//! `"1m30s"`, `"250ms"`), or a plain number of nanoseconds.

use std::fmt;
use std::str::FromStr;

/// A signed duration in nanoseconds. Signed because Consul reports a negative timeout as a
/// validation error (`Bad ConnectTimeout '-1s', must be >= 0`) rather than a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(i64);

/// A duration string that is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}")]
pub struct DurationError(pub String);

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

impl GoDuration {
    /// Zero, which Consul treats as "unset, use the default".
    pub const ZERO: GoDuration = GoDuration(0);

    /// From nanoseconds.
    pub const fn from_nanos(ns: i64) -> Self {
        GoDuration(ns)
    }

    /// From whole seconds.
    pub const fn from_secs(s: i64) -> Self {
        GoDuration(s * SEC)
    }

    /// From whole milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        GoDuration(ms * MS)
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `is_zero` by reference, for serde's `skip_serializing_if`.
    pub(crate) fn is_zero_ref(&self) -> bool {
        self.0 == 0
    }

    /// True below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The duration as a std one, `None` when negative.
    pub fn to_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.0).ok().map(std::time::Duration::from_nanos)
    }
}

fn unit(s: &str) -> Option<i64> {
    Some(match s {
        "ns" => NS,
        "us" | "µs" | "μs" => US,
        "ms" => MS,
        "s" => SEC,
        "m" => MIN,
        "h" => HOUR,
        _ => return None,
    })
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = || DurationError(input.to_owned());
        let (neg, mut rest) = match input.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, input.strip_prefix('+').unwrap_or(input)),
        };
        if rest == "0" {
            return Ok(GoDuration(0));
        }
        if rest.is_empty() {
            return Err(fail());
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let num_end =
                rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(fail)?;
            let (num, tail) = rest.split_at(num_end);
            let unit_end =
                tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
            let (unit_str, tail) = tail.split_at(unit_end);
            let scale = i128::from(unit(unit_str).ok_or_else(fail)?);
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            if (whole.is_empty() && frac.is_empty()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail());
            }
            let whole: i128 =
                if whole.is_empty() { 0 } else { whole.parse().map_err(|_| fail())? };
            let mut value = whole.checked_mul(scale).ok_or_else(fail)?;
            let mut place = scale;
            for d in frac.bytes() {
                place /= 10;
                value += i128::from(d - b'0') * place;
            }
            total = total.checked_add(value).ok_or_else(fail)?;
            if total > i128::from(i64::MAX) {
                return Err(fail());
            }
            rest = tail;
        }
        let total = i64::try_from(total).map_err(|_| fail())?;
        Ok(GoDuration(if neg { -total } else { total }))
    }
}

/// Writes `value / scale` with the fraction's trailing zeros trimmed, as Go does.
fn write_fraction(f: &mut fmt::Formatter<'_>, value: u64, scale: u64) -> fmt::Result {
    write!(f, "{}", value / scale)?;
    let frac = value % scale;
    if frac != 0 {
        let width = scale.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    Ok(())
}

impl fmt::Display for GoDuration {
    /// Go's `time.Duration.String()`: `0s`, `250ms`, `1.5µs`, `5s`, `1m30s`, `1h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let ns = self.0.unsigned_abs();
        let sec = SEC as u64;
        if ns < sec {
            let (scale, suffix) = if ns < US as u64 {
                (1, "ns")
            } else if ns < MS as u64 {
                (US as u64, "µs")
            } else {
                (MS as u64, "ms")
            };
            write_fraction(f, ns, scale)?;
            return f.write_str(suffix);
        }
        let hours = ns / HOUR as u64;
        let minutes = (ns % HOUR as u64) / MIN as u64;
        let secs = ns % MIN as u64;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write_fraction(f, secs, sec)?;
        f.write_str("s")
    }
}

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15s\" or a number of nanoseconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                Ok(GoDuration(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                i64::try_from(v).map(GoDuration).map_err(|_| E::custom("duration overflows"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<GoDuration, E> {
                if v.fract() == 0.0 && v.abs() < 9.2e18 {
                    Ok(GoDuration(v as i64))
                } else {
                    Err(E::custom(format!("invalid duration {v}")))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        for (ns, want) in [
            (0, "0s"),
            (5 * SEC, "5s"),
            (33 * SEC, "33s"),
            (90 * SEC, "1m30s"),
            (HOUR, "1h0m0s"),
            (72 * HOUR, "72h0m0s"),
            (1500 * MS, "1.5s"),
            (250 * MS, "250ms"),
            (1500, "1.5µs"),
            (7, "7ns"),
            (-5 * SEC, "-5s"),
        ] {
            assert_eq!(GoDuration(ns).to_string(), want);
        }
    }

    #[test]
    fn parses_go_strings() {
        for (s, ns) in [
            ("5s", 5 * SEC),
            ("1m30s", 90 * SEC),
            ("1h0m0s", HOUR),
            ("1.5s", 1500 * MS),
            (".5s", 500 * MS),
            ("250ms", 250 * MS),
            ("2us", 2 * US),
            ("2µs", 2 * US),
            ("-1s", -SEC),
            ("0", 0),
            ("72h", 72 * HOUR),
        ] {
            assert_eq!(s.parse::<GoDuration>().unwrap(), GoDuration(ns), "{s}");
        }
        for bad in ["", "5", "s", "5x", "1.2.3s", "--1s", "9999999999999h"] {
            assert!(bad.parse::<GoDuration>().is_err(), "{bad}");
        }
    }
}
