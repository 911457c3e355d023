//! [`StatePool`]: sandboxed worker VMs that run jobs off the main thread.
//!
//! Each worker VM has the same limits as the main VM and runs every worker script
//! (`app.add_worker_script`), where `jobs.define(name, function(args) ... end)` defines the
//! jobs. Workers never touch the world: they get their input as arguments, return a
//! [`ScriptValue`], and change the world only through `commands.*`, which the main thread
//! applies in order. Worker VMs have `log`/`print`, `require` (modules from the asset
//! folder, relative to the requiring file; editing one rebuilds the workers), `jobs.define`,
//! `commands`, `cvar.get`, and Luau's `math`, `string`, `table`, `vector`, `buffer`, `bit32`,
//! `utf8` and `coroutine`.
//!
//! The idle VMs wait in a channel: a [`PoolLease`] takes one out and gives it back when dropped,
//! so a slot can never leak. A lease dropped while its thread panics, or explicitly
//! [discarded](PoolLease::discard), gives back a fresh VM instead. When a worker script changes,
//! the pool's version moves on and each VM is rebuilt the next time it is leased, so running
//! jobs finish on the version they started with.

use crate::api::commands::{self, RemoteCommands};
use crate::api::require::{self, ModuleEnv, ModuleReader, RequiredModules};
use crate::cvar::CVarSnapshot;
use crate::error::{ErrorOrigin, ScriptError, ScriptErrorKind};
use crate::function::registration::GameLibraries;
use crate::queue::ActionQueue;
use crate::runtime::context::Owner;
use crate::value::ScriptValue;
use crate::vm::Limits;
use crate::vm::{self, Budget, ScriptConfig};
use bevy_asset::AssetServer;
use bevy_ecs::resource::Resource;
use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, Table};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The pooled worker VMs. Clones share the pool.
#[derive(Resource, Clone)]
pub struct StatePool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StatePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatePool")
            .field("size", &self.shared.size)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: ScriptConfig,
    queue: ActionQueue,
    cvars: CVarSnapshot,
    size: usize,
    scripts: RwLock<WorkerScripts>,
    /// Where `require` reads modules from; `None` without Bevy's asset server.
    modules: Option<AssetServer>,
    /// The game's own functions (`app.add_worker_script_function`, and stand-ins for the
    /// system functions).
    functions: GameLibraries,
    /// The debugger the pool's VMs are under, once one is added.
    debugger: crate::debug::PoolLink,
    /// Module files worker VMs required that the main thread has not seen yet.
    required: Mutex<Vec<String>>,
    /// Whether `required` has anything, so the main thread looks each frame without locking.
    has_required: AtomicBool,
    idle_sender: async_channel::Sender<WorkerVm>,
    idle: async_channel::Receiver<WorkerVm>,
}

/// The worker scripts every VM runs, and their version.
#[derive(Default, Clone)]
struct WorkerScripts {
    version: u64,
    sources: Vec<(Arc<str>, Arc<str>)>,
    /// The jobs they define, sorted; `None` until worker scripts have run.
    jobs: Option<Arc<[String]>>,
}

/// One worker VM.
pub struct WorkerVm {
    lua: Lua,
    version: u64,
}

impl std::fmt::Debug for WorkerVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerVm")
            .field("scripts_version", &self.version)
            .field("used_memory", &self.lua.used_memory())
            .finish()
    }
}

/// The pool keeps a sender of its own idle channel, so receiving never sees it closed.
const OWNS_SENDER: &str =
    "the pool owns a sender of its idle channel, which therefore never closes";

/// The name of jobs made by [`ScriptRunner::run_chunk`](crate::ScriptRunner::run_chunk).
pub const RUN_CHUNK: &str = "run_chunk";

impl StatePool {
    /// Creates `size` (at least one) worker VMs with the limits of `config`; their commands go
    /// to `queue`.
    pub fn new(
        size: usize,
        config: &ScriptConfig,
        queue: ActionQueue,
    ) -> Result<Self, ScriptError> {
        Self::with_cvars(size, config, queue, CVarSnapshot::default())
    }

