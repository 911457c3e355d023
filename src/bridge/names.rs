//! Caches of the fast path: components by the Lua string of their name, and query states; and
//! the lookups of every path by the text of a name.
//!
//! Everything here reads the world through `&World`, so it serves the parallel phase of actor
//! VMs too, except the query states, which are made with `&mut World`: in the phase a query is
//! answered from the archetypes instead ([`matching`]).

use crate::ffi::stack::StackStr;
use crate::ffi::{Extension, Shared, Stack};
use crate::registry::{Access, Kind};
use bevy_ecs::archetype::ArchetypeId;
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::entity_disabling::DefaultQueryFilters;
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
///
/// It also keeps what [`lookup`] found, by the text of the name.
#[derive(Default)]
pub(crate) struct Names {
    named: Vec<Named>,
    by_address: FxHashMap<usize, usize>,
    recent: [std::cell::Cell<(usize, usize)>; RECENT_NAMES],
    /// Components looked up by name.
    components: FxHashMap<Box<str>, Access>,
    /// Resources looked up by name.
    resources: FxHashMap<Box<str>, Access>,
}

impl Names {
    /// Forgets every component (their ids belong to another world).
    pub fn clear(&mut self) {
        self.named.clear();
        self.by_address.clear();
        self.components.clear();
        self.resources.clear();
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
    world: &World,
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

/// Learns the component named at `index`; `None` also for a component the world has not
/// registered yet (no entity has it), which the safe implementation registers or answers.
#[cold]
fn learn(
    stack: Stack<'_>,
    world: &World,
    index: c_int,
    name: StackStr<'_>,
    function: &str,
) -> Option<()> {
    let text = std::str::from_utf8(name.bytes()).ok()?;
    let shared = stack.shared()?;
    let access = lookup(shared, world, Kind::Component, text, function).ok()?;
    let id = access.id(world)?;
    let mut names = shared.names()?.try_borrow_mut().ok()?;
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

/// How to reach the component or resource `name` ([`crate::registry::lookup`]), remembered by
/// the VM after the first time. `function` names the caller in errors.
pub(crate) fn lookup(
    shared: &Shared,
    world: &World,
    kind: Kind,
    name: &str,
    function: &str,
) -> mlua::Result<Access> {
    let Some(names) = shared.names() else {
        return crate::registry::lookup(world, kind, name, function);
    };
    let known = names.try_borrow().ok().and_then(|names| {
        let table = match kind {
            Kind::Component => &names.components,
            Kind::Resource => &names.resources,
        };
        table.get(name).cloned()
    });
    if let Some(access) = known {
        return Ok(access);
    }
    let access = crate::registry::lookup(world, kind, name, function)?;
    if let Ok(mut names) = names.try_borrow_mut() {
        let table = match kind {
            Kind::Component => &mut names.components,
            Kind::Resource => &mut names.resources,
        };
        table.insert(name.into(), access.clone());
    }
    Ok(access)
}

/// The entities that have every component of `ids`, for `ecs.query` and `ecs.each`: through the
/// VM's query states while the world is lent `&mut`, from the archetypes ([`scan`]) while it is
/// lent read-only. `None` when the world cannot be borrowed now.
pub(crate) fn matching(shared: &Shared, ids: Vec<ComponentId>) -> Option<Vec<Entity>> {
    if shared.lent.is_read_only() {
        let world = shared.lent.borrow_ref()?;
        return Some(scan(&world, ids));
    }
    let mut world = shared.lent.borrow()?;
    let mut queries = shared.queries()?.try_borrow_mut().ok()?;
    Some(queries.matching(&mut world, ids))
}

/// [`matching`] for the safe paths: with the error of a world that cannot be borrowed now.
pub(crate) fn matching_in(lua: &mlua::Lua, ids: Vec<ComponentId>) -> mlua::Result<Vec<Entity>> {
    Shared::with(lua, |shared| {
        matching(shared, ids).ok_or_else(|| super::lent::unavailable(&shared.lent))
    })
    .unwrap_or_else(|| {
        Err(mlua::Error::runtime(
            "world access is not available in this VM",
        ))
    })
}

/// The entities that have every component of `ids` (and none that disables entities, as
/// Bevy's queries leave them out, unless `ids` names it), read from the archetypes with
/// `&World` alone, in one order whatever was asked before: archetypes by id, entities in
/// archetype order. What the parallel phase answers queries with, so that the answer does not
/// depend on which actor VM asks.
pub(crate) fn scan(world: &World, mut ids: Vec<ComponentId>) -> Vec<Entity> {
    ids.sort_unstable();
    ids.dedup();
    let disabling: Vec<ComponentId> = world
        .get_resource::<DefaultQueryFilters>()
        .map(|filters| {
            filters
                .disabling_ids()
                .filter(|id| !ids.contains(id))
                .collect()
        })
        .unwrap_or_default();
    let archetypes = world.archetypes();
    // The archetypes of the component that is in the fewest.
    let Some(fewest) = ids
        .iter()
        .map(|id| archetypes.component_index().get(id))
        .min_by_key(|found| found.map_or(0, |archetypes| archetypes.len()))
    else {
        return Vec::new();
    };
    let Some(fewest) = fewest else {
        return Vec::new();
    };
    let mut matched: Vec<ArchetypeId> = fewest
        .keys()
        .copied()
        .filter(|&id| {
            let archetype = &archetypes[id];
            ids.iter().all(|&c| archetype.contains(c))
                && !disabling.iter().any(|&c| archetype.contains(c))
        })
        .collect();
    matched.sort_unstable();
    matched
        .into_iter()
        .flat_map(|id| archetypes[id].entities().iter().map(|e| e.id()))
        .collect()
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
