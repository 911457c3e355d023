//! [`ScriptRunner`]: puts jobs on Bevy's async compute task pool, never on the main thread.

use crate::error::{ScriptError, ScriptErrorKind};
use crate::pool::{JobRequest, StatePool};
use crate::queue::{Action, ActionQueue, JobId, JobTiming};
use crate::value::ScriptValue;
use bevy_ecs::message::Message;
use bevy_ecs::resource::Resource;
use bevy_tasks::AsyncComputeTaskPool;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

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
    /// Jobs started and not yet reported.
    pending: Arc<AtomicUsize>,
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
            pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Jobs started and not yet completed: waiting for a worker VM or running.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Runs a source chunk in a worker VM; the job's result is what the chunk returns.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_ecs::message::Messages;
    /// # use bevy_time::TimePlugin;
    /// # use std::collections::HashMap;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin);
    /// app.finish();
    /// let runner = app.world().resource::<ScriptRunner>().clone();
    /// let sum = runner.run_chunk("local n = 0 for i = 1, 100 do n += i end return n");
    /// let broken = runner.run_chunk("error('out of luck')");
    ///
    /// // The results arrive in a later frame, as `JobCompleted` messages.
    /// let mut results = HashMap::new();
    /// # let mut frames = 0;
    /// while results.len() < 2 {
    /// #   frames += 1;
    /// #   assert!(frames < 10_000, "the jobs did not complete");
    /// #   std::thread::sleep(std::time::Duration::from_millis(1));
    ///     app.update();
    ///     let completed = app.world().resource::<Messages<JobCompleted>>();
    ///     for job in completed.iter_current_update_messages() {
    ///         results.insert(job.id, job.result.clone());
    ///     }
    /// }
    /// assert_eq!(results[&sum], Ok(ScriptValue::Number(5050.0)));
    /// let error = results[&broken].as_ref().unwrap_err();
    /// assert_eq!(error.kind, ScriptErrorKind::Runtime);
    /// assert!(error.message.contains("out of luck"), "{}", error.message);
    /// ```
    pub fn run_chunk(&self, source: impl Into<String>) -> JobId {
        self.spawn(JobRequest::Chunk(source.into()))
    }

    /// Calls job `job` (defined by a worker script with `jobs.define`) with `args`.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_ecs::message::Messages;
    /// # use bevy_time::TimePlugin;
    /// # use std::collections::HashMap;
    /// use bevy_luau::prelude::*;
    ///
    /// // workers/math.luau
    /// let math = r#"jobs.define("double", function(n) return n * 2 end)"#;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir(dir.path().join("workers")).unwrap();
    /// # std::fs::write(dir.path().join("workers/math.luau"), math).unwrap();
    /// # let file_path = dir.path().display().to_string();
    /// # let assets = AssetPlugin { file_path, ..Default::default() };
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, assets, LuauScriptingPlugin))
    ///     .add_worker_script("workers/math.luau");
    /// app.finish();
    /// # for _ in 0..10_000 {
    /// #     app.update();
    /// #     if app.world().resource::<StatePool>().version() > 0 { break; }
    /// #     std::thread::sleep(std::time::Duration::from_millis(1));
    /// # }
    /// // Once the worker script has loaded:
    /// let runner = app.world().resource::<ScriptRunner>().clone();
    /// let doubled = runner.call("double", 21);
    /// let tripled = runner.call("triple", 21);
    ///
    /// let mut results = HashMap::new();
    /// # let mut frames = 0;
    /// while results.len() < 2 {
    /// #   frames += 1;
    /// #   assert!(frames < 10_000, "the jobs did not complete");
    /// #   std::thread::sleep(std::time::Duration::from_millis(1));
    ///     app.update();
    ///     let completed = app.world().resource::<Messages<JobCompleted>>();
    ///     for job in completed.iter_current_update_messages() {
    ///         results.insert(job.id, job.result.clone());
    ///     }
    /// }
    /// assert_eq!(results[&doubled], Ok(ScriptValue::Number(42.0)));
    /// let error = results[&tripled].as_ref().unwrap_err();
    /// assert!(error.message.contains("no job named `triple`"), "{}", error.message);
    /// ```
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
            let error =
                ScriptError::in_job(request.name(), ScriptErrorKind::MissingPlugin, message);
            self.queue.push(Action::ScriptResult {
                id,
                job: request.name().to_owned(),
                result: Err(error),
                timing: JobTiming::default(),
            });
            return id;
        };
        let (pool, queue, pending) = (self.pool.clone(), self.queue.clone(), self.pending.clone());
        pending.fetch_add(1, Ordering::Relaxed);
        let submitted = Instant::now();
        tasks
            .spawn(async move {
                let mut lease = pool.acquire_async().await;
                let started = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| lease.run(&request)));
                let timing = JobTiming {
                    waited: started.duration_since(submitted),
                    ran: started.elapsed(),
                };
                let result = outcome.unwrap_or_else(|panic| {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".into());
                    let message = format!("the job panicked: {reason}");
                    Err(ScriptError::in_job(
                        request.name(),
                        ScriptErrorKind::JobPanicked,
                        message,
                    ))
                });
                if outcome_needs_fresh_vm(&result) {
                    lease.discard();
                }
                // The VM goes back before the result is seen, so a finished job never holds a slot.
                drop(lease);
                let job = request.name().to_owned();
                pending.fetch_sub(1, Ordering::Relaxed);
                queue.push(Action::ScriptResult {
                    id,
                    job,
                    result,
                    timing,
                });
            })
            .detach();
        id
    }
}

/// A panic or a memory error may leave a VM in a bad state: replace it.
fn outcome_needs_fresh_vm(result: &Result<ScriptValue, ScriptError>) -> bool {
    matches!(
        result,
        Err(e) if matches!(e.kind, ScriptErrorKind::MemoryLimit | ScriptErrorKind::JobPanicked)
    )
}
