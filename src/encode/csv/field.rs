//! One CSV cell (RFC 4180): quoted only when it holds `"`, `,`, CR or LF, `"` doubled inside;
//! and the end of a record.

/// Appends one cell (after a `,` unless it is the first of its row). Inlined into the row
/// loop: a call per cell was ~25 instructions of the cell's ~150.
#[inline(always)]
pub(super) fn write_cell(
    out: &mut Vec<u8>,
    first: bool,
    value: &str,
    escape_formulas: bool,
    escaped: &mut String,
) {
    if escape_formulas
        && matches!(
            value.as_bytes().first(),
            Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
        )
    {
        return write_escaped_formula(out, first, value, escaped);
    }
    write_field(out, !first, value.as_bytes());
}

/// A cell that would start a spreadsheet formula, written with a leading `'` (few are).
#[inline(never)]
fn write_escaped_formula(out: &mut Vec<u8>, first: bool, value: &str, escaped: &mut String) {
    escaped.clear();
    escaped.push('\'');
    escaped.push_str(value);
    write_field(out, !first, escaped.as_bytes());
}

/// `,` when `comma`, then `value` as a field. The bytes are copied and tested for the four
/// that need quotes in the same pass (one read of each), straight into the reserved room.
#[inline(always)]
fn write_field(out: &mut Vec<u8>, comma: bool, value: &[u8]) {
    out.reserve(value.len() + 1);
    let at = out.len();
    // SAFETY: `reserve` left room for the `,` and `value.len()` bytes after `at`: the comma is
    // written at `at` (kept only when `comma`), `copy_and_test` writes exactly
    // `dst[..value.len()]`, and the length covers only bytes written.
    unsafe {
        let base = out.as_mut_ptr().add(at);
        *base = b',';
        let start = at + usize::from(comma);
        out.set_len(start);
        if !copy_and_test(value, out.as_mut_ptr().add(start)) {
            out.set_len(start + value.len());
            return;
        }
    }
    write_quoted(out, value);
}

/// The quoted form of a field (few are): out of line, so the row loop stays short.
#[inline(never)]
fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for (i, part) in value.split(|&b| b == b'"').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part);
    }
    out.push(b'"');
}

/// Ends the record begun at `start`: CRLF, after `""` when the record is empty (one column,
/// empty value), which would otherwise read back as no record at all.
pub(super) fn end_record(out: &mut Vec<u8>, start: usize) {
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.extend_from_slice(b"\r\n");
}

/// Copies `v` to `dst` and says whether it holds `"`, `,`, CR or LF. 16 bytes per step, the
/// last step overlapping the one before it; below 16 bytes, two overlapping halves (or, below 4,
/// the first, middle and last byte), each byte tested in one SSE2 compare of the four.
///
/// # Safety
/// `dst` is valid for writes of `v.len()` bytes and does not overlap `v`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_and_test(v: &[u8], dst: *mut u8) -> bool {
    use std::arch::x86_64::*;
    use std::ptr::{read_unaligned as get, write_unaligned as put};
    let (n, src) = (v.len(), v.as_ptr());
    // SAFETY: SSE2 is part of the x86_64 baseline. Every read is within `v` (offsets up to
    // `n - 16`, `n - 8`, `n - 4` or `n - 1`, each only when `n` is at least that wide) and every
    // write the same offsets of `dst`, which has room for `n` bytes.
    unsafe {
        let special = |x: __m128i| {
            let is = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
            _mm_or_si128(
                _mm_or_si128(is(b'"'), is(b',')),
                _mm_or_si128(is(b'\r'), is(b'\n')),
            )
        };
        let x = if n >= 16 {
            let mut hits = _mm_setzero_si128();
            let mut i = 0;
            while i + 16 < n {
                let x = _mm_loadu_si128(src.add(i).cast());
                _mm_storeu_si128(dst.add(i).cast(), x);
                hits = _mm_or_si128(hits, special(x));
                i += 16;
            }
            let x = _mm_loadu_si128(src.add(n - 16).cast());
            _mm_storeu_si128(dst.add(n - 16).cast(), x);
            return _mm_movemask_epi8(_mm_or_si128(hits, special(x))) != 0;
        } else if n >= 8 {
            let (lo, hi) = (get(src.cast::<u64>()), get(src.add(n - 8).cast::<u64>()));
            put(dst.cast::<u64>(), lo);
            put(dst.add(n - 8).cast::<u64>(), hi);
            _mm_set_epi64x(hi as i64, lo as i64)
        } else if n >= 4 {
            let (lo, hi) = (get(src.cast::<u32>()), get(src.add(n - 4).cast::<u32>()));
            put(dst.cast::<u32>(), lo);
            put(dst.add(n - 4).cast::<u32>(), hi);
            _mm_set_epi32(0, 0, hi as i32, lo as i32)
        } else if n > 0 {
            // The first, middle and last byte cover 1 to 3 bytes; the zero lanes match none.
            let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
            *dst = a;
            *dst.add(n / 2) = b;
            *dst.add(n - 1) = c;
            _mm_set_epi32(0, 0, 0, i32::from_le_bytes([a, b, c, a]))
        } else {
            return false;
        };
        _mm_movemask_epi8(special(x)) != 0
    }
}

