//! The lent world, and components reached by id.
//!
//! [`lend_world`](super::shared::lend_world) stores a pointer to the `&mut World` it was given
//! in the VM's state and clears it again before it returns (also when it unwinds). Lua functions
//! reach the world through [`Lent::borrow`], which hands out one `&mut World` at a time: while a
//! borrow is alive, another fails. The crate never runs Lua while it holds a borrow, so in
//! practice the second borrow only fails for code that breaks that rule, with an error instead
//! of two aliasing references. [`Lent::borrow_ref`] hands out the world shared, under the same
//! flag.
//!
//! [`lend_world_ref`](super::shared::lend_world_ref) lends a `&World` instead (the parallel
//! phase of actor VMs): then the world is read-only. [`Lent::borrow`] refuses, and
//! [`Lent::borrow_ref`] hands out any number of shared references at once, with no flag, since
//! shared references may alias.

use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::world::{World, WorldId};
use bevy_reflect::{Reflect, ReflectFromPtr};
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The world of the running step, if any, whether it is lent read-only, and whether it is
/// borrowed.
#[derive(Default)]
pub(crate) struct Lent {
    pub(super) world: Cell<Option<NonNull<World>>>,
    /// Set while `world` came from a `&World` ([`lend_world_ref`](super::shared::lend_world_ref)):
    /// then no `&mut World` is ever made from it.
    pub(super) read_only: Cell<bool>,
    pub(super) borrowed: Cell<bool>,
    /// The world lent last, whose component ids the caches hold.
    pub(super) last: Cell<Option<WorldId>>,
}

/// A borrow of the lent world; the world is free again when it drops.
pub(crate) struct WorldRef<'a> {
    lent: &'a Lent,
    world: &'a mut World,
}

/// A shared borrow of the lent world. In the `&mut` mode it holds the borrow flag, which it
/// clears when it drops; in the read-only mode it holds nothing.
pub(crate) struct WorldRead<'a> {
    /// The lent world's state, when this borrow holds its flag.
    flag: Option<&'a Lent>,
    world: &'a World,
}

impl Lent {
    /// The lent world for changing it, unless none is lent, it is borrowed already, or it is
    /// lent read-only.
    pub fn borrow(&self) -> Option<WorldRef<'_>> {
        let world = self.world.get()?;
        if self.read_only.get() || self.borrowed.replace(true) {
            return None;
        }
        // SAFETY: the world is not lent read-only (checked above), so the pointer came from the
        // `&mut World` that `lend_world` holds for as long as the pointer is stored, and the
        // `borrowed` flag, set above and cleared when the `WorldRef` drops, makes this the only
        // reference made from it.
        let world = unsafe { &mut *world.as_ptr() };
        Some(WorldRef { lent: self, world })
    }

    /// The lent world for reading it, unless none is lent or (in the `&mut` mode) it is
    /// borrowed already. While it is lent read-only, any number of these may be alive at once.
    pub fn borrow_ref(&self) -> Option<WorldRead<'_>> {
        let world = self.world.get()?;
        if self.read_only.get() {
            // SAFETY: the pointer came from the `&World` that `lend_world_ref` holds for as
            // long as the pointer is stored (with `read_only` set), and while `read_only` is
            // set only shared references are made from it (`borrow` refuses), so this one
            // aliases only shared references.
            let world = unsafe { world.as_ref() };
            return Some(WorldRead { flag: None, world });
        }
        if self.borrowed.replace(true) {
            return None;
        }
        // SAFETY: as in `borrow`: the pointer came from the `&mut World` that `lend_world`
        // holds, and the `borrowed` flag, set above and cleared when the `WorldRead` drops,
        // makes this the only reference made from it.
        let world = unsafe { world.as_ref() };
        Some(WorldRead {
            flag: Some(self),
            world,
        })
    }

    /// Whether a world is lent, borrowed or not.
    pub fn is_lent(&self) -> bool {
        self.world.get().is_some()
    }

    /// Whether a world is lent read-only (the parallel phase of actor VMs).
    pub fn is_read_only(&self) -> bool {
        self.is_lent() && self.read_only.get()
    }
}

impl Drop for WorldRef<'_> {
    fn drop(&mut self) {
        self.lent.borrowed.set(false);
    }
}

impl Drop for WorldRead<'_> {
    fn drop(&mut self) {
        if let Some(lent) = self.flag {
            lent.borrowed.set(false);
        }
    }
}

impl Deref for WorldRead<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        self.world
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
