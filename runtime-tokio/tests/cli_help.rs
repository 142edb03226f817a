//! `--help`: every command explains itself in one line, and asking for help succeeds.

mod support;

use support::proconsul;

#[test]
fn top_level_help_lists_the_command_groups() {
    let run = proconsul(["--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("config     Manage config entries on a cluster, or validate"));
    assert!(run.stdout.contains("intention  Manage intentions on a cluster, or evaluate"));
    assert!(run.stdout.contains("kv         Read and write the KV store"));
    assert!(run.stdout.contains("members    List the members of the agent's gossip pool"));
}

#[test]
fn each_subcommand_has_a_one_line_description() {
    let config = proconsul(["config", "--help"]);
    assert_eq!(config.code, Some(0), "{config:?}");
    assert!(config.stdout.contains("validate  Check config entry files alone and as one set"));
    assert!(config.stdout.contains("compile   Compile a service's discovery chain"));
    assert!(config.stdout.contains("write     Create or update one config entry"));

    let intention = proconsul(["intention", "--help"]);
    assert_eq!(intention.code, Some(0), "{intention:?}");
    assert!(intention.stdout.contains("check   Decide whether SOURCE may connect to DESTINATION"));
    assert!(intention.stdout.contains("create  Create an intention from SOURCE to DESTINATION"));

    for cmd in
        [["config", "validate"], ["config", "compile"], ["intention", "check"], ["kv", "put"]]
    {
        let run = proconsul([cmd[0], cmd[1], "--help"]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains("Usage: proconsul"), "{run:?}");
    }
}

#[test]
fn no_command_prints_usage_and_fails() {
    let run = proconsul::<[&str; 0], &str>([]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("Usage: proconsul <COMMAND>"), "{run:?}");
}
