//! `s3://BUCKET/KEY`: where an object goes. The key is used exactly as given.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not s3://BUCKET/KEY (a bucket and a non-empty key)")]
pub struct BadS3Url(pub String);

impl S3Location {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// Parses `s3://BUCKET/KEY`; the key keeps every character after the bucket's slash.
    pub fn parse(url: &str) -> Result<Self, BadS3Url> {
        let bad = || BadS3Url(url.to_owned());
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
            return Err(bad());
        }
        Ok(Self::new(bucket, key))
    }

    /// The last path segment of the key (`exports/a/b.csv` → `b.csv`).
    pub fn basename(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key_verbatim() {
        let l = S3Location::parse("s3://b/exports/a b/c.csv").unwrap();
        assert_eq!(l, S3Location::new("b", "exports/a b/c.csv"));
        assert_eq!(l.basename(), "c.csv");
        assert_eq!(l.to_string(), "s3://b/exports/a b/c.csv");
        for bad in ["s3://b", "s3://b/", "s3:///k", "http://b/k", "s3://b/dir/"] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
