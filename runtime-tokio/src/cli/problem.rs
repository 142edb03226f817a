//! One line of a config report: where an entry came from and what is wrong with it.
//!
//! Operators read these lines in CI logs and jump straight to the file, so every line starts
//! with the file (plus the array index when a JSON file holds several entries), then names
//! the entry once it decoded far enough to have a kind and a name, then gives core's message,
//! which already names the offending field:
//!
//! ```text
//! splitter.hcl: service-splitter "web": the sum of all split weights must be 100, not 99.990000
//! all.json[2]: invalid config entry kind: "service-routr" (known kinds: ...)
//! ```

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use proconsul_core::config::{ConfigEntry, ConfigError, Kind};

/// Where an entry was read from: a file, and its position when the file is a JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    path: PathBuf,
    index: Option<usize>,
}

impl Origin {
    /// The whole file (HCL, a JSON object, or a file that could not be read at all).
    pub(crate) fn file(path: &Path) -> Self {
        Origin { path: path.to_owned(), index: None }
    }

    /// Element `index` of a JSON array file.
    pub(crate) fn element(path: &Path, index: usize) -> Self {
        Origin { path: path.to_owned(), index: Some(index) }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        match self.index {
            Some(i) => write!(f, "[{i}]"),
            None => Ok(()),
        }
    }
}

/// Something that stops an entry (or a whole file) from being accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    origin: Origin,
    /// Kind and name, once the entry decoded; `None` for unreadable or undecodable input.
    entry: Option<(Kind, String)>,
    message: String,
}

impl Problem {
    /// A problem with input that never became an entry (I/O, syntax, unknown kind or field).
    pub(crate) fn input(origin: Origin, message: impl fmt::Display) -> Self {
        Problem { origin, entry: None, message: message.to_string() }
    }

    /// A problem with a decoded entry that core did not phrase as an error (a duplicate).
    pub(crate) fn about(origin: Origin, entry: &ConfigEntry, message: impl fmt::Display) -> Self {
        let entry = Some((entry.kind(), entry.name().to_owned()));
        Problem { origin, entry, message: message.to_string() }
    }

    /// A problem with a decoded entry. Core's `Invalid` errors already start with the kind
    /// and name; only their message is kept so the entry is not named twice.
    pub(crate) fn entry(origin: Origin, entry: &ConfigEntry, error: ConfigError) -> Self {
        let message = match error {
            ConfigError::Invalid { message, .. } => message,
            other => other.to_string(),
        };
        Problem { origin, entry: Some((entry.kind(), entry.name().to_owned())), message }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if let Some((kind, name)) = &self.entry {
            // `{:?}` quotes the name the way core's own messages do.
            write!(f, "{kind} {name:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Writes one line per problem: the report format scripts and humans both read.
pub(crate) fn report(problems: &[Problem], to: &mut dyn Write) -> io::Result<()> {
    problems.iter().try_for_each(|p| writeln!(to, "{p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_array_elements_show_their_index_after_the_file() {
        let p = Problem::input(Origin::element(Path::new("all.json"), 2), "boom");
        assert_eq!(p.to_string(), "all.json[2]: boom");
    }

    #[test]
    fn invalid_entries_are_named_once() {
        let entry = ConfigEntry::from_hcl("kind = \"service-defaults\"\nname = \"web\"").unwrap();
        let error = ConfigError::Invalid {
            kind: Kind::ServiceDefaults,
            name: "web".into(),
            message: "bad".into(),
        };
        let p = Problem::entry(Origin::file(Path::new("d.hcl")), &entry, error);
        assert_eq!(p.to_string(), "d.hcl: service-defaults \"web\": bad");
    }
}
