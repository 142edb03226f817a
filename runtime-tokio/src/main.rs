//! The `proconsul` command.

fn main() {
    let _ = clap::Command::new("proconsul").get_matches();
}
