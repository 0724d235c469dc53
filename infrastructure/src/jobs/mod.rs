//! Running processing jobs: a pool of workers that claim jobs from the durable queue, and a
//! reaper that puts back the jobs of workers that died (their lease expired).

mod worker;

pub use worker::{CallModel, JobRunner, WorkerConfig};
