//! The `jobs` library: `jobs.run` in the main VM, work for the worker pool; `jobs.define` in
//! worker VMs, the jobs that work is.
//!
//! ```lua
//! local job = jobs.run("pathfind", {from = a, to = b})   -- returns at once
//! job:on_complete(function(ok, result) end)               -- in stage 2 of a later step
//! task.spawn(function()
//!     local path = job:await()                            -- inside a task: waits for it
//! end)                                                    -- (a failed job raises its error)
//! print(job.id, job.done, job.ok, job.result)
//! ```
//! Worker scripts (`app.add_worker_script`) define the jobs with
//! `jobs.define(name, function(args) return result end)`. Arguments and results cross as
//! [`ScriptValue`]s: tables, numbers, strings, vectors and entities, never functions.

use crate::api::function;
use crate::error::{ScriptError, ScriptErrorKind, lua_error};
use crate::queue::JobId;
use crate::runtime::context::{Caller, call_as, caller_path, report};
use crate::runtime::profile::Site;
use crate::runtime::scheduler;
use crate::suggest;
use crate::value::ScriptValue;
use crate::vm::Limits;
use mlua::{Function, IntoLua, Lua, MultiValue, Table, Thread, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// How `jobs.run` starts a job: the engine sets it to `ScriptRunner::call` when the plugin
/// creates the worker pool.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
pub(crate) struct Runner {
    /// Starts job `name` with the arguments.
    pub run: Arc<dyn Fn(String, ScriptValue) -> JobId + Send + Sync>,
    /// The names of the jobs worker scripts define, sorted; `None` until worker scripts ran,
    /// when `jobs.run` cannot check a name and the job reports it instead.
    pub known: Arc<dyn Fn() -> Option<Arc<[String]>> + Send + Sync>,
}

/// A job whose result has not arrived, with who waits for it.
struct PendingJob {
    table: Table,
    waiters: Vec<(Thread, Option<Caller>)>,
    callbacks: Vec<(Function, Option<Caller>)>,
}

/// Jobs started from Lua whose results have not arrived.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct PendingJobs(HashMap<JobId, PendingJob>);

/// The metatable of job tables.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct JobMeta(Table);

/// The jobs a worker VM's scripts defined with `jobs.define`.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
struct JobTable(HashMap<String, Function>);

/// Adds `jobs` to a worker VM: `define` only.
pub(crate) fn install_for_worker(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(JobTable::default());
    let jobs = lua.create_table()?;
    let define = function::create(lua, "jobs.define", |lua, (name, f): (String, Function)| {
        let mut table = lua
            .app_data_mut::<JobTable>()
            .ok_or_else(|| mlua::Error::runtime("jobs.define needs a worker VM"))?;
        table.0.insert(name, f);
        Ok(())
    })?;
    jobs.raw_set("define", define)?;
    jobs.set_readonly(true);
    globals.raw_set("jobs", jobs)
}

/// The names of the jobs the worker scripts of `lua` defined, sorted.
pub(crate) fn defined_names(lua: &Lua) -> Vec<String> {
    let mut names: Vec<String> = lua
        .app_data_ref::<JobTable>()
        .map(|table| table.0.keys().cloned().collect())
        .unwrap_or_default();
    names.sort_unstable();
    names
}

/// The job `name` a worker script of `lua` defined.
pub(crate) fn defined(lua: &Lua, name: &str) -> Option<Function> {
    lua.app_data_ref::<JobTable>()
        .and_then(|table| table.0.get(name).cloned())
}

/// Adds the `jobs` library to the shared globals of the main VM.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(PendingJobs::default());
    let methods = lua.create_table()?;
    methods.raw_set(
        "on_complete",
        function::create(
            lua,
            "job:on_complete",
            |lua, (job, f): (Table, Function)| {
                let id = job_id(&job)?;
                let mut pending = lua.app_data_mut::<PendingJobs>();
                if let Some(entry) = pending.as_mut().and_then(|p| p.0.get_mut(&id)) {
                    entry.callbacks.push((f, Caller::current()));
                    return Ok(());
                }
                drop(pending);
                // Already done: call it now.
                let (ok, result): (bool, Value) = (job.raw_get("ok")?, job.raw_get("result")?);
                f.call::<()>((ok, result))
            },
        )?,
    )?;
    let register = function::create(lua, "job:await", |lua, (job,): (Table,)| {
        let id = job_id(&job)?;
        let mut pending = lua.app_data_mut::<PendingJobs>();
        if let Some(entry) = pending.as_mut().and_then(|p| p.0.get_mut(&id)) {
            entry
                .waiters
                .push((lua.current_thread(), Caller::current()));
        }
        Ok(())
    })?;
    let coroutine: Table = globals.get("coroutine")?;
    let wait: Function = lua
        .load(
            r#"
            local register, isyieldable, yield = ...
            return function(job)
                if not job.done then
                    if not isyieldable() then
                        error("job:await: only a coroutine can wait; call it inside task.spawn(function() ... end)", 2)
                    end
                    register(job)
                    yield()
                end
                if not job.ok then error(job.result, 2) end
                return job.result
            end
            "#,
        )
        .set_name("=jobs")
        .call((register, coroutine.get::<Function>("isyieldable")?, coroutine.get::<Function>("yield")?))?;
    methods.raw_set("await", wait)?;
    methods.set_readonly(true);
    let meta = lua.create_table_from([("__index", methods)])?;
    meta.set_readonly(true);
    lua.set_app_data(JobMeta(meta));

    let jobs = lua.create_table()?;
    jobs.raw_set(
        "run",
        function::create(
            lua,
            "jobs.run",
            |lua, (name, args): (String, Option<ScriptValue>)| {
                if name.is_empty() {
                    return Err(lua_error(
                        ScriptErrorKind::TypeMismatch,
                        "bad argument #1 to `jobs.run`: a job name cannot be empty",
                    ));
                }
                if name.len() > suggest::MAX_NAME {
                    return Err(lua_error(
                        ScriptErrorKind::UnknownJob,
                        format!(
                            "jobs.run: no job named `{}`: job names are at most {} bytes",
                            suggest::shown(&name),
                            suggest::MAX_NAME
                        ),
                    ));
                }
                if let Some(args) = &args {
                    crate::runtime::context::charge_step_copy(
                        lua,
                        crate::value::size::bytes(args),
                        "jobs.run",
                    )?;
                }
                let (run, known) = lua
                    .app_data_ref::<Runner>()
                    .map(|r| (r.run.clone(), r.known.clone()))
                    .ok_or_else(|| {
                        lua_error(
                            ScriptErrorKind::MissingPlugin,
                            "jobs.run: there is no worker pool (is TaskPoolPlugin added?)",
                        )
                    })?;
                if let Some(known) = known()
                    && known.binary_search(&name).is_err()
                {
                    let close = suggest::did_you_mean(&name, known.iter().map(String::as_str));
                    return Err(lua_error(
                        ScriptErrorKind::UnknownJob,
                        format!(
                            "jobs.run: no job named `{}`{close} Worker scripts define jobs \
                             with jobs.define",
                            suggest::shown(&name)
                        ),
                    ));
                }
                let id = run(name, args.unwrap_or_default());
                let job = lua.create_table()?;
                job.raw_set("id", id.0)?;
                job.raw_set("done", false)?;
                if let Some(meta) = lua.app_data_ref::<JobMeta>() {
                    job.set_metatable(Some(meta.0.clone()))?;
                }
                if let Some(mut pending) = lua.app_data_mut::<PendingJobs>() {
                    let entry = PendingJob {
                        table: job.clone(),
                        waiters: Vec::new(),
                        callbacks: Vec::new(),
                    };
                    pending.0.insert(id, entry);
                }
                Ok(job)
            },
        )?,
    )?;
    jobs.set_readonly(true);
    globals.raw_set("jobs", jobs)
}

