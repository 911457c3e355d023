//! Lending the world to Lua for the length of a scripting step.
//!
//! [`lend_world`] stores a pointer to the `&mut World` it was given in the VM's [`Shared`]
//! state and clears it again before it returns (also when it unwinds). Lua functions reach the
//! world through [`Lent::borrow`], which hands out one `&mut World` at a time: while a borrow is
//! alive, another fails. The crate never runs Lua while it holds a borrow, so in practice the
//! second borrow only fails for code that breaks that rule, with an error instead of two
//! aliasing references.

use super::Shared;
use crate::error::{ScriptError, ScriptErrorKind, lua_error};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::world::{World, WorldId};
use bevy_reflect::{Reflect, ReflectFromPtr};
use mlua::Lua;
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The world of the running step, if any, and whether it is borrowed.
#[derive(Default)]
pub(crate) struct Lent {
    world: Cell<Option<NonNull<World>>>,
    borrowed: Cell<bool>,
    /// The world lent last, whose component ids the caches hold.
    last: Cell<Option<WorldId>>,
}

/// A borrow of the lent world; the world is free again when it drops.
pub(crate) struct WorldRef<'a> {
    lent: &'a Lent,
    world: &'a mut World,
}

impl Lent {
    /// The lent world, unless none is lent or it is borrowed already.
    pub fn borrow(&self) -> Option<WorldRef<'_>> {
        let world = self.world.get()?;
        if self.borrowed.replace(true) {
            return None;
        }
        // SAFETY: the pointer came from the `&mut World` that `lend_world` holds for as long
        // as the pointer is stored, and the `borrowed` flag, set above and cleared when the
        // `WorldRef` drops, makes this the only reference made from it.
        let world = unsafe { &mut *world.as_ptr() };
        Some(WorldRef { lent: self, world })
    }

    /// Whether a world is lent, borrowed or not.
    pub fn is_lent(&self) -> bool {
        self.world.get().is_some()
    }
}

impl Drop for WorldRef<'_> {
    fn drop(&mut self) {
        self.lent.borrowed.set(false);
    }
}

impl Deref for WorldRef<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        self.world
    }
}

impl DerefMut for WorldRef<'_> {
    fn deref_mut(&mut self) -> &mut World {
        self.world
    }
}

/// Runs `f` with the world of the running step.
///
/// Fails with a clear error when called outside a step, which only a worker VM or code kept
/// past its step could do, or while the world is borrowed already.
pub(crate) fn with_world<R>(lua: &Lua, f: impl FnOnce(&mut World) -> R) -> mlua::Result<R> {
    with_shared_world(lua, |_, world| f(world))
}

/// [`with_world`], with the VM's shared state too.
pub(crate) fn with_shared_world<R>(
    lua: &Lua,
    f: impl FnOnce(&Shared, &mut World) -> R,
) -> mlua::Result<R> {
    Shared::with(lua, |shared| {
        let mut world = shared
            .lent
            .borrow()
            .ok_or_else(|| unavailable(&shared.lent))?;
        Ok(f(shared, &mut world))
    })
    .unwrap_or_else(|| {
        Err(mlua::Error::runtime(
            "world access is not available in this VM",
        ))
    })
}

/// The error for a world that cannot be borrowed now.
pub(crate) fn unavailable(lent: &Lent) -> mlua::Error {
    if lent.is_lent() {
        lua_error(
            ScriptErrorKind::Runtime,
            "the world is in use by the calling Rust code",
        )
    } else {
        lua_error(
            ScriptErrorKind::Runtime,
            "the world can only be reached while the scripting step runs",
        )
    }
}

thread_local! {
    /// The VM whose world is lent on this thread (innermost, if lends nest): its key (see
    /// [`super::stack::vm_key`]) and its shared state.
    static RUNNING: Cell<Option<(usize, *const Shared)>> = const { Cell::new(None) };
}

/// The shared state of the VM named `vm`, if its world is lent on this thread.
pub(crate) fn running<'a>(vm: usize) -> Option<&'a Shared> {
    let (key, shared) = RUNNING.get()?;
    // SAFETY: `lend_world` stores the `Shared` of its VM here for as long as it runs and takes
    // it away before it returns, and the VM (so the `Shared`) outlives that call; the caller
    // runs inside the lend of the VM named `vm`, so the reference does not outlive it.
    (key == vm).then(|| unsafe { &*shared })
}

