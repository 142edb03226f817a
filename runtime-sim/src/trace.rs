//! The trace of a simulation: the events that matter (leader changes, commits, membership
//! and health changes, the xDS versions each proxy holds), stamped with simulated time, and
//! a hash over all of them. Two runs with the same seed give the same hash; a failing run
//! prints the tail of its trace.

use std::fmt::{self, Write as _};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A server saw a new leader (or none) in a term.
    Leader { term: u64, leader: Option<String> },
    /// A server applied the log up to this index.
    Applied { index: u64 },
    /// An agent's view of the LAN pool changed: who it sees alive.
    Members { alive: Vec<String> },
    /// A check changed status in the replicated catalog.
    Health { check: String, status: String },
    /// A proxy accepted (ACKed) a version of one resource type.
    Xds { type_url: String, version: String, resources: usize },
    /// The fault plan or the scenario did something.
    Fault(String),
    /// A host started, crashed or restarted.
    Host(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Leader { term, leader } => {
                write!(f, "leader term={term} {}", leader.as_deref().unwrap_or("-"))
            }
            Event::Applied { index } => write!(f, "applied {index}"),
            Event::Members { alive } => write!(f, "members {}", alive.join(",")),
            Event::Health { check, status } => write!(f, "health {check} {status}"),
            Event::Xds { type_url, version, resources } => {
                let short = type_url.rsplit('.').next().unwrap_or(type_url);
                write!(f, "xds {short} v={version} n={resources}")
            }
            Event::Fault(what) => write!(f, "fault {what}"),
            Event::Host(what) => write!(f, "host {what}"),
        }
    }
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Simulated time.
    pub at: Duration,
    /// Which host saw it (`sim` for the harness).
    pub host: String,
    /// What.
    pub event: Event,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>10.3}s {:<12} {}", self.at.as_secs_f64(), self.host, self.event)
    }
}

/// The recorded events and their running hash.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    lines: Vec<Line>,
    hasher: Sha256,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// Records `event` seen by `host` at `at`.
    pub fn record(&mut self, at: Duration, host: &str, event: Event) {
        let line = Line { at, host: host.to_owned(), event };
        self.hasher.update(line.to_string().as_bytes());
        self.hasher.update(b"\n");
        self.lines.push(line);
    }

    /// Every line so far.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The hash of every line so far, in hex.
    pub fn hash(&self) -> String {
        let digest = self.hasher.clone().finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }

    /// The last `n` lines, one per line of text.
    pub fn tail(&self, n: usize) -> String {
        let start = self.lines.len().saturating_sub(n);
        self.lines[start..].iter().map(|l| format!("{l}\n")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_every_event_and_its_order() {
        let mut a = Trace::new();
        let mut b = Trace::new();
        let e1 = Event::Leader { term: 1, leader: Some("s1".into()) };
        let e2 = Event::Applied { index: 3 };
        a.record(Duration::from_millis(5), "s1", e1.clone());
        a.record(Duration::from_millis(6), "s1", e2.clone());
        b.record(Duration::from_millis(5), "s1", e1.clone());
        assert_ne!(a.hash(), b.hash());
        b.record(Duration::from_millis(6), "s1", e2.clone());
        assert_eq!(a.hash(), b.hash());
        let mut c = Trace::new();
        c.record(Duration::from_millis(6), "s1", e2);
        c.record(Duration::from_millis(5), "s1", e1);
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 64);
        assert!(a.tail(1).contains("applied 3"));
    }
}
