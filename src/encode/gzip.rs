//! Gzip framing: one complete member per checkpointed chunk.

use flate2::{Compression, GzBuilder};
use std::io::Write;

/// Appends `data` to `out` as ONE complete gzip member (RFC 1952).
///
/// A checkpointed chunk is one member and a multi-member file is valid gzip (`gzip -d`,
/// `MultiGzDecoder`), so a file resumed after a crash is byte-identical to an uninterrupted
/// one. Deterministic: mtime 0, no file name, OS byte 255 ("unknown"), default level; the
/// same bytes for the same input with the same build (the deflate backend is fixed per build).
/// Empty `data` still yields a (tiny) valid member, so even an empty export is valid gzip.
pub fn gzip_member(data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    // GzBuilder::new() leaves mtime at 0 and writes no FNAME/FEXTRA/FCOMMENT.
    let mut enc = GzBuilder::new()
        .operating_system(255)
        .write(out, Compression::default());
    enc.write_all(data)?;
    enc.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn two_members_decode_to_the_concatenation() {
        let (a, b) = (
            b"Email,City\r\na@b.c,Paris\r\n".repeat(50),
            "x,\u{1F600}\r\n".repeat(7),
        );
        let mut file = Vec::new();
        gzip_member(&a, &mut file).unwrap();
        let first_len = file.len();
        gzip_member(b.as_bytes(), &mut file).unwrap();
        assert!(file.len() > first_len);
        assert_eq!(&file[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(&file[first_len..first_len + 3], &[0x1f, 0x8b, 8]);
        let mut want = a.clone();
        want.extend_from_slice(b.as_bytes());
        assert_eq!(gunzip(&file), want);
    }

    #[test]
    fn deterministic_and_appends_only() {
        let data = b"same input, same bytes\n".repeat(100);
        let mut x = b"prefix".to_vec();
        let mut y = Vec::new();
        gzip_member(&data, &mut x).unwrap();
        gzip_member(&data, &mut y).unwrap();
        assert_eq!(&x[..6], b"prefix");
        assert_eq!(&x[6..], &y[..]);
        // Header: no flags, mtime 0, OS unknown.
        assert_eq!(y[3], 0);
        assert_eq!(&y[4..8], &[0, 0, 0, 0]);
        assert_eq!(y[9], 255);
    }

    #[test]
    fn empty_input_is_a_valid_member() {
        let mut out = Vec::new();
        gzip_member(b"", &mut out).unwrap();
        assert!(!out.is_empty());
        assert!(gunzip(&out).is_empty());
    }
}
