//! [`ScriptEngine`]: the main-thread VM and the scripting step.

use super::actors::{Actors, Recipe};
use super::entity_scripts::{self, Dispatch, EntityScripts};
use super::scripts::GlobalScripts;
use super::vms::{attach_runner_to, main_style_vm};
use super::worker_scripts::WorkerScripts;
use crate::api::deferred;
use crate::api::events::ScriptEvent;
use crate::asset::ScriptLoaded;
use crate::bridge::lent::lend_world_ref;
use crate::cvar::{CVarChanged, CVarFlags, CVarRegistry};
use crate::diagnostics::{ScriptBudgetExceeded, ScriptProfiles, StepFigures};
use crate::error::{ErrorOrigin, ScriptError, ScriptErrorKind};
use crate::function::registration::GameLibraries;
use crate::queue::{Action, ActionQueue};
use crate::registry::{MessageSource, ScriptRegistry};
use crate::runner::JobCompleted;
use crate::runtime::callbacks::{self, Callback, Callbacks, List};
use crate::runtime::context::{
    Caller, ConsoleHooks, ErrorSink, StepTime, call_as, lend_world, report,
};
use crate::runtime::profile::{self, Site};
use crate::runtime::scheduler::{self, Scheduler};
use crate::value::ScriptValue;
use crate::vm::ScriptConfig;
use crate::vm::{Budget, Limits};
use bevy_asset::AssetServer;
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::resource::Resource;
use bevy_ecs::world::{Mut, World};
use bevy_tasks::ComputeTaskPool;
use bevy_time::Time;
use mlua::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti, Lua, Value};
use std::time::Instant;

/// The main-thread Luau VM, its loaded scripts and their hooks.
///
/// The [`ScriptingSystem`](crate::ScriptingSystem) takes it out of the world for each step and
/// lends Lua the world through a scoped handle that stops working when the step ends.
#[derive(Resource)]
pub struct ScriptEngine {
    lua: Lua,
    config: ScriptConfig,
    scripts: GlobalScripts,
    worker_scripts: WorkerScripts,
    events: MessageCursor<ScriptEvent>,
    /// Events read for delivery, kept to reuse the allocation.
    event_buffer: Vec<ScriptEvent>,
    /// Readers of registered message types, by name.
    message_sources: Vec<(String, Box<dyn MessageSource>)>,
    /// Errors of the running step, written as messages when it ends.
    errors: Vec<ScriptError>,
    /// Script versions that loaded during the step, written as messages when it ends.
    loaded: Vec<ScriptLoaded>,
    /// Which errors were logged in the last second, so a repeated one is counted instead.
    error_log: super::error_log::ErrorLog,
    /// When the frame budget was last reported.
    budget_reported: Option<Instant>,
    frame: u64,
    /// The actor VMs of `ScriptActor` entity scripts.
    actors: Actors,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("config", &self.config)
            .field("frame", &self.frame)
            .field("used_memory", &self.lua.used_memory())
            .finish_non_exhaustive()
    }
}

impl ScriptEngine {
    /// Creates the engine with a sandboxed VM limited by `config`. `assets` is the asset server
    /// `require` reads modules through; without one, `require` reports that it is missing.
    /// Its actor VMs, made when the first [`ScriptActor`](crate::ScriptActor) attaches, are one
    /// per thread that can run the parallel phase.
    pub fn new(config: &ScriptConfig, assets: Option<AssetServer>) -> Result<Self, ScriptError> {
        Self::create(
            config,
            assets,
            &GameLibraries::default(),
            super::actors::default_count(),
        )
    }

    /// [`new`](Self::new), with the game's own functions and `actors` actor VMs.
    pub(crate) fn create(
        config: &ScriptConfig,
        assets: Option<AssetServer>,
        functions: &GameLibraries,
        actors: usize,
    ) -> Result<Self, ScriptError> {
        let lua = main_style_vm(config, assets.clone(), functions, true)?;
        let recipe = Recipe {
            config: config.clone(),
            assets,
            functions: functions.clone(),
            runner: None,
            console: None,
        };
        Ok(Self {
            lua,
            config: config.clone(),
            scripts: GlobalScripts::default(),
            worker_scripts: WorkerScripts::default(),
            events: MessageCursor::default(),
            event_buffer: Vec::new(),
            message_sources: Vec::new(),
            errors: Vec::new(),
            loaded: Vec::new(),
            error_log: Default::default(),
            budget_reported: None,
            frame: 0,
            actors: Actors::new(actors, recipe),
        })
    }

