//! CPU time the pipeline's own stages take, per process: reading each page body into rows
//! (the fetch task's one pass), encoding (and compressing) it, and writing it to the sink. What
//! an export costs beside the HTTP client, the runtime and the kernel, read in the real run.
//!
//! Each stage is a synchronous call, timed with the calling thread's CPU clock, so waiting
//! and the other threads' work are not counted. Exported as
//! `cc_export_stage_cpu_seconds_total{stage}` and in the `export` command's summary.

use std::time::Duration;

use crate::ops::metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A page body read into rows (for CSV: the rows written as the contacts are read).
    Read,
    /// Rows framed into a chunk, and gzip when asked.
    Encode,
    /// A chunk written to the sink (for the file sink: the write, the fsync and the state file
    /// of a checkpoint; for S3: the copy into the part buffer, not the upload).
    Write,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Read, Stage::Encode, Stage::Write];

    /// Its `stage` label: the metric's counter is where the process's totals are kept.
    pub fn name(self) -> &'static str {
        metrics::STAGES[self as usize]
    }
}

/// Runs `f`, adding the CPU time this thread spent in it to `stage`.
pub fn timed<T>(stage: Stage, f: impl FnOnce() -> T) -> T {
    let Some(before) = thread_cpu() else {
        return f();
    };
    let out = f();
    if let Some(after) = thread_cpu() {
        metrics::stage_cpu(stage.name(), after.saturating_sub(before));
    }
    out
}

/// The process's total for `stage` so far.
pub fn total(stage: Stage) -> Duration {
    metrics::stage_cpu_total(stage.name())
}

/// The three stages' totals added up; `None` where the platform has no thread CPU clock.
pub fn pipeline_total() -> Option<Duration> {
    cfg!(unix).then(|| Stage::ALL.into_iter().map(total).sum())
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, POSIX).
fn thread_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through the valid pointer it is given.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc != 0 {
            return None;
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_stage_is_counted_and_a_sleeping_one_is_not() {
        // Other tests may add to the same process-wide counters: compare deltas only.
        let read = total(Stage::Read);
        timed(Stage::Read, || {
            // Spin until this thread has run 20 ms, however busy the machine is.
            let start = thread_cpu().expect("a thread CPU clock");
            let mut x = 0u64;
            while thread_cpu().unwrap() - start < Duration::from_millis(20) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        let busy = total(Stage::Read) - read;
        assert!(busy >= Duration::from_millis(20), "counted {busy:?}");

        let write = total(Stage::Write);
        timed(Stage::Write, || {
            std::thread::sleep(Duration::from_millis(50))
        });
        let idle = total(Stage::Write) - write;
        assert!(
            idle < Duration::from_millis(25),
            "counted {idle:?} for a sleep"
        );
    }
}
