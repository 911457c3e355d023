//! Actor VMs: main-style VMs that hold the instances of [`ScriptActor`] entity scripts.
//!
//! An entity with [`Script`] and [`ScriptActor`] gets its instance in one of the actor VMs, the
//! one with the fewest instances when it attaches, and keeps it there for its whole life. The
//! VMs are made when the first actor attaches, so a game without actors pays nothing for them.
//!
//! Outside the parallel phase an actor VM is used like the main VM, on the main thread with the
//! world lent: `on_spawn`, `on_event`, `on_despawn`, its tasks and the serial part all run
//! there. The engine lends an actor VM the world through the main VM's borrow
//! ([`Actors::with_vm`]), so one `&mut World` is handed out at a time, as ever.

use crate::asset::{Script, ScriptActor};
use crate::bridge::lent::{lend_world, with_world};
use crate::error::ScriptError;
use crate::function::registration::GameLibraries;
use crate::runtime::context::{ActorVm, ConsoleHooks};
use crate::vm::ScriptConfig;
use bevy_asset::AssetServer;
use bevy_ecs::entity::Entity;
use bevy_ecs::world::World;
use mlua::Lua;
use std::collections::HashMap;

/// What makes an actor VM, kept until the first actor needs one.
#[derive(Clone)]
pub(crate) struct Recipe {
    pub config: ScriptConfig,
    pub assets: Option<AssetServer>,
    pub functions: GameLibraries,
    /// Lets `jobs.run` reach the worker pool, once the plugin attached it.
    pub runner: Option<crate::runner::ScriptRunner>,
    /// Lets `console.execute` reach the console, once the plugin attached it.
    pub console: Option<ConsoleHooks>,
}

/// The actor VMs and which entity's instance lives in which.
pub(crate) struct Actors {
    /// How many VMs to make.
    count: usize,
    recipe: Recipe,
    vms: Vec<Lua>,
    /// The actor VM of each entity whose instance lives in one.
    owner: HashMap<Entity, usize>,
    /// Instances per VM.
    load: Vec<usize>,
}

/// Where the lifecycle changes of one step go: per VM, the entities to remove and to attach.
#[derive(Default, Debug)]
pub(crate) struct Routes {
    /// The main VM's.
    pub main: Changes,
    /// Each actor VM's, by index.
    pub actors: Vec<Changes>,
    /// Why the actor VMs could not be made, if they could not: the actors then run in the main
    /// VM, as plain entity scripts.
    pub error: Option<ScriptError>,
}

/// The lifecycle changes of one VM.
#[derive(Default, Debug)]
pub(crate) struct Changes {
    /// Instances to remove (their `on_despawn` runs).
    pub removed: Vec<Entity>,
    /// Entities to attach (their `on_spawn` runs once the script has loaded).
    pub inserted: Vec<Entity>,
}

impl Actors {
    /// No VM yet; `count` (at least 1) will be made when the first actor attaches.
    pub fn new(count: usize, recipe: Recipe) -> Self {
        Self {
            count: count.max(1),
            recipe,
            vms: Vec::new(),
            owner: HashMap::new(),
            load: Vec::new(),
        }
    }

    /// The actor VMs made so far.
    pub fn vms(&self) -> &[Lua] {
        &self.vms
    }

    /// Gives the VMs made from now on the worker pool.
    pub fn set_runner(&mut self, runner: crate::runner::ScriptRunner) {
        for lua in &self.vms {
            super::vms::attach_runner_to(lua, &runner);
        }
        self.recipe.runner = Some(runner);
    }

    /// Instances per actor VM.
    pub fn load(&self) -> &[usize] {
        &self.load
    }

    /// Gives every actor VM, made or to be made, the console's hooks.
    pub fn set_console(&mut self, hooks: ConsoleHooks) {
        for lua in &self.vms {
            lua.set_app_data(hooks);
        }
        self.recipe.console = Some(hooks);
    }

    /// How many instances live in actor VMs.
    pub fn instances(&self) -> usize {
        self.owner.len()
    }

