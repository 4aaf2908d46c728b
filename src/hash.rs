//! The stable hashes otelbox persists or must agree with the Collector on, in one place: FNV-1a in
//! 64 bits (the store's resource, scope and attribute-index hashes, tail sampling's trace hash) and
//! 32 bits (the probabilistic sampler's buckets). Stable across builds and runs, unlike std's
//! `DefaultHasher`; changing one changes what a stored database or a Collector agrees on.

use std::hash::Hasher;

/// 64-bit FNV-1a over bytes written in order (the `fnv` crate's hasher).
#[derive(Default)]
pub struct Fnv64(fnv::FnvHasher);

impl Fnv64 {
    pub fn new() -> Self {
        Fnv64::default()
    }

    pub fn write(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.write(bytes);
        self
    }

    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// 64-bit FNV-1a over the concatenated chunks.
pub fn fnv1a_64(chunks: &[&[u8]]) -> u64 {
    let mut hasher = Fnv64::new();
    for chunk in chunks {
        hasher.write(chunk);
    }
    hasher.finish()
}

/// 32-bit FNV-1a over the concatenated chunks (the `fnv` crate has only the 64-bit one).
pub fn fnv1a_32(chunks: &[&[u8]]) -> u32 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    chunks
        .iter()
        .flat_map(|chunk| chunk.iter())
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published FNV-1a test vectors: a change here would re-key every stored hash.
    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a_64(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(&[b"foo", b"bar"]), fnv1a_64(&[b"foobar"]));
        assert_eq!(fnv1a_64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a_32(&[]), 0x811c_9dc5);
        assert_eq!(fnv1a_32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a_32(&[b"foo", b"bar"]), 0xbf9c_f968);
    }
}
