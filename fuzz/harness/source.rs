//! [`run_source`]: arbitrary Luau source as a global script and as an entity script, in one app
//! that serves input after input and is reset between them.
//!
//! Building an app per input (a worker pool, the type registry, asset loading through the task
//! pools) took most of the time of an input: the fuzzer ran 1 to 18 inputs a second. The app is
//! now built once per thread and kept in a thread-local. Each input replaces the sources of the
//! two script assets (`Assets::insert`, which hot-reloads them), and after the input a reset
//! returns the app to the state it started in:
//! - both scripts are replaced by empty versions, which drops every hook, event handler, console
//!   command, CVar handler and task of the input's global script, and its globals with it;
//! - every entity made since the app started is despawned (the scripted ones first, by
//!   [`super::check`], so their `on_despawn` runs);
//! - every reflected resource (Bevy's `Time` clocks among them, which `ecs.set_resource` can
//!   pause or slow) gets back the value it had when the app started, and the CVar registry is
//!   replaced by an empty one (the crate cannot unregister a CVar);
//! - then two frames must pass quietly: no error, no script loaded, no entity made. A frame that
//!   is not quiet means something of the input outlived the reset, and that is a finding.
//!
//! What the crate gives no way to reset makes the app unfit to reuse, and the next input gets a
//! new one: an input that could reach the console's `lua` environment (kept for the life of the
//! VM, with any hook it registered, and not owned by any script) by naming `console`,
//! `loadstring`, `getfenv` or `_G`; one that despawned or changed an entity the app started with
//! (scripts can name any entity by its bits); or a reset that did not load. What stays from one
//! input to the next: the main VM's heap layout and interned strings, `math.random`'s state, and
//! the crate's counters (`time.frame()` keeps counting).
//!
//! A finding that does not reproduce alone (`fuzz/run.sh --repro`, which runs one input in a new
//! app) depends on what an earlier input left: run the inputs of the libFuzzer log in order, or
//! set `BEVY_LUAU_FUZZ_FRESH=1` to give every input a new app, as before.

use super::watch::{Watch, reporting};
use super::{LOAD_PATIENCE, Seen, app, check};
use bevy_app::App;
use bevy_asset::{AssetServer, Assets, Handle};
use bevy_ecs::archetype::ArchetypeId;
use bevy_ecs::prelude::*;
use bevy_ecs::reflect::{AppTypeRegistry, ReflectResource};
use bevy_ecs::resource::IsResource;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use std::any::TypeId;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// The global script's asset path.
const GLOBAL: &str = "fuzz://global.luau";

/// The entity script's asset path.
const ENTITY: &str = "fuzz://entity.luau";

/// Frames of game time (0.1 s each) each input runs after its scripts load: half of what
/// `run_calls` runs, since every frame repeats what the first ones did, and an input whose hook
/// or `on_update` runs away costs up to a time limit a frame (the corpus holds many of those).
/// `task.wait` and `task.delay` up to 0.4 s still resume; hooks run about three frames more,
/// while the input is checked and reset.
const FRAMES: usize = 4;

/// The entity script between inputs: no methods.
const EMPTY_ENTITY: &str = "return {}";

/// Words whose presence lets an input reach what no reset can clean (see the module docs).
const UNRESETTABLE: &[&str] = &["console", "loadstring", "getfenv", "_G"];

thread_local! {
    /// The app the inputs run in, between two inputs; `None` until the first, and after an
    /// input that left it unfit to reuse (or panicked while it was out).
    static SOURCE_APP: RefCell<Option<SourceApp>> = const { RefCell::new(None) };
}

/// Arbitrary Luau source as a global script and as an entity script (its `on_update`).
pub fn run_source(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let entity_source =
        format!("local S = {{}}\nfunction S:on_update(dt)\n{source}\nend\nreturn S");
    // Taken out for the length of the input: an input that panics drops it.
    let kept = SOURCE_APP.with_borrow_mut(Option::take);
    let mut source_app = kept.unwrap_or_else(SourceApp::new);
    let mut watch = Watch::start();
    watch.limits_of(&source_app.app);
    source_app.run(&source, &entity_source, &mut watch);
    check(&mut source_app.app, &mut watch);
    let reusable = source_app.reset(&mut watch)
        && !UNRESETTABLE.iter().any(|word| source.contains(word))
        && std::env::var_os("BEVY_LUAU_FUZZ_FRESH").is_none();
    watch.check_memory();
    if reusable {
        SOURCE_APP.with_borrow_mut(|slot| *slot = Some(source_app));
    }
}

