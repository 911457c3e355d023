//! Entity scripts: the [`Script`] component, one Lua instance per entity, and their methods.
//!
//! An entity script returns a table of methods. Each scripted entity gets its own instance
//! table (`self`, with `self.entity`) whose metatable reads missing keys from the methods, so
//! a hot reload swaps the methods of every instance at once and keeps their fields.
//!
//! - `on_spawn(self)` runs in the first step after the component is added and the script loaded;
//! - `on_update(self, dt)` runs every frame in stage 4, after the global hooks;
//! - `on_event(self, name, payload)` runs in stage 5 for events no global handler consumed;
//! - `on_despawn(self)` runs exactly once: at once when a script calls `ecs.despawn`, or in the
//!   next step when Rust despawns the entity or removes the component (the entity is gone by
//!   then, but `self` and its fields are not).

use super::scripts::run_version;
use crate::asset::{LuauScript, Script, ScriptLifecycle, ScriptLoaded};
use crate::error::{ScriptError, ScriptErrorKind};
use crate::runtime::context::{Caller, ScriptId, call_as, report};
use crate::runtime::profile::{self, Account, Profiler, Site};
use crate::runtime::scheduler::Scheduler;
use crate::vm::Limits;
use bevy_asset::{AssetEvent, AssetId, Assets, Handle};
use bevy_ecs::entity::Entity;
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::world::World;
use mlua::prelude::LuaThreadStatus as ThreadStatus;
use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, Table, Thread, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One entity's instance of its script.
#[derive(Clone)]
pub(crate) struct Instance {
    entity: Entity,
    class: usize,
    this: Table,
}

impl Instance {
    /// Identifies the instance (an entity may get a new one when its script is replaced).
    fn id(&self) -> usize {
        self.this.to_pointer().addr()
    }
}

/// Tells a dispatch, at the cost of one atomic load per instance, whether an instance it has
/// not reached yet was despawned meanwhile. Despawns during a dispatch are rare, so only then
/// is the list of despawned instances consulted.
struct Liveness {
    despawns: Arc<AtomicU64>,
    at_start: u64,
}

impl Liveness {
    fn new(scripts: &EntityScripts) -> Self {
        Self {
            despawns: scripts.despawns.clone(),
            at_start: scripts.despawns.load(Ordering::Relaxed),
        }
    }

    fn is_alive(&self, lua: &Lua, instance: &Instance) -> bool {
        self.despawns.load(Ordering::Relaxed) == self.at_start
            || lua
                .app_data_ref::<EntityScripts>()
                .is_none_or(|s| !s.despawned.contains(&instance.id()))
    }
}

/// One entity script asset, shared by all its instances.
struct Class {
    path: Arc<str>,
    handle: Handle<LuauScript>,
    /// The metatable of every instance: `__index` points at the active version's methods.
    meta: Table,
    version: Option<Version>,
    last_source: Option<Arc<str>>,
}

/// One method of a class version.
#[derive(Clone)]
struct Method {
    function: Function,
    /// The version it belongs to, the owner of the coroutines it starts.
    version: ScriptId,
}

/// The active version of a class.
struct Version {
    id: ScriptId,
    on_spawn: Option<Method>,
    on_update: Option<Method>,
    on_event: Option<Method>,
    on_despawn: Option<Method>,
    /// Kept so the version's globals live as long as it is active.
    _env: Table,
}

/// All entity script classes and instances of the main VM (kept in its app data, so
/// `ecs.despawn` can reach them).
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct EntityScripts {
    classes: Vec<Class>,
    by_asset: HashMap<AssetId<LuauScript>, usize>,
    /// Instances in creation order, the order `on_update` runs in.
    instances: Vec<Instance>,
    by_entity: HashMap<Entity, Instance>,
    /// Entities whose script has not loaded yet.
    waiting: Vec<Entity>,
    /// Class versions waiting for stage 1: (class, source).
    pending: Vec<(usize, Arc<str>)>,
    loaded: MessageCursor<AssetEvent<LuauScript>>,
    /// Instances despawned since the instance list was last put back, by [`Instance::id`].
    despawned: Vec<usize>,
    /// How many instances were ever despawned.
    despawns: Arc<AtomicU64>,
    /// In an actor VM, the `on_update` coroutines that suspended (`task.synchronize`,
    /// `task.wait`), by [`Instance::id`]: the instance's next `on_update` waits for them.
    continuations: HashMap<usize, Thread>,
    /// A finished coroutine, reset for the next `on_update` instead of making a new one.
    spare: Option<Thread>,
}

