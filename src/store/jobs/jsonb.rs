//! Postgres `jsonb` cannot hold U+0000 (`\u0000` is refused): a hostile body that carries one
//! would make recording its rejection fail. NULs in keys and strings become U+FFFD.

use serde_json::Value;

pub fn storable(value: serde_json::Value) -> Value {
    const NUL: char = '\0';
    let fix = |s: String| {
        if s.contains(NUL) {
            s.replace(NUL, "\u{FFFD}")
        } else {
            s
        }
    };
    match value {
        Value::String(s) => Value::String(fix(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(storable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (fix(k), storable(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_bytes_become_replacement_characters_everywhere() {
        let v = serde_json::json!({"a\u{0}": ["x\u{0}y", 1, {"k": "\u{0}"}]});
        let s = storable(v).to_string();
        assert!(!s.contains("\\u0000"), "{s}");
        assert_eq!(s, r#"{"a�":["x�y",1,{"k":"�"}]}"#);
    }
}
