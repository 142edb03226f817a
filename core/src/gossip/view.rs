//! The pool's member list as Serf would show it, derived from foca's membership state and
//! the leave intents, and the events that describe how it changed.
//!
//! Deriving rather than following foca's notifications keeps one source of truth: foca
//! notifies neither suspicion nor leaves, and a renamed member produces different
//! notification sequences depending on liveness. After every input the pool recomputes the
//! view (borrowing foca's state, cloning only what changed) and diffs it.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::NodeName;

use super::identity::Identity;
use super::intents::IntentLog;
use super::member::{Member, MemberEvent, MemberStatus};

/// The most events queued between drains; beyond it events are counted and dropped (the
/// member list stays right, only the history is lost).
pub(super) const MAX_EVENTS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    identity: Identity,
    status: MemberStatus,
}

/// One entry per node name, by name.
#[derive(Debug, Default)]
pub(super) struct View {
    entries: BTreeMap<NodeName, Entry>,
    events: VecDeque<MemberEvent>,
    /// Events dropped because the queue was full.
    pub(super) events_dropped: u64,
    version: u64,
}

fn status_of(member: &foca::Member<Identity>, intents: &IntentLog) -> MemberStatus {
    match member.state() {
        foca::State::Alive => MemberStatus::Alive,
        foca::State::Suspect => MemberStatus::Suspect,
        foca::State::Down if intents.has_left(member.id()) => MemberStatus::Left,
        foca::State::Down => MemberStatus::Failed,
    }
}

/// Which of two identities claiming one name the view shows: an active one over a down
/// one, then the later incarnation.
fn better(a: (&Identity, MemberStatus), b: (&Identity, MemberStatus)) -> bool {
    (a.1.is_active(), a.0.incarnation()) > (b.1.is_active(), b.0.incarnation())
}

/// The event for a member whose entry went from `old` to `new`, if Serf would emit one.
fn event_for(old: Option<&Entry>, new: &Entry) -> Option<MemberEvent> {
    use MemberStatus::{Failed, Left};
    let member = Member::from_identity(&new.identity, new.status);
    let renamed = old.is_some_and(|o| o.identity != new.identity);
    match (old.map(|o| o.status), new.status) {
        (None | Some(Failed | Left), s) if s.is_active() => Some(MemberEvent::Up(member)),
        // First heard of as already down: Serf has nothing to say about it.
        (None, _) => None,
        (Some(o), s) if o.is_active() && s.is_active() => {
            renamed.then_some(MemberEvent::Updated(member))
        }
        (Some(o), Left) => (o != Left).then_some(MemberEvent::Left(member)),
        (Some(o), Failed) => (o != Failed).then_some(MemberEvent::Failed(member)),
        (Some(_), _) => None,
    }
}

impl View {
    /// Recomputes the view from `me` (our own identity and status) and foca's `members`,
    /// queueing an event per change. Returns whether anything changed.
    pub(super) fn refresh<'a>(
        &mut self,
        me: (&'a Identity, MemberStatus),
        members: impl Iterator<Item = &'a foca::Member<Identity>>,
        intents: &IntentLog,
    ) -> bool {
        let mut current: BTreeMap<&NodeName, (&Identity, MemberStatus)> = BTreeMap::new();
        for m in members {
            let candidate = (m.id(), status_of(m, intents));
            let slot = current.entry(m.id().name()).or_insert(candidate);
            if better(candidate, *slot) {
                *slot = candidate;
            }
        }
        // Our own name always shows us, not an older identity of ours foca remembers.
        current.insert(me.0.name(), me);

        let mut changed = self.entries.len() != current.len();
        self.entries.retain(|name, _| current.contains_key(name));
        for (name, (identity, status)) in current {
            let old = self.entries.get(name);
            if old.is_some_and(|o| o.status == status && o.identity == *identity) {
                continue;
            }
            changed = true;
            let new = Entry { identity: identity.clone(), status };
            if let Some(event) = event_for(old, &new) {
                self.push_event(event);
            }
            self.entries.insert(name.clone(), new);
        }
        if changed {
            self.version += 1;
        }
        changed
    }

    fn push_event(&mut self, event: MemberEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }

    /// The oldest undelivered event.
    pub(super) fn pop_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// Every member, by name.
    pub(super) fn members(&self) -> Vec<Member> {
        self.entries.values().map(|e| Member::from_identity(&e.identity, e.status)).collect()
    }

    /// Whether the view holds a member of this name.
    pub(super) fn contains(&self, name: &NodeName) -> bool {
        self.entries.contains_key(name)
    }

    /// Moves whenever [`View::members`] would return something different.
    pub(super) fn version(&self) -> u64 {
        self.version
    }
}
