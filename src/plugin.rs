//! [`LuauScriptingPlugin`](struct@LuauScriptingPlugin), the [`ScriptingSystem`] set and the [`ScriptingAppExt`] trait.

use crate::api::events::ScriptEvent;
use crate::asset::{LuauScript, LuauScriptLoader, ScriptLoaded};
use crate::console::{Console, ConsoleError};
use crate::cvar::{CVar, CVarChanged, CVarFlags, CVarRegistry, CVarValue};
use crate::engine::ScriptEngine;
use crate::engine::scripts::ScriptRequests;
use crate::error::ScriptError;
use crate::function::registration::ScriptFunctions;
use crate::pool::StatePool;
use crate::queue::ActionQueue;
use crate::registry::ScriptRegistry;
use crate::runner::{JobCompleted, ScriptRunner};
use crate::vm::ScriptConfig;
use bevy_app::{App, Plugin, Update};
use bevy_asset::{AssetApp, AssetServer};
use bevy_ecs::change_detection::CheckChangeTicks;
use bevy_ecs::component::{Component, Mutable};
use bevy_ecs::message::Message;
use bevy_ecs::observer::On;
use bevy_ecs::resource::Resource;
use bevy_ecs::schedule::{InternedScheduleLabel, IntoScheduleConfigs, ScheduleLabel, SystemSet};
use bevy_ecs::system::{Local, Res};
use bevy_ecs::world::{Mut, World};
use bevy_tasks::AsyncComputeTaskPool;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// Adds Luau scripting to an app: the [`ScriptEngine`], the [`LuauScript`] asset and the
/// [`ScriptingSystem`] that runs scripts each frame.
///
/// It needs Bevy's `TaskPoolPlugin`, `TimePlugin` and `AssetPlugin`, all part of
/// `DefaultPlugins` and of the sub-crates the examples use.
#[derive(Debug, Clone)]
pub struct LuauScriptingPlugin {
    /// Sandbox limits and compiler settings for every VM. Default: [`ScriptConfig::default`].
    pub config: ScriptConfig,
    /// How many worker VMs the worker pool runs; `None` means as many as the async compute
    /// task pool has threads. Bevy's default `TaskPoolPlugin` gives that pool a quarter of the
    /// cores (at least one), so set this, or the plugin's `TaskPoolOptions`, to use more.
    /// Default: `None`.
    pub workers: Option<usize>,
    /// How many actions the action queue from workers to the main thread holds before producers
    /// wait. Default: 256.
    pub queue_capacity: usize,
    /// A game template folder (`game.toml` and `scripts/`) to load at startup. Default: `None`.
    pub template: Option<PathBuf>,
    /// The schedule the scripting step runs in; `None` means `Update`. In `FixedUpdate`, game
    /// logic runs at the fixed timestep: `time.delta()`, the `dt` of hooks and entity scripts,
    /// and `task.wait` all count the fixed clock, since Bevy's `Time` is the fixed one there.
    /// Set it with [`in_schedule`](LuauScriptingPlugin::in_schedule). Default: `None`.
    pub schedule: Option<InternedScheduleLabel>,
    /// How many actor VMs hold the instances of [`ScriptActor`](crate::ScriptActor) entity
    /// scripts and run them in the parallel phase; `None` means one per thread that can run
    /// the phase: the compute task pool's threads plus the main thread (2 on a 2-core machine
    /// with Bevy's default `TaskPoolPlugin`). Actor VMs are apart from the job pool's
    /// `workers`, so jobs never wait on the phase. Default: `None`.
    pub actors: Option<usize>,
}

impl LuauScriptingPlugin {
    /// The plugin with every setting at its default, as a constant.
    pub const DEFAULT: Self = Self {
        config: ScriptConfig::DEFAULT,
        workers: None,
        queue_capacity: 256,
        template: None,
        schedule: None,
        actors: None,
    };

    /// The plugin running the scripting step in `schedule` instead of `Update`:
    ///
    /// ```
    /// # use bevy_app::{App, FixedUpdate, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin.in_schedule(FixedUpdate));
    /// ```
    pub fn in_schedule(self, schedule: impl ScheduleLabel) -> Self {
        Self {
            schedule: Some(schedule.intern()),
            ..self
        }
    }
}

