//! Progress of one export: a bar on a terminal, a log line every few seconds otherwise.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    started: Instant,
    rows_at_start: u64,
    last_log: Instant,
}

impl Progress {
    /// `bar`: draw a progress bar (stderr is a terminal); else log lines through `tracing`.
    pub fn new(bar: bool, total: Option<u64>, rows_done: u64) -> Self {
        let bar = bar.then(|| {
            let b = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} contacts ({per_sec}, ETA {eta})",
            )
            .expect("valid template");
            b.set_style(style);
            b.set_position(rows_done);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        let now = Instant::now();
        Self {
            bar,
            total,
            started: now,
            rows_at_start: rows_done,
            last_log: now,
        }
    }

    /// A progress that says nothing (the worker reports through its job row instead).
    pub fn silent() -> Self {
        let now = Instant::now();
        Self {
            bar: None,
            total: None,
            started: now,
            rows_at_start: 0,
            last_log: now + Duration::from_secs(u64::MAX / 4),
        }
    }

    pub fn total(&self) -> Option<u64> {
        self.total
    }

    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    pub fn restarted(&mut self) {
        self.rows_at_start = 0;
        self.started = Instant::now();
        if let Some(b) = &self.bar {
            b.set_position(0);
        }
    }

    pub fn update(&mut self, rows: u64) {
        if let Some(b) = &self.bar {
            b.set_position(rows);
            return;
        }
        if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let rate = self.rate(rows);
            let eta = self
                .total
                .filter(|t| *t > rows && rate > 0.0)
                .map(|t| ((t - rows) as f64 / rate).round() as u64);
            tracing::info!(
                rows,
                total = self.total,
                rate = format!("{rate:.0}/s"),
                eta_s = eta,
                "export progress"
            );
        }
    }

    pub fn finish(&mut self, rows: u64) {
        if let Some(b) = self.bar.take() {
            b.set_position(rows);
            b.finish_and_clear();
        }
    }

    /// Contacts per second since this process started on the export.
    pub fn rate(&self, rows: u64) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            rows.saturating_sub(self.rows_at_start) as f64 / secs
        }
    }
}
