//! Sandboxed, hot-reloading Luau scripting for Bevy.
//!
//! # Quick start
//!
//! Add [`LuauScriptingPlugin`](struct@LuauScriptingPlugin) next to Bevy's task pool, time and
//! asset plugins (all part of `DefaultPlugins`), then load global scripts from the asset folder:
//!
//! ```
//! use bevy_app::{App, TaskPoolPlugin};
//! use bevy_asset::AssetPlugin;
//! use bevy_luau::prelude::*;
//! use bevy_time::TimePlugin;
//!
//! let mut app = App::new();
//! app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
//!     .add_plugins(LuauScriptingPlugin)
//!     .add_script("scripts/hello.luau");
//! app.update();
//! # assert!(app.world().contains_resource::<ScriptEngine>());
//! ```
//! A real game calls `app.run()` instead of `app.update()`. With Bevy's umbrella crate the
//! plugins are `(DefaultPlugins, LuauScriptingPlugin)`. `LuauScriptingPlugin` is also the
//! constant of the plugin with its defaults; the struct's fields change them:
//! `LuauScriptingPlugin { workers: Some(4), ..Default::default() }`.
//!
//! # Hooks
//!
//! A global script runs its top level once, when it loads. There it registers what should run
//! later: `hooks.on_update(function(dt) end)` runs every frame, `events.on(name, handler)` runs
//! when an event is emitted. Both return a connection with `:disconnect()`.
//!
//! One exclusive system in the [`ScriptingSystem`] set runs the scripting step, each frame in
//! `Update` or at each tick of the schedule given to
//! [`LuauScriptingPlugin::in_schedule`] (`FixedUpdate`, say):
//! 1. asset events: new scripts load and changed ones hot-reload, entity scripts spawn;
//! 2. the action queue in the order it was sent (job results, CVar changes, worker commands);
//! 3. due `task` coroutines;
//! 4. `hooks.on_update` callbacks in the order they were registered, then entity scripts'
//!    `on_update`;
//! 5. [`ScriptEvent`]s and registered messages, delivered to `events.on` handlers;
//! 6. `task.defer`red coroutines, then deferred `commands` in the order they were issued.
//!
//! From an exclusive Rust system, [`ScriptEngine::emit`] runs an event's handlers at once and
//! tells whether one of them consumed the event.
//!
//! # The world from Lua
//!
//! The `ecs` library reads and writes components and resources by short type name:
//! `ecs.get(e, "Health")`, `ecs.set(e, "Health", {current = 70, max = 100})`,
//! `ecs.query("Health", "Enemy")`, `ecs.resource("Score")`. Types reach Lua in two ways: serde
//! types through [`ScriptingAppExt::register_script_component`] (and `_resource`), and any type
//! registered for reflection with `#[reflect(Component)]` or `#[reflect(Resource)]` without
//! further setup. The `transform` library (feature `transform`) moves entities with native
//! vectors, and [`ScriptingAppExt::register_script_message`] turns a Bevy message into a Lua
//! event in both directions. `commands.*` defers a change to the end of the step.
//! [`typedefs`] describes all of it to the editor: a luau-lsp definitions file generated from
//! the running app.
//!
//! # Entity scripts
//!
//! A [`Script`] component attaches a script that returns a table of methods. Each entity gets
//! its own instance as `self` (with `self.entity`): `on_spawn`, `on_update(dt)`,
//! `on_event(name, payload)` and `on_despawn` run for it.
//!
//! ```lua
//! local Enemy = {}
//! function Enemy:on_spawn() self.hp = 10 end
//! function Enemy:on_update(dt) transform.translate(self.entity, vector.create(0, 0, dt)) end
//! return Enemy
//! ```
//!
//! # Tasks
//!
//! The `task` library runs coroutines across frames, as Roblox's does: `task.spawn(f)` starts
//! one now, `task.wait([seconds])` inside it sleeps until the next step or for that much game
//! time, `task.delay`, `task.defer` and `task.cancel` schedule and stop them. Tasks started by
//! an entity script end when the entity despawns; a global script's tasks end when it reloads.
//!
//! ```lua
//! task.spawn(function()
//!     while true do
//!         log.info("tick")
//!         task.wait(1)
//!     end
//! end)
//! ```
//!
//! # Jobs
//!
//! A [`StatePool`] of sandboxed worker VMs runs jobs on Bevy's `AsyncComputeTaskPool`. Worker
//! scripts (`app.add_worker_script`) define them with `jobs.define(name, function(args) end)`;
//! main-VM scripts start them with `jobs.run(name, args)` and get the result through
//! `job:await()` inside a task or `job:on_complete(function(ok, result) end)`. Rust uses the
//! [`ScriptRunner`] and reads [`JobCompleted`] messages. Workers never touch the world: they
//! return [`ScriptValue`]s and issue `commands.*`, which come back through the bounded
//! [`ActionQueue`] and apply in order at stage 2 of the step.
//!
//! # CVars and the console
//!
//! Console variables ([`CVarRegistry`]) are typed, ranged and flagged (`ARCHIVE` persists them
//! in a TOML file, `READ_ONLY`, `CHEAT`). Register them with `app.register_cvar` or Lua's
//! `cvar.register`; every change reaches Lua's `cvar.on_change` handlers and the
//! [`CVarChanged`] message in the next scripting step. The [`Console`] runs command lines
//! (`set`, `get`, `toggle`, `reset`, `list`, `help`, `exec`, `lua`) and commands added with
//! `app.add_console_command` or Lua's `console.register`.
//!
//! # Hot reload
//!
//! Scripts are [`LuauScript`] assets. With the `hot-reload` feature (on by default) Bevy's file
//! watcher notices when a script changes; the new version runs, and the hooks and handlers of
//! the old one are dropped. When the new version fails to compile or its top level errors, the
//! old version stays active and a [`ScriptError`] is sent. An entity script's new methods reach
//! every instance at once, and each instance keeps its fields. Editing a module that a script
//! `require`s reloads that script.
//!
//! # The sandbox
//!
//! Every script runs in Luau's sandbox mode with a global table of its own: two scripts that
//! define the same global never see each other's. There is no `io`, no `os.execute`, no
//! `loadfile` or `dofile`, and `loadstring` takes source text only; `require` resolves paths
//! inside the asset folder, relative to the requiring script. [`ScriptConfig`] limits each VM's
//! memory and each call's instructions: a runaway script stops with a [`ScriptError`] of kind
//! [`ScriptErrorKind::InstructionLimit`] or [`ScriptErrorKind::MemoryLimit`], and the frame goes
//! on. Errors are logged and sent as [`ScriptError`] messages; they never panic the app.

