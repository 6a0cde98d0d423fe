//! `output_key`: where a producer may ask the output to go. Always under the configured prefix.

use serde_json::Value;

use super::fields::{has_control, kind, show};

pub const MAX_KEY_LEN: usize = 900;
/// S3's limit on a whole object key.
pub const MAX_FULL_KEY_LEN: usize = 1024;

/// `output_key`: a key relative to the configured prefix, returned as `prefix + key`. Nothing in
/// it can climb out of the prefix or be read differently by another tool.
pub fn output_key(value: &Value, prefix: &str) -> Result<String, String> {
    let Value::String(key) = value else {
        return Err(format!(
            "output_key must be a string or null, got {}",
            kind(value)
        ));
    };
    let problem = if key.is_empty() {
        Some("must not be empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("must be at most 900 bytes")
    } else if has_control(key) {
        Some("must not contain control characters")
    } else if key.starts_with('/') {
        Some("must be relative (no leading '/')")
    } else if key.contains('\\') {
        Some("must not contain '\\'")
    } else if key.split('/').any(|seg| seg == ".." || seg == ".") {
        Some("must not contain '.' or '..' segments")
    } else if key.ends_with('/') {
        Some("must name an object, not end with '/'")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(format!("output_key {problem}, got {}", show(value)));
    }
    let full = format!("{prefix}{key}");
    if full.len() > MAX_FULL_KEY_LEN {
        return Err(format!(
            "output_key with the prefix is {} bytes, more than S3's {MAX_FULL_KEY_LEN}",
            full.len()
        ));
    }
    Ok(full)
}