/// Copies `v` to `dst` and says whether it holds `"`, `,`, CR or LF.
///
/// # Safety
/// `dst` is valid for writes of `v.len()` bytes and does not overlap `v`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn copy_and_test(v: &[u8], dst: *mut u8) -> bool {
    // SAFETY: the caller's promise.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), dst, v.len()) };
    v.iter().any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_and_test_agrees_with_a_byte_loop_at_every_length() {
        let mut rng = fastrand::Rng::with_seed(3);
        // The four specials, bytes next to them, and UTF-8 bytes above 0x7F.
        let alphabet = b"ab\",\r\n\x00\x80\xff;' -.+&\x7f\x2c\x2e\t\x0b\x0c\x21\x23";
        for round in 0..40_000 {
            let len = if round < 200 {
                round % 50
            } else {
                rng.usize(0..70)
            };
            let v: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            let want = v.iter().any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'));
            let mut dst = vec![0xAAu8; len + 2];
            // SAFETY: `dst` has room for `len` bytes after its first.
            let got = unsafe { copy_and_test(&v, dst.as_mut_ptr().add(1)) };
            assert_eq!(got, want, "{v:?}");
            assert_eq!(&dst[1..=len], &v[..], "copied bytes of {v:?}");
            assert_eq!((dst[0], dst[len + 1]), (0xAA, 0xAA), "wrote outside {v:?}");
        }
    }

    #[test]
    fn copy_and_test_finds_one_special_at_every_position_of_every_length() {
        for len in 0..=64usize {
            let clean: Vec<u8> = (0..len).map(|i| b"a-Z ;.@\x80\xff\t"[i % 10]).collect();
            let mut dst = vec![0u8; len];
            // SAFETY: `dst` has room for `len` bytes.
            assert!(
                !unsafe { copy_and_test(&clean, dst.as_mut_ptr()) },
                "{clean:?}"
            );
            assert_eq!(dst, clean);
            for at in 0..len {
                for special in [b'"', b',', b'\r', b'\n'] {
                    let mut v = clean.clone();
                    v[at] = special;
                    // SAFETY: as above.
                    assert!(unsafe { copy_and_test(&v, dst.as_mut_ptr()) }, "{v:?}");
                    assert_eq!(dst, v);
                }
            }
        }
    }

    #[test]
    fn fields_are_quoted_exactly_when_needed() {
        let cell = |first, v: &str| {
            let mut out = b"x".to_vec();
            write_cell(&mut out, first, v, true, &mut String::new());
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            cell(false, "plain text of more than sixteen bytes"),
            "x,plain text of more than sixteen bytes"
        );
        assert_eq!(cell(true, "abc"), "xabc");
        assert_eq!(cell(false, ""), "x,");
        assert_eq!(cell(false, "a,b"), "x,\"a,b\"");
        assert_eq!(
            cell(false, "say \"hi\" to the whole long row"),
            "x,\"say \"\"hi\"\" to the whole long row\""
        );
        assert_eq!(cell(false, "=1+2"), "x,'=1+2");
        assert_eq!(cell(true, "-5,6"), "x\"'-5,6\"");
        assert_eq!(cell(false, "line\r\nbreak"), "x,\"line\r\nbreak\"");
    }
}