pub mod api;
/// The [`LuauScript`] asset and its loader.
pub mod asset;
pub mod console;
pub mod cvar;
/// The main-thread engine: [`ScriptEngine`], the scripting step, hooks and hot reload.
pub mod engine;
/// [`ScriptError`] and [`ScriptErrorKind`].
pub mod error;
/// The fast path of world access, written against Luau's C API.
#[expect(
    unsafe_code,
    reason = "the fast path and the interrupt call Luau's C API; the module docs give the argument"
)]
pub(crate) mod fast;
/// [`LuauScriptingPlugin`](struct@LuauScriptingPlugin), [`ScriptingSystem`] and [`ScriptingAppExt`].
pub mod plugin;
pub mod pool;
pub mod queue;
pub(crate) mod reflect;
/// [`ScriptRegistry`](registry::ScriptRegistry): the components, resources and messages Lua reaches by name.
pub mod registry;
pub mod runner;
pub(crate) mod runtime;
/// Reading serde types from Lua tables by field name.
mod serde_lua;
mod suggest;
pub mod template;
/// Luau type definitions for luau-lsp, generated from the running app.
pub mod typedefs;
/// [`ScriptValue`], the dynamic value that crosses between Lua and Rust.
pub mod value;
/// Sandboxed VMs and [`ScriptConfig`].
pub mod vm;

pub use api::events::ScriptEvent;
pub use asset::Script;
pub use asset::{LuauScript, LuauScriptLoader};
pub use console::{Console, ConsoleError};
pub use cvar::{CVar, CVarChanged, CVarFlags, CVarRegistry, CVarValue, CVarValueError};
pub use engine::ScriptEngine;
pub use error::{ErrorOrigin, ScriptError, ScriptErrorKind};
pub use plugin::{LuauScriptingPlugin, ScriptingAppExt, ScriptingSystem};
pub use pool::{PoolLease, StatePool};
pub use queue::ScriptCommand;
pub use queue::{Action, ActionQueue, JobId};
pub use registry::ScriptRegistry;
pub use runner::{JobCompleted, ScriptRunner};
pub use template::GameTemplate;
pub use value::ScriptValue;
pub use vm::ScriptConfig;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The most common types, re-exported: `use bevy_luau::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Action, ActionQueue, CVar, CVarChanged, CVarFlags, CVarRegistry, CVarValue, CVarValueError,
        Console, ConsoleError, ErrorOrigin, GameTemplate, JobCompleted, JobId, LuauScript,
        LuauScriptingPlugin, Script, ScriptCommand, ScriptConfig, ScriptEngine, ScriptError,
        ScriptErrorKind, ScriptEvent, ScriptRegistry, ScriptRunner, ScriptValue, ScriptingAppExt,
        ScriptingSystem, StatePool,
    };
}
