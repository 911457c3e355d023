//! [`ScriptRunner`]: puts jobs on Bevy's async compute task pool, never on the main thread.

use crate::error::{ScriptError, ScriptErrorKind};
use crate::pool::{JobRequest, StatePool};
use crate::queue::{Action, ActionQueue, JobId};
use crate::value::ScriptValue;
use bevy_ecs::message::Message;
use bevy_ecs::resource::Resource;
use bevy_tasks::AsyncComputeTaskPool;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs jobs in the [`StatePool`] on `AsyncComputeTaskPool`. Each call returns a [`JobId`] at
/// once; the result arrives at stage 2 of a later scripting step as a [`JobCompleted`] message
/// (and to Lua's `job:await()` and `job:on_complete`). Clones share the runner.
///
/// A job that errors, runs past a limit or panics reports its error as the result; its VM goes
/// back to the pool (a fresh one after a panic or a memory error), so the pool never shrinks.
#[derive(Resource, Clone, Debug)]
pub struct ScriptRunner {
    pool: StatePool,
    queue: ActionQueue,
    next: Arc<AtomicU64>,
}

/// A job finished: what it returned, or why it failed.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct JobCompleted {
    /// The job, as [`ScriptRunner`] returned it.
    pub id: JobId,
    /// Its result.
    pub result: Result<ScriptValue, ScriptError>,
}

impl ScriptRunner {
    /// Creates a runner over `pool` that reports to `queue`.
    pub fn new(pool: StatePool, queue: ActionQueue) -> Self {
        Self {
            pool,
            queue,
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Runs a source chunk in a worker VM; the job's result is what the chunk returns.
    pub fn run_chunk(&self, source: impl Into<String>) -> JobId {
        self.spawn(JobRequest::Chunk(source.into()))
    }

    /// Calls job `job` (defined by a worker script with `jobs.define`) with `args`.
    pub fn call(&self, job: impl Into<String>, args: impl Into<ScriptValue>) -> JobId {
        self.spawn(JobRequest::Call(job.into(), args.into()))
    }

    /// The pool the jobs run in.
    pub fn pool(&self) -> &StatePool {
        &self.pool
    }

    fn spawn(&self, request: JobRequest) -> JobId {
        let id = JobId(self.next.fetch_add(1, Ordering::Relaxed));
        let Some(tasks) = AsyncComputeTaskPool::try_get() else {
            let message = "jobs run on AsyncComputeTaskPool: add Bevy's TaskPoolPlugin";
            let error = ScriptError::new(request.name(), ScriptErrorKind::Config, message);
            self.queue.push(Action::ScriptResult {
                id,
                job: request.name().to_owned(),
                result: Err(error),
            });
            return id;
        };
        let (pool, queue) = (self.pool.clone(), self.queue.clone());
        tasks
            .spawn(async move {
                let mut lease = pool.acquire_async().await;
                let outcome = catch_unwind(AssertUnwindSafe(|| lease.run(&request)));
                let result = outcome.unwrap_or_else(|panic| {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".into());
                    let message = format!("the job panicked: {reason}");
                    Err(ScriptError::new(
                        request.name(),
                        ScriptErrorKind::Runtime,
                        message,
                    ))
                });
                if outcome_needs_fresh_vm(&result) {
                    lease.discard();
                }
                // The VM goes back before the result is seen, so a finished job never holds a slot.
                drop(lease);
                let job = request.name().to_owned();
                queue.push(Action::ScriptResult { id, job, result });
            })
            .detach();
        id
    }
}

/// A panic or a memory error may leave a VM in a bad state: replace it.
fn outcome_needs_fresh_vm(result: &Result<ScriptValue, ScriptError>) -> bool {
    matches!(result, Err(e) if e.kind == ScriptErrorKind::MemoryLimit || e.message.starts_with("the job panicked"))
}
