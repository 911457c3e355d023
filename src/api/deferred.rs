//! Deferred writes: how the libraries change the world, at once in the main VM and queued in
//! the parallel phase of actor VMs.
//!
//! In the parallel phase every actor VM runs at the same time as the others, lent the world
//! read-only (`crate::bridge::lent::lend_world_ref`). A library function that changes the world
//! (`ecs.set`, `transform.set_position`, `r.field = v`, `events.emit`, `cvar.set`,
//! `commands.*`, …) then converts its arguments at once, so a value that does not fit is an
//! error at the call, inside the script, as in the main VM, and queues a [`Write`]: a typed
//! Rust record, never a Lua value, that is `Send`. After the phase, the engine takes each VM's
//! queue ([`take`]) and applies them all on the main thread ([`apply`]), sorted by the writing
//! entity and then by call order, so the world after the phase does not depend on how many
//! actor VMs there were or on their timing.
//!
//! The main VM calls the same Rust: [`write`] and [`edit`] apply a write at once when the world
//! is lent `&mut`, and queue it when it is lent read-only, so each write has one
//! implementation. Reads in the phase see the world as it was when the phase began, not the
//! writes queued before them.
//!
//! When a queue is applied:
//! - a write by an entity that no longer exists, or to one, is dropped and counted (an entity
//!   despawned earlier in the apply, its children, an entity spawned by a write that was itself
//!   dropped);
//! - a write that can only fail now (the component was removed meanwhile) becomes a
//!   [`ScriptError`] that names the function and the entity; the rest still apply;
//! - no Lua runs: `ecs.despawn` despawns the entity as Rust code would, and the engine runs
//!   the despawned entity's `on_despawn` afterwards, as for any despawn.
//!
//! `ecs.spawn` returns the new entity's id at once (reserved through `&World`); the entity is
//! spawned when the queue is applied, and until then `ecs.exists` is `false` for it, though
//! the VM that spawned it may queue `ecs` writes to it (`set`, `set_name`, `remove`,
//! `despawn`).
//!
//! The fast path queues too (the `transform` setters, a reference's leaf field), once the
//! safe path has queued a write of the calling script and the queue knows its path.

use crate::bridge::lent::{in_parallel_phase, with_world, with_world_ref};
use crate::error::{ScriptError, ScriptErrorKind, lua_error};
use crate::ffi::{Extension, Extensions, Shared};
use crate::registry::{Access, Converted, Subject};
use crate::runtime::context::{Caller, ScriptId, ScriptPaths};
use bevy_ecs::entity::Entity;
use bevy_ecs::world::World;
use mlua::Lua;
use rustc_hash::FxHashSet;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// One write to the world, converted from Lua when it was queued.
pub(crate) enum Write {
    /// `ecs.set`, `ecs.set_name`: inserts or replaces a component.
    Insert {
        /// The entity written to.
        entity: Entity,
        /// The value.
        component: Converted,
    },
    /// `ecs.remove`: removes a component.
    Remove {
        /// The entity written to.
        entity: Entity,
        /// The component.
        access: Access,
    },
    /// `ecs.despawn`: despawns an entity (and what Bevy despawns with it).
    Despawn {
        /// The entity.
        entity: Entity,
    },
    /// `ecs.spawn`: spawns the reserved `entity` with `components`, in order.
    Spawn {
        /// The id reserved for it when it was queued.
        entity: Entity,
        /// Its components, with their names for errors.
        components: Vec<Converted>,
    },
    /// `ecs.set_resource`: replaces a resource.
    SetResource {
        /// The value.
        resource: Converted,
    },
    /// A write whose types belong to another library: a reference's field, a transform, an
    /// event, a CVar.
    Edit(Box<dyn Boxed>),
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Write::Insert { entity, component } => f
                .debug_struct("Insert")
                .field("entity", entity)
                .field("component", component)
                .finish(),
            Write::Remove { entity, access } => f
                .debug_struct("Remove")
                .field("entity", entity)
                .field("component", &access.name())
                .finish(),
            Write::Despawn { entity } => f.debug_struct("Despawn").field("entity", entity).finish(),
            Write::Spawn { entity, components } => f
                .debug_struct("Spawn")
                .field("entity", entity)
                .field("components", components)
                .finish(),
            Write::SetResource { resource } => f
                .debug_struct("SetResource")
                .field("resource", resource)
                .finish(),
            Write::Edit(edit) => edit.fmt(f),
        }
    }
}