    /// Lets `jobs.run` reach the worker pool, in the main VM and the actor VMs.
    pub(crate) fn attach_runner(&mut self, runner: crate::runner::ScriptRunner) {
        attach_runner_to(&self.lua, &runner);
        self.actors.set_runner(runner);
    }

    /// Lets `console.execute` and `console.register` reach the console, in the main VM and
    /// the actor VMs.
    pub(crate) fn attach_console(&mut self, hooks: ConsoleHooks) {
        self.lua.set_app_data(hooks);
        self.actors.set_console(hooks);
    }

    /// The main VM, for embedding code that needs mlua directly. Code run through it outside
    /// the step has no world access and no instruction limit.
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The limits the engine was created with.
    pub fn config(&self) -> &ScriptConfig {
        &self.config
    }

    /// How many entities have a running entity script instance: each has its `self` table in
    /// the main VM until its entity is despawned or loses its [`Script`](crate::Script).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_luau::prelude::*;
    /// let mut app = App::new();
    /// app.add_plugins((bevy_app::TaskPoolPlugin::default(), AssetPlugin::default(), LuauScriptingPlugin));
    /// app.finish();
    /// app.update();
    /// assert_eq!(app.world().resource::<ScriptEngine>().entity_script_instances(), 0);
    /// ```
    pub fn entity_script_instances(&self) -> usize {
        let main = self
            .lua
            .app_data_ref::<EntityScripts>()
            .map_or(0, |scripts| scripts.instances());
        main + self.actors.instances()
    }

    /// How many [`ScriptActor`](crate::ScriptActor) instances each actor VM holds, by VM;
    /// empty until the first actor attaches (the actor VMs are made then).
    pub fn actor_instances(&self) -> Vec<usize> {
        self.actors.load().to_vec()
    }