    /// Like [`new`](Self::new), with `cvar.get` in the workers reading `cvars`.
    pub fn with_cvars(
        size: usize,
        config: &ScriptConfig,
        queue: ActionQueue,
        cvars: CVarSnapshot,
    ) -> Result<Self, ScriptError> {
        Self::create(size, config, queue, cvars, None, GameLibraries::default())
    }

    /// A pool whose worker scripts can `require` modules from the asset folder of `modules`.
    pub(crate) fn create(
        size: usize,
        config: &ScriptConfig,
        queue: ActionQueue,
        cvars: CVarSnapshot,
        modules: Option<AssetServer>,
        functions: GameLibraries,
    ) -> Result<Self, ScriptError> {
        let size = size.max(1);
        let (idle_sender, idle) = async_channel::bounded(size);
        let pool = Self {
            shared: Arc::new(Shared {
                config: config.clone(),
                queue,
                cvars,
                size,
                scripts: RwLock::default(),
                modules,
                functions,
                debugger: crate::debug::PoolLink::default(),
                required: Mutex::default(),
                has_required: AtomicBool::new(false),
                idle_sender,
                idle,
            }),
        };
        for _ in 0..size {
            let vm = pool.build(&WorkerScripts::default())?;
            pool.give_back(vm);
        }
        Ok(pool)
    }

    /// Puts the pool's VMs under the debugger of `session`: each one built or leased from now.
    #[cfg(feature = "debugger")]
    pub(crate) fn link_debugger(
        &self,
        session: &std::sync::Arc<crate::debugger::session::Session>,
    ) {
        self.shared.debugger.set(session);
    }

    /// How many VMs the pool has.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// How many VMs are idle now.
    pub fn idle(&self) -> usize {
        self.shared.idle.len()
    }

    /// The version of the worker scripts; it moves on with each change.
    pub fn version(&self) -> u64 {
        self.scripts().version
    }

    /// The names of the jobs the worker scripts define, sorted; `None` until worker scripts
    /// have run, when any name may still come.
    pub(crate) fn job_names(&self) -> Option<Arc<[String]>> {
        self.shared.scripts.read().ok()?.jobs.clone()
    }

    /// The limits every worker VM has.
    pub fn config(&self) -> &ScriptConfig {
        &self.shared.config
    }

    /// Waits until a VM is free and leases it. Do not call it from the main thread while all
    /// VMs are leased there.
    pub fn acquire(&self) -> PoolLease {
        let vm = self.shared.idle.recv_blocking().expect(OWNS_SENDER);
        self.lease(vm)
    }

    /// Leases a VM if one is free now.
    pub fn try_acquire(&self) -> Option<PoolLease> {
        self.shared.idle.try_recv().ok().map(|vm| self.lease(vm))
    }

    /// Waits, without blocking a thread, until a VM is free, and leases it.
    pub async fn acquire_async(&self) -> PoolLease {
        let vm = self.shared.idle.recv().await.expect(OWNS_SENDER);
        self.lease(vm)
    }

    /// Leases `vm`, rebuilt first when the worker scripts changed since it was built.
    fn lease(&self, vm: WorkerVm) -> PoolLease {
        let vm = if vm.version == self.version() {
            vm
        } else {
            self.fresh().unwrap_or(vm)
        };
        crate::debug::on_worker(&vm.lua, &self.shared.debugger, &self.shared.config);
        PoolLease {
            vm: Some(vm),
            pool: self.clone(),
            discard: false,
        }
    }