fn job_id(job: &Table) -> mlua::Result<JobId> {
    match job.raw_get::<Option<u64>>("id")? {
        Some(id) => Ok(JobId(id)),
        None => Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            "expected a job made by jobs.run",
        )),
    }
}

/// Stage 2: a job's result arrived. Fills in the job table, calls `on_complete` callbacks and
/// resumes the coroutines awaiting it, each with its own instruction budget.
pub(crate) fn complete(
    lua: &Lua,
    id: JobId,
    result: &Result<ScriptValue, ScriptError>,
    limit: Limits,
) {
    let Some(entry) = lua
        .app_data_mut::<PendingJobs>()
        .and_then(|mut p| p.0.remove(&id))
    else {
        return;
    };
    let (ok, value) = match result {
        Ok(value) => (true, value.clone().into_lua(lua)),
        Err(error) => (false, error.message.clone().into_lua(lua)),
    };
    let value = value.unwrap_or(Value::Nil);
    let filled = (|| {
        entry.table.raw_set("done", true)?;
        entry.table.raw_set("ok", ok)?;
        entry.table.raw_set("result", &value)
    })();
    if let Err(error) = filled {
        let error = ScriptError::from_lua(&format!("{id}"), &error, None);
        report(lua, error.with_origin(crate::error::ErrorOrigin::Job));
    }
    for (callback, caller) in entry.callbacks {
        let call = || callback.call::<()>((ok, &value));
        let (outcome, exhausted) = call_as(lua, caller, Some(Site::Job), limit, call);
        if let Err(error) = outcome {
            let path = caller_path(lua, caller, "job callback");
            report(lua, ScriptError::from_lua(&path, &error, exhausted));
        }
    }
    for (thread, caller) in entry.waiters {
        scheduler::resume(lua, &thread, MultiValue::new(), caller, limit);
    }
}