    /// Runs the Lua handlers of event `name` now, with world access, and returns whether one of
    /// them consumed it (returned `true`).
    ///
    /// Handlers run in the order they were registered until one consumes the event. A handler
    /// that errors is reported like every script error (log and [`ScriptError`] message) and
    /// the next handler runs; when no handler consumed the event, the first such error is
    /// returned. Call it from an exclusive system or a command, never from inside a script.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_ecs::message::Messages;
    /// # use bevy_time::TimePlugin;
    /// use bevy_luau::prelude::*;
    ///
    /// // scripts/shield.luau
    /// let shield = r#"
    ///     events.on("hit", function(damage) return damage < 10 end)
    ///     events.emit("ready")
    /// "#;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir(dir.path().join("scripts")).unwrap();
    /// # std::fs::write(dir.path().join("scripts/shield.luau"), shield).unwrap();
    /// # let file_path = dir.path().display().to_string();
    /// # let assets = AssetPlugin { file_path, ..Default::default() };
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, assets, LuauScriptingPlugin))
    ///     .add_script("scripts/shield.luau");
    /// # let ready = |app: &App| {
    /// #     let events = app.world().resource::<Messages<ScriptEvent>>();
    /// #     events.iter_current_update_messages().any(|e| e.name == "ready")
    /// # };
    /// # for _ in 0..10_000 {
    /// #     app.update();
    /// #     if ready(&app) { break; }
    /// #     std::thread::sleep(std::time::Duration::from_millis(1));
    /// # }
    /// // Once the script has loaded, its handler consumes hits below 10.
    /// assert_eq!(ScriptEngine::emit(app.world_mut(), "hit", 5), Ok(true));
    /// assert_eq!(ScriptEngine::emit(app.world_mut(), "hit", 50), Ok(false));
    /// // An event nobody handles is not consumed either.
    /// assert_eq!(ScriptEngine::emit(app.world_mut(), "heal", 5), Ok(false));
    /// ```
    pub fn emit(
        world: &mut World,
        name: &str,
        payload: impl Into<ScriptValue>,
    ) -> Result<bool, ScriptError> {
        let payload = payload.into();
        let outcome = world.try_resource_scope(|world, mut engine: Mut<ScriptEngine>| {
            let lua = engine.lua.clone();
            let outcome = lend_world(&lua, world, || engine.dispatch_event(&lua, name, &payload));
            engine.flush_errors(world);
            outcome
        });
        match outcome {
            None => Err(
                match crate::runtime::context::reentered("ScriptEngine::emit") {
                    Some(message) => ScriptError::in_crate(ScriptErrorKind::Runtime, message),
                    None => ScriptError::in_crate(
                        ScriptErrorKind::MissingPlugin,
                        "ScriptEngine::emit needs the LuauScriptingPlugin",
                    ),
                },
            ),
            Some(Err(error)) => Err(error),
            Some(Ok((true, _))) => Ok(true),
            Some(Ok((false, Some(error)))) => Err(error),
            Some(Ok((false, None))) => Ok(false),
        }
    }

    /// The scripting step, run once a frame by the [`ScriptingSystem`](crate::ScriptingSystem).
    pub(crate) fn step(&mut self, world: &mut World) {
        // The limits' clock, which leaves out the time scripts stood stopped in the debugger.
        let started = crate::ffi::interrupt::clock();
        self.frame += 1;
        let time = world
            .get_resource::<Time>()
            .map(|t| (t.delta_secs_f64(), t.elapsed_secs_f64()));
        let (delta, elapsed) = time.unwrap_or_default();
        // Before anything runs Lua: the `time` library and tasks scheduled in any stage read this.
        let time = StepTime {
            delta,
            elapsed,
            frame: self.frame,
        };
        for lua in std::iter::once(&self.lua).chain(self.actors.vms()) {
            time.set(lua);
        }
        crate::debug::before_step(world, &self.lua, self.actors.vms().iter(), &self.config);

        self.watch_messages(world);
        self.scripts.collect(&self.lua, world, &mut self.errors);
        self.worker_scripts.collect(world, &mut self.errors);
        entity_scripts::collect(&self.lua, world);
        for actor in self.actors.vms() {
            entity_scripts::collect(actor, world);
        }
        let actions = match world.get_resource::<ActionQueue>() {
            Some(queue) => queue.drain_reporting(&mut self.errors),
            None => Vec::new(),
        };
        let has_callbacks = self
            .lua
            .app_data_ref::<Callbacks>()
            .is_some_and(|c| !c.is_empty());
        let has_tasks = self
            .lua
            .app_data_ref::<Scheduler>()
            .is_some_and(|s| s.len() > 0);
        if self.scripts.has_pending()
            || has_callbacks
            || has_tasks
            || !actions.is_empty()
            || entity_scripts::has_work(&self.lua, world)
            || !self.actors.vms().is_empty()
        {
            let lua = self.lua.clone();
            let limit = self.config.limits();
            // However many calls time out, the step stops them once it has run for a few time
            // limits: each later call stops at its first reading of the clock.
            let step_deadline = self
                .config
                .time_limit
                .and_then(|t| started.checked_add(t * crate::ffi::interrupt::STEP_LIMITS));
            let lent = Budget::within_step(step_deadline, || {
                lend_world(&lua, world, || {
                    // 1. Asset events: new scripts and hot reloads.
                    //    Until the worker scripts first load, scripts wait, so jobs they start
                    //    find their definitions.
                    let workers_ready = !self.worker_scripts.is_loading();
                    if workers_ready {
                        self.scripts
                            .apply(&lua, limit, &mut self.errors, &mut self.loaded);
                    }
                    self.apply_lifecycle(&lua, limit, workers_ready);
                    // 2. Job results, worker commands and other actions, in the order sent.
                    self.apply_actions(&lua, actions, limit);
                    // 3. `task` coroutines whose time has come.
                    scheduler::resume_due(&lua, limit);
                    self.in_actors(&lua, |actor| scheduler::resume_due(actor, limit));
                    // 4. Per-frame hooks, then the actors' phase.
                    self.run_hooks(&lua, delta);
                    entity_scripts::update(&lua, delta, limit, Dispatch::Call);
                    self.actor_phase(&lua, delta, limit);
                    // 5. Events and registered messages for Lua handlers.
                    self.deliver_events(&lua);
                    // `task.defer`red coroutines, then deferred `commands` in the order issued.
                    scheduler::resume_deferred(&lua, limit);
                    crate::api::commands::apply(&lua);
                    self.in_actors(&lua, |actor| {
                        scheduler::resume_deferred(actor, limit);
                        crate::api::commands::apply(actor);
                    });
                })
            });
            if let Err(error) = lent {
                self.errors.push(error);
            }
        } else {
            // Nobody listens: skip what was written so a later handler never gets stale events.
            if let Some(messages) = world.get_resource::<Messages<ScriptEvent>>() {
                self.events.clear(messages);
            }
            for (_, source) in &mut self.message_sources {
                source.skip(world);
            }
        }
        self.flush_errors(world);
        self.account(world, started);
    }

    /// Stage 1 for entity scripts in every VM: loads changed classes (once the worker scripts
    /// have loaded), then removes and attaches instances, each in the VM it belongs to.
    fn apply_lifecycle(&mut self, lua: &Lua, limit: Limits, load: bool) {
        if load {
            entity_scripts::load_versions(lua, limit, &mut self.errors, &mut self.loaded);
            let (errors, loaded) = (&mut self.errors, &mut self.loaded);
            for vm in 0..self.actors.vms().len() {
                let ran = self.actors.with_vm(lua, vm, |actor| {
                    entity_scripts::load_versions(actor, limit, errors, loaded);
                });
                errors.extend(ran.err());
            }
        }
        let (inserted, removed) = entity_scripts::take_lifecycle(lua);
        if inserted.is_empty() && removed.is_empty() {
            return self.attach_waiting(lua, limit);
        }
        let actors = &mut self.actors;
        let routed = crate::runtime::context::with_world(lua, |world| {
            actors.route(world, inserted, removed)
        });
        let routes = match routed {
            Ok(routes) => routes,
            Err(error) => {
                self.errors
                    .push(ScriptError::from_lua("bevy_luau", &error, None));
                return;
            }
        };
        self.errors.extend(routes.error.clone());
        entity_scripts::remove(lua, &routes.main.removed, limit);
        for (vm, changes) in routes.actors.iter().enumerate() {
            let ran = self.actors.with_vm(lua, vm, |actor| {
                entity_scripts::remove(actor, &changes.removed, limit);
            });
            self.errors.extend(ran.err());
        }
        entity_scripts::attach_all(lua, &routes.main.inserted, limit);
        for vm in 0..self.actors.vms().len() {
            let inserted = routes.actors.get(vm).map_or(&[][..], |c| &c.inserted[..]);
            let ran = self.actors.with_vm(lua, vm, |actor| {
                entity_scripts::attach_all(actor, inserted, limit);
            });
            self.errors.extend(ran.err());
        }
    }

    /// Stage 4, after the main VM's `on_update`s: the actors' parallel phase, then the writes
    /// it queued, then the serial part, where the `on_update`s that called `task.synchronize()`
    /// go on, ordered by entity, each in its own VM with the world lent as usual.
    fn actor_phase(&mut self, lua: &Lua, delta: f64, limit: Limits) {
        if self.actors.vms().is_empty() {
            return;
        }
        // The limits' clock, which leaves out the time a script stood stopped in the debugger.
        let started = crate::ffi::interrupt::clock();
        let elapsed = || crate::ffi::interrupt::clock().saturating_duration_since(started);
        self.parallel_phase(lua, delta, limit);
        let parallel = elapsed();
        let queued: Vec<deferred::Queued> =
            self.actors.vms().iter().flat_map(deferred::take).collect();
        let writes = queued.len();
        let applied =
            crate::runtime::context::with_world(lua, |world| deferred::apply(world, queued));
        let apply = elapsed() - parallel;
        let dropped = match applied {
            Ok(applied) => {
                self.errors.extend(applied.errors);
                applied.dropped
            }
            Err(error) => {
                self.errors
                    .push(ScriptError::from_lua("bevy_luau", &error, None));
                0
            }
        };
        let mut synchronized = Vec::new();
        for (vm, actor) in self.actors.vms().iter().enumerate() {
            synchronized.extend(
                scheduler::take_synchronized(actor)
                    .into_iter()
                    .map(|task| (vm, task)),
            );
        }
        // Stable: by entity, then as the VMs and the calls came.
        synchronized.sort_by_key(|(_, task)| task.entity());
        for (vm, task) in synchronized {
            let ran = self.actors.with_vm(lua, vm, |actor| {
                scheduler::resume_synchronized(actor, task, limit);
            });
            self.errors.extend(ran.err());
        }
        let serial = elapsed() - parallel - apply;
        let _ = crate::runtime::context::with_world(lua, |world| {
            let mut profiles = world.get_resource_or_init::<ScriptProfiles>();
            let total = profiles.actors.dropped_writes + dropped as u64;
            profiles.actors = crate::diagnostics::ActorPhaseProfile {
                parallel,
                apply,
                serial,
                writes,
                dropped_writes: total,
            };
        });
    }

    /// The parallel phase: every actor VM runs its due tasks and its instances' `on_update`s
    /// at the same time, on the compute task pool (the main thread takes a share), with the
    /// world lent read-only: the main VM's borrow of it, shared by every VM for the length of
    /// the phase, so that no `&mut World` is used until it ends.
    fn parallel_phase(&mut self, lua: &Lua, delta: f64, limit: Limits) {
        let vms = self.actors.vms();
        let step = Budget::step_deadline();
        let ran = crate::runtime::context::with_world(lua, |world| {
            let world: &World = world;
            let run = |actor: &Lua| {
                Budget::within_step(step, || {
                    lend_world_ref(actor, world, || {
                        scheduler::resume_parallel(actor, limit);
                        entity_scripts::update(actor, delta, limit, Dispatch::Coroutine);
                    })
                })
            };
            match ComputeTaskPool::try_get() {
                Some(pool) if vms.len() > 1 => pool.scope(|scope| {
                    for actor in vms {
                        let run = &run;
                        scope.spawn(async move { run(actor) });
                    }
                }),
                _ => vms.iter().map(run).collect(),
            }
        });
        match ran {
            Ok(results) => self
                .errors
                .extend(results.into_iter().filter_map(Result::err)),
            Err(error) => self
                .errors
                .push(ScriptError::from_lua("bevy_luau", &error, None)),
        }
    }

    /// Attaches the entities of every VM still waiting for their script.
    fn attach_waiting(&mut self, lua: &Lua, limit: Limits) {
        entity_scripts::attach_all(lua, &[], limit);
        self.in_actors(lua, |actor| entity_scripts::attach_all(actor, &[], limit));
    }

    /// Runs `f` in every actor VM in turn, each lent the world through the main VM's borrow;
    /// what cannot run is an error of the step.
    fn in_actors(&mut self, lua: &Lua, mut f: impl FnMut(&Lua)) {
        for vm in 0..self.actors.vms().len() {
            if let Err(error) = self.actors.with_vm(lua, vm, &mut f) {
                self.errors.push(error);
            }
        }
    }

    /// Folds the step's accounting into [`ScriptProfiles`], ends a console `profile` run whose
    /// time is up, measures memory once a second and reports a step over the frame budget.
    fn account(&mut self, world: &mut World, started: Instant) {
        if !self.config.profiling {
            return;
        }
        let step = crate::ffi::interrupt::clock().saturating_duration_since(started);
        let now = Instant::now();
        let queued = world
            .get_resource::<crate::ScriptRunner>()
            .map(|r| r.pending());
        // What each script spent in the step, and the whole step's figures.
        let over_budget = self.config.frame_budget.is_some_and(|budget| step > budget);
        let mut spent = Vec::new();
        {
            let mut profiles = world.get_resource_or_init::<ScriptProfiles>();
            profiles.queued_jobs = queued.unwrap_or_default();
            let ran = profile::take_step(std::iter::once(&self.lua).chain(self.actors.vms()));
            let figures = ran.iter().map(|slot| StepFigures {
                path: &slot.path,
                time: slot.time,
                calls: slot.calls,
                sites: slot
                    .sites
                    .iter()
                    .map(|s| (s.kind, &*s.name, s.time, s.calls))
                    .collect(),
            });
            profiles.add_step(now, step, figures);
            if over_budget {
                spent = ran
                    .iter()
                    .map(|slot| (slot.path.to_string(), slot.time))
                    .collect();
            }
        }
        let game_time = world
            .get_resource::<Time>()
            .map_or(0.0, |t| t.elapsed_secs_f64());
        crate::diagnostics::finish_profile(world, game_time);
        if world.resource::<ScriptProfiles>().memory_due(now) {
            let vms = || std::iter::once(&self.lua).chain(self.actors.vms());
            let scripts = profile::memory_by_path(vms());
            let memory = vms().map(Lua::used_memory).sum();
            world.resource_mut::<ScriptProfiles>().set_memory(
                now,
                memory,
                scripts.iter().map(|(path, bytes)| (&**path, *bytes)),
            );
        }
        if let Some(budget) = self.config.frame_budget
            && over_budget
            && self
                .budget_reported
                .is_none_or(|at| now.duration_since(at) >= crate::diagnostics::WINDOW)
        {
            self.budget_reported = Some(now);
            spent.sort_by_key(|(_, time)| std::cmp::Reverse(*time));
            let top: Vec<String> = spent
                .iter()
                .take(5)
                .map(|(path, time)| format!("{path} {:.2} ms", time.as_secs_f64() * 1000.0))
                .collect();
            tracing::warn!(
                target: "bevy_luau",
                "the scripting step took {:.2} ms, over its budget of {:.2} ms: {}",
                step.as_secs_f64() * 1000.0,
                budget.as_secs_f64() * 1000.0,
                if top.is_empty() { "no script ran".to_owned() } else { top.join(", ") }
            );
            world.write_message(ScriptBudgetExceeded {
                step,
                budget,
                scripts: spent,
            });
        }
    }

    /// Starts reading message types registered since the last step.
    fn watch_messages(&mut self, world: &World) {
        let Some(registry) = world.get_resource::<ScriptRegistry>() else {
            return;
        };
        if registry.message_count() == self.message_sources.len() {
            return;
        }
        for (name, access) in registry.messages() {
            if !self.message_sources.iter().any(|(n, _)| n == name) {
                self.message_sources
                    .push((name.clone(), (access.reader)(world)));
            }
        }
    }

    /// Stage 2: job results reach Lua callbacks, awaiting coroutines and [`JobCompleted`];
    /// worker commands apply in order.
    fn apply_actions(&mut self, lua: &Lua, actions: Vec<Action>, limit: Limits) {
        for action in actions {
            match action {
                Action::ScriptResult {
                    id,
                    job,
                    result,
                    timing,
                } => {
                    if self.config.profiling {
                        let recorded = crate::runtime::context::with_world(lua, |world| {
                            world.get_resource_or_init::<ScriptProfiles>().add_job(
                                &job,
                                result.is_ok(),
                                timing.waited,
                                timing.ran,
                            );
                        });
                        if let Err(error) = recorded {
                            self.errors.push(
                                ScriptError::from_lua("bevy_luau", &error, None)
                                    .with_origin(ErrorOrigin::Crate),
                            );
                        }
                    }
                    crate::api::jobs::complete(lua, id, &result, limit);
                    if let Err(error) = &result {
                        self.errors.push(error.clone());
                    }
                    let completed = JobCompleted { id, result };
                    let written = crate::runtime::context::with_world(lua, |world| {
                        world.write_message(completed)
                    });
                    if let Err(error) = written {
                        self.errors.push(
                            ScriptError::from_lua("bevy_luau", &error, None)
                                .with_origin(ErrorOrigin::Crate),
                        );
                    }
                }
                Action::CVarChanged(change) => self.cvar_changed(lua, change),
                Action::Command(command) => {
                    if let Err(error) = crate::api::commands::apply_one(lua, command) {
                        self.errors
                            .push(ScriptError::from_lua("worker commands", &error, None));
                    }
                }
            }
        }
    }

    /// A CVar changed: its `cvar.on_change` handlers run with `(name, old, new)`, the
    /// [`CVarChanged`] message goes out, and an ARCHIVE CVar is saved to the CVar file.
    fn cvar_changed(&mut self, lua: &Lua, change: CVarChanged) {
        let handlers = callbacks::take(lua, List::CVar(&change.name));
        if !handlers.is_empty() {
            let args = (
                crate::api::cvar::to_lua(lua, &change.old),
                crate::api::cvar::to_lua(lua, &change.new),
            );
            match args {
                (Ok(old), Ok(new)) => {
                    for handler in handlers.iter().filter(|h| h.is_alive()) {
                        let site = Site::CVar(&change.name);
                        self.call::<()>(handler, site, (change.name.as_str(), &old, &new));
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    self.errors
                        .push(ScriptError::from_lua(&change.name, &error, None))
                }
            }
        }
        callbacks::restore(lua, List::CVar(&change.name), handlers);
        let saved = crate::runtime::context::with_world(lua, |world| {
            let registry = world.get_resource::<CVarRegistry>()?;
            let archived = registry
                .cvar(&change.name)
                .is_some_and(|c| c.flags.contains(CVarFlags::ARCHIVE));
            let saved = archived.then(|| registry.save());
            world.write_message(change);
            saved
        });
        match saved {
            Ok(Some(Err(error))) => self.errors.push(error),
            Err(error) => self.errors.push(
                ScriptError::from_lua("bevy_luau", &error, None).with_origin(ErrorOrigin::Crate),
            ),
            Ok(_) => {}
        }
    }

    fn run_hooks(&mut self, lua: &Lua, delta: f64) {
        let hooks = callbacks::take(lua, List::Update);
        for hook in hooks.iter().filter(|h| h.is_alive()) {
            self.call::<()>(hook, Site::Hook, delta);
        }
        callbacks::restore(lua, List::Update, hooks);
    }

    fn deliver_events(&mut self, lua: &Lua) {
        let mut buffer = std::mem::take(&mut self.event_buffer);
        let mut messages = Vec::new();
        let cursor = &mut self.events;
        let sources = &mut self.message_sources;
        let read = crate::runtime::context::with_world(lua, |world| {
            if let Some(events) = world.get_resource::<Messages<ScriptEvent>>() {
                buffer.extend(cursor.read(events).cloned());
            }
            let mut values = Vec::new();
            for (name, source) in sources.iter_mut() {
                source.read(lua, world, &mut values);
                messages.extend(values.drain(..).map(|v| (name.clone(), v)));
            }
        });
        if let Err(error) = read {
            self.errors.push(
                ScriptError::from_lua("bevy_luau", &error, None).with_origin(ErrorOrigin::Crate),
            );
        }
        for event in buffer.drain(..) {
            self.dispatch_event(lua, &event.name, &event.payload);
        }
        self.event_buffer = buffer;
        for (name, message) in messages {
            match message {
                Ok(payload) => {
                    self.dispatch_lua_event(lua, &name, &payload);
                }
                Err(error) => self.errors.push(ScriptError::in_crate(
                    ScriptErrorKind::TypeMismatch,
                    format!("message `{name}` cannot reach Lua: {error}"),
                )),
            }
        }
    }

    /// Runs the handlers of one event; returns whether one consumed it and the first error.
    fn dispatch_event(
        &mut self,
        lua: &Lua,
        name: &str,
        payload: &ScriptValue,
    ) -> (bool, Option<ScriptError>) {
        match crate::vm::converting(lua, || payload.clone().into_lua(lua)) {
            Ok(payload) => self.dispatch_lua_event(lua, name, &payload),
            Err(error) => {
                let message = format!("event `{name}`: the payload cannot reach Lua: {error}");
                let error = ScriptError::in_crate(ScriptErrorKind::TypeMismatch, message);
                self.errors.push(error.clone());
                (false, Some(error))
            }
        }
    }

    /// Runs the `events.on` handlers of one event, then the entity scripts' `on_event` unless a
    /// handler consumed it; returns whether one consumed it and the first error.
    fn dispatch_lua_event(
        &mut self,
        lua: &Lua,
        name: &str,
        payload: &Value,
    ) -> (bool, Option<ScriptError>) {
        let errors_before = self.errors.len();
        let handlers = callbacks::take(lua, List::Event(name));
        let mut consumed = false;
        for handler in handlers.iter().filter(|h| h.is_alive()) {
            if let Some(Value::Boolean(true)) =
                self.call::<Value>(handler, Site::Event(name), payload)
            {
                consumed = true;
                break;
            }
        }
        callbacks::restore(lua, List::Event(name), handlers);
        let limit = self.config.limits();
        if !consumed {
            consumed = entity_scripts::event(lua, name, payload, limit);
        }
        if !consumed && !self.actors.vms().is_empty() {
            consumed = self.actor_event(lua, name, payload);
        }
        if let Some(mut sink) = lua.app_data_mut::<ErrorSink>() {
            self.errors.append(&mut sink.0);
        }
        (consumed, self.errors.get(errors_before).cloned())
    }

    /// Runs the actors' `on_event` for one event no handler of the main VM consumed, each actor
    /// VM in turn with its own copy of the payload; returns whether one consumed it.
    fn actor_event(&mut self, lua: &Lua, name: &str, payload: &Value) -> bool {
        let limit = self.config.limits();
        let payload =
            match crate::vm::converting(lua, || ScriptValue::from_lua(payload.clone(), lua)) {
                Ok(payload) => payload,
                Err(error) => {
                    self.errors.push(ScriptError::in_crate(
                        ScriptErrorKind::TypeMismatch,
                        format!("event `{name}`: the payload cannot reach the actor VMs: {error}"),
                    ));
                    return false;
                }
            };
        for vm in 0..self.actors.vms().len() {
            let ran = self.actors.with_vm(lua, vm, |actor| {
                match crate::vm::converting(actor, || payload.clone().into_lua(actor)) {
                    Ok(payload) => Ok(entity_scripts::event(actor, name, &payload, limit)),
                    Err(error) => Err(ScriptError::in_crate(
                        ScriptErrorKind::TypeMismatch,
                        format!("event `{name}`: the payload cannot reach the actor VMs: {error}"),
                    )),
                }
            });
            match ran {
                Ok(Ok(true)) => return true,
                Ok(Ok(false)) => {}
                Ok(Err(error)) | Err(error) => self.errors.push(error),
            }
        }
        false
    }

    /// Calls one callback with a fresh instruction budget; an error is recorded, not returned.
    fn call<R: FromLuaMulti>(
        &mut self,
        callback: &Callback,
        site: Site<'_>,
        args: impl IntoLuaMulti,
    ) -> Option<R> {
        let caller = Caller {
            script: callback.owner.id,
            entity: None,
        };
        let limit = self.config.limits();
        let call = || crate::debug::call::<R>(&self.lua, &callback.function, args);
        let (result, exhausted) = call_as(&self.lua, Some(caller), Some(site), limit, call);
        result
            .map_err(|error| {
                report(
                    &self.lua,
                    ScriptError::from_lua(&callback.owner.path, &error, exhausted),
                )
            })
            .ok()
    }

    /// Logs the step's errors, each place's first in full and its repeats once a second (see
    /// `ErrorLog`).
    fn log_errors(&mut self) {
        let now = Instant::now();
        for repeated in self.error_log.expire(now) {
            tracing::error!(
                target: "bevy_luau",
                script = %repeated.script,
                kind = ?repeated.kind,
                "{repeated}"
            );
        }
        for error in &self.errors {
            if self.error_log.admit(error, now) {
                crate::api::log::say_when_unheard();
                tracing::error!(
                    target: "bevy_luau",
                    script = %error.script,
                    kind = ?error.kind,
                    "{}", error.message
                );
            }
        }
    }

    /// Logs the step's errors and writes them as [`ScriptError`] messages.
    pub(crate) fn flush_errors(&mut self, world: &mut World) {
        for lua in std::iter::once(&self.lua).chain(self.actors.vms()) {
            if let Some(mut sink) = lua.app_data_mut::<ErrorSink>() {
                self.errors.append(&mut sink.0);
            }
        }
        if self.config.profiling && !self.errors.is_empty() {
            let mut profiles = world.get_resource_or_init::<ScriptProfiles>();
            // Job, CVar, console and crate errors are not a script's (a job's failures are
            // counted with the job).
            for error in self
                .errors
                .iter()
                .filter(|e| e.origin == ErrorOrigin::Script)
            {
                profiles.add_error(&error.script);
            }
        }
        if !self.errors.is_empty() || !self.error_log.is_empty() {
            self.log_errors();
        }
        if !self.errors.is_empty() {
            world.write_message_batch(self.errors.drain(..));
        }
        // Without the plugin's message registration (an engine driven by hand), nobody reads
        // these.
        if let Some(mut messages) = world.get_resource_mut::<Messages<ScriptLoaded>>() {
            messages.write_batch(self.loaded.drain(..));
        } else {
            self.loaded.clear();
        }
    }
}