impl Write {
    /// The existing entity the write changes, if it changes one: when it is gone, the write is
    /// dropped.
    fn target(&self) -> Option<Entity> {
        match self {
            Write::Insert { entity, .. }
            | Write::Remove { entity, .. }
            | Write::Despawn { entity } => Some(*entity),
            Write::Spawn { .. } | Write::SetResource { .. } => None,
            Write::Edit(edit) => edit.target(),
        }
    }
}

/// A write of a library that this module does not know the types of: the library's own typed
/// record, which applies itself with the same Rust the main VM runs.
pub(crate) trait Edit: Send + fmt::Debug + 'static {
    /// The existing entity it changes, if it changes one: when it is gone, it is dropped.
    fn target(&self) -> Option<Entity>;

    /// What can be checked when it is queued, with the world as the phase sees it; an error
    /// here is raised at the call, as in the main VM.
    fn check(&self, _world: &World) -> mlua::Result<()> {
        Ok(())
    }

    /// Applies it.
    fn apply(self, world: &mut World) -> Result<(), Refusal>;
}

/// An [`Edit`] in a box, as the queue holds it.
pub(crate) trait Boxed: Send + fmt::Debug {
    /// [`Edit::target`].
    fn target(&self) -> Option<Entity>;
    /// [`Edit::apply`].
    fn apply_boxed(self: Box<Self>, world: &mut World) -> Result<(), Refusal>;
}

impl<E: Edit> Boxed for E {
    fn target(&self) -> Option<Entity> {
        Edit::target(self)
    }

    fn apply_boxed(self: Box<Self>, world: &mut World) -> Result<(), Refusal> {
        (*self).apply(world)
    }
}

/// Why a write was not applied.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The entity it writes to no longer exists: dropped, not an error.
    Gone,
    /// It failed, with the error the main VM raises in Lua.
    Failed(mlua::Error),
}

impl From<mlua::Error> for Refusal {
    fn from(error: mlua::Error) -> Self {
        Refusal::Failed(error)
    }
}

/// A write queued by a VM in the parallel phase.
#[derive(Debug)]
pub(crate) struct Queued {
    /// The entity whose script queued it (`Entity::PLACEHOLDER` for a caller that is none).
    pub writer: Entity,
    /// Its place in the VM's call order.
    pub seq: u64,
    /// The Lua function that queued it, for errors.
    pub function: &'static str,
    /// The asset path of the script that queued it, for errors.
    pub script: Arc<str>,
    /// The write.
    pub write: Write,
}

/// What [`apply`] did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Writes applied.
    pub applied: usize,
    /// Writes dropped: their writer or their entity no longer existed.
    pub dropped: usize,
    /// Writes that failed, each naming its function and entity.
    pub errors: Vec<ScriptError>,
}

/// The writes a VM queued in the parallel phase, in call order. Kept in the VM's shared state
/// (slot 6 of its extensions), where fast functions queue too.
#[derive(Default)]
pub(crate) struct WriteQueue {
    writes: Vec<Queued>,
    /// The sequence number of the next write.
    next: u64,
    /// The entities `ecs.spawn` reserved in this phase, which writes queued after it may name.
    reserved: FxHashSet<Entity>,
    /// The script of the last write and its path (this VM's own copy, so that VMs on other
    /// threads never share its count), so a run of writes by one script looks the path up once.
    script: Option<(ScriptId, Arc<str>)>,
}

/// Slot 6 of the VM's extensions.
impl Extension for RefCell<WriteQueue> {
    const SLOT: usize = 6;
}

/// The extensions of this module, for a main VM's shared state: its queue.
pub(crate) fn extensions() -> mlua::Result<Extensions> {
    Extensions::default().with(RefCell::new(WriteQueue::default()))
}

/// Runs `f` with the queue of `lua`'s VM, if it has one.
fn with_queue<R>(lua: &Lua, f: impl FnOnce(&mut WriteQueue) -> R) -> Option<R> {
    Shared::with(lua, |shared| {
        let queue = shared.extension::<RefCell<WriteQueue>>()?;
        let mut queue = queue.try_borrow_mut().ok()?;
        Some(f(&mut queue))
    })
    .flatten()
}

/// The writes `lua`'s VM queued, in call order; its queue is empty after. Apply them with
/// [`apply`]: an entity reserved by a queued `ecs.spawn` is spawned, or released, only there.
pub(crate) fn take(lua: &Lua) -> Vec<Queued> {
    with_queue(lua, |queue| {
        queue.reserved.clear();
        std::mem::take(&mut queue.writes)
    })
    .unwrap_or_default()
}

