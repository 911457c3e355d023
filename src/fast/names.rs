//! The caches of the fast path: components by the Lua string of their name, and the Lua strings
//! of Rust field names.

use super::Stack;
use super::stack::{Pin, StackStr};
use crate::registry::{Access, Kind, lookup};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::query::{QueryBuilder, QueryState};
use bevy_ecs::world::World;
use rustc_hash::FxHashMap;
use std::ffi::c_int;

/// A component scripts reached by name.
pub(crate) struct Named {
    /// How it crosses.
    pub access: Access,
    /// Its id in the lent world.
    pub id: ComponentId,
}

/// Components by the address of the (pinned) Lua string of their name.
#[derive(Default)]
pub(crate) struct Names(FxHashMap<usize, Named>);

impl Names {
    /// Forgets every component (their ids belong to another world).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Finds the component named by the string at `index`, which `function` was called with.
///
/// A name seen before costs one hash of the string's address. A new name is looked up like
/// the safe implementation does ([`lookup`]) and, when it names a component, remembered, with
/// its string pinned so that the address keeps naming it. Returns `None` for anything that is
/// not a component name (the safe implementation then reports it).
pub(crate) fn component<'s>(
    stack: Stack<'s>,
    world: &mut World,
    index: c_int,
    function: &str,
) -> Option<std::cell::Ref<'s, Named>> {
    let shared = stack.shared()?;
    let name = stack.string(index)?;
    match std::cell::Ref::filter_map(shared.names.try_borrow().ok()?, |names| {
        names.0.get(&name.address())
    }) {
        Ok(known) => return Some(known),
        Err(names) => drop(names),
    }
    learn(stack, world, index, name, function)?;
    std::cell::Ref::filter_map(shared.names.try_borrow().ok()?, |names| {
        names.0.get(&name.address())
    })
    .ok()
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
    let mut names = stack.shared()?.names.try_borrow_mut().ok()?;
    stack.pin(index);
    names.0.insert(name.address(), Named { access, id });
    Some(())
}

/// The pinned Lua strings of Rust field names, by the address of the Rust string.
#[derive(Default)]
pub(crate) struct Keys(FxHashMap<(usize, usize), Pin>);

/// Pushes the Lua string of `key`, a field name: after the first time, a registry read.
pub(crate) fn push_key(stack: Stack<'_>, key: &'static str) {
    let Some(shared) = stack.shared() else {
        stack.push_str(key.as_bytes());
        return;
    };
    let address = (key.as_ptr().addr(), key.len());
    let known = shared
        .keys
        .try_borrow()
        .ok()
        .and_then(|keys| keys.0.get(&address).copied());
    match known {
        Some(pin) => stack.push_pinned(pin),
        None => {
            stack.push_str(key.as_bytes());
            let pin = stack.pin(-1);
            if let Ok(mut keys) = shared.keys.try_borrow_mut() {
                keys.0.insert(address, pin);
            }
        }
    }
}

/// Query states by their sorted component ids, kept between calls so each call only catches up
/// with new archetypes.
#[derive(Default)]
pub(crate) struct Queries(FxHashMap<Vec<ComponentId>, QueryState<Entity>>);

impl Queries {
    /// Appends the entities that have every component of `ids` (sorted, no duplicates) to
    /// `out`.
    pub fn matching(&mut self, world: &mut World, ids: Vec<ComponentId>, out: &mut Vec<Entity>) {
        let state = self.0.entry(ids).or_insert_with_key(|ids| {
            let mut builder = QueryBuilder::<Entity>::new(world);
            for id in ids {
                builder.with_id(*id);
            }
            builder.build()
        });
        state.update_archetypes(world);
        out.extend(state.iter_manual(world));
    }

    /// Forgets every query (their ids belong to another world).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}
