//! The export pipeline: one cursor chain of pages, encoded and stored with a checkpoint after
//! each stored chunk (the checkpoint invariant of the design).

pub mod fetch;
pub mod pipeline;
pub mod progress;
pub mod spec;
pub mod state;

pub use pipeline::{ExportError, Outcome, Plan, run};
pub use progress::Progress;
pub use spec::ExportSpec;
pub use state::{ExportState, StateFile};
