//! The `task` library: coroutines across frames, as in Roblox's `task` library.
//!
//! ```lua
//! task.spawn(f, ...)            -- runs f(...) in a new coroutine now; returns the thread
//! task.defer(f, ...)            -- runs it at the end of this scripting step
//! task.delay(seconds, f, ...)   -- runs it once that much game time has passed
//! task.wait()                   -- inside a task: sleeps until the next step; returns the time slept
//! task.wait(seconds)            -- sleeps until that much game time has passed
//! task.cancel(thread)           -- stops a task; it is never resumed again
//! task.synchronize()            -- an actor script: on to the serial part of this step
//! task.desynchronize()          -- an actor script: back to the next parallel phase
//! ```
//! `task.spawn`, `task.defer` and `task.delay` also take a thread instead of a function. They
//! work from hooks, event handlers, entity script methods and console commands; `task.wait`
//! works only inside a coroutine (one started by them, or any other), and says so when called
//! elsewhere. Time is Bevy's game time (`Time`), so a paused or scaled clock pauses or scales
//! waiting tasks. Tasks due in the same step resume in the order they were scheduled. Each
//! resumption has its own instruction budget, and an error ends only its own coroutine, with a
//! `ScriptError` carrying the coroutine's traceback.
//!
//! Tasks started by an entity script are cancelled when the entity despawns; tasks of a global
//! script are cancelled when it hot-reloads (the new version starts its own).

use crate::api::function;
use crate::error::{ScriptErrorKind, lua_error};
use crate::runtime::context::{CallLimits, Caller, StepTime};
use crate::runtime::scheduler::{self, Due, Scheduler};
use crate::vm::Limits;
use mlua::{Function, Lua, MultiValue, Table, Thread, Value};

/// Adds the `task` library to the shared globals of the main VM.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(Scheduler::default());
    let task = lua.create_table()?;
    task.raw_set(
        "spawn",
        function::create(lua, "task.spawn", |lua, args: MultiValue| {
            let (thread, args) = thread_and_args(lua, args, 1, "task.spawn")?;
            let limit = lua
                .app_data_ref::<CallLimits>()
                .map_or(Limits::NONE, |l| l.0);
            scheduler::resume(lua, &thread, args, Caller::current(), limit);
            crate::runtime::context::stop_if_spent()?;
            Ok(thread)
        })?,
    )?;
    task.raw_set(
        "defer",
        function::create(lua, "task.defer", |lua, args: MultiValue| {
            let (thread, args) = thread_and_args(lua, args, 1, "task.defer")?;
            schedule(lua, thread.clone(), Due::EndOfStep, Some(args))?;
            Ok(thread)
        })?,
    )?;
    task.raw_set(
        "delay",
        function::create(lua, "task.delay", |lua, mut args: MultiValue| {
            let seconds = seconds(args.pop_front(), "task.delay")?.unwrap_or(0.0);
            let (thread, args) = thread_and_args(lua, args, 2, "task.delay")?;
            let now = StepTime::of(lua).elapsed;
            schedule(lua, thread.clone(), Due::At(now + seconds), Some(args))?;
            Ok(thread)
        })?,
    )?;
    task.raw_set(
        "cancel",
        function::create(lua, "task.cancel", |lua, (thread,): (Thread,)| {
            if let Some(mut scheduler) = lua.app_data_mut::<Scheduler>() {
                scheduler.cancel_thread(&thread);
            }
            Ok(())
        })?,
    )?;
    // `task.wait` yields, which only Lua code can do: a Lua wrapper checks that yielding is
    // possible, has Rust schedule the running coroutine, then yields it.
    let schedule_current = function::create(lua, "task.wait", |lua, (secs,): (Value,)| {
        let due = match seconds(Some(secs), "task.wait")? {
            Some(seconds) if seconds > 0.0 => {
                let now = StepTime::of(lua).elapsed;
                Due::At(now + seconds)
            }
            _ => Due::After(0),
        };
        schedule(lua, lua.current_thread(), due, None)
    })?;
    let wait: Function = lua
        .load(
            r#"
            local schedule, isyieldable, yield = ...
            return function(seconds)
                if not isyieldable() then
                    error("task.wait: only a coroutine can wait; start one with task.spawn(function() ... end)", 2)
                end
                schedule(seconds)
                return yield()
            end
            "#,
        )
        .set_name("=task")
        .call((schedule_current, lua.globals().get::<Table>("coroutine")?.get::<Function>("isyieldable")?, lua
            .globals()
            .get::<Table>("coroutine")?
            .get::<Function>("yield")?))?;
    task.raw_set("wait", wait)?;
    install_phases(lua, &task)?;
    task.set_readonly(true);
    globals.raw_set("task", task)
}

