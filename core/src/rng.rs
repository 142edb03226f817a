//! Seeded randomness, split into named sub-streams.
//!
//! Every random choice in the core (cluster ids, CA keys, serial numbers, renewal jitter)
//! comes from a `ChaCha8Rng` derived from one `Seed` and a subsystem name, so adding draws
//! in one subsystem does not shift another's, and one seed replays a whole run.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// One named, seeded generator (what [`Seed::stream`] returns).
pub type Stream = ChaCha8Rng;

/// The root of all randomness of one node or simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seed(pub u64);

impl Seed {
    /// The generator of one named subsystem: the seed and the name are mixed with
    /// SplitMix64 steps, so streams of different names are independent.
    pub fn stream(self, name: &str) -> ChaCha8Rng {
        let mut state = self.0 ^ 0x9e37_79b9_7f4a_7c15;
        for b in name.bytes() {
            state = splitmix(state ^ u64::from(b));
        }
        ChaCha8Rng::seed_from_u64(splitmix(state))
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A UUID-shaped identifier (version 4 layout) drawn from `rng`, as Consul's cluster ids
/// and node ids look.
pub fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex[0..4].concat(),
        hex[4..6].concat(),
        hex[6..8].concat(),
        hex[8..10].concat(),
        hex[10..16].concat()
    )
}

/// A uniform draw from `0..bound` (`0` when `bound` is 0). The modulo bias is below
/// `bound / 2^64`, negligible for the spans we draw (seconds, nanoseconds of jitter).
pub fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    if bound == 0 { 0 } else { rng.next_u64() % bound }
}

/// Adapts a stream to rand_core 0.6, which RSA key generation still speaks.
pub(crate) struct Rng06<'a>(pub(crate) &'a mut ChaCha8Rng);

impl rand_core_06::RngCore for Rng06<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// ChaCha8 is a cryptographically strong stream; seeded, it is deterministic by design.
impl rand_core_06::CryptoRng for Rng06<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_give_the_same_stream_and_names_are_independent() {
        let a: Vec<u64> = (0..4).map(|_| Seed(7).stream("ca").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Seed(7).stream("ca").next_u64(), Seed(7).stream("gossip").next_u64());
        assert_ne!(Seed(7).stream("ca").next_u64(), Seed(8).stream("ca").next_u64());
    }

    #[test]
    fn uuids_have_version_4_layout() {
        let id = uuid(&mut Seed(1).stream("cluster-id"));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(id, uuid(&mut Seed(1).stream("cluster-id")));
    }
}
