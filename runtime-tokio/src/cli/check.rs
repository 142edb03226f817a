//! Accepting a list of entries as one set, the way a server would accept them as writes.
//!
//! Entries are taken in command-line (then file-name) order, as a deploy script would run
//! `consul config write` over them. Each entry that is valid on its own is then checked with
//! [`validate_write`] against the entries accepted before it, so a report line names the
//! exact write a server would refuse (a router written before the `service-defaults` that
//! makes its service HTTP is refused by Consul too). A refused entry is left out of the set,
//! as the server would leave it out, and so are duplicates: two files defining the same
//! kind and name are almost always a copy-paste mistake, and which one "wins" would depend
//! on file order.

use std::collections::BTreeMap;

use proconsul_core::config::{ConfigEntries, ConfigEntry, ConfigError, Kind, validate_write};
use proconsul_core::ids::Datacenter;

use super::files::Loaded;
use super::problem::{Origin, Problem};

/// The entries that were accepted, and every problem found on the way, in input order.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    pub(crate) entries: ConfigEntries,
    pub(crate) problems: Vec<Problem>,
}

/// Accepts each entry that is valid on its own and not a duplicate, without graph checks.
///
/// For intention files, which hold no `service-defaults`: the graph check would find every
/// service `tcp` and refuse every L7 intention.
pub(crate) fn accept_alone(loaded: Vec<Result<Loaded, Problem>>) -> Checked {
    accept(loaded, |_, _| Ok(()))
}

/// Accepts entries as consecutive writes in `datacenter`: alone, then against the graph of
/// everything accepted before.
pub(crate) fn accept_writes(
    loaded: Vec<Result<Loaded, Problem>>,
    datacenter: &Datacenter,
) -> Checked {
    accept(loaded, |existing, proposed| validate_write(existing, proposed, datacenter))
}

/// The shared loop: `check` sees the accepted set and the proposed entry; `Err` refuses it.
fn accept<F>(loaded: Vec<Result<Loaded, Problem>>, mut check: F) -> Checked
where
    F: FnMut(&ConfigEntries, &ConfigEntry) -> Result<(), ConfigError>,
{
    let mut out = Checked::default();
    let mut first_seen: BTreeMap<(Kind, String), Origin> = BTreeMap::new();
    for item in loaded {
        let Loaded { origin, entry } = match item {
            Ok(loaded) => loaded,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        // A refused first definition still counts: the second one is a duplicate either way.
        let key = (entry.kind(), entry.name().to_owned());
        if let Some(first) = first_seen.get(&key) {
            let message = format!("already defined in {first}");
            out.problems.push(Problem::about(origin, &entry, message));
            continue;
        }
        first_seen.insert(key, origin.clone());
        match check(&out.entries, &entry) {
            Ok(()) => {
                out.entries.insert(entry);
            }
            Err(error) => out.problems.push(Problem::entry(origin, &entry, error)),
        }
    }
    out
}
