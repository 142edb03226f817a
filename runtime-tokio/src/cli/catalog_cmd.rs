//! `proconsul catalog services`: the service names registered in the datacenter, one per
//! line, or with `-tags` each service's tags beside it, as `consul catalog services` prints.

use std::collections::BTreeMap;
use std::io::{self, Write};

use clap::{Args, Subcommand};

use crate::api_client::Query;

use super::Exit;
use super::columns::tabwrite;
use super::http_flags::{HttpFlags, block_on, fail};

/// `proconsul catalog ...`.
#[derive(Debug, Subcommand)]
pub(super) enum CatalogCommand {
    /// List the services registered in the datacenter.
    Services(ServicesArgs),
}

/// Arguments of `catalog services`.
#[derive(Debug, Args)]
pub(super) struct ServicesArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Show each service's tags, comma-separated, beside its name.
    #[arg(long)]
    tags: bool,
    /// Let any server answer from its local state.
    #[arg(long)]
    stale: bool,
}

/// Runs one `catalog` subcommand.
pub(super) fn run(
    command: &CatalogCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match command {
        CatalogCommand::Services(args) => services(args, out, err),
    }
}

fn services(args: &ServicesArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.stale { Query::new().stale() } else { Query::new() };
    block_on(async {
        let services: BTreeMap<String, Vec<String>> =
            match client.get_json("/v1/catalog/services", &query).await {
                Ok(services) => services,
                Err(e) => return fail(err, "Error listing services", &e),
            };
        // consul treats "nothing matched" as a notice, not a failure.
        if services.is_empty() {
            writeln!(err, "No services match the given query - try expanding your search.")?;
            return Ok(Exit::Success);
        }
        writeln!(out, "{}", render(services, args.tags))?;
        Ok(Exit::Success)
    })
}

/// Names in order; with tags, `name<pad>tag1,tag2` with tags sorted, and (as consul trims
/// the whole table) no trailing blanks at the very end.
fn render(services: BTreeMap<String, Vec<String>>, tags: bool) -> String {
    if !tags {
        return services.into_keys().collect::<Vec<_>>().join("\n");
    }
    let rows: Vec<(String, String)> = services
        .into_iter()
        .map(|(name, mut tags)| {
            tags.sort();
            (name, tags.join(","))
        })
        .collect();
    tabwrite(&rows).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([
            ("web".to_owned(), vec!["v2".to_owned(), "v1".to_owned()]),
            ("consul".to_owned(), vec![]),
        ])
    }

    #[test]
    fn names_are_listed_in_order() {
        assert_eq!(render(catalog(), false), "consul\nweb");
    }

    #[test]
    fn tags_are_sorted_and_aligned_beside_the_names() {
        assert_eq!(render(catalog(), true), "consul      \nweb         v1,v2");
    }
}