/// Gives Lua the world for the length of `f`; restores what was lent before (nothing, or the
/// world of an outer call) before it returns, whatever `f` does.
pub(crate) fn lend_world<R>(
    lua: &Lua,
    world: &mut World,
    f: impl FnOnce() -> R,
) -> Result<R, ScriptError> {
    struct Restore<'a> {
        lent: &'a Lent,
        world: Option<NonNull<World>>,
        borrowed: bool,
        running: Option<(usize, *const Shared)>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.lent.world.set(self.world);
            self.lent.borrowed.set(self.borrowed);
            RUNNING.set(self.running);
        }
    }
    // The VM's lock is held for the whole lend, so no other thread runs the VM (and reaches the
    // world through it) until the lend is over; this thread's own calls take it again.
    let lent = Shared::with(lua, |shared| {
        if shared.lent.last.replace(Some(world.id())) != Some(world.id()) {
            // Component ids belong to one world.
            shared.forget_world();
        }
        let lent = &shared.lent;
        let _restore = Restore {
            lent,
            world: lent.world.replace(Some(NonNull::from(world))),
            borrowed: lent.borrowed.replace(false),
            running: RUNNING.replace(Some((shared.vm, std::ptr::from_ref(shared)))),
        };
        f()
    });
    lent.ok_or_else(|| {
        ScriptError::in_crate(
            ScriptErrorKind::Runtime,
            "world access is not available in this VM",
        )
    })
}

/// The component `id` of `entity`, as a reflected value, when the entity has it: a component
/// read by id, skipping the type-id lookup of `ReflectComponent`. `None` also when `from_ptr`
/// is not for the component's type.
pub(crate) fn reflect_by_id<'w>(
    world: &'w World,
    entity: Entity,
    id: ComponentId,
    from_ptr: &ReflectFromPtr,
) -> Option<&'w dyn Reflect> {
    let info = world.components().get_info(id)?;
    if info.type_id() != Some(from_ptr.type_id()) {
        return None;
    }
    let entity = world
        .as_unsafe_world_cell_readonly()
        .get_entity(entity)
        .ok()?;
    // SAFETY: `world` is borrowed shared for 'w, so no mutable reference to the component
    // exists, and a read-only cell may read every component.
    let value = unsafe { entity.get_by_id(id) }?;
    let cast = from_ptr.raw_pointer_cast();
    // SAFETY: `value` points at a component with `id`, whose type is the one `from_ptr` casts
    // to (checked above), and lives as long as the shared borrow of `world`.
    Some(unsafe { &*cast(value.as_ptr().cast_mut().cast()) })
}

/// Why [`reflect_mut_by_id`] found nothing.
pub(crate) enum Absent {
    /// The entity does not exist.
    Entity,
    /// The entity has no such component, or `from_ptr` is not for its type.
    Component,
    /// The component is immutable (`#[component(immutable)]`): it can only be replaced whole.
    Immutable,
}

/// The component `id` of `entity`, reflected, for changing it: the component is marked as
/// changed. As [`reflect_by_id`] otherwise.
pub(crate) fn reflect_mut_by_id<'w>(
    world: &'w mut World,
    entity: Entity,
    id: ComponentId,
    from_ptr: &ReflectFromPtr,
) -> Result<&'w mut dyn Reflect, Absent> {
    let info = world.components().get_info(id).ok_or(Absent::Component)?;
    if info.type_id() != Some(from_ptr.type_id()) {
        return Err(Absent::Component);
    }
    if !info.mutable() {
        return Err(Absent::Immutable);
    }
    let entity = world
        .as_unsafe_world_cell()
        .get_entity(entity)
        .map_err(|_| Absent::Entity)?;
    // SAFETY: `world` is borrowed mutably for 'w, so nothing else reaches the component.
    let value = unsafe { entity.get_mut_by_id(id) }
        .map_err(|_| Absent::Component)?
        .into_inner();
    let cast = from_ptr.raw_pointer_cast();
    // SAFETY: as `reflect_by_id`, with `value` borrowed mutably from `world`.
    Ok(unsafe { &mut *cast(value.as_ptr().cast()) })
}
