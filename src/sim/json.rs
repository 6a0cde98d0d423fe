//! A minimal JSON writer for generated contacts. serde_json's generic serializer costs ~1 µs
//! per string in debug builds, where most tests (and their simulators) run; this costs ~50x less.

use std::io::Write;

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{:04x}", b);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// An object being written; fields appear in call order.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Writes `"key":` and hands out the buffer for the value.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub fn str(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    pub fn int(&mut self, key: &str, value: u64) {
        let _ = write!(self.key(key), "{value}");
    }

    /// An array whose items `item` writes.
    pub fn array<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
        let out = self.key(key);
        out.push(b'[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item(out, it);
        }
        out.push(b']');
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_through_serde_json() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "cr\r\nlf\ttab",
            "\u{1}\u{1f}",
            "Zoë 李雷 😀",
            "",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), s);
        }
    }

    #[test]
    fn objects_and_arrays() {
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "x");
        o.opt_str("skip", None);
        o.int("n", 7);
        o.array("l", &["p", "q"], |out, s| string(out, s));
        o.end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x","n":7,"l":["p","q"]}"#
        );
    }
}