impl Default for LuauScriptingPlugin {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The plugin with its defaults, as a value, so that the plugin is added the way Bevy's unit
/// plugins are:
///
/// ```
/// # use bevy_app::{App, TaskPoolPlugin};
/// # use bevy_asset::AssetPlugin;
/// # use bevy_time::TimePlugin;
/// use bevy_luau::prelude::*;
///
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins(LuauScriptingPlugin);
/// # app.finish();
/// # assert!(app.world().contains_resource::<ScriptEngine>());
/// ```
///
/// Rust keeps types and values in separate namespaces, so this constant and the
/// [struct](struct@LuauScriptingPlugin) share the name: `LuauScriptingPlugin::default()` and
/// `LuauScriptingPlugin { workers: Some(4), ..Default::default() }` name the struct as before.
#[expect(
    non_upper_case_globals,
    reason = "the value is named like the type it is, as a unit struct's would be"
)]
pub const LuauScriptingPlugin: LuauScriptingPlugin = LuauScriptingPlugin::DEFAULT;

/// The system set of the one exclusive system that runs the scripting step, in `Update` or in
/// the schedule given to [`LuauScriptingPlugin::in_schedule`].
///
/// Order your systems against it: Rust systems that write [`ScriptEvent`]s for Lua to handle
/// in the same frame run `.before(ScriptingSystem)`; systems that read what scripts did run
/// `.after(ScriptingSystem)`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScriptingSystem;

impl Plugin for LuauScriptingPlugin {
    fn build(&self, app: &mut App) {
        // Every `ScriptingAppExt` method may run before the plugin is added: keep what they
        // registered, and give CVars registered early the queue their changes go to.
        let queue = ActionQueue::new(self.queue_capacity);
        match app.world_mut().get_resource_mut::<CVarRegistry>() {
            Some(mut registry) => registry.announce_to(queue.clone()),
            None => {
                app.insert_resource(CVarRegistry::new(Some(queue.clone())));
            }
        }
        app.insert_resource(queue).init_resource::<Console>();
        register_asset(app);
        crate::engine::entity_scripts::init(app.world_mut());
        app.add_message::<ScriptError>()
            .add_message::<ScriptEvent>()
            .add_message::<JobCompleted>()
            .add_message::<CVarChanged>()
            .add_message::<ScriptLoaded>()
            .add_message::<crate::ScriptBudgetExceeded>()
            .add_message::<crate::ScriptProfileReport>()
            .init_resource::<crate::ScriptProfiles>()
            .insert_resource(self.config.clone())
            .insert_resource(WorkerSettings {
                workers: self.workers,
                queue_capacity: self.queue_capacity,
                actors: self.actors,
            })
            .init_resource::<ScriptRequests>()
            .init_resource::<ScriptRegistry>()
            .init_resource::<ScriptFunctions>()
            .add_observer(check_function_ticks)
            .add_systems(
                self.schedule.unwrap_or_else(|| Update.intern()),
                scripting_step.in_set(ScriptingSystem),
            );
        // Scripts spawn actors with `ecs.spawn({ Script = "...", ScriptActor = {} })`; with
        // `reflect_auto_register` the type is registered already, this is for apps without it.
        app.register_type::<crate::ScriptActor>();
    }

    fn finish(&self, app: &mut App) {
        // Here rather than in `build`, so the plugin works whatever order plugins are added in.
        register_asset(app);
        #[cfg(feature = "hot-reload")]
        crate::watch::install(app);
        if let Some(dir) = &self.template {
            apply_template(app.world_mut(), dir);
        }
        create_engine(app.world_mut());
    }
}