    fn scripts(&self) -> WorkerScripts {
        self.shared
            .scripts
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// A VM of the current version; `None` only if even an empty VM cannot be built.
    fn fresh(&self) -> Option<WorkerVm> {
        let scripts = self.scripts();
        match self.build(&scripts) {
            Ok(vm) => Some(vm),
            Err(error) => {
                tracing::error!(target: "bevy_luau", "could not rebuild a worker VM: {error}");
                self.build(&WorkerScripts::default()).ok()
            }
        }
    }

    /// Moves the modules `lua` required since the last look to the list the main thread watches.
    fn note_required(&self, lua: &Lua) {
        let Some(files) = lua
            .app_data_mut::<RequiredModules>()
            .map(|mut r| std::mem::take(&mut r.0))
        else {
            return;
        };
        if files.is_empty() {
            return;
        }
        if let Ok(mut required) = self.shared.required.lock() {
            for (_, file) in files {
                if !required.contains(&file) {
                    required.push(file);
                }
            }
            self.shared.has_required.store(true, Ordering::Release);
        }
    }

    /// Module files worker VMs required since the last call, for hot reload. Called every
    /// frame; it locks only when there is something to take.
    pub(crate) fn take_required(&self) -> Vec<String> {
        if !self.shared.has_required.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        self.shared
            .required
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// Rebuilds every worker VM from the same scripts (after a module they require changed).
    /// When the scripts no longer load, the old VMs stay and the error is returned.
    pub(crate) fn reload(&self) -> Result<(), ScriptError> {
        self.next_version(self.scripts())
    }

    fn give_back(&self, vm: WorkerVm) {
        // Modules a job required lazily are watched too.
        self.note_required(&vm.lua);
        // The channel holds `size` VMs, and no more than `size` exist.
        let _ = self.shared.idle_sender.try_send(vm);
    }

    /// Sets the source of worker script `path` (adding it when new). The new set of scripts
    /// is first run in a scratch VM: when one fails, the previous version stays and the error
    /// is returned.
    pub(crate) fn set_script(&self, path: &str, source: Arc<str>) -> Result<(), ScriptError> {
        let mut scripts = self.scripts();
        match scripts.sources.iter_mut().find(|(p, _)| &**p == path) {
            Some((_, old)) => *old = source,
            None => scripts.sources.push((Arc::from(path), source)),
        }
        self.next_version(scripts)
    }

    /// Makes `scripts` the pool's next version once a scratch VM runs them; each VM is rebuilt
    /// on its next lease. When they fail, the current version stays and the error is returned.
    fn next_version(&self, mut scripts: WorkerScripts) -> Result<(), ScriptError> {
        scripts.version += 1;
        let scratch = self.build(&scripts)?;
        scripts.jobs = Some(crate::api::jobs::defined_names(&scratch.lua).into());
        if let Ok(mut current) = self.shared.scripts.write() {
            scripts.version = current.version + 1;
            *current = scripts;
        }
        Ok(())
    }

    /// Builds a worker VM running `scripts`.
    fn build(&self, scripts: &WorkerScripts) -> Result<WorkerVm, ScriptError> {
        let config = &self.shared.config;
        let (queue, cvars) = (self.shared.queue.clone(), self.shared.cvars.clone());
        let modules = self.shared.modules.clone();
        let lua = vm::new_vm(config, |lua, globals| {
            install(lua, globals, queue, cvars, modules)?;
            self.shared.functions.install(lua, globals, false)
        })
        .map_err(|e| ScriptError::in_crate(ScriptErrorKind::Config, e.to_string()))?;
        crate::debug::on_worker(&lua, &self.shared.debugger, config);
        let ran = scripts.sources.iter().try_for_each(|(path, source)| {
            run_script(&lua, path, source, config.limits()).map(|_| ())
        });
        // Even a failed build has read modules worth watching: fixing one reloads the scripts.
        self.note_required(&lua);
        ran?;
        Ok(WorkerVm {
            lua,
            version: scripts.version,
        })
    }
}

/// The worker libraries: `require`, `cvar.get`, `commands` (sent to the main thread) and
/// `jobs.define`.
fn install(
    lua: &Lua,
    globals: &Table,
    queue: ActionQueue,
    cvars: CVarSnapshot,
    modules: Option<AssetServer>,
) -> mlua::Result<()> {
    // Without the asset server `require` is still there, and says what it needs.
    if let Some(server) = modules {
        lua.set_app_data(ModuleReader(server));
    }
    lua.set_app_data(RequiredModules::default());
    lua.set_app_data(ModuleEnv(module_env));
    lua.set_app_data(WorkerRequire {
        require: require::create_require(lua)?,
        bind: crate::engine::env::create_bind(lua)?,
    });
    crate::api::cvar::install_for_worker(lua, globals, cvars)?;
    lua.set_app_data(RemoteCommands(queue));
    commands::install(lua, globals)?;
    crate::api::jobs::install_for_worker(lua, globals)
}

/// `require` in worker VMs: the shared implementation and the binder that gives each script
/// its own (see `engine::env::SharedFunctions`).
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct WorkerRequire {
    require: Function,
    bind: Function,
}

/// The global table of a worker script or module: the sandboxed environment, `log` naming
/// `file`, and a `require` relative to `file` sharing `modules`.
fn module_env(lua: &Lua, owner: &Owner, file: &str, modules: &Table) -> mlua::Result<Table> {
    let env = vm::script_env(lua)?;
    crate::api::log::install(lua, &env, &Arc::from(file))?;
    let (require, bind) = lua
        .app_data_ref::<WorkerRequire>()
        .map(|r| (r.require.clone(), r.bind.clone()))
        .ok_or_else(|| mlua::Error::runtime("worker modules need a worker VM"))?;
    let state = require::state(lua, owner, file, modules)?;
    env.raw_set("require", bind.call::<Function>((require, state))?)?;
    Ok(env)
}

/// Runs one worker script (or chunk) in a global table of its own, with `log` naming `path`.
fn run_script(
    lua: &Lua,
    path: &Arc<str>,
    source: &str,
    limit: Limits,
) -> Result<ScriptValue, ScriptError> {
    let owner = Owner {
        id: 0,
        path: path.clone(),
    };
    let env = lua
        .create_table()
        .and_then(|modules| module_env(lua, &owner, path, &modules));
    let env = env.map_err(|e| ScriptError::from_lua(path, &e, None))?;
    let function = lua
        .load(source)
        .set_name(format!("@{path}"))
        .set_mode(ChunkMode::Text)
        .set_environment(env)
        .into_function()
        .map_err(|e| ScriptError::new(&**path, ScriptErrorKind::Compile, e.to_string()))?;
    crate::debug::chunk_loaded(lua, path, &function, source);
    let (result, exhausted) = Budget::run(limit, || {
        crate::debug::call::<ScriptValue>(lua, &function, ())
    });
    result.map_err(|e| ScriptError::from_lua(path, &e, exhausted.map(Into::into)))
}

/// What a worker VM is asked to do.
#[derive(Debug, Clone)]
pub(crate) enum JobRequest {
    /// Run a source chunk and return its value.
    Chunk(String),
    /// Call a job defined with `jobs.define`.
    Call(String, ScriptValue),
}

impl JobRequest {
    /// The job's name, as errors and [`JobCompleted`](crate::JobCompleted) name it.
    pub fn name(&self) -> &str {
        match self {
            JobRequest::Chunk(_) => RUN_CHUNK,
            JobRequest::Call(name, _) => name,
        }
    }
}

/// A leased worker VM; dropping it gives the VM back to the pool.
#[derive(Debug)]
pub struct PoolLease {
    vm: Option<WorkerVm>,
    pool: StatePool,
    discard: bool,
}

impl PoolLease {
    /// Gives a fresh VM back to the pool instead of this one (after a failure that may have
    /// left it in a bad state).
    pub fn discard(&mut self) {
        self.discard = true;
    }

    /// Runs a job in this VM with the pool's limits.
    pub(crate) fn run(&self, request: &JobRequest) -> Result<ScriptValue, ScriptError> {
        let limit = self.pool.config().limits();
        match request {
            JobRequest::Chunk(source) => run_script(self, &Arc::from(RUN_CHUNK), source, limit)
                .map_err(|error| error.with_origin(ErrorOrigin::Job)),
            JobRequest::Call(name, args) => {
                let Some(job) = crate::api::jobs::defined(self, name) else {
                    let message = format!(
                        "no job named `{}`; worker scripts define jobs with jobs.define",
                        crate::suggest::shown(name)
                    );
                    return Err(ScriptError::in_job(
                        name.as_str(),
                        ScriptErrorKind::UnknownJob,
                        message,
                    ));
                };
                let (result, exhausted) = Budget::run(limit, || {
                    crate::debug::call::<ScriptValue>(self, &job, args.clone())
                });
                result.map_err(|e| {
                    ScriptError::from_lua(name, &e, exhausted.map(Into::into))
                        .with_origin(ErrorOrigin::Job)
                })
            }
        }
    }
}

impl Deref for PoolLease {
    type Target = Lua;

    fn deref(&self) -> &Lua {
        &self
            .vm
            .as_ref()
            .expect("a lease holds its VM until it is dropped")
            .lua
    }
}

impl Drop for PoolLease {
    fn drop(&mut self) {
        let vm = match self.vm.take() {
            Some(vm) if !self.discard && !std::thread::panicking() => Some(vm),
            _ => self.pool.fresh(),
        };
        if let Some(vm) = vm {
            self.pool.give_back(vm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(size: usize) -> StatePool {
        StatePool::new(size, &ScriptConfig::default(), ActionQueue::new(16)).expect("pool")
    }

    #[test]
    fn leases_come_back_on_drop_and_on_panic() {
        let pool = pool(2);
        let a = pool.acquire();
        let b = pool.try_acquire().expect("second VM");
        assert!(pool.try_acquire().is_none());
        drop(a);
        assert_eq!(pool.idle(), 1);
        let panicking = pool.clone();
        let joined = std::thread::spawn(move || {
            let _lease = panicking.acquire();
            panic!("a job panicked");
        })
        .join();
        assert!(joined.is_err());
        assert_eq!(pool.idle(), 1, "the panicking lease gave a VM back");
        drop(b);
        assert_eq!(pool.idle(), 2);
    }

    #[test]
    fn worker_scripts_define_jobs_and_reloads_reach_every_vm() {
        let pool = pool(2);
        pool.set_script(
            "workers/math.luau",
            Arc::from("jobs.define('double', function(x) return x * 2 end)"),
        )
        .expect("loads");
        let call = JobRequest::Call("double".into(), ScriptValue::Number(21.0));
        assert_eq!(pool.acquire().run(&call), Ok(ScriptValue::Number(42.0)));
        pool.set_script(
            "workers/math.luau",
            Arc::from("jobs.define('double', function(x) return x * 20 end)"),
        )
        .expect("reloads");
        let leases = [pool.acquire(), pool.acquire()];
        for lease in &leases {
            assert_eq!(lease.run(&call), Ok(ScriptValue::Number(420.0)));
        }
    }

    #[test]
    fn a_broken_worker_script_keeps_the_previous_version() {
        let pool = pool(1);
        pool.set_script(
            "w.luau",
            Arc::from("jobs.define('one', function() return 1 end)"),
        )
        .expect("loads");
        let version = pool.version();
        let error = pool
            .set_script(
                "w.luau",
                Arc::from("jobs.define('one', function() return end"),
            )
            .unwrap_err();
        assert_eq!(error.kind, ScriptErrorKind::Compile);
        assert_eq!(pool.version(), version);
        let call = JobRequest::Call("one".into(), ScriptValue::Nil);
        assert_eq!(pool.acquire().run(&call), Ok(ScriptValue::Number(1.0)));
    }

    #[test]
    fn without_the_asset_server_require_says_what_it_needs() {
        let lease = pool(1).acquire();
        let error = lease
            .run(&JobRequest::Chunk("return require('./util')".into()))
            .unwrap_err();
        assert!(error.message.contains("AssetPlugin"), "{error}");
    }

    #[test]
    fn unknown_jobs_and_runaway_jobs_are_errors() {
        let config = ScriptConfig {
            instruction_limit: 10_000,
            ..Default::default()
        };
        let pool = StatePool::new(1, &config, ActionQueue::new(4)).expect("pool");
        let lease = pool.acquire();
        let error = lease
            .run(&JobRequest::Call("nope".into(), ScriptValue::Nil))
            .unwrap_err();
        assert!(error.message.contains("no job named `nope`"), "{error}");
        let error = lease
            .run(&JobRequest::Chunk("while true do end".into()))
            .unwrap_err();
        assert_eq!(error.kind, ScriptErrorKind::InstructionLimit);
        assert_eq!(
            lease.run(&JobRequest::Chunk("return 1 + 1".into())),
            Ok(ScriptValue::Number(2.0))
        );
    }
}