/// A reflected resource's value when the app had started.
struct SavedResource {
    entity: Entity,
    type_id: TypeId,
    value: Box<dyn Reflect>,
}

/// The app of [`run_source`] and what its reset returns it to.
struct SourceApp {
    app: App,
    global: Handle<LuauScript>,
    entity_script: Handle<LuauScript>,
    /// Every entity when the app had started, with its archetype.
    baseline: Vec<(Entity, ArchetypeId)>,
    resources: Vec<SavedResource>,
}

impl SourceApp {
    /// Builds the app with the two scripts empty, and waits until they have loaded.
    fn new() -> Self {
        if reporting() {
            eprintln!("fuzz: a new app for run_source");
        }
        let mut app = app(&[("global.luau", ""), ("entity.luau", EMPTY_ENTITY)]);
        app.add_script(GLOBAL);
        let server = app.world().resource::<AssetServer>().clone();
        let global = server.load(GLOBAL);
        let entity_script = server.load(ENTITY);
        let started = Instant::now();
        loop {
            app.update();
            let world = app.world();
            let global_loaded = world
                .resource::<Seen>()
                .loaded
                .iter()
                .any(|l| l.path == GLOBAL);
            let entity_loaded = world
                .resource::<Assets<LuauScript>>()
                .contains(&entity_script);
            if global_loaded && entity_loaded {
                break;
            }
            assert!(
                started.elapsed() < LOAD_PATIENCE,
                "the fuzz app's empty scripts did not load: {:?}",
                world.resource::<Seen>().errors
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // The entity script's class is made when an entity first gets it; from then on every
        // new source of the asset loads, or fails, at once.
        let entity = app
            .world_mut()
            .spawn(Script::new(entity_script.clone()))
            .id();
        loop {
            app.update();
            let seen = app.world().resource::<Seen>();
            if seen.loaded.iter().any(|l| l.path == ENTITY) {
                break;
            }
            assert!(
                started.elapsed() < LOAD_PATIENCE,
                "the fuzz app's empty entity script did not load: {:?}",
                seen.errors
            );
        }
        app.world_mut().despawn(entity);
        app.update();
        *app.world_mut().resource_mut::<Seen>() = Seen::default();
        let world = app.world();
        let baseline = world
            .iter_entities()
            .map(|e| (e.id(), e.archetype().id()))
            .collect();
        let resources = save_resources(world);
        if reporting() {
            let registry = world.resource::<AppTypeRegistry>().read();
            let names: Vec<&str> = resources
                .iter()
                .filter_map(|r| registry.get(r.type_id))
                .map(|r| r.type_info().type_path())
                .collect();
            eprintln!("fuzz: resources restored between inputs: {names:?}");
        }
        Self {
            app,
            global,
            entity_script,
            baseline,
            resources,
        }
    }

    /// Runs one input: both scripts take its source, an entity gets the entity script, and the
    /// app runs until both have loaded or failed, then [`FRAMES`] frames more; then the entity
    /// is despawned, if the script left it, which runs its `on_despawn` once.
    fn run(&mut self, source: &str, entity_source: &str, watch: &mut Watch) {
        let app = &mut self.app;
        *app.world_mut().resource_mut::<Seen>() = Seen::default();
        set_source(app, &self.global, GLOBAL, source);
        set_source(app, &self.entity_script, ENTITY, entity_source);
        let entity = app
            .world_mut()
            .spawn(Script::new(self.entity_script.clone()))
            .id();
        settle(app, watch);
        for _ in 0..FRAMES {
            watch.update(app);
        }
        if app.world().get_entity(entity).is_ok() {
            app.world_mut().despawn(entity);
        }
        watch.update(app);
    }

    /// Returns the app to how it started, after [`super::check`] has despawned the scripted
    /// entities; whether it is fit for another input. Panics when something of the input
    /// outlives the reset.
    fn reset(&mut self, watch: &mut Watch) -> bool {
        let app = &mut self.app;
        *app.world_mut().resource_mut::<Seen>() = Seen::default();
        set_source(app, &self.global, GLOBAL, "");
        set_source(app, &self.entity_script, ENTITY, EMPTY_ENTITY);
        settle(app, watch);
        let seen = app.world().resource::<Seen>();
        if !seen.errors.is_empty() || seen.loaded.len() != 2 {
            return false;
        }
        // An `on_despawn` may spawn more: a few rounds.
        for _ in 0..4 {
            let made: Vec<Entity> = app
                .world()
                .iter_entities()
                .map(|e| e.id())
                .filter(|e| !self.baseline.iter().any(|(b, _)| b == e))
                .collect();
            if made.is_empty() {
                break;
            }
            for entity in made {
                if app.world().get::<IsResource>(entity).is_some() {
                    return false;
                }
                let _ = app.world_mut().try_despawn(entity);
            }
            watch.update(app);
        }
        let world = app.world_mut();
        let intact = self.baseline.iter().all(|(entity, archetype)| {
            world
                .get_entity(*entity)
                .is_ok_and(|e| e.archetype().id() == *archetype)
        });
        if !intact || world.entities().count_spawned() != self.baseline.len() as u32 {
            return false;
        }
        for saved in &self.resources {
            let Ok(mut value) = world.get_reflect_mut(saved.entity, saved.type_id) else {
                return false;
            };
            if value.try_apply(saved.value.as_partial_reflect()).is_err() {
                return false;
            }
        }
        let queue = world.resource::<ActionQueue>().clone();
        world.insert_resource(CVarRegistry::new(Some(queue)));
        *world.resource_mut::<Seen>() = Seen::default();
        // Two quiet frames: nothing of the input is left to run.
        for _ in 0..2 {
            watch.update(app);
        }
        let world = app.world();
        let seen = world.resource::<Seen>();
        assert!(
            seen.errors.is_empty() && seen.loaded.is_empty(),
            "the input outlived the reset of the fuzz app: after it {:#?}",
            seen.errors
        );
        assert_eq!(
            world.entities().count_spawned(),
            self.baseline.len() as u32,
            "the input outlived the reset of the fuzz app: entities were spawned after it"
        );
        assert_eq!(
            world.resource::<ScriptEngine>().entity_script_instances(),
            0,
            "the input outlived the reset of the fuzz app: entity script instances are left"
        );
        true
    }
}

/// Gives the script asset `handle` (at `path`) a new version with `source`: the engine
/// hot-reloads it at the next frame.
fn set_source(app: &mut App, handle: &Handle<LuauScript>, path: &str, source: &str) {
    app.world_mut()
        .resource_mut::<Assets<LuauScript>>()
        .insert(handle, LuauScript::new(path, source))
        .expect("the script asset's handle is alive");
}

/// Runs frames until the new versions of both scripts have loaded or failed.
fn settle(app: &mut App, watch: &mut Watch) {
    let started = Instant::now();
    loop {
        watch.update(app);
        let seen = app.world().resource::<Seen>();
        let settled = |path: &str| {
            seen.loaded.iter().any(|l| l.path == path)
                || seen.errors.iter().any(|e| e.script == path)
        };
        if settled(GLOBAL) && settled(ENTITY) {
            return;
        }
        assert!(
            started.elapsed() < LOAD_PATIENCE,
            "the scripts' new versions neither loaded nor failed: {:?}",
            seen.errors
        );
    }
}

/// The value of every resource that scripts can reach by reflection.
fn save_resources(world: &World) -> Vec<SavedResource> {
    let registry = world.resource::<AppTypeRegistry>().read();
    world
        .iter_resources()
        .filter_map(|(id, info, _)| {
            let type_id = info.type_id()?;
            registry.get_type_data::<ReflectResource>(type_id)?;
            let entity = world.resource_entities().get(id)?;
            let value = world
                .get_reflect(entity, type_id)
                .ok()?
                .reflect_clone()
                .ok()?;
            Some(SavedResource {
                entity,
                type_id,
                value,
            })
        })
        .collect()
}
