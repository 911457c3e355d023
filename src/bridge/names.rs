//! Caches of the fast path: components by the Lua string of their name, and query states.

use crate::ffi::stack::StackStr;
use crate::ffi::{Extension, Shared, Stack};
use crate::registry::{Access, Kind, lookup};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::query::{QueryBuilder, QueryState};
use bevy_ecs::world::World;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::ffi::c_int;

/// A component scripts reached by name.
pub(crate) struct Named {
    /// How it crosses.
    pub access: Access,
    /// Its id in the lent world.
    pub id: ComponentId,
    /// Its plan, once the fast path made one (reflected components only).
    pub plan: std::cell::Cell<Option<crate::bridge::plan::PlanId>>,
}

/// Slots of the direct-mapped cache in front of [`Names`].
const RECENT_NAMES: usize = 1 << 5;

/// Components by the address of the Lua string of their name, which is pinned once it resolved
/// (Luau interns strings, so one name is one string, and a pinned string keeps its address),
/// with a small direct-mapped cache of the ones used last in front. Names that do not resolve
/// are not kept.
#[derive(Default)]
pub(crate) struct Names {
    named: Vec<Named>,
    by_address: FxHashMap<usize, usize>,
    recent: [std::cell::Cell<(usize, usize)>; RECENT_NAMES],
}

impl Names {
    /// Forgets every component (their ids belong to another world).
    pub fn clear(&mut self) {
        self.named.clear();
        self.by_address.clear();
        for slot in &self.recent {
            slot.set((0, 0));
        }
    }

    fn get(&self, address: usize) -> Option<&Named> {
        let slot = &self.recent[address.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - 5)];
        let (known, index) = slot.get();
        if known == address && address != 0 {
            return self.named.get(index);
        }
        let index = *self.by_address.get(&address)?;
        slot.set((address, index));
        self.named.get(index)
    }
}

/// Finds the component named by the string at `index`, which `function` was called with.
///
/// A name seen before costs a read of a small cache by the address of its string (or one hash
/// of it). A new name is looked up like the safe implementation does ([`lookup`]) and, when it
/// names a component, remembered with its string pinned, so that the address keeps naming it.
/// Returns `None` for anything that is not a component name (the safe implementation then
/// reports it), which leaves nothing behind.
pub(crate) fn component<'s>(
    stack: Stack<'s>,
    world: &mut World,
    index: c_int,
    function: &str,
) -> Option<std::cell::Ref<'s, Named>> {
    let names = stack.shared()?.names()?;
    let name = stack.string(index)?;
    match std::cell::Ref::filter_map(names.try_borrow().ok()?, |names| names.get(name.address())) {
        Ok(known) => return Some(known),
        Err(names) => drop(names),
    }
    learn(stack, world, index, name, function)?;
    std::cell::Ref::filter_map(names.try_borrow().ok()?, |names| names.get(name.address())).ok()
}

#[cold]
fn learn(
    stack: Stack<'_>,
    world: &mut World,
    index: c_int,
    name: StackStr<'_>,
    function: &str,
) -> Option<()> {
    let text = std::str::from_utf8(name.bytes()).ok()?;
    let access = lookup(world, Kind::Component, text, function).ok()?;
    let id = access.component_id(world);
    let mut names = stack.shared()?.names()?.try_borrow_mut().ok()?;
    stack.pin(index);
    let slot = names.named.len();
    names.named.push(Named {
        access,
        id,
        plan: std::cell::Cell::new(None),
    });
    names.by_address.insert(name.address(), slot);
    Some(())
}

/// Most query states kept; past it the cache starts over, so scripts that name ever new sets
/// of components cannot grow it without end.
const MAX_QUERIES: usize = 256;

/// Query states by their sorted component ids, kept between calls so each call only catches up
/// with new archetypes.
#[derive(Default)]
pub(crate) struct Queries(FxHashMap<Vec<ComponentId>, QueryState<Entity>>);

impl Queries {
    /// The entities that have every component of `ids`.
    pub fn matching(&mut self, world: &mut World, mut ids: Vec<ComponentId>) -> Vec<Entity> {
        ids.sort_unstable();
        ids.dedup();
        if self.0.len() >= MAX_QUERIES && !self.0.contains_key(&ids) {
            self.0.clear();
        }
        let state = self.0.entry(ids).or_insert_with_key(|ids| {
            let mut builder = QueryBuilder::<Entity>::new(world);
            for id in ids {
                builder.with_id(*id);
            }
            builder.build()
        });
        state.update_archetypes(world);
        state.iter_manual(world).collect()
    }

    /// Forgets every query (their ids belong to another world).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Slot 0 of the VM's extensions.
impl Extension for RefCell<Names> {
    const SLOT: usize = 0;

    fn forget_world(&self) {
        if let Ok(mut names) = self.try_borrow_mut() {
            names.clear();
        }
    }
}

/// Slot 2 of the VM's extensions.
impl Extension for RefCell<Queries> {
    const SLOT: usize = 2;

    fn forget_world(&self) {
        if let Ok(mut queries) = self.try_borrow_mut() {
            queries.clear();
        }
    }
}

impl Shared {
    /// Components by the Lua string of their name (see [`component`]).
    pub fn names(&self) -> Option<&RefCell<Names>> {
        self.extension()
    }

    /// The query states of `ecs.query` and `ecs.each`.
    pub fn queries(&self) -> Option<&RefCell<Queries>> {
        self.extension()
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use bevy_app::{App, TaskPoolPlugin};
    use bevy_asset::AssetPlugin;
    use bevy_time::TimePlugin;

    #[test]
    fn a_name_that_does_not_resolve_gets_no_atom() {
        let mut app = App::new();
        app.add_plugins((
            TaskPoolPlugin::default(),
            TimePlugin,
            AssetPlugin::default(),
        ))
        .add_plugins(LuauScriptingPlugin);
        app.finish();
        // Made at run time, so no bytecode mentions it.
        let lua = "lua (pcall(ecs.get, ecs.spawn(), 'NoSuch' .. 'Component' .. 'Atom1'))";
        assert_eq!(Console::execute(app.world_mut(), lua), Ok("false".into()));
        assert!(!crate::bridge::atoms::is_numbered(b"NoSuchComponentAtom1"));
    }
}