impl EntityScripts {
    /// Whether no entity script exists.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// How many entities have a live instance.
    pub fn instances(&self) -> usize {
        self.by_entity.len()
    }
}

/// Collects changed entity script assets, outside Lua. Cheap when there are no entity scripts.
pub(crate) fn collect(lua: &Lua, world: &World) {
    let Some(mut scripts) = lua.app_data_mut::<EntityScripts>() else {
        return;
    };
    let scripts = &mut *scripts;
    let (Some(messages), Some(assets)) = (
        world.get_resource::<Messages<AssetEvent<LuauScript>>>(),
        world.get_resource::<Assets<LuauScript>>(),
    ) else {
        return;
    };
    for event in scripts.loaded.read(messages) {
        let (AssetEvent::Added { id } | AssetEvent::Modified { id }) = event else {
            continue;
        };
        let Some(&class) = scripts.by_asset.get(id) else {
            continue;
        };
        queue_version(
            &mut scripts.classes[class],
            class,
            assets,
            &mut scripts.pending,
        );
    }
}

fn queue_version(
    class: &mut Class,
    index: usize,
    assets: &Assets<LuauScript>,
    pending: &mut Vec<(usize, Arc<str>)>,
) {
    let Some(asset) = assets.get(&class.handle) else {
        return;
    };
    // A reload with the same text (a second report of one save) keeps the running version.
    if super::scripts::same_source(class.last_source.as_ref(), &asset.source) {
        return;
    }
    class.last_source = Some(asset.source.clone());
    pending.push((index, asset.source.clone()));
}

/// Whether stage 1 has entity script work: lifecycle changes or class versions to load.
pub(crate) fn has_work(lua: &Lua, world: &World) -> bool {
    let lifecycle = world
        .get_resource::<ScriptLifecycle>()
        .is_some_and(|l| !l.inserted.is_empty() || !l.removed.is_empty());
    lifecycle
        || lua
            .app_data_ref::<EntityScripts>()
            .is_some_and(|s| !s.pending.is_empty() || !s.is_empty())
}

