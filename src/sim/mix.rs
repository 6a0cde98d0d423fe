//! Deterministic mixing (splitmix64): every generated value is a pure function of its inputs,
//! so nothing about a contact is ever stored.

/// One splitmix64 finalisation step: a fast, well-distributed bijection of `u64`.
pub const fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes two words into one (order matters).
pub const fn mix2(a: u64, b: u64) -> u64 {
    splitmix64(a ^ splitmix64(b ^ 0x6A09_E667_F3BC_C909))
}

/// FNV-1a of a string, then mixed: the account id's contribution to the account seed.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    splitmix64(h)
}

const M62: u64 = (1 << 62) - 1;

/// A keyed bijection of the 62-bit domain: xor, odd multiplications and xorshifts are each
/// invertible modulo 2^62, so distinct indexes always give distinct outputs.
pub const fn permute62(x: u64, key: u64) -> u64 {
    let mut x = (x ^ key) & M62;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & M62;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & M62;
    x ^= x >> 32;
    x
}

/// A UUID (version 4 layout) from two words; `lo` keeps its low 62 bits intact.
pub fn uuid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & M62) | (2 << 62);
    // Hand-rolled hex: `Uuid::hyphenated()` is several times slower in debug builds.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in hi
        .to_be_bytes()
        .into_iter()
        .chain(lo.to_be_bytes())
        .enumerate()
    {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 15)]));
    }
    out
}

/// A splitmix64 stream: the per-contact source of choices.
#[derive(Debug, Clone)]
pub struct Stream(u64);

impl Stream {
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (multiply-high; `n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn permute62_is_injective_on_a_sample() {
        let seen: HashSet<u64> = (0..200_000).map(|i| permute62(i, 0xDEAD_BEEF)).collect();
        assert_eq!(seen.len(), 200_000);
    }

    #[test]
    fn uuid_has_v4_layout_and_keeps_low_bits() {
        let u = uuid_from(u64::MAX, 12345);
        let parsed = uuid::Uuid::parse_str(&u).unwrap();
        assert_eq!(u, parsed.hyphenated().to_string());
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.as_u64_pair().1 & M62, 12345);
    }
}
