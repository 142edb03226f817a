//! When an agent renews a leaf (CONSUL-FACTS.md §6.3): uniformly between 60% and 90% of
//! its lifetime, so a fleet issued together does not renew together; and soon, with jitter,
//! after the active root changes.

use rand_chacha::ChaCha8Rng;

use crate::rng::below;
use crate::time::UnixTime;

/// Window after a root change within which every agent renews (Consul's 30 s).
pub const ROOT_CHANGE_JITTER_SECS: i64 = 30;

/// A moment drawn uniformly in `[max(now, valid_after + 60%), valid_after + 90%]` of the
/// leaf's lifetime; `now` for lifetimes under ten minutes or past the window.
pub fn renewal_deadline(
    valid_after: UnixTime,
    valid_before: UnixTime,
    now: UnixTime,
    rng: &mut ChaCha8Rng,
) -> UnixTime {
    let lifetime = valid_before.secs() - valid_after.secs();
    if lifetime < 600 {
        return now;
    }
    let soft = valid_after.secs() + lifetime * 6 / 10;
    let hard = valid_after.secs() + lifetime * 9 / 10;
    let start = soft.max(now.secs());
    if start >= hard {
        return UnixTime(start.min(hard).max(now.secs()));
    }
    let span = (hard - start) as u64 + 1;
    UnixTime(start + below(rng, span) as i64)
}

/// After the active root changed: renew at a uniform moment in `[now, now + 30s)`.
pub fn root_change_deadline(now: UnixTime, rng: &mut ChaCha8Rng) -> UnixTime {
    now.plus_secs(below(rng, ROOT_CHANGE_JITTER_SECS as u64) as i64)
}
