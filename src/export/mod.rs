//! The export pipeline: one cursor chain of pages, or one per `created_at` window, encoded and
//! stored in order with a checkpoint after each stored chunk (the checkpoint invariant).

pub mod fetch;
pub mod lanes;
pub mod pipeline;
pub mod planner;
pub mod progress;
pub mod spec;
pub mod stage_cpu;
pub mod state;
pub mod windows;

pub use pipeline::{EncoderFactory, ExportError, Outcome, Plan, run};
pub use progress::Progress;
pub use spec::ExportSpec;
pub use state::{ExportState, StateFile};
pub use windows::Partitions;
