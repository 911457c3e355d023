//! The crate's own userdata: component references and `ecs.each` loops, each kind under a tag
//! of its own, so a block is always read as the type it was made with.

use super::stack::{Fast, Stack};
use super::stack::{install_destructor, install_direct_access, install_metatable, read_userdata};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::world::EntityRef;
use mlua::ffi;
use std::ffi::c_int;

/// The number of a reflection plan, which the layer above gives meaning to (see
/// `crate::bridge::plan`).
pub(crate) type PlanId = u32;

/// The userdata tag of component references. Luau allows 128 tags; mlua uses the lowest ones.
const REFERENCE: c_int = 100;

/// The userdata tag of `ecs.each` loops.
const EACH: c_int = 101;

/// The deepest field path a reference can hold.
const MAX_PATH: usize = 14;

/// A component reference: the entity, the component (by its plan) and the path of field
/// indices from the component to the referenced value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reference {
    /// The entity whose component it is.
    pub entity: Entity,
    /// The plan of the component, which knows how to reach it.
    pub root: PlanId,
    /// The plan of the referenced value.
    pub plan: PlanId,
    path: [u8; MAX_PATH],
    depth: u8,
    /// Cleared when the `ecs.each` loop that moves this reference has ended.
    pub live: bool,
    /// For a reference of an `ecs.each` loop (or one derived from it), the host call it was
    /// made in (see [`Budget::call_id`](super::interrupt::Budget::call_id)); it ends when that
    /// call returns. `0` for a reference that lasts (`ecs.ref`).
    pub call: u64,
}

impl Reference {
    /// A reference to a whole component.
    pub fn new(entity: Entity, root: PlanId) -> Self {
        Self {
            entity,
            root,
            plan: root,
            path: [0; MAX_PATH],
            depth: 0,
            live: true,
            call: 0,
        }
    }

    /// A reference of an `ecs.each` loop made during the host call `call`.
    pub fn looped(entity: Entity, root: PlanId, call: u64) -> Self {
        Self {
            call,
            ..Self::new(entity, root)
        }
    }

    /// Ends the reference when it belongs to a host call that has returned.
    fn refresh(&mut self) -> &mut Self {
        if self.call != 0 && self.call != super::interrupt::Budget::current_call() {
            self.live = false;
        }
        self
    }

    /// A reference to field `index` (of plan `plan`) of the referenced value, unless the path
    /// is full.
    pub fn field(&self, index: usize, plan: PlanId) -> Option<Self> {
        let index = u8::try_from(index).ok()?;
        let depth = usize::from(self.depth);
        if depth >= MAX_PATH {
            return None;
        }
        let mut field = *self;
        field.path[depth] = index;
        field.depth += 1;
        field.plan = plan;
        Some(field)
    }

    /// The field indices from the component to the referenced value.
    pub fn path(&self) -> &[u8] {
        &self.path[..usize::from(self.depth)]
    }
}

/// What an `ecs.each` loop walks: its position among the entities matched when it started
/// (kept in a Luau buffer beside it, see [`Stack::push_entities`], so the VM's memory limit
/// covers them), and what it yields for each of them.
pub(crate) struct Each {
    /// The next position among the matched entities.
    pub next: usize,
    /// The components named, in order: their id, and for a serde component the function that
    /// pushes its value (a reflected component is yielded as a reference instead).
    pub components: Vec<(ComponentId, Option<Push>)>,
}

/// Pushes the value of a serde component of an entity (see `crate::registry`).
pub(crate) type Push = for<'s> fn(Stack<'s>, EntityRef<'_>) -> Option<()>;

/// Sets up the tags of `lua`: the metatables of references and loops, and the destructor of
/// loops. `Index` and `Assign` are the references' `__index` and `__newindex`; `atoms` gives
/// the field names their atoms (see [`install_direct_access`]).
pub(crate) fn install<Index: Fast, Assign: Fast>(
    lua: &mlua::Lua,
    reference_metatable: mlua::Table,
    atoms: super::stack::Atoms,
) -> mlua::Result<()> {
    install_metatable(lua, REFERENCE, reference_metatable)?;
    // SAFETY: the metatable's `__index` and `__newindex` are `Index` and `Assign`, which read
    // index 1 with `Stack::reference` (see `crate::api::reference`).
    unsafe { install_direct_access::<Index, Assign>(lua, REFERENCE, atoms)? };
    let each = lua.create_table()?;
    each.raw_set("__type", "EachLoop")?;
    each.raw_set("__metatable", "EachLoop")?;
    each.set_readonly(true);
    install_metatable(lua, EACH, each)?;
    // SAFETY: only `Stack::push_each` makes userdata with this tag, and they hold an `Each`.
    unsafe { install_destructor::<Each>(lua, EACH) }
}

