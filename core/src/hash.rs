//! Content hashes: the version of every xDS resource we serve, and any other digest that
//! must be equal across runs and processes (the gossip pool's membership fingerprint).
//!
//! A version must be equal exactly when the resource is equal, in every run, on every
//! platform and in every process (an agent restart must not make Envoy re-apply unchanged
//! resources). So the hash is computed over the model value, never over encoded protobuf
//! bytes (prost maps are unordered), with a hasher that:
//!
//! * normalizes every integer to little-endian and `usize`/`isize` to 64 bits, so derived
//!   `Hash` impls (field order, length prefixes, enum discriminants) give the same byte
//!   stream on 32- and 64-bit and on big- and little-endian machines;
//! * has no per-process key (`RandomState` would change versions on every restart);
//! * is collision resistant: the digest is SHA-256 truncated to 128 bits, so "same version,
//!   different resource" does not happen in practice and the ADS session may skip sends by
//!   version alone. RustCrypto's `sha2` computes it (with the CPU's SHA extensions where
//!   present): for the ~200-byte resources that dominate endpoint churn its per-call
//!   overhead is a third of ring's one-shot digest, and the digest is the same.
//!
//! The model types contain no floats and iterate only ordered collections, so the derived
//! `Hash` of a model value is a pure function of its content.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A 128-bit content digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContentHash(pub [u8; 16]);

impl ContentHash {
    /// 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let digits = self.hex_digits();
        std::str::from_utf8(&digits).expect("hex digits are ASCII").to_owned()
    }

    fn hex_digits(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

/// A platform-independent, unkeyed [`Hasher`]. Bytes are buffered and digested once by
/// [`StableHasher::digest`]: one SHA-256 pass over a contiguous buffer is several times
/// faster than feeding the digest the many tiny writes a derived `Hash` makes.
///
/// Most resources (an endpoint assignment, a small cluster) fit the inline buffer, so
/// hashing them allocates nothing; larger ones spill to the heap.
#[derive(Debug, Clone)]
pub struct StableHasher {
    inline: [u8; INLINE],
    len: usize,
    spill: Vec<u8>,
}

const INLINE: usize = 512;

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { inline: [0; INLINE], len: 0, spill: Vec::new() }
    }
}

impl StableHasher {
    /// An empty hasher.
    pub fn new() -> Self {
        Self::default()
    }

    fn bytes(&self) -> &[u8] {
        if self.spill.is_empty() { &self.inline[..self.len] } else { &self.spill }
    }

    /// The 128-bit digest of everything written so far.
    pub fn digest(&self) -> ContentHash {
        digest_bytes(self.bytes())
    }
}

/// SHA-256 of `bytes`, truncated to 128 bits.
pub fn digest_bytes(bytes: &[u8]) -> ContentHash {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    ContentHash(out)
}

impl StableHasher {
    /// Past the inline buffer: everything moves to (and continues in) `spill`.
    #[cold]
    fn write_spilled(&mut self, bytes: &[u8]) {
        if self.spill.is_empty() {
            self.spill.reserve(2 * INLINE + bytes.len());
            self.spill.extend_from_slice(&self.inline[..self.len]);
        }
        self.spill.extend_from_slice(bytes);
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        let d = self.digest().0;
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    // Inlined so the many fixed-size writes of a derived `Hash` become plain stores.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end <= INLINE && self.spill.is_empty() {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.write_spilled(bytes);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        // Widened so 32- and 64-bit platforms write the same bytes.
        self.write_u64(i as u64);
    }

    #[inline]
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }

    #[inline]
    fn write_i16(&mut self, i: i16) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_i128(&mut self, i: i128) {
        self.write(&i.to_le_bytes());
    }

    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.write_i64(i as i64);
    }
}

/// The content hash of any `Hash` value.
pub fn content_hash<T: Hash + ?Sized>(value: &T) -> ContentHash {
    let mut h = StableHasher::new();
    value.hash(&mut h);
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_values_differ() {
        let a = (String::from("db"), vec![1u32, 2, 3]);
        let b = (String::from("db"), vec![1u32, 2, 3]);
        let c = (String::from("db"), vec![1u32, 2, 4]);
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
    }

    #[test]
    fn length_prefixes_keep_adjacent_strings_apart() {
        let a = (String::from("ab"), String::from("c"));
        let b = (String::from("a"), String::from("bc"));
        assert_ne!(content_hash(&a), content_hash(&b));
    }

    #[test]
    fn hash_is_a_fixed_function_of_the_bytes() {
        // Pinned so an accidental change of algorithm or byte layout (which would make
        // every Envoy re-apply every resource after an upgrade) shows up as a test failure.
        assert_eq!(
            content_hash(&(7u64, "x")).to_hex(),
            digest_bytes(&[7, 0, 0, 0, 0, 0, 0, 0, b'x', 0xff]).to_hex()
        );
        assert_eq!(digest_bytes(b"").to_hex(), "e3b0c44298fc1c149afbf4c8996fb924");
    }

    #[test]
    fn values_past_the_inline_buffer_hash_the_same_bytes() {
        let long = "x".repeat(3 * INLINE);
        let mut bytes = 7u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(long.as_bytes());
        bytes.push(0xff);
        assert_eq!(content_hash(&(7u64, long.as_str())), digest_bytes(&bytes));
    }

    #[test]
    fn usize_hashes_as_u64() {
        assert_eq!(content_hash(&5usize), content_hash(&5u64));
    }
}
