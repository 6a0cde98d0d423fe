//! The JSON grammar the page scanner walks: whitespace, strings, numbers, literals, and a
//! validating skip of any value no column reads.
//!
//! It never decides what a malformed body means: anything it is not sure of is a [`Bail`], and
//! the page is read by serde_json instead, which gives the real answer (an error, or a value
//! shape the scanner does not take, such as a struct written as an array).

use std::borrow::Cow;

/// "Not on the fast path": read this page with serde_json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

pub type R<T> = Result<T, Bail>;

/// serde_json stops at 128 levels; the scanner hands deeper values to it well before.
const MAX_DEPTH: u32 = 64;

/// A string token: `start..end` is its text between the quotes, `escaped` when it holds a `\`.
/// Only this file makes one (`text_of` relies on where its ends are).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

pub struct Lexer<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        let b = text.as_bytes();
        Lexer { text, b, pos: 0 }
    }

    /// The index of the first `"`, `\` or control character at or after `i`, or the length.
    #[inline(always)]
    fn find_special(&self, mut i: usize) -> usize {
        let b = self.b;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of the x86_64 baseline; every load reads `b[i..i + 16]`, in
        // bounds, and `loadu` takes any alignment.
        unsafe {
            // 16 bytes per step: most strings end in the first or second.
            use std::arch::x86_64::*;
            let (quote, backslash, ctl) = (
                _mm_set1_epi8(b'"' as i8),
                _mm_set1_epi8(b'\\' as i8),
                _mm_set1_epi8(0x1f),
            );
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i).cast());
                let hit = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                    // max(v, 0x1f) == 0x1f exactly when v <= 0x1f (unsigned).
                    _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl),
                );
                let mask = _mm_movemask_epi8(hit) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
        while let Some(&c) = b.get(i) {
            if is_special(c) {
                return i;
            }
            i += 1;
        }
        i
    }

    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    #[inline(always)]
    pub fn next(&mut self) -> R<u8> {
        let mut c = self.peek().ok_or(Bail)?;
        // Compact JSON (what the API sends) has no whitespace between tokens.
        if c <= b' ' {
            self.ws();
            c = self.peek().ok_or(Bail)?;
        }
        self.pos += 1;
        Ok(c)
    }

    #[inline(always)]
    pub fn expect(&mut self, c: u8) -> R<()> {
        if self.next()? == c { Ok(()) } else { Err(Bail) }
    }

    /// Whitespace, then the end of the text.
    pub fn end(&mut self) -> R<()> {
        self.ws();
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// After a member or element: `true` on `,`, `false` on `close`.
    #[inline(always)]
    pub fn more(&mut self, close: u8) -> R<bool> {
        match self.next()? {
            b',' => Ok(true),
            c if c == close => Ok(false),
            _ => Err(Bail),
        }
    }

    /// Consumes `{`, and `}` at once when the object is empty: `true` when members follow.
    #[inline(always)]
    pub fn open(&mut self, open: u8, close: u8) -> R<bool> {
        self.expect(open)?;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A member's key (unescaped keys only: an escaped one could spell a field's name) and its
    /// `:`.
    #[inline(always)]
    pub fn key(&mut self) -> R<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = self.find_special(start);
        // Stopped at a `\`, a control character or the end: an escaped key or a bad string.
        if self.b.get(end) != Some(&b'"') {
            return Err(Bail);
        }
        self.pos = end + 1;
        // Compact JSON puts the `:` right after the quote.
        if self.b.get(self.pos) == Some(&b':') {
            self.pos += 1;
        } else {
            self.expect(b':')?;
        }
        Ok(&self.b[start..end])
    }

    /// Consumes the next `len` bytes when they are `pattern[..len]` (`len <= 32`).
    #[inline(always)]
    pub fn take_pattern(&mut self, pattern: &[u8; 32], len: usize) -> bool {
        let (b, pos) = (self.b, self.pos);
        debug_assert!((1..=32).contains(&len));
        #[cfg(target_arch = "x86_64")]
        let same = if pos + 32 <= b.len() {
            // SAFETY: SSE2 is part of the x86_64 baseline; the reads are `b[pos..pos + 32]`,
            // in bounds, and the 32 bytes of `pattern`; `loadu` takes any alignment.
            unsafe {
                use std::arch::x86_64::*;
                let (text, pat) = (b.as_ptr().add(pos), pattern.as_ptr());
                let lo = _mm_cmpeq_epi8(_mm_loadu_si128(text.cast()), _mm_loadu_si128(pat.cast()));
                let mut eq = _mm_movemask_epi8(lo) as u32;
                // Most keys fit the first 16 bytes.
                if len > 16 {
                    let hi = _mm_cmpeq_epi8(
                        _mm_loadu_si128(text.add(16).cast()),
                        _mm_loadu_si128(pat.add(16).cast()),
                    );
                    eq |= (_mm_movemask_epi8(hi) as u32) << 16;
                }
                let want = u32::MAX >> (32 - len);
                eq & want == want
            }
        } else {
            b.get(pos..pos + len) == Some(&pattern[..len])
        };
        #[cfg(not(target_arch = "x86_64"))]
        let same = b.get(pos..pos + len) == Some(&pattern[..len]);
        if same {
            self.pos += len;
        }
        same
    }

    /// A string whose opening quote was consumed, up to and past its closing quote.
    #[inline(always)]
    pub fn string_rest(&mut self) -> R<Span> {
        let start = self.pos;
        let i = self.find_special(start);
        if self.b.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(Span {
                start,
                end: i,
                escaped: false,
            });
        }
        self.escaped_string_rest(start, i)
    }

    /// The rest of a string from its first `\` (or control character, or the end) at `i`.
    #[cold]
    #[inline(never)]
    fn escaped_string_rest(&mut self, start: usize, mut i: usize) -> R<Span> {
        loop {
            match self.b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Span {
                        start,
                        end: i,
                        escaped: true,
                    });
                }
                Some(b'\\') => i = self.find_special(self.escape(i + 1)?),
                // A raw control character, or the end of the text.
                _ => return Err(Bail),
            }
        }
    }

    /// One escape after its `\` at `i`; the index after it. `\u` takes any four hex digits, as
    /// serde_json does for a value it ignores; a kept string is unescaped by serde_json itself.
    fn escape(&self, i: usize) -> R<usize> {
        match self.b.get(i) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
            Some(b'u') => match self.b.get(i + 1..i + 5) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(i + 5),
                _ => Err(Bail),
            },
            _ => Err(Bail),
        }
    }

    /// The text of a string token: borrowed, or unescaped by serde_json.
    #[inline(always)]
    pub fn text_of(&self, s: Span) -> R<Cow<'a, str>> {
        if !s.escaped {
            debug_assert!(self.text.is_char_boundary(s.start) && self.text.is_char_boundary(s.end));
            // SAFETY: a span is only made by `string_rest`, between an ASCII `"` it consumed
            // and the ASCII `"` that closes the string, both within `text`; a byte after or at
            // an ASCII byte of valid UTF-8 is a character boundary.
            return Ok(Cow::Borrowed(unsafe {
                self.text.get_unchecked(s.start..s.end)
            }));
        }
        self.unescape(s).map(Cow::Owned)
    }

    /// The text of an escaped string (its escapes were checked by `string_rest`): what
    /// serde_json makes of it; a surrogate that is not half of a pair is left to serde_json.
    #[cold]
    #[inline(never)]
    fn unescape(&self, s: Span) -> R<String> {
        let (text, b) = (self.text, self.b);
        let mut out = String::with_capacity(s.end - s.start);
        let mut i = s.start;
        while i < s.end {
            let j = memchr::memchr(b'\\', &b[i..s.end]).map_or(s.end, |at| i + at);
            // `i` and `j` are at or after ASCII bytes (a quote or an escape), so on boundaries.
            out.push_str(text.get(i..j).ok_or(Bail)?);
            if j == s.end {
                break;
            }
            let c = match b[j + 1] {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = |at: usize| {
                        let hex = text.get(at..at + 4).ok_or(Bail)?;
                        u32::from_str_radix(hex, 16).map_err(|_| Bail)
                    };
                    let high = unit(j + 2)?;
                    i = j + 6;
                    let code = match high {
                        0xD800..=0xDBFF if b.get(i..i + 2) == Some(b"\\u") => {
                            let low = unit(i + 2)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return Err(Bail);
                            }
                            i += 6;
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        }
                        0xD800..=0xDFFF => return Err(Bail),
                        code => code,
                    };
                    out.push(char::from_u32(code).ok_or(Bail)?);
                    continue;
                }
                _ => return Err(Bail),
            };
            out.push(c);
            i = j + 2;
        }
        Ok(out)
    }

    /// An array of unescaped strings with nothing between them but `,` (`["a","b"]`, how the
    /// API writes id lists), consumed: its text from the first string's first byte to the last
    /// one's last byte, and whether it holds two or more. `None`, nothing consumed, for any
    /// other value: the caller reads it the general way.
    #[inline(always)]
    pub fn compact_strings(&mut self) -> R<Option<(&'a str, bool)>> {
        let at = self.pos;
        let read = self.compact_strings_here();
        if let Ok(None) = read {
            self.pos = at;
        }
        read
    }

    #[inline(always)]
    fn compact_strings_here(&mut self) -> R<Option<(&'a str, bool)>> {
        if self.b.get(self.pos..self.pos + 2) != Some(b"[\"") {
            return Ok(None);
        }
        self.pos += 2;
        let first = self.string_rest()?;
        let mut last = first;
        loop {
            if last.escaped {
                return Ok(None);
            }
            match self.b.get(self.pos) {
                Some(b']') => break,
                Some(b',') if self.b.get(self.pos + 1) == Some(&b'"') => {
                    self.pos += 2;
                    last = self.string_rest()?;
                }
                _ => return Ok(None),
            }
        }
        self.pos += 1;
        let text = self.text.get(first.start..last.end).ok_or(Bail)?;
        Ok(Some((text, last.start != first.start)))
    }

    /// `null`, consumed, when it comes next (after whitespace).
    #[inline(always)]
    pub fn null(&mut self) -> R<bool> {
        let mut c = self.peek();
        if c.is_some_and(|c| c <= b' ') {
            self.ws();
            c = self.peek();
        }
        if c != Some(b'n') {
            return Ok(false);
        }
        self.literal(b"null")?;
        Ok(true)
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// An integer written without fraction or exponent (nor `-0`), that fits an `i64` easily.
    pub fn int(&mut self) -> R<i64> {
        self.ws();
        let neg = self.peek() == Some(b'-');
        let digits = self.pos + usize::from(neg);
        let mut i = digits;
        let mut n: i64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.b.get(i) {
            // Past 18 digits the value is refused below; wrapping keeps debug builds from
            // panicking on the way there.
            n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
            i += 1;
        }
        let len = i - digits;
        let leading_zero = len > 1 && self.b[digits] == b'0';
        // serde_json reads `-0` as the float -0.0, which an integer field refuses.
        let minus_zero = neg && n == 0;
        let fraction = matches!(self.b.get(i), Some(b'.' | b'e' | b'E'));
        if len == 0 || len > 18 || leading_zero || minus_zero || fraction {
            return Err(Bail);
        }
        self.pos = i;
        Ok(if neg { -n } else { n })
    }

    /// [`Self::skip`], a string (most values no column reads: ids, dates, sources) scanned
    /// in place.
    #[inline(always)]
    pub fn skip_member(&mut self, depth: u32) -> R<()> {
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return self.string_rest().map(drop);
        }
        self.skip(depth)
    }

    /// Any JSON value, checked as serde_json checks a value it ignores, and dropped.
    pub fn skip(&mut self, depth: u32) -> R<()> {
        self.ws();
        match self.peek().ok_or(Bail)? {
            b'"' => {
                self.pos += 1;
                self.string_rest().map(drop)
            }
            b'{' if depth < MAX_DEPTH => {
                if self.open(b'{', b'}')? {
                    loop {
                        self.expect(b'"')?;
                        self.string_rest()?;
                        self.expect(b':')?;
                        self.skip(depth + 1)?;
                        if !self.more(b'}')? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            b'[' if depth < MAX_DEPTH => {
                if self.open(b'[', b']')? {
                    loop {
                        self.skip(depth + 1)?;
                        if !self.more(b']')? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Bail),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> R<()> {
        let b = self.b;
        let mut i = self.pos;
        let digits = |mut i: usize| {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i > from { Ok(i) } else { Err(Bail) }
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match b.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i)?,
            _ => return Err(Bail),
        };
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = digits(i)?;
        }
        self.pos = i;
        Ok(())
    }
}

/// Is `c` a byte a string scan stops at: `"`, `\` or a control character.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_special_agrees_with_a_byte_loop() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = "ab\"\\\u{1}\u{1f} ~\u{7f}é";
        let alphabet: Vec<char> = alphabet.chars().collect();
        for _ in 0..5_000 {
            let text: String = (0..rng.usize(0..200))
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            let (b, l) = (text.as_bytes(), Lexer::new(&text));
            for from in 0..=b.len() {
                let want = (from..b.len())
                    .find(|&i| is_special(b[i]))
                    .unwrap_or(b.len());
                assert_eq!(l.find_special(from), want, "{text:?} from {from}");
            }
        }
    }

    #[test]
    fn skip_takes_what_serde_json_takes() {
        let values = [
            "1",
            "-0",
            "0.5",
            "1e9",
            "-2E-3",
            "true",
            "false",
            "null",
            r#""a\"\u00e9""#,
            "[]",
            "{}",
            r#"{"a":[1,{"b":null}],"c":"d"}"#,
            " [ 1 , 2 ] ",
        ];
        for v in values {
            let mut l = Lexer::new(v);
            assert_eq!(l.skip(0).and_then(|()| l.end()), Ok(()), "{v}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok(),
                "{v}"
            );
        }
        let bad = [
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "tru",
            "nul",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1 2]",
            "\"a\\x\"",
            "\"\\u12g4\"",
            "\"a\u{1}\"",
            "\"abc",
            "{",
            "+1",
        ];
        for v in bad {
            let mut l = Lexer::new(v);
            assert_eq!(l.skip(0).and_then(|()| l.end()), Err(Bail), "{v}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(v).is_err(),
                "{v}"
            );
        }
    }

    #[test]
    fn int_takes_plain_integers_only() {
        for (v, want) in [("0", Ok(0)), ("-7", Ok(-7)), ("12", Ok(12))] {
            assert_eq!(Lexer::new(v).int(), want, "{v}");
        }
        for v in [
            "01",
            "-0",
            "1.0",
            "1e2",
            "-",
            "x",
            "1234567890123456789",
            "99999999999999999999999",
        ] {
            assert_eq!(Lexer::new(v).int(), Err(Bail), "{v}");
        }
    }
}