/// Loads a game template from the asset folder: its scripts, worker scripts and CVars.
fn apply_template(world: &mut World, dir: &std::path::Path) {
    let root = dir
        .to_string_lossy()
        .replace('\\', "/")
        .trim_end_matches('/')
        .to_owned();
    let loaded = match world.get_resource::<AssetServer>() {
        Some(server) => crate::template::load_from_assets(server, &root),
        None => Err(ScriptError::new(
            root.as_str(),
            crate::error::ScriptErrorKind::MissingPlugin,
            "game templates are read through Bevy's AssetPlugin",
        )),
    };
    let template = match loaded {
        Ok(template) => template,
        Err(error) => {
            tracing::error!(target: "bevy_luau", "{error}");
            world.write_message(error);
            return;
        }
    };
    {
        let mut requests = world.get_resource_or_init::<ScriptRequests>();
        requests
            .global
            .extend(template.scripts.iter().map(|s| format!("{root}/{s}")));
        requests
            .worker
            .extend(template.workers.iter().map(|s| format!("{root}/{s}")));
    }
    if let Some(mut registry) = world.get_resource_mut::<CVarRegistry>() {
        for (name, value) in &template.cvars {
            let result = if registry.cvar(name).is_some() {
                registry.set_unchecked(name, value.clone())
            } else {
                registry.register(
                    name,
                    CVar::new(value.clone(), "from game.toml", CVarFlags::empty()),
                )
            };
            if let Err(error) = result {
                tracing::error!(target: "bevy_luau", "{error}");
            }
        }
    }
    tracing::info!(target: "bevy_luau", "game `{}` {} loaded from {root}", template.name, template.version);
    world.insert_resource(template);
}

/// The worker settings of the plugin, kept until the pool is created.
#[derive(Resource, Clone, Copy)]
struct WorkerSettings {
    workers: Option<usize>,
    queue_capacity: usize,
    actors: Option<usize>,
}

/// Creates the [`ActionQueue`], [`StatePool`], [`ScriptRunner`] and [`ScriptEngine`] from the
/// plugin's settings, once.
fn create_engine(world: &mut World) -> bool {
    if world.contains_resource::<ScriptEngine>() {
        return true;
    }
    let (Some(config), Some(settings)) = (
        world.get_resource::<ScriptConfig>().cloned(),
        world.get_resource::<WorkerSettings>().copied(),
    ) else {
        return false;
    };
    let queue = world
        .get_resource::<ActionQueue>()
        .cloned()
        .unwrap_or_else(|| ActionQueue::new(settings.queue_capacity));
    let cvars = world
        .get_resource::<CVarRegistry>()
        .map(CVarRegistry::snapshot)
        .unwrap_or_default();
    let workers = settings
        .workers
        .unwrap_or_else(|| AsyncComputeTaskPool::try_get().map_or(1, |pool| pool.thread_num()));
    let assets = world.get_resource::<AssetServer>().cloned();
    let functions = ScriptFunctions::build(world);
    let created = StatePool::create(
        workers,
        &config,
        queue.clone(),
        cvars,
        assets.clone(),
        functions.clone(),
    )
    .and_then(|pool| {
        let actors = settings
            .actors
            .unwrap_or_else(crate::engine::actors::default_count);
        let engine = ScriptEngine::create(&config, assets, &functions, actors)?;
        Ok((pool, engine))
    });
    match created {
        Ok((pool, mut engine)) => {
            let runner = ScriptRunner::new(pool.clone(), queue.clone());
            engine.attach_runner(runner.clone());
            crate::console::attach(&mut engine);
            world.insert_resource(queue);
            world.insert_resource(pool);
            world.insert_resource(runner);
            world.insert_resource(engine);
            true
        }
        Err(error) => {
            tracing::error!(target: "bevy_luau", "could not create the script engine: {error}");
            world.write_message(error);
            false
        }
    }
}

/// Registers the asset and its loader once the asset server exists.
fn register_asset(app: &mut App) {
    let has_server = app.world().contains_resource::<AssetServer>();
    let registered = app
        .world()
        .contains_resource::<bevy_asset::Assets<LuauScript>>();
    if has_server && !registered {
        app.init_asset::<LuauScript>()
            .register_asset_loader(LuauScriptLoader);
    }
}

/// Keeps the change ticks of the game's system functions current, as schedules do for theirs.
fn check_function_ticks(check: On<CheckChangeTicks>, functions: Option<Res<ScriptFunctions>>) {
    if let Some(functions) = functions {
        functions.check_change_ticks(*check);
    }
}

