//! The coroutine scheduler behind the `task` library, driven by the scripting step.
//!
//! Tasks wait for one of three things: the next step (`task.wait()`), a moment of game time
//! (`task.wait(seconds)`, `task.delay`), or the end of the current step (`task.defer`). Stage 3
//! of the step resumes every task whose moment has come, and the end of the step resumes the
//! deferred ones; tasks that are due together resume in the order they were scheduled. Each
//! resumption gets its own instruction budget, and an error ends only its own coroutine.
//!
//! It is frame-driven on purpose: `mlua-luau-scheduler` (Lune's scheduler) runs threads to
//! completion on wall-clock async timers and turns on mlua's `async` and `luau-jit` features,
//! while tasks here advance with each step and Bevy's game time, which can pause and scale and
//! is deterministic in tests.
//!
//! Every task remembers its [`Caller`]: despawning an entity cancels the tasks of its entity
//! script, and reloading a global script cancels the tasks of the old version.

use crate::error::ScriptError;
use crate::runtime::context::{Caller, ScriptId, StepTime, call_as, caller_path, report};
use crate::runtime::profile::Site;
use crate::vm::Limits;
use bevy_ecs::entity::Entity;
use mlua::{Lua, MultiValue, Thread};

/// When a task is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Due {
    /// In the first step after frame `n`.
    After(u64),
    /// Once game time reaches this many seconds.
    At(f64),
    /// At the end of the running step.
    EndOfStep,
    /// In the serial part of the running step, after the parallel phase (`task.synchronize`).
    Serial,
    /// In the next parallel phase (`task.desynchronize`).
    Parallel,
}

/// Which tasks a stage of the step resumes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// Stage 3: those waiting for a frame or a moment of game time.
    Due,
    /// The end of the step: the deferred ones.
    EndOfStep,
    /// The serial part: those that synchronized.
    Serial,
    /// The parallel phase: those that desynchronized.
    Parallel,
}

/// One suspended coroutine and what to resume it with.
struct Task {
    thread: Thread,
    due: Due,
    /// Game time when it was scheduled, to tell `task.wait` how long it waited.
    since: f64,
    /// Arguments for the first resumption of a `task.delay`ed or `task.defer`red function;
    /// `None` for `task.wait`, which resumes with the elapsed time.
    args: Option<MultiValue>,
    caller: Option<Caller>,
}

/// The tasks of the main VM (kept in its app data).
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct Scheduler {
    tasks: Vec<Task>,

    /// Cancellations made while a batch of due tasks runs, which the rest of the batch honours.
    cancelled: Vec<Cancel>,
}

/// One cancellation, as a batch of due tasks checks it.
#[derive(Clone, Copy, PartialEq)]
enum Cancel {
    Thread(usize),
    Entity(Entity),
    Script(ScriptId),
}

impl Cancel {
    fn hits(&self, task: &Task) -> bool {
        match *self {
            Cancel::Thread(pointer) => task.thread.to_pointer().addr() == pointer,
            Cancel::Entity(entity) => task.caller.is_some_and(|c| c.entity == Some(entity)),
            Cancel::Script(script) => task.caller.is_some_and(|c| c.script == script),
        }
    }
}

/// How many rounds of `task.defer` one step runs before leaving the rest for the next step.
const DEFER_ROUNDS: usize = 64;

impl Scheduler {
    /// Number of suspended tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Schedules `thread` after every task scheduled before it, at step time `now`.
    pub fn schedule(&mut self, thread: Thread, due: Due, args: Option<MultiValue>, now: StepTime) {
        let due = match due {
            Due::After(_) => Due::After(now.frame),
            other => other,
        };
        self.tasks.push(Task {
            thread,
            due,
            since: now.elapsed,
            args,
            caller: Caller::current(),
        });
    }

    /// Forgets every task of `thread`.
    pub fn cancel_thread(&mut self, thread: &Thread) {
        self.cancel(Cancel::Thread(thread.to_pointer().addr()));
    }

    /// Forgets every task of an entity's script.
    pub fn cancel_entity(&mut self, entity: Entity) {
        self.cancel(Cancel::Entity(entity));
    }

    /// Forgets every task of a script version.
    pub fn cancel_script(&mut self, script: ScriptId) {
        self.cancel(Cancel::Script(script));
    }

    fn cancel(&mut self, cancel: Cancel) {
        self.tasks.retain(|t| !cancel.hits(t));
        self.cancelled.push(cancel);
    }

