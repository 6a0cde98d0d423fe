use std::process::ExitCode;

fn main() -> ExitCode {
    keep_freed_memory();
    cc_export::cli::main()
}

/// Every page makes a few buffers of 0.3–1 MB (the body, its views, the encoded chunk). glibc
/// serves those from `mmap` or trims them back to the kernel when freed, so each page paid for
/// its memory again in page faults (~7 % of an export's CPU in a profile). Fixed thresholds keep
/// freed memory for the next page; the working set, and so peak RSS, stays what it was.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
