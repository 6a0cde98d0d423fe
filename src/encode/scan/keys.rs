//! Key prediction: an API writes an object's fields in one order, so before a key is scanned
//! and looked up, the two keys that last followed the previous one (two: a field some objects
//! leave out) are compared with the next bytes, `"name":` as a whole, in one 32-byte compare
//! each.
//!
//! Equal bytes are the same key: an unescaped key spelled `name` and its `:`, exactly what
//! [`Lexer::key`] would have read. A miss costs the scan and the lookup it would have cost
//! anyway, and teaches the memo the key that really came.

use super::lexer::{Lexer, R};

/// A key as compact JSON writes it, `"name":`, padded to 32 bytes, and its length.
#[derive(Debug)]
pub(super) struct Pattern {
    pub bytes: [u8; 32],
    pub len: usize,
}

impl Pattern {
    pub const fn of(name: &[u8]) -> Pattern {
        assert!(name.len() + 3 <= 32, "a key pattern holds 29 bytes of name");
        let mut bytes = [0; 32];
        bytes[0] = b'"';
        let mut i = 0;
        while i < name.len() {
            bytes[i + 1] = name[i];
            i += 1;
        }
        bytes[i + 1] = b'"';
        bytes[i + 2] = b':';
        Pattern {
            bytes,
            len: name.len() + 3,
        }
    }
}

/// The keys of one object shape. A slot numbers each key the shape knows: first the fields it
/// reads (`Self`'s variants, in order), then the documented ones it skips; `PATTERNS.len()` is
/// the slot of any other key.
pub(super) trait Key: Copy + 'static {
    const PATTERNS: &'static [Pattern];
    fn slot_of(name: &[u8]) -> usize;
    /// The field of a slot; `None` for a key the shape skips.
    fn of_slot(slot: usize) -> Option<Self>;
}

/// An enum of the fields an object shape reads and its [`Key`] slots, from the fields
/// (`Variant = b"name"`) and, after `; skip`, the other keys the API documents for it.
macro_rules! keys {
    ($(#[$m:meta])* $name:ident {
        $($variant:ident = $text:literal),+ $(,)?
        ; skip $($skipped:literal),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum $name { $($variant,)* }

        impl $crate::encode::scan::keys::Key for $name {
            const PATTERNS: &'static [$crate::encode::scan::keys::Pattern] = &[
                $($crate::encode::scan::keys::Pattern::of($text),)*
                $($crate::encode::scan::keys::Pattern::of($skipped),)*
            ];

            #[inline]
            fn slot_of(name: &[u8]) -> usize {
                const NAMES: &[&[u8]] = &[$($text,)* $($skipped,)*];
                use $crate::encode::scan::keys::index_of;
                match name {
                    $($text => const { index_of(NAMES, $text) },)*
                    $($skipped => const { index_of(NAMES, $skipped) },)*
                    _ => NAMES.len(),
                }
            }

            #[inline(always)]
            fn of_slot(slot: usize) -> Option<Self> {
                const READ: &[$name] = &[$($name::$variant,)*];
                READ.get(slot).copied()
            }
        }
    };
}
pub(super) use keys;