    /// Takes the tasks due at `moment`, in the order they were scheduled.
    fn take_due(&mut self, moment: Moment, step: StepTime) -> Vec<Task> {
        let (now, frame) = (step.elapsed, step.frame);
        let is_due = |task: &Task| match task.due {
            Due::After(scheduled) => moment == Moment::Due && frame > scheduled,
            Due::At(time) => moment == Moment::Due && time <= now,
            Due::EndOfStep => moment == Moment::EndOfStep,
            Due::Serial => moment == Moment::Serial,
            Due::Parallel => moment == Moment::Parallel,
        };
        if !self.tasks.iter().any(is_due) {
            return Vec::new();
        }
        let (due, waiting): (Vec<Task>, Vec<Task>) = std::mem::take(&mut self.tasks)
            .into_iter()
            .partition(is_due);
        self.tasks = waiting;
        // Partition keeps the order of `tasks`, which is the order of scheduling.
        due
    }
}

/// Stage 3: resumes every task whose time has come.
pub(crate) fn resume_due(lua: &Lua, limit: Limits) {
    let due = lua
        .app_data_mut::<Scheduler>()
        .map(|mut s| s.take_due(Moment::Due, StepTime::of(lua)))
        .unwrap_or_default();
    run(lua, due, limit);
}

/// The parallel phase of an actor VM: resumes the tasks that desynchronized.
pub(crate) fn resume_parallel(lua: &Lua, limit: Limits) {
    let due = lua
        .app_data_mut::<Scheduler>()
        .map(|mut s| s.take_due(Moment::Parallel, StepTime::of(lua)))
        .unwrap_or_default();
    run(lua, due, limit);
}

/// A task that synchronized, waiting for the serial part of the step.
pub(crate) struct Synchronized(Task);

impl Synchronized {
    /// The entity whose script the task belongs to, which orders the serial part.
    pub fn entity(&self) -> Option<Entity> {
        self.0.caller.and_then(|c| c.entity)
    }
}

/// The tasks of `lua` that synchronized in the parallel phase, in the order they did.
pub(crate) fn take_synchronized(lua: &Lua) -> Vec<Synchronized> {
    lua.app_data_mut::<Scheduler>()
        .map(|mut s| s.take_due(Moment::Serial, StepTime::of(lua)))
        .unwrap_or_default()
        .into_iter()
        .map(Synchronized)
        .collect()
}

/// The serial part: resumes one task that synchronized, in `lua`, the VM it belongs to.
pub(crate) fn resume_synchronized(lua: &Lua, task: Synchronized, limit: Limits) {
    run(lua, vec![task.0], limit);
}

/// The end of the step: resumes deferred tasks, including ones they defer in turn, for at most
/// [`DEFER_ROUNDS`] rounds.
pub(crate) fn resume_deferred(lua: &Lua, limit: Limits) {
    for _ in 0..DEFER_ROUNDS {
        let due = lua
            .app_data_mut::<Scheduler>()
            .map(|mut s| s.take_due(Moment::EndOfStep, StepTime::of(lua)))
            .unwrap_or_default();
        if due.is_empty() {
            return;
        }
        run(lua, due, limit);
    }
}

fn run(lua: &Lua, tasks: Vec<Task>, limit: Limits) {
    match lua.app_data_mut::<Scheduler>() {
        Some(mut scheduler) => scheduler.cancelled.clear(),
        None => return,
    }
    let now = StepTime::of(lua).elapsed;
    for task in tasks {
        // A task cancelled by one resumed before it in this batch must not run.
        let cancelled = lua
            .app_data_ref::<Scheduler>()
            .is_some_and(|s| s.cancelled.iter().any(|c| c.hits(&task)));
        if cancelled {
            continue;
        }
        let args = task
            .args
            .unwrap_or_else(|| MultiValue::from_iter([mlua::Value::Number(now - task.since)]));
        resume(lua, &task.thread, args, task.caller, limit);
    }
}

/// Resumes `thread` as `caller` with a fresh instruction budget; an error is reported with the
/// coroutine's traceback and ends only this coroutine.
pub(crate) fn resume(
    lua: &Lua,
    thread: &Thread,
    args: MultiValue,
    caller: Option<Caller>,
    limit: Limits,
) {
    if !thread.is_resumable() {
        return;
    }
    let site = Some(Site::Task);
    let (result, exhausted) = call_as(lua, caller, site, limit, || thread.resume::<()>(args));
    if let Err(error) = result {
        crate::debug::resume_failed(lua, thread, &error);
        let path = caller_path(lua, caller, "task");
        let mut error = ScriptError::from_lua(&path, &error, exhausted);
        if let Some(entity) = caller.and_then(|c| c.entity) {
            error.message = format!("entity {entity}: {}", error.message);
        }
        error.message = format!("in a task: {}", error.message);
        report(lua, error);
    }
}