/// Applies `queued`, the writes of any number of VMs: stable-sorted by writing entity and then
/// sequence number, so the outcome does not depend on how the writes were split between VMs
/// or on the order of the lists.
pub(crate) fn apply(world: &mut World, mut queued: Vec<Queued>) -> Applied {
    queued.sort_by_key(|q| (q.writer, q.seq));
    // Components added by hooks and observers are queued as commands; spawning at a reserved id
    // wants them applied first.
    world.flush();
    let mut applied = Applied::default();
    for Queued {
        writer,
        function,
        script,
        write,
        ..
    } in queued
    {
        let writer_gone = writer != Entity::PLACEHOLDER && world.get_entity(writer).is_err();
        let target_gone = write
            .target()
            .is_some_and(|target| world.get_entity(target).is_err());
        if writer_gone || target_gone {
            if let Write::Spawn { entity, .. } = write {
                release(world, entity);
            }
            applied.dropped += 1;
            continue;
        }
        let entity = write.target().unwrap_or(writer);
        match apply_one(world, function, write) {
            Ok(()) => applied.applied += 1,
            Err(Refusal::Gone) => applied.dropped += 1,
            Err(Refusal::Failed(error)) => {
                let cause = ScriptError::from_lua(&script, &error, None);
                applied.errors.push(ScriptError::new(
                    &*script,
                    cause.kind,
                    format!(
                        "`{function}` (queued in the parallel phase) failed for entity {entity}: {}",
                        cause.message
                    ),
                ));
            }
        }
    }
    applied
}

/// Applies `write` now: the same Rust for the main VM's calls and for queued writes.
fn apply_one(world: &mut World, function: &'static str, write: Write) -> Result<(), Refusal> {
    match write {
        Write::Insert { entity, component } => {
            exists(world, entity)?;
            let name = component.name();
            let what = Subject {
                function,
                kind: "component",
                name,
            };
            component.write(world, entity, &what)?;
        }
        Write::Remove { entity, access } => {
            exists(world, entity)?;
            access.remove(world, entity);
        }
        Write::Despawn { entity } => {
            exists(world, entity)?;
            world.despawn(entity);
        }
        Write::Spawn { entity, components } => {
            world.spawn_empty_at(entity).map_err(|error| {
                lua_error(
                    ScriptErrorKind::Runtime,
                    format!("{function}: entity {entity} could not be spawned: {error}"),
                )
            })?;
            for component in components {
                let name = component.name();
                let what = Subject {
                    function,
                    kind: "component",
                    name,
                };
                if let Err(error) = component.write(world, entity, &what) {
                    // As in the main VM: on any error nothing stays spawned.
                    world.despawn(entity);
                    return Err(Refusal::Failed(error));
                }
            }
        }
        Write::SetResource { resource } => {
            let name = resource.name();
            let what = Subject {
                function,
                kind: "resource",
                name,
            };
            resource.write_resource(world, &what)?;
        }
        Write::Edit(edit) => edit.apply_boxed(world)?,
    }
    Ok(())
}

/// Fails with [`Refusal::Gone`] when `entity` does not exist.
fn exists(world: &World, entity: Entity) -> Result<(), Refusal> {
    match world.get_entity(entity) {
        Ok(_) => Ok(()),
        Err(_) => Err(Refusal::Gone),
    }
}

/// Gives an id reserved for a spawn that was dropped back to the allocator, with a new
/// generation, so that the id the script saw never names another entity.
fn release(world: &mut World, entity: Entity) {
    if world.spawn_empty_at(entity).is_ok() {
        world.despawn(entity);
    }
}

/// Applies `write` at once in the main VM, or queues it in the parallel phase. Its values are
/// converted already, so the call has raised every error it can before it is queued.
pub(crate) fn write(lua: &Lua, function: &'static str, write: Write) -> mlua::Result<()> {
    if in_parallel_phase(lua) {
        queue(lua, function, write)
    } else {
        with_world(lua, |world| now(world, function, write))?
    }
}

/// [`write`] for a library's own [`Edit`], checked first ([`Edit::check`]): in the parallel
/// phase with the world as the phase sees it, so that its errors are raised at the call.
pub(crate) fn edit<E: Edit>(lua: &Lua, function: &'static str, edit: E) -> mlua::Result<()> {
    if in_parallel_phase(lua) {
        with_world_ref(lua, |world| edit.check(world))??;
        queue(lua, function, Write::Edit(Box::new(edit)))
    } else {
        with_world(lua, |world| {
            edit.check(world)?;
            edit.apply(world)
                .map_err(|refusal| refused(function, refusal))
        })?
    }
}