/// `task.synchronize()` and `task.desynchronize()`: an actor script's move to the serial part of
/// the step and back to the parallel phase. Each suspends the running coroutine (an actor's
/// `on_update` runs as one) until the engine reaches that part; in the part asked for already,
/// each returns at once. Outside an actor VM, where everything is serial, `task.synchronize()`
/// returns at once and `task.desynchronize()` is an error.
fn install_phases(lua: &Lua, task: &Table) -> mlua::Result<()> {
    let where_am_i = function::create(lua, "task.synchronize", |lua, ()| {
        Ok((
            crate::runtime::context::is_actor_vm(lua),
            crate::bridge::lent::in_parallel_phase(lua),
        ))
    })?;
    let schedule_phase = function::create(lua, "task.synchronize", |lua, (serial,): (bool,)| {
        let due = if serial { Due::Serial } else { Due::Parallel };
        schedule(lua, lua.current_thread(), due, Some(MultiValue::new()))
    })?;
    let coroutine = lua.globals().get::<Table>("coroutine")?;
    let (synchronize, desynchronize): (Function, Function) = lua
        .load(
            r#"
            local where_am_i, schedule, isyieldable, yield = ...
            local function synchronize()
                local actor, parallel = where_am_i()
                if not actor or not parallel then
                    return
                end
                if not isyieldable() then
                    error("task.synchronize: only a coroutine can move to the serial part (an actor's on_update is one; start others with task.spawn)", 2)
                end
                schedule(true)
                yield()
            end
            local function desynchronize()
                local actor, parallel = where_am_i()
                if not actor then
                    error("task.desynchronize: only an actor script (an entity with ScriptActor) runs in the parallel phase", 2)
                end
                if parallel then
                    return
                end
                if not isyieldable() then
                    error("task.desynchronize: only a coroutine can move to the parallel phase (start one with task.spawn)", 2)
                end
                schedule(false)
                yield()
            end
            return synchronize, desynchronize
            "#,
        )
        .set_name("=task")
        .call((
            where_am_i,
            schedule_phase,
            coroutine.get::<Function>("isyieldable")?,
            coroutine.get::<Function>("yield")?,
        ))?;
    task.raw_set("synchronize", synchronize)?;
    task.raw_set("desynchronize", desynchronize)
}

fn schedule(lua: &Lua, thread: Thread, due: Due, args: Option<MultiValue>) -> mlua::Result<()> {
    let mut scheduler = lua
        .app_data_mut::<Scheduler>()
        .ok_or_else(|| mlua::Error::runtime("the task library needs the main VM"))?;
    scheduler.schedule(thread, due, args, StepTime::of(lua));
    Ok(())
}

/// A number of seconds: `None` for nil, an error for anything negative, NaN or infinite.
fn seconds(value: Option<Value>, name: &'static str) -> mlua::Result<Option<f64>> {
    match value {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Number(n)) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        Some(Value::Integer(i)) if i >= 0 => Ok(Some(i as f64)),
        Some(other) => Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #1 to `{name}`: expected a number of seconds (finite, not negative), got {}",
                function::describe(&other)
            ),
        )),
    }
}

/// Splits a function or thread (argument `pos`) from the arguments that follow it.
fn thread_and_args(
    lua: &Lua,
    mut args: MultiValue,
    pos: usize,
    name: &'static str,
) -> mlua::Result<(Thread, MultiValue)> {
    let thread = match args.pop_front() {
        Some(Value::Function(f)) => lua.create_thread(f)?,
        Some(Value::Thread(t)) => t,
        other => {
            let got = other
                .as_ref()
                .map_or_else(|| "nothing".to_owned(), function::describe);
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #{pos} to `{name}`: expected a function or a thread, got {got}"
                ),
            ));
        }
    };
    Ok((thread, args))
}