/// The exclusive system of [`ScriptingSystem`].
fn scripting_step(world: &mut World, mut warned: Local<bool>) {
    let ran = world.try_resource_scope(|world, mut engine: Mut<ScriptEngine>| engine.step(world));
    // An app driven by `app.update()` alone never ran `Plugin::finish`: create the engine now.
    if ran.is_none() && !*warned && create_engine(world) {
        return;
    }
    if ran.is_none() && !*warned {
        *warned = true;
        tracing::warn!(
            target: "bevy_luau",
            "the scripting step found no ScriptEngine: add LuauScriptingPlugin (and AssetPlugin) to the app"
        );
    }
}

/// Sets up scripting from the `App`. Every method returns `&mut App` for chaining, and works
/// whether it is called before or after [`LuauScriptingPlugin`](struct@LuauScriptingPlugin) is
/// added.
pub trait ScriptingAppExt {
    /// Loads the global script at `path` (relative to the asset folder) at startup; it
    /// hot-reloads when the file changes. Adding the same path twice loads it once.
    fn add_script(&mut self, path: impl Into<String>) -> &mut Self;

    /// Loads the worker script at `path` into every worker VM of the [`StatePool`]; it
    /// defines jobs with `jobs.define` and hot-reloads like any script. Adding the same path
    /// twice loads it once.
    fn add_worker_script(&mut self, path: impl Into<String>) -> &mut Self;

    /// Registers a console variable with its default (whose type is the CVar's type), a
    /// description and flags. Registering a name again keeps its value and updates the rest; a
    /// registration that fails (a bad name, another type) is logged as an error.
    fn register_cvar(
        &mut self,
        name: &str,
        default: impl Into<CVarValue>,
        description: &str,
        flags: CVarFlags,
    ) -> &mut Self;

    /// Adds a console command written in Rust; `handler` gets the world and the arguments and
    /// returns the output, or a [`ConsoleError`]. `&str` and `String` convert into one, so `?`
    /// works on `Option::ok_or("...")` and `map_err(|e| e.to_string())`. Adding a name again
    /// replaces the command.
    fn add_console_command(
        &mut self,
        name: &str,
        help: &str,
        handler: impl Fn(&mut World, &[String]) -> Result<String, ConsoleError> + Send + Sync + 'static,
    ) -> &mut Self;

    /// Makes the serde component `T` reachable from Lua under its short type name
    /// (`ecs.get(e, "Health")`). Registering it twice is a no-op. Components registered for
    /// reflection with `#[reflect(Component)]` are reachable without this call. Scripts write
    /// components, so `T` must be mutable (not `#[component(immutable)]`).
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_ecs::prelude::*;
    /// use bevy_luau::prelude::*;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Component, Serialize, Deserialize)]
    /// struct Health {
    ///     current: f32,
    ///     max: f32,
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .register_script_component::<Health>();
    /// app.finish();
    /// assert_eq!(app.world().resource::<ScriptRegistry>().component_names(), ["Health"]);
    ///
    /// // Lua reaches it, here through the console's `lua` command.
    /// app.world_mut().spawn(Health { current: 70.0, max: 100.0 });
    /// let lua = "lua ecs.get(ecs.query('Health')[1], 'Health').current";
    /// assert_eq!(Console::execute(app.world_mut(), lua), Ok("70".into()));
    /// ```
    fn register_script_component<
        T: Component<Mutability = Mutable> + Serialize + DeserializeOwned,
    >(
        &mut self,
    ) -> &mut Self;

    /// Makes the serde resource `T` reachable from Lua under its short type name
    /// (`ecs.resource("Score")`). Registering it twice is a no-op. Resources registered for
    /// reflection with `#[reflect(Resource)]` are reachable without this call.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_ecs::prelude::*;
    /// use bevy_luau::prelude::*;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Resource, Serialize, Deserialize)]
    /// struct Score {
    ///     points: u32,
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .insert_resource(Score { points: 12 })
    ///     .register_script_resource::<Score>();
    /// app.finish();
    /// assert_eq!(app.world().resource::<ScriptRegistry>().resource_names(), ["Score"]);
    ///
    /// // Lua reaches it, here through the console's `lua` command.
    /// let lua = "lua ecs.resource('Score').points";
    /// assert_eq!(Console::execute(app.world_mut(), lua), Ok("12".into()));
    /// ```
    fn register_script_resource<T: Resource + Serialize + DeserializeOwned>(&mut self)
    -> &mut Self;

