//! The object store sink: an export as one S3 object, written as a multipart upload whose
//! parts are checkpointed in a `PartLedger` (Postgres for the worker, the state file for the
//! one-shot command). Small exports are one `PutObject`.

mod client;
mod error;
mod ledger;
mod location;
pub mod multipart;
mod sink;

pub use client::{ClientOptions, S3ClientError, s3_client, s3_client_with};
pub use error::S3SinkError;
pub use ledger::StateFileLedger;
pub use location::{BadS3Url, S3Location};
pub use multipart::{JOB_ID_METADATA, ROWS_TAG, abort_upload};
pub use sink::{S3Sink, S3SinkOptions};

/// S3's limit on parts per upload.
pub const MAX_PARTS: usize = 10_000;
/// S3's minimum size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's maximum part size.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Bytes that make part `part_number` full: the part size for parts 1..=1000, twice it for
/// 1001..=2000, and so on (capped at S3's 5 GiB), so 10,000 parts of 8 MiB hold 430 GiB instead
/// of 78 GiB while the buffer stays one part. Resume does not depend on it: part boundaries
/// never change the object's bytes.
pub fn part_threshold(part_size: u64, part_number: i32) -> u64 {
    let step = (part_number.max(1) as u64 - 1) / 1000 + 1;
    part_size.max(1).saturating_mul(step).min(MAX_PART_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_every_thousand_parts() {
        let mib = 1024 * 1024;
        assert_eq!(part_threshold(8 * mib, 1), 8 * mib);
        assert_eq!(part_threshold(8 * mib, 1000), 8 * mib);
        assert_eq!(part_threshold(8 * mib, 1001), 16 * mib);
        assert_eq!(part_threshold(8 * mib, 10_000), 80 * mib);
        assert_eq!(part_threshold(4096 * mib, 2000), MAX_PART_SIZE);
        let capacity: u64 = (1..=MAX_PARTS as i32)
            .map(|n| part_threshold(8 * mib, n))
            .sum();
        assert!(capacity > 400 * 1024 * mib);
    }
}
