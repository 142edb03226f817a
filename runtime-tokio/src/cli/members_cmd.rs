//! `proconsul members`: the agent's view of its gossip pool, in `consul members`' table:
//!
//! ```text
//! Node    Address         Status  Type    Build   Protocol  DC   Partition  Segment
//! node-1  127.0.0.1:8301  alive   server  1.21.0  2         dc1  default    <all>
//! ```
//!
//! Servers come first, then clients, each by name. With `-detailed`, every member's tags
//! are printed raw (`k=v,...`, sorted) instead of the decoded columns.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use clap::Args;

use crate::api_client::Query;

use super::Exit;
use super::columns::columnize;
use super::http_flags::{HttpFlags, block_on, fail};

/// Arguments of `members`.
#[derive(Debug, Args)]
pub(super) struct MembersArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Print every member's raw tags instead of the decoded columns.
    #[arg(long)]
    detailed: bool,
    /// List the WAN pool (servers of every datacenter) instead of the LAN pool.
    #[arg(long)]
    wan: bool,
}

/// One member as `GET /v1/agent/members` returns it.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Member {
    name: String,
    addr: String,
    port: u16,
    tags: BTreeMap<String, String>,
    /// serf's status number.
    status: u8,
}

impl Member {
    fn tag(&self, key: &str) -> &str {
        self.tags.get(key).map(String::as_str).unwrap_or("")
    }

    /// serf's names for its status numbers.
    fn status_name(&self) -> &'static str {
        match self.status {
            0 => "none",
            1 => "alive",
            2 => "leaving",
            3 => "left",
            4 => "failed",
            _ => "unknown",
        }
    }

    /// `ip:port` (`[v6]:port`); an address that is not an IP shows as `:port`, as Go's
    /// `net.TCPAddr` prints a nil IP.
    fn address(&self) -> String {
        match self.addr.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port).to_string(),
            Err(_) => format!(":{}", self.port),
        }
    }

    fn is_server(&self) -> bool {
        self.tag("role") == "consul"
    }

    /// consul fills these in before sorting and printing: the default partition, and the
    /// segment servers span (`<all>`) or clients default to (`<default>`).
    fn with_display_tags(mut self) -> Self {
        if self.tag("ap").is_empty() {
            self.tags.insert("ap".into(), "default".into());
        }
        if self.tag("ap") == "default" {
            if self.is_server() {
                self.tags.insert("segment".into(), "<all>".into());
            } else if self.tag("segment").is_empty() {
                self.tags.insert("segment".into(), "<default>".into());
            }
        } else {
            self.tags.insert("segment".into(), String::new());
        }
        self
    }

    /// Servers first, then the default partition, then by segment, partition and name.
    fn sort_key(&self) -> (bool, bool, String, String, String) {
        let partition = self.tag("ap");
        let default = partition.is_empty() || partition == "default";
        (
            !self.is_server(),
            !default,
            self.tag("segment").to_owned(),
            partition.to_owned(),
            self.name.clone(),
        )
    }

    fn standard_row(&self) -> Vec<String> {
        let role = match self.tag("role") {
            "consul" => "server",
            "node" => "client",
            _ => {
                let (name, addr, status) = (&self.name, self.address(), self.status_name());
                return [name.as_str(), &addr, status, "unknown", "", "", "", "", ""]
                    .map(str::to_owned)
                    .to_vec();
            }
        };
        let build = match self.tag("build") {
            "" => "< 0.3",
            build => build.split(':').next().unwrap_or(build),
        };
        [
            &self.name,
            &self.address(),
            self.status_name(),
            role,
            build,
            self.tag("vsn"),
            self.tag("dc"),
            self.tag("ap"),
            self.tag("segment"),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn detailed_row(&self) -> Vec<String> {
        let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        vec![self.name.clone(), self.address(), self.status_name().to_owned(), tags.join(",")]
    }
}

/// The whole table, header first.
fn table(members: Vec<Member>, detailed: bool) -> String {
    let mut members: Vec<Member> = members.into_iter().map(Member::with_display_tags).collect();
    members.sort_by_key(Member::sort_key);
    let header: &[&str] = if detailed {
        &["Node", "Address", "Status", "Tags"]
    } else {
        &["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]
    };
    let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    rows.extend(members.iter().map(|m| if detailed { m.detailed_row() } else { m.standard_row() }));
    columnize(&rows)
}

/// Prints the table; an agent that knows no members (not even itself) prints nothing.
pub(super) fn members(
    args: &MembersArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let Some(client) = args.http.client(err)? else { return Ok(Exit::Failure) };
    let query = if args.wan { Query::new().param("wan", 1) } else { Query::new() };
    block_on(async {
        let members: Vec<Member> = match client.get_json("/v1/agent/members", &query).await {
            Ok(members) => members,
            Err(e) => return fail(err, "Error retrieving members", &e),
        };
        if !members.is_empty() {
            writeln!(out, "{}", table(members, args.detailed))?;
        }
        Ok(Exit::Success)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, addr: &str, role: &str, status: u8) -> Member {
        let tags = [("role", role), ("dc", "dc1"), ("build", "1.21.0:abc"), ("vsn", "2")];
        Member {
            name: name.into(),
            addr: addr.into(),
            port: 8301,
            tags: tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            status,
        }
    }

    #[test]
    fn servers_come_first_and_columns_are_decoded_as_consul_does() {
        let out = table(
            vec![
                member("a-client", "10.0.0.2", "node", 4),
                member("z-server", "10.0.0.1", "consul", 1),
            ],
            false,
        );
        assert_eq!(
            out,
            "Node      Address        Status  Type    Build   Protocol  DC   Partition  Segment\n\
             z-server  10.0.0.1:8301  alive   server  1.21.0  2         dc1  default    <all>\n\
             a-client  10.0.0.2:8301  failed  client  1.21.0  2         dc1  default    <default>"
        );
    }

    #[test]
    fn detailed_rows_show_raw_sorted_tags_and_ipv6_in_brackets() {
        let out = table(vec![member("n", "::1", "consul", 3)], true);
        assert_eq!(
            out,
            "Node  Address     Status  Tags\n\
             n     [::1]:8301  left    ap=default,build=1.21.0:abc,dc=dc1,role=consul,segment=<all>,vsn=2"
        );
    }

    #[test]
    fn members_without_a_role_are_unknown_with_empty_columns() {
        let mut m = member("x", "not-an-ip", "", 9);
        m.tags.clear();
        assert_eq!(m.standard_row()[..4], ["x", ":8301", "unknown", "unknown"]);
    }
}
