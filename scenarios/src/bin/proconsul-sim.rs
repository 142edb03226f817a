//! `proconsul-sim`: lists the scenarios, runs one with a seed (or a range of seeds) and
//! prints each run's outcome, trace hash, simulated and wall seconds.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "proconsul-sim", about = "Proconsul's deterministic simulation scenarios")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lists the scenarios.
    List,
    /// Runs one scenario.
    Run {
        /// The scenario's name (see `list`).
        scenario: String,
        /// One seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// A range of seeds, `A..B` (B excluded).
        #[arg(long)]
        seeds: Option<String>,
        /// Print the whole trace after each run.
        #[arg(long)]
        trace: bool,
    },
}

fn seeds(seed: Option<u64>, range: Option<&str>) -> Result<std::ops::Range<u64>, String> {
    match (seed, range) {
        (Some(s), _) => Ok(s..s.saturating_add(1)),
        (None, Some(r)) => {
            let (a, b) = r.split_once("..").ok_or(format!("--seeds {r:?}: expected A..B"))?;
            let a: u64 = a.trim().parse().map_err(|e| format!("--seeds {r:?}: start: {e}"))?;
            let b: u64 = b.trim().parse().map_err(|e| format!("--seeds {r:?}: end: {e}"))?;
            if b <= a {
                return Err(format!("--seeds {r:?}: the range is empty"));
            }
            Ok(a..b)
        }
        (None, None) => Ok(0..1),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for s in proconsul_scenarios::all() {
                println!(
                    "{:<20} {}",
                    s.name,
                    s.about.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            ExitCode::SUCCESS
        }
        Command::Run { scenario, seed, seeds: range, trace } => {
            let Some(found) = proconsul_scenarios::find(&scenario) else {
                eprintln!("no scenario {scenario:?}; `proconsul-sim list` names them");
                return ExitCode::from(2);
            };
            let range = match seeds(seed, range.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let multi = range.end - range.start > 1;
            let mut failed = 0u32;
            for s in range {
                let outcome = proconsul_scenarios::run(found, s);
                if multi {
                    println!("seed: {s}");
                }
                print!("{}", proconsul_scenarios::report(found, s, &outcome));
                if trace {
                    print!("{}", outcome.trace);
                }
                failed += u32::from(outcome.result.is_err());
            }
            if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
    }
}