impl<'call> Stack<'call> {
    /// The reference at `index`, if it is one.
    pub fn reference(&self, index: c_int) -> Option<&'call mut Reference> {
        // SAFETY: only `push_reference` makes userdata with this tag.
        unsafe { self.userdata::<Reference>(index, REFERENCE) }.map(Reference::refresh)
    }

    /// The reference in upvalue `n`, if it is one.
    pub fn upvalue_reference(&self, n: c_int) -> Option<&'call mut Reference> {
        // SAFETY: as `reference`.
        unsafe { self.upvalue_userdata::<Reference>(n, REFERENCE) }.map(Reference::refresh)
    }

    /// Pushes a new reference.
    pub fn push_reference(&self, reference: Reference) {
        // SAFETY: every userdata with this tag holds a `Reference`, which needs no drop.
        unsafe {
            self.new_userdata(REFERENCE, reference);
        }
    }

    /// The loop in upvalue `n`, if it is one.
    pub fn upvalue_each(&self, n: c_int) -> Option<&'call mut Each> {
        // SAFETY: only `push_each` makes userdata with this tag.
        unsafe { self.upvalue_userdata(n, EACH) }
    }

    /// Pushes a new loop; Luau drops it when it is collected.
    pub fn push_each(&self, each: Each) {
        // SAFETY: every userdata with this tag holds an `Each`, dropped by the tag's
        // destructor (see `install`).
        unsafe {
            self.new_userdata(EACH, each);
        }
    }
}

/// The reference `value` is, if it is one.
pub(crate) fn reference(lua: &mlua::Lua, value: &mlua::Value) -> Option<Reference> {
    // SAFETY: only `Stack::push_reference` makes userdata with this tag.
    let mut reference: Reference = unsafe { read_userdata(lua, value, REFERENCE) }?;
    reference.refresh();
    Some(reference)
}

impl<'call> Stack<'call> {
    /// Pushes a Luau buffer holding `entities` (their bits, 8 bytes each, in order): memory of
    /// the VM, counted against its limit and freed by its collector.
    pub fn push_entities(&self, entities: &[Entity]) {
        let bytes = entities.len().saturating_mul(8);
        // SAFETY: `lua_newbuffer` returns a block of `bytes` bytes (or raises a memory error,
        // which unwinds as any allocation of the fast path does); every byte is written below
        // before anything can read it.
        unsafe {
            let block = ffi::lua_newbuffer(self.raw(), bytes).cast::<u8>();
            for (i, entity) in entities.iter().enumerate() {
                std::ptr::copy_nonoverlapping(
                    entity.to_bits().to_le_bytes().as_ptr(),
                    block.add(i * 8),
                    8,
                );
            }
        }
    }

    /// Entity `i` of the buffer in upvalue `n` made by [`Stack::push_entities`]; `None` past
    /// its end, or when the upvalue is not a buffer.
    pub fn upvalue_entity(&self, n: c_int, i: usize) -> Option<Entity> {
        let mut len = 0;
        // SAFETY: upvalue pseudo-indices are always acceptable; `lua_tobuffer` is null for
        // anything but a buffer, and otherwise points at its `len` bytes, of which 8 are read
        // at `i * 8` only when they are in bounds (checked first).
        let bits = unsafe {
            let block = ffi::lua_tobuffer(self.raw(), ffi::lua_upvalueindex(n), &mut len);
            let start = i.checked_mul(8)?;
            if block.is_null() || start.checked_add(8)? > len {
                return None;
            }
            let mut bits = [0u8; 8];
            std::ptr::copy_nonoverlapping(block.cast::<u8>().add(start), bits.as_mut_ptr(), 8);
            bits
        };
        Entity::try_from_bits(u64::from_le_bytes(bits))
    }
}