/// Applies `write` now, with the main VM's errors.
fn now(world: &mut World, function: &'static str, write: Write) -> mlua::Result<()> {
    let target = write.target();
    apply_one(world, function, write).map_err(|refusal| match (refusal, target) {
        (Refusal::Gone, Some(entity)) => gone(function, entity),
        (refusal, _) => refused(function, refusal),
    })
}

/// The Lua error of a write refused in the main VM.
fn refused(function: &str, refusal: Refusal) -> mlua::Error {
    match refusal {
        Refusal::Failed(error) => error,
        Refusal::Gone => lua_error(
            ScriptErrorKind::EntityNotFound,
            format!("{function}: the entity does not exist (was it despawned?)"),
        ),
    }
}

/// The error for a write to `entity`, which does not exist.
fn gone(function: &str, entity: Entity) -> mlua::Error {
    lua_error(
        ScriptErrorKind::EntityNotFound,
        format!("{function}: entity {entity} does not exist (was it despawned?)"),
    )
}

/// Queues `write`, by the calling entity, after the VM's earlier writes.
fn queue(lua: &Lua, function: &'static str, write: Write) -> mlua::Result<()> {
    let caller = Caller::current();
    let known = |caller: &Caller| {
        with_queue(lua, |queue| {
            queue.script.as_ref().map(|(id, _)| *id) == Some(caller.script)
        })
        .unwrap_or(false)
    };
    // The path of a script new to the queue, copied for this VM.
    let path = caller.filter(|caller| !known(caller)).map(|caller| {
        lua.app_data_ref::<ScriptPaths>()
            .and_then(|paths| paths.0.get(&caller.script).map(|path| Arc::from(&**path)))
            .unwrap_or_else(|| Arc::from("actor"))
    });
    with_queue(lua, |queue| {
        if let (Some(caller), Some(path)) = (caller, path) {
            queue.script = Some((caller.script, path));
        }
        queue.push(caller, function, write);
    })
    .ok_or_else(|| mlua::Error::runtime("the parallel phase needs an actor VM"))
}

/// Queues the write `make` builds, from a fast function in the parallel phase; `None`, with
/// nothing queued, when `make` gives none or the calling script's path is not known to the
/// queue yet (the safe implementation then queues it, and learns the path).
pub(crate) fn queue_fast(
    shared: &Shared,
    function: &'static str,
    make: impl FnOnce() -> Option<Write>,
) -> Option<()> {
    let mut queue = shared
        .extension::<RefCell<WriteQueue>>()?
        .try_borrow_mut()
        .ok()?;
    let caller = Caller::current()?;
    if queue.script.as_ref().map(|(id, _)| *id) != Some(caller.script) {
        return None;
    }
    queue.push(Some(caller), function, make()?);
    Some(())
}

impl WriteQueue {
    /// Appends `write` by `caller`, whose script's path is [`WriteQueue::script`] when it has
    /// one.
    fn push(&mut self, caller: Option<Caller>, function: &'static str, write: Write) {
        let writer = caller.and_then(|c| c.entity).unwrap_or(Entity::PLACEHOLDER);
        let script = match (&self.script, caller) {
            (Some((id, path)), Some(caller)) if *id == caller.script => Arc::clone(path),
            _ => Arc::from("actor"),
        };
        if let Write::Spawn { entity, .. } = &write {
            self.reserved.insert(*entity);
        }
        let seq = self.next;
        self.next += 1;
        self.writes.push(Queued {
            writer,
            seq,
            function,
            script,
            write,
        });
    }
}

/// Fails with a clear error when `entity` does not exist, unless this VM reserved it with
/// `ecs.spawn` earlier in the parallel phase (a write may name it; it exists once applied).
pub(crate) fn existing(
    lua: &Lua,
    world: &World,
    entity: Entity,
    function: &str,
) -> mlua::Result<()> {
    if world.get_entity(entity).is_ok() || is_reserved(lua, entity) {
        Ok(())
    } else {
        Err(gone(function, entity))
    }
}

/// Whether this VM reserved `entity` with `ecs.spawn` in the running parallel phase.
fn is_reserved(lua: &Lua, entity: Entity) -> bool {
    with_queue(lua, |queue| queue.reserved.contains(&entity)).unwrap_or(false)
}

#[cfg(test)]
#[path = "deferred_tests.rs"]
mod tests;