/// Where `name` is in `names` (a compile-time lookup for [`keys!`]'s slots).
pub(super) const fn index_of(names: &[&[u8]], name: &[u8]) -> usize {
    let mut i = 0;
    while i < names.len() {
        let n = names[i];
        if n.len() == name.len() {
            let mut j = 0;
            while j < n.len() && n[j] == name[j] {
                j += 1;
            }
            if j == n.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a known key")
}

/// Slots a memo holds: a shape's known keys, the slot of any other key, and [`START`].
const SLOTS: usize = 32;

/// The slot before an object's first member.
const START: usize = SLOTS - 1;

/// For each slot of one shape, the slots of the last two different keys that came after it;
/// a key of the shape's unknown slot is never predicted (there is no pattern to compare).
pub(super) struct KeyMemo<K> {
    next: [[u8; 2]; SLOTS],
    shape: std::marker::PhantomData<K>,
}

impl<K: Key> Default for KeyMemo<K> {
    fn default() -> Self {
        const { assert!(K::PATTERNS.len() < START) };
        let unknown = K::PATTERNS.len() as u8;
        KeyMemo {
            next: [[unknown; 2]; SLOTS],
            shape: std::marker::PhantomData,
        }
    }
}

impl<'a> Lexer<'a> {
    /// Each member of an object: `each` gets the field (`None` for a key the shape skips),
    /// predicted by `memo`, and reads (or skips) the value.
    #[inline(always)]
    pub(super) fn keyed_members<K: Key>(
        &mut self,
        memo: &mut KeyMemo<K>,
        mut each: impl FnMut(&mut Self, Option<K>) -> R<()>,
    ) -> R<()> {
        if self.open(b'{', b'}')? {
            let mut slot = START;
            loop {
                slot = self.next_slot(memo, slot)?;
                each(self, K::of_slot(slot))?;
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The slot of the next key, consumed with its `:`, after a member of slot `prev`.
    #[inline(always)]
    fn next_slot<K: Key>(&mut self, memo: &mut KeyMemo<K>, prev: usize) -> R<usize> {
        let guesses = memo.next[prev];
        for guess in guesses {
            let slot = usize::from(guess);
            if let Some(p) = K::PATTERNS.get(slot)
                && self.take_pattern(&p.bytes, p.len)
            {
                return Ok(slot);
            }
        }
        let slot = K::slot_of(self.key()?);
        // The same slot again only when its bytes differed (whitespace): keep both guesses.
        if usize::from(guesses[0]) != slot {
            memo.next[prev] = [slot as u8, guesses[0]];
        }
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    keys! {
        Shape {
            A = b"a",
            Bb = b"bb";
            skip b"c", b"dd",
        }
    }

    #[test]
    fn slots_number_the_read_fields_then_the_skipped_keys() {
        let names: [&[u8]; 5] = [b"a", b"bb", b"c", b"dd", b"e"];
        let slots = names.map(Shape::slot_of);
        assert_eq!(slots, [0, 1, 2, 3, 4]);
        assert_eq!(
            slots.map(Shape::of_slot),
            [Some(Shape::A), Some(Shape::Bb), None, None, None]
        );
        for (slot, p) in Shape::PATTERNS.iter().enumerate() {
            let name = &p.bytes[1..p.len - 2];
            assert_eq!(Shape::slot_of(name), slot);
        }
    }

    #[test]
    fn a_key_is_predicted_from_the_two_that_last_followed_the_one_before() {
        let text = r#"{"a":1,"bb":2}{"a":1,"c":3,"bb":2}{"a":1,"bb":2}{"a":1,"c":3}"#;
        let mut l = Lexer::new(text);
        let mut memo = KeyMemo::<Shape>::default();
        let mut objects = Vec::new();
        for _ in 0..4 {
            let mut keys = Vec::new();
            l.keyed_members(&mut memo, |l, key| {
                keys.push(key);
                l.skip(1)
            })
            .unwrap();
            objects.push(keys);
        }
        use Shape::*;
        assert_eq!(objects[0], [Some(A), Some(Bb)]);
        assert_eq!(objects[1], [Some(A), None, Some(Bb)]);
        assert_eq!(objects[2], [Some(A), Some(Bb)]);
        assert_eq!(objects[3], [Some(A), None]);
        // After `a`: `c`, then `bb`, the two most recent.
        assert_eq!(memo.next[0], [2, 1]);
        l.end().unwrap();
    }

    #[test]
    fn a_pattern_is_the_key_as_compact_json_writes_it() {
        let p = Pattern::of(b"first_name");
        assert_eq!(&p.bytes[..p.len], b"\"first_name\":");
        assert!(p.bytes[p.len..].iter().all(|&b| b == 0));
    }
}