    /// Adds the Bevy message `T` to the app and makes it a Lua event under its short type name:
    /// `events.emit("Damage", {...})` writes a `T`, and every `T` written by Rust reaches Lua's
    /// `events.on("Damage", ...)` handlers in the next scripting step. Registering it twice is a
    /// no-op.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_ecs::prelude::*;
    /// use bevy_luau::prelude::*;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Message, Serialize, Deserialize)]
    /// struct Damage {
    ///     amount: f32,
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .register_script_message::<Damage>();
    /// app.finish();
    /// assert_eq!(app.world().resource::<ScriptRegistry>().message_names(), ["Damage"]);
    ///
    /// // Lua writes one, here through the console's `lua` command.
    /// let lua = "lua events.emit('Damage', {amount = 5})";
    /// assert_eq!(Console::execute(app.world_mut(), lua), Ok(String::new()));
    /// let messages = app.world().resource::<Messages<Damage>>();
    /// let amounts: Vec<f32> = messages.iter_current_update_messages().map(|d| d.amount).collect();
    /// assert_eq!(amounts, [5.0]);
    /// ```
    fn register_script_message<T: Message + Serialize + DeserializeOwned>(&mut self) -> &mut Self;

    /// Gives scripts a function of the game's own, `name` being `"library.function"`: a Bevy
    /// system whose input is `In<A>` (`In<T>` for one argument, `In<(A, B)>` for several,
    /// `In<()>` or no input for none) and whose output is what the call returns (`()`, a value,
    /// a tuple for several results, `Option<T>`, or `Result<T, E: Display>`, whose `Err` is a
    /// Lua error). Its other parameters are ordinary system parameters (`Query`, `Res`,
    /// `Commands`, `Local`, ...).
    ///
    /// The system runs at once, inside the calling script, with the world the scripting step
    /// lends; `Commands` are applied before the call returns, and `Local`s keep their values
    /// across calls. The argument and result types are listed at [`FromScript`](crate::FromScript);
    /// [`Serde`](crate::Serde) carries any serde type. Give it a doc string with
    /// [`.doc("...")`](crate::ScriptFunctionDoc::doc); the generated definitions and the
    /// console's `help` show it. Only the main VM's scripts call it: worker scripts get a
    /// function that says so (see [`add_worker_script_function`](Self::add_worker_script_function)).
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_ecs::prelude::*;
    /// use bevy_luau::prelude::*;
    ///
    /// #[derive(Component)]
    /// struct Gold(u32);
    ///
    /// /// Pays `amount` from `from`'s gold; false when it has too little.
    /// fn pay(In((from, amount)): In<(Entity, u32)>, mut gold: Query<&mut Gold>) -> Result<bool, String> {
    ///     let mut gold = gold.get_mut(from).map_err(|e| e.to_string())?;
    ///     if gold.0 < amount {
    ///         return Ok(false);
    ///     }
    ///     gold.0 -= amount;
    ///     Ok(true)
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .add_script_function("shop.pay", pay.doc("Pays from an entity's gold."))
    ///     .add_script_function("shop.double", |In(x): In<f64>| x * 2.0);
    /// app.finish();
    ///
    /// let buyer = app.world_mut().spawn(Gold(10)).id();
    /// let lua = format!("lua shop.pay({}, 4), shop.double(21)", buyer.to_bits());
    /// assert_eq!(Console::execute(app.world_mut(), &lua), Ok("true\t42".into()));
    /// assert_eq!(app.world().get::<Gold>(buyer).unwrap().0, 6);
    /// ```
    ///
    /// # Panics
    ///
    /// Like Bevy's duplicate plugins, a mistake in the app's setup panics, with a message that
    /// names the function: a `name` that is not `library.function`, a library that scripts have
    /// already (`ecs`, `math`, ...), a name registered twice (by either method), or a call made
    /// after the script VMs were made (by `app.finish()` or the first update).
    fn add_script_function<M>(
        &mut self,
        name: &str,
        system: impl crate::IntoScriptFunction<M>,
    ) -> &mut Self;

