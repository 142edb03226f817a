//! `--help`: every command explains itself in one line, and asking for help succeeds.

mod support;

use support::proconsul;

#[test]
fn top_level_help_lists_the_command_groups() {
    let run = proconsul(["--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("config     Validate config entries and compile discovery chains"));
    assert!(run.stdout.contains("intention  Evaluate intentions offline"));
}

#[test]
fn each_subcommand_has_a_one_line_description() {
    let config = proconsul(["config", "--help"]);
    assert_eq!(config.code, Some(0), "{config:?}");
    assert!(config.stdout.contains("validate  Check config entry files alone and as one set"));
    assert!(config.stdout.contains("compile   Compile a service's discovery chain"));

    let intention = proconsul(["intention", "--help"]);
    assert_eq!(intention.code, Some(0), "{intention:?}");
    assert!(intention.stdout.contains("check  Decide whether SOURCE may connect to DESTINATION"));

    for cmd in [["config", "validate"], ["config", "compile"], ["intention", "check"]] {
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
