//! Reading config entry files the way an operator keeps them in a repository.
//!
//! A path is a file or a directory. A directory stands for every `*.hcl` and `*.json` file
//! directly in it, sorted by file name so a run is reproducible on every filesystem (and
//! dot-files are skipped, as the shell's `*.hcl` would). A file is:
//!
//! - HCL (`.hcl`): one entry, as `consul config write` reads it;
//! - JSON (`.json`): one entry object, or an array of them (what `consul config list` style
//!   exports and hand-written bundles look like);
//! - anything else: sniffed, because CI pipelines pipe through temp files with no extension.
//!   A first non-blank `{` or `[` means JSON, anything else HCL.
//!
//! Each entry is decoded, normalized and validated on its own here. Whether the entries fit
//! together is [`super::check`]'s job.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use proconsul_core::config::{ConfigEntry, ConfigError, hcl1};
use serde_json::Value;

use super::problem::{Origin, Problem};

/// An entry that is valid on its own, and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) origin: Origin,
    pub(crate) entry: ConfigEntry,
}

/// Reads every path in order: each yields its entries, or one problem per entry (or per
/// file, when the file cannot be read or parsed at all).
pub(crate) fn load(paths: &[PathBuf]) -> Vec<Result<Loaded, Problem>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            match entry_files_in(path) {
                Ok(files) => files.iter().for_each(|f| out.extend(load_file(f))),
                Err(e) => out.push(Err(Problem::input(
                    Origin::file(path),
                    format!("cannot read directory: {e}"),
                ))),
            }
        } else {
            out.extend(load_file(path));
        }
    }
    out
}

/// The `*.hcl` and `*.json` files directly in `dir`, sorted by file name.
pub(crate) fn entry_files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name();
        let hidden = name.to_string_lossy().starts_with('.');
        let path = item.path();
        // `is_file` follows symlinks: a linked entry file counts, a linked directory does not.
        if !hidden && path.is_file() && format_by_extension(&path).is_some() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// How a file's text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Hcl,
    Json,
}

fn format_by_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?;
    if ext.eq_ignore_ascii_case("hcl") {
        Some(Format::Hcl)
    } else if ext.eq_ignore_ascii_case("json") {
        Some(Format::Json)
    } else {
        None
    }
}

fn sniff(text: &str) -> Format {
    match text.trim_start().chars().next() {
        Some('{' | '[') => Format::Json,
        _ => Format::Hcl,
    }
}

/// Reads one file into its entries.
pub(crate) fn load_file(path: &Path) -> Vec<Result<Loaded, Problem>> {
    let whole = Origin::file(path);
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return vec![Err(Problem::input(whole, format!("cannot read: {e}")))],
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return vec![Err(Problem::input(whole, format!("not UTF-8 text: {e}")))],
    };
    // Editors on Windows like to start UTF-8 files with a byte-order mark; neither parser
    // accepts one, and it carries no meaning.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match format_by_extension(path).unwrap_or_else(|| sniff(text)) {
        Format::Hcl => match hcl1::parse(text) {
            Ok(value) => vec![load_value(whole, value)],
            Err(e) => vec![Err(Problem::input(whole, ConfigError::Hcl(e.to_string())))],
        },
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, value)| load_value(Origin::element(path, i), value))
                .collect(),
            Ok(value) => vec![load_value(whole, value)],
            Err(e) => vec![Err(Problem::input(whole, ConfigError::Json(e.to_string())))],
        },
    }
}

/// Decodes, normalizes and validates one entry on its own (Consul's `Normalize` and
/// `Validate`), keeping decode failures apart so the report names the entry only when it
/// has a kind and a name.
fn load_value(origin: Origin, value: Value) -> Result<Loaded, Problem> {
    let mut entry = match ConfigEntry::decode(value) {
        Ok(entry) => entry,
        Err(e) => return Err(Problem::input(origin, e)),
    };
    entry.normalize();
    match entry.validate() {
        Ok(()) => Ok(Loaded { origin, entry }),
        Err(e) => Err(Problem::entry(origin, &entry, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_a_known_extension_are_sniffed_by_their_first_character() {
        assert_eq!(sniff("  \n[{}]"), Format::Json);
        assert_eq!(sniff("{\"Kind\": 1}"), Format::Json);
        assert_eq!(sniff("# comment\nkind = \"x\""), Format::Hcl);
        assert_eq!(sniff(""), Format::Hcl);
    }

    #[test]
    fn extensions_are_matched_without_regard_to_case() {
        assert_eq!(format_by_extension(Path::new("a/B.HCL")), Some(Format::Hcl));
        assert_eq!(format_by_extension(Path::new("a/b.Json")), Some(Format::Json));
        assert_eq!(format_by_extension(Path::new("a/b.yaml")), None);
        assert_eq!(format_by_extension(Path::new("a/hcl")), None);
    }
}