    /// Gives every VM, worker VMs included, a plain function of the game's own under `name`
    /// (`"library.function"`): `Fn(A) -> R` (or `Fn() -> R`) where `A` is one argument or a
    /// tuple of several, and `R` what the call returns, as for
    /// [`add_script_function`](Self::add_script_function). It sees no world, so worker jobs can
    /// call it as well as the main VM's scripts.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .add_worker_script_function(
    ///         "nav.cost",
    ///         (|(a, b): (f64, f64)| (a - b).abs()).doc("The cost of a step from a to b."),
    ///     );
    /// app.finish();
    /// assert_eq!(Console::execute(app.world_mut(), "lua nav.cost(3, 10)"), Ok("7".into()));
    /// ```
    ///
    /// # Panics
    ///
    /// As [`add_script_function`](Self::add_script_function).
    fn add_worker_script_function<M>(
        &mut self,
        name: &str,
        function: impl crate::IntoWorkerScriptFunction<M>,
    ) -> &mut Self;
}

impl ScriptingAppExt for App {
    fn add_script(&mut self, path: impl Into<String>) -> &mut Self {
        self.world_mut()
            .get_resource_or_init::<ScriptRequests>()
            .global
            .push(path.into());
        self
    }

    fn register_cvar(
        &mut self,
        name: &str,
        default: impl Into<CVarValue>,
        description: &str,
        flags: CVarFlags,
    ) -> &mut Self {
        let queue = self.world().get_resource::<ActionQueue>().cloned();
        let mut registry = self
            .world_mut()
            .get_resource_or_insert_with(|| CVarRegistry::new(queue));
        if let Err(error) = registry.register(name, CVar::new(default, description, flags)) {
            tracing::error!(target: "bevy_luau", "{error}");
        }
        self
    }

    fn add_console_command(
        &mut self,
        name: &str,
        help: &str,
        handler: impl Fn(&mut World, &[String]) -> Result<String, ConsoleError> + Send + Sync + 'static,
    ) -> &mut Self {
        self.world_mut()
            .get_resource_or_init::<Console>()
            .add_command(name, help, std::sync::Arc::new(handler));
        self
    }

    fn add_worker_script(&mut self, path: impl Into<String>) -> &mut Self {
        self.world_mut()
            .get_resource_or_init::<ScriptRequests>()
            .worker
            .push(path.into());
        self
    }

    fn register_script_component<
        T: Component<Mutability = Mutable> + Serialize + DeserializeOwned,
    >(
        &mut self,
    ) -> &mut Self {
        self.world_mut().register_component::<T>();
        self.world_mut()
            .get_resource_or_init::<ScriptRegistry>()
            .register_component::<T>();
        self
    }

    fn register_script_resource<T: Resource + Serialize + DeserializeOwned>(
        &mut self,
    ) -> &mut Self {
        self.world_mut()
            .get_resource_or_init::<ScriptRegistry>()
            .register_resource::<T>();
        self
    }

    fn add_script_function<M>(
        &mut self,
        name: &str,
        system: impl crate::IntoScriptFunction<M>,
    ) -> &mut Self {
        crate::function::registration::add_system(self.world_mut(), name, system);
        self
    }

    fn add_worker_script_function<M>(
        &mut self,
        name: &str,
        function: impl crate::IntoWorkerScriptFunction<M>,
    ) -> &mut Self {
        crate::function::registration::add_plain(self.world_mut(), name, function);
        self
    }

    fn register_script_message<T: Message + Serialize + DeserializeOwned>(&mut self) -> &mut Self {
        self.add_message::<T>();
        self.world_mut()
            .get_resource_or_init::<ScriptRegistry>()
            .register_message::<T>();
        self
    }
}