/// The entities whose [`Script`] (or `ScriptActor`) was inserted and removed since the last
/// step, taken from the world lent to `lua`.
pub(crate) fn take_lifecycle(lua: &Lua) -> (Vec<Entity>, Vec<Entity>) {
    crate::runtime::context::with_world(lua, |world| {
        world.get_resource_mut::<ScriptLifecycle>().map(|mut l| {
            (
                std::mem::take(&mut l.inserted),
                std::mem::take(&mut l.removed),
            )
        })
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// Stage 1 for the entity scripts of one VM, part 1: removes the instances of `removed`.
pub(crate) fn remove(lua: &Lua, removed: &[Entity], limit: Limits) {
    for &entity in removed {
        despawned(lua, entity, limit);
    }
}

/// Stage 1 for the entity scripts of one VM, part 2: attaches `inserted` and the entities
/// still waiting for their script.
pub(crate) fn attach_all(lua: &Lua, inserted: &[Entity], limit: Limits) {
    let waiting = lua
        .app_data_mut::<EntityScripts>()
        .map(|mut s| std::mem::take(&mut s.waiting))
        .unwrap_or_default();
    for entity in waiting.into_iter().chain(inserted.iter().copied()) {
        attach(lua, entity, limit);
    }
}

/// Stage 1 for the entity scripts of one VM, first of all: loads changed classes.
pub(crate) fn load_versions(
    lua: &Lua,
    limit: Limits,
    errors: &mut Vec<ScriptError>,
    loaded: &mut Vec<ScriptLoaded>,
) {
    let Some(pending) = lua
        .app_data_mut::<EntityScripts>()
        .map(|mut s| std::mem::take(&mut s.pending))
    else {
        return;
    };
    for (class, source) in pending {
        let Some((path, old_id)) = lua.app_data_ref::<EntityScripts>().map(|s| {
            let class = &s.classes[class];
            (class.path.clone(), class.version.as_ref().map(|v| v.id))
        }) else {
            continue;
        };
        let id = crate::runtime::context::next_id();
        let result =
            run_version(lua, id, &path, &source, limit).and_then(|(env, value)| match value {
                Value::Table(methods) => Ok((env, methods)),
                other => Err(ScriptError::new(
                    &*path,
                    ScriptErrorKind::TypeMismatch,
                    format!(
                        "an entity script must return a table of methods, not {}",
                        other.type_name()
                    ),
                )),
            });
        match result {
            Ok((env, methods)) => {
                let method = |name: &str| {
                    let function = methods.raw_get::<Option<Function>>(name).ok().flatten();
                    function.map(|function| Method {
                        function,
                        version: id,
                    })
                };
                let version = Version {
                    id,
                    on_spawn: method("on_spawn"),
                    on_update: method("on_update"),
                    on_event: method("on_event"),
                    on_despawn: method("on_despawn"),
                    _env: env,
                };
                if let Some(mut scripts) = lua.app_data_mut::<EntityScripts>() {
                    let class = &mut scripts.classes[class];
                    if let Err(error) = class.meta.raw_set("__index", methods) {
                        errors.push(ScriptError::from_lua(&path, &error, None));
                    }
                    class.version = Some(version);
                }
                loaded.push(ScriptLoaded {
                    path: path.to_string(),
                    reloaded: old_id.is_some(),
                });
                if let Some(old) = old_id {
                    super::scripts::disconnect(lua, old);
                    tracing::info!(target: "bevy_luau", script = %path, "reloaded entity script");
                }
            }
            Err(error) => {
                super::scripts::disconnect(lua, id);
                errors.push(error);
            }
        }
    }
}

/// Creates the instance of a newly scripted entity and runs its `on_spawn`.
fn attach(lua: &Lua, entity: Entity, limit: Limits) {
    let handle = crate::runtime::context::with_world(lua, |world| {
        world
            .get_entity(entity)
            .ok()
            .and_then(|e| e.get::<Script>())
            .map(|s| s.handle().clone())
    });
    let Ok(Some(handle)) = handle else {
        return;
    };
    // A replaced script first says goodbye with its old class.
    let replaced = lua.app_data_ref::<EntityScripts>().and_then(|s| {
        s.by_entity
            .get(&entity)
            .map(|i| s.classes[i.class].handle.id() != handle.id())
    });
    if replaced == Some(true) {
        despawned(lua, entity, limit);
    } else if replaced == Some(false) {
        return;
    }
    let Some((class, ready)) = class_for(lua, handle) else {
        return;
    };
    if !ready {
        if let Some(mut s) = lua.app_data_mut::<EntityScripts>() {
            s.waiting.push(entity);
        }
        return;
    }
    let Some(meta) = lua
        .app_data_ref::<EntityScripts>()
        .map(|s| s.classes[class].meta.clone())
    else {
        return;
    };
    let instance = lua.create_table().and_then(|this| {
        this.raw_set("entity", crate::value::entity_to_lua(entity))?;
        this.set_metatable(Some(meta))?;
        Ok(Instance {
            entity,
            class,
            this,
        })
    });
    let Ok(instance) = instance else {
        return;
    };
    let on_spawn = lua.app_data_mut::<EntityScripts>().and_then(|mut s| {
        s.instances.push(instance.clone());
        s.by_entity.insert(entity, instance.clone());
        s.classes[class]
            .version
            .as_ref()
            .and_then(|v| v.on_spawn.clone())
    });
    if let Some(on_spawn) = on_spawn {
        let site = Some(Site::Method("on_spawn"));
        call_method::<()>(lua, &instance, &on_spawn, site, limit, ());
    }
}

/// The class of a script asset, created on first use, and whether a version is loaded.
fn class_for(lua: &Lua, handle: Handle<LuauScript>) -> Option<(usize, bool)> {
    let existing = lua.app_data_ref::<EntityScripts>().and_then(|s| {
        s.by_asset
            .get(&handle.id())
            .map(|&c| (c, s.classes[c].version.is_some()))
    });
    if existing.is_some() {
        return existing;
    }
    let meta = lua.create_table().ok()?;
    let path: Arc<str> = handle.path().map_or_else(
        || Arc::from(format!("{:?}", handle.id())),
        |p| Arc::from(p.to_string()),
    );
    let source = crate::runtime::context::with_world(lua, |world| {
        world
            .get_resource::<Assets<LuauScript>>()
            .and_then(|a| a.get(&handle))
            .map(|a| a.source.clone())
    })
    .ok()
    .flatten();
    let mut scripts = lua.app_data_mut::<EntityScripts>()?;
    let index = scripts.classes.len();
    scripts.by_asset.insert(handle.id(), index);
    scripts.classes.push(Class {
        path,
        handle,
        meta,
        version: None,
        last_source: source.clone(),
    });
    // The asset may have loaded before anyone attached it: load it with the next stage 1.
    if let Some(source) = source {
        scripts.pending.push((index, source));
    }
    Some((index, false))
}

/// Removes the instance of `entity`, if any, and runs its `on_despawn` once.
pub(crate) fn despawned(lua: &Lua, entity: Entity, limit: Limits) {
    let removed = lua.app_data_mut::<EntityScripts>().and_then(|mut s| {
        s.waiting.retain(|e| *e != entity);
        let instance = s.by_entity.remove(&entity)?;
        s.despawned.push(instance.id());
        s.despawns.fetch_add(1, Ordering::Relaxed);
        let on_despawn = s.classes[instance.class]
            .version
            .as_ref()
            .and_then(|v| v.on_despawn.clone());
        Some((instance, on_despawn))
    });
    if let Some((instance, on_despawn)) = removed {
        if let Some(on_despawn) = on_despawn {
            let site = Some(Site::Method("on_despawn"));
            call_method::<()>(lua, &instance, &on_despawn, site, limit, ());
        }
        // After on_despawn, so tasks it starts for the entity end with it too.
        if let Some(mut scheduler) = lua.app_data_mut::<Scheduler>() {
            scheduler.cancel_entity(entity);
        }
        crate::api::random::forget(lua, entity);
    }
}

/// How `on_update` is called.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dispatch {
    /// A plain call (the main VM).
    Call,
    /// As a coroutine, which may suspend to the serial part (`task.synchronize`) or wait; the
    /// instance's next `on_update` is skipped while it is suspended (an actor VM).
    Coroutine,
}

/// Stage 4: `on_update` of every instance, in creation order.
pub(crate) fn update(lua: &Lua, delta: f64, limit: Limits, dispatch: Dispatch) {
    // Accounting times runs of instances of the same script, not each instance: one clock
    // read per run keeps it off the per-entity cost. A run ends where the script changes.
    let accounting = lua.app_data_ref::<Profiler>().is_some_and(|p| p.enabled);
    // Whether a subscriber wants the per-instance spans, asked once for the whole dispatch.
    let spans = accounting && profile::spans_wanted();
    let Some((instances, methods, paths, liveness, mut continuations, mut spare)) =
        lua.app_data_mut::<EntityScripts>().map(|mut s| {
            let methods: Vec<Option<Method>> = s
                .classes
                .iter()
                .map(|c| c.version.as_ref().and_then(|v| v.on_update.clone()))
                .collect();
            // The spans name their script; without them the paths are not needed.
            let paths: Vec<Arc<str>> = if spans {
                s.classes.iter().map(|c| c.path.clone()).collect()
            } else {
                Vec::new()
            };
            sweep(&mut s);
            let liveness = Liveness::new(&s);
            (
                std::mem::take(&mut s.instances),
                methods,
                paths,
                liveness,
                std::mem::take(&mut s.continuations),
                s.spare.take(),
            )
        })
    else {
        return;
    };
    let mut run: Option<(usize, Option<Account>)> = None;
    let mut calls = 0;
    for instance in instances.iter().filter(|i| liveness.is_alive(lua, i)) {
        let Some(method) = &methods[instance.class] else {
            continue;
        };
        if accounting
            && run
                .as_ref()
                .is_none_or(|(class, _)| *class != instance.class)
        {
            if let Some((_, Some(mut account))) = run.take() {
                account.calls(calls);
            }
            calls = 0;
            let account = Account::begin(lua, method.version, Site::Method("on_update"));
            run = Some((instance.class, account));
        }
        calls += 1;
        let _span = spans
            .then(|| profile::entity_span(&paths[instance.class], "on_update", instance.entity));
        let _entered = _span.as_ref().map(tracing::Span::enter);
        match dispatch {
            Dispatch::Call => {
                call_method::<()>(lua, instance, method, None, limit, delta);
            }
            Dispatch::Coroutine => {
                let id = instance.id();
                if let Some(suspended) = continuations.get(&id) {
                    if suspended.status() == ThreadStatus::Resumable {
                        continue;
                    }
                    continuations.remove(&id);
                }
                let thread = match spare.take() {
                    Some(thread) if thread.reset(method.function.clone()).is_ok() => Ok(thread),
                    _ => lua.create_thread(method.function.clone()),
                };
                let Ok(thread) = thread else {
                    continue;
                };
                resume_method(lua, instance, method, &thread, limit, delta);
                match thread.status() {
                    ThreadStatus::Resumable => {
                        continuations.insert(id, thread);
                    }
                    ThreadStatus::Finished => spare = Some(thread),
                    _ => {}
                }
            }
        }
    }
    if let Some((_, Some(mut account))) = run.take() {
        account.calls(calls);
    }
    if let Some(mut s) = lua.app_data_mut::<EntityScripts>() {
        continuations.retain(|_, thread| thread.status() == ThreadStatus::Resumable);
        s.continuations = continuations;
        s.spare = spare;
    }
    restore(lua, instances);
}

/// Stage 5: `on_event` of every instance whose script has one; returns whether one consumed it.
pub(crate) fn event(lua: &Lua, name: &str, payload: &Value, limit: Limits) -> bool {
    let Some((instances, methods, liveness)) =
        lua.app_data_mut::<EntityScripts>().and_then(|mut s| {
            let methods: Vec<Option<Method>> = s
                .classes
                .iter()
                .map(|c| c.version.as_ref().and_then(|v| v.on_event.clone()))
                .collect();
            sweep(&mut s);
            let liveness = Liveness::new(&s);
            methods
                .iter()
                .any(Option::is_some)
                .then(|| (std::mem::take(&mut s.instances), methods, liveness))
        })
    else {
        return false;
    };
    let mut consumed = false;
    for instance in instances.iter().filter(|i| liveness.is_alive(lua, i)) {
        if let Some(method) = &methods[instance.class]
            && let Some(Value::Boolean(true)) = call_method::<Value>(
                lua,
                instance,
                method,
                Some(Site::Method("on_event")),
                limit,
                (name, payload),
            )
        {
            consumed = true;
            break;
        }
    }
    restore(lua, instances);
    consumed
}

/// Puts the instance list back after a dispatch: despawned ones leave, new ones join at the end.
fn restore(lua: &Lua, mut instances: Vec<Instance>) {
    if let Some(mut s) = lua.app_data_mut::<EntityScripts>() {
        let added = std::mem::take(&mut s.instances);
        instances.extend(added);
        s.instances = instances;
        sweep(&mut s);
    }
}

/// Drops the instances despawned since the last sweep from the dispatch list.
fn sweep(scripts: &mut EntityScripts) {
    if !scripts.despawned.is_empty() {
        let despawned: std::collections::HashSet<usize> = scripts.despawned.drain(..).collect();
        scripts.instances.retain(|i| !despawned.contains(&i.id()));
    }
}

/// Calls `method(self, args...)` of one instance with a fresh budget; errors go to the sink.
/// `R` is what the caller needs back: `()` skips converting a result nobody reads.
fn call_method<R: FromLuaMulti>(
    lua: &Lua,
    instance: &Instance,
    method: &Method,
    site: Option<Site<'_>>,
    limit: Limits,
    args: impl IntoLuaMulti,
) -> Option<R> {
    let caller = Caller {
        script: method.version,
        entity: Some(instance.entity),
    };
    let call = || crate::debug::call::<R>(lua, &method.function, (&instance.this, args));
    let (result, exhausted) = call_as(lua, Some(caller), site, limit, call);
    result
        .map_err(|error| report_method_error(lua, instance, &error, exhausted))
        .ok()
}

/// Resumes `thread`, a coroutine of `method`, for one instance's `on_update`: as
/// [`call_method`], but the call may suspend.
fn resume_method(
    lua: &Lua,
    instance: &Instance,
    method: &Method,
    thread: &Thread,
    limit: Limits,
    delta: f64,
) {
    let caller = Caller {
        script: method.version,
        entity: Some(instance.entity),
    };
    let call = || thread.resume::<()>((&instance.this, delta));
    let (result, exhausted) = call_as(lua, Some(caller), None, limit, call);
    if let Err(error) = result {
        crate::debug::resume_failed(lua, thread, &error);
        report_method_error(lua, instance, &error, exhausted);
    }
}

/// Reports an error of one instance's method, naming the entity.
fn report_method_error(
    lua: &Lua,
    instance: &Instance,
    error: &mlua::Error,
    exhausted: Option<ScriptErrorKind>,
) {
    let path = lua
        .app_data_ref::<EntityScripts>()
        .map(|s| s.classes[instance.class].path.clone())
        .unwrap_or_else(|| Arc::from("entity script"));
    let mut error = ScriptError::from_lua(&path, error, exhausted);
    error.message = format!("entity {}: {}", instance.entity, error.message);
    report(lua, error);
}

/// Registers the lifecycle queue the [`Script`] hooks write to.
pub(crate) fn init(world: &mut World) {
    world.init_resource::<ScriptLifecycle>();
}