    /// Splits the lifecycle changes of a step between the VMs: an entity with [`ScriptActor`]
    /// goes to an actor VM (the one it is in, or the least loaded), any other to the main VM;
    /// an entity that changes kind leaves the VM it was in. Makes the actor VMs when the first
    /// actor needs them.
    pub fn route(&mut self, world: &World, inserted: Vec<Entity>, removed: Vec<Entity>) -> Routes {
        let mut routes = Routes::default();
        for entity in removed {
            match self.owner.remove(&entity) {
                Some(vm) => {
                    self.load[vm] -= 1;
                    routes.for_actor(vm).removed.push(entity);
                }
                None => routes.main.removed.push(entity),
            }
        }
        for entity in inserted {
            let Ok(entity_ref) = world.get_entity(entity) else {
                continue;
            };
            if !entity_ref.contains::<Script>() {
                continue;
            }
            let actor = entity_ref.contains::<ScriptActor>();
            match (self.owner.get(&entity).copied(), actor) {
                (Some(vm), true) => routes.for_actor(vm).inserted.push(entity),
                (Some(vm), false) => {
                    self.owner.remove(&entity);
                    self.load[vm] -= 1;
                    routes.for_actor(vm).removed.push(entity);
                    routes.main.inserted.push(entity);
                }
                (None, true) => {
                    if let Err(error) = self.make_vms(world) {
                        routes.error.get_or_insert(error);
                        routes.main.inserted.push(entity);
                        continue;
                    }
                    let vm = self.least_loaded();
                    self.owner.insert(entity, vm);
                    self.load[vm] += 1;
                    // Gone from the main VM first, if it was there.
                    routes.main.removed.push(entity);
                    routes.for_actor(vm).inserted.push(entity);
                }
                (None, false) => routes.main.inserted.push(entity),
            }
        }
        routes
    }

    /// Runs `f` with actor VM `vm` and the world lent to it, through the main VM's borrow of
    /// the lent world.
    pub fn with_vm<R>(
        &self,
        main: &Lua,
        vm: usize,
        f: impl FnOnce(&Lua) -> R,
    ) -> Result<R, ScriptError> {
        let lua = &self.vms[vm];
        with_world(main, |world| lend_world(lua, world, || f(lua)))
            .map_err(|error| ScriptError::from_lua("bevy_luau", &error, None))?
    }

    fn least_loaded(&self) -> usize {
        let mut best = 0;
        for (vm, load) in self.load.iter().enumerate() {
            if *load < self.load[best] {
                best = vm;
            }
        }
        best
    }

    fn make_vms(&mut self, world: &bevy_ecs::world::World) -> Result<(), ScriptError> {
        while self.vms.len() < self.count {
            let lua = super::vms::main_style_vm(
                &self.recipe.config,
                self.recipe.assets.clone(),
                &self.recipe.functions,
                false,
            )?;
            if let Some(runner) = &self.recipe.runner {
                super::vms::attach_runner_to(&lua, runner);
            }
            if let Some(hooks) = self.recipe.console {
                lua.set_app_data(hooks);
            }
            lua.set_app_data(ActorVm);
            // Under the debugger from the start, so the scripts it loads now get breakpoints.
            crate::debug::actor_made(world, &lua, self.vms.len(), &self.recipe.config);
            self.vms.push(lua);
            self.load.push(0);
        }
        Ok(())
    }
}

/// The number of actor VMs when the plugin does not set it: one per thread that can run the
/// parallel phase, the compute task pool's threads and the main thread.
pub(crate) fn default_count() -> usize {
    bevy_tasks::ComputeTaskPool::try_get().map_or(1, |pool| pool.thread_num()) + 1
}

impl Routes {
    fn for_actor(&mut self, vm: usize) -> &mut Changes {
        if self.actors.len() <= vm {
            self.actors.resize_with(vm + 1, Changes::default);
        }
        &mut self.actors[vm]
    }
}
