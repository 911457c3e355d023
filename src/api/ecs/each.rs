//! `ecs.each`: a Lua system's loop over the entities that have every named component.
//!
//! ```lua
//! for e, velocity, t in ecs.each("Velocity", "Transform") do
//!     t.translation += velocity.linear * dt
//! end
//! ```
//!
//! The loop yields the entity and then, for each name, a [`ComponentRef`](super::reference)
//! to that component (a serde component, which has no references, is yielded as its value,
//! as `ecs.get` gives it). Unlike `ecs.query`, it builds no table: the entities matched when
//! the loop starts are kept in a Luau buffer (VM memory, under its limit), and the references
//! it yields are the same few userdata
//! every iteration, moved to the current entity. So a reference from the loop follows the
//! loop; keep the entity (and call `ecs.ref`) for one that lasts. Once the loop has run to its
//! end, its references are errors to use.
//!
//! An entity despawned during the loop, or one that lost a named component, is skipped; one
//! spawned during the loop is not visited.
//!
//! In the parallel phase of actor VMs the loop works read-only: it matches the entities from
//! the archetypes, in a fixed order, and a write through one of its references is queued like
//! any reference write (see `crate::api::deferred`).

use super::reference;
use crate::api::function;
use crate::bridge::lent::{with_shared_world_ref, with_world_ref};
use crate::bridge::names;
use crate::error::{ScriptErrorKind, lua_error};
use crate::ffi::stack::UPVALUES;
use crate::ffi::userdata::{Each, Push, Reference};
use crate::ffi::{self, Stack, fast_fn};
use crate::registry::{Access, Kind};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use mlua::{Function, Lua, MultiValue, Value};
use std::ffi::c_int;

/// Most components one loop may name (Luau closures hold at most 255 upvalues).
const MAX_COMPONENTS: usize = 32;

/// Creates `ecs.each(...)`.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Function> {
    const NAME: &str = "ecs.each";
    // The safe implementation reports what the fast path refused, and runs the loops over a
    // component the world has not registered (the fast path knows only registered ones).
    let slow = function::create(
        lua,
        NAME,
        |lua, names: MultiValue| -> mlua::Result<Function> {
            if names.is_empty() {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!("{NAME}: name at least one component"),
                ));
            }
            if names.len() > MAX_COMPONENTS {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!("{NAME}: name at most {MAX_COMPONENTS} components"),
                ));
            }
            let registered = with_shared_world_ref(lua, |shared, world| {
                let mut registered = true;
                for (i, name) in names.iter().enumerate() {
                    let name: mlua::LuaString = function::arg(lua, name.clone(), i + 1, NAME)?;
                    let access =
                        names::lookup(shared, world, Kind::Component, &name.to_str()?, NAME)?;
                    registered &= access.id(world).is_some();
                }
                Ok::<bool, mlua::Error>(registered)
            })??;
            if !registered {
                // No entity has a component the world has not registered: the loop is empty.
                return lua.create_function(|_, _: MultiValue| Ok(()));
            }
            Err(lua_error(
                ScriptErrorKind::Runtime,
                format!("{NAME}: the loop could not start"),
            ))
        },
    )?;
    // The loop's own safe implementation: it runs when the world cannot be reached, or a serde
    // component's value cannot be converted on the fast path.
    let ended = function::create(lua, NAME, |lua, _: MultiValue| -> mlua::Result<()> {
        with_world_ref(lua, |_| ())?;
        Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "{NAME}: a serde component of this loop has a value only `ecs.get` can convert; \
                 loop with ecs.query and read it with ecs.get"
            ),
        ))
    })?;
    ffi::stack::closure::<Start>(
        lua,
        slow,
        MultiValue::from_vec(vec![Value::Function(ended)]),
    )
}

fast_fn!(Start, c"ecs.each", start);
fast_fn!(Next, c"ecs.each", next);

/// `ecs.each(...)`: matches the entities and returns the loop's iterator.
fn start(stack: Stack<'_>) -> Option<c_int> {
    let count = usize::try_from(stack.args()).ok()?;
    if count == 0 || count > MAX_COMPONENTS {
        return None;
    }
    let shared = stack.shared()?;
    let world = shared.lent.borrow_ref()?;
    let mut components = Vec::with_capacity(count);
    let mut roots = Vec::with_capacity(count);
    for index in 1..=stack.args() {
        let named = names::component(stack, &world, index, "ecs.each")?;
        match &named.access {
            Access::Serde(serde) => {
                components.push((named.id, Some(serde.push as Push)));
                roots.push(None);
            }
            Access::Reflect(reflect) => {
                let root = reference::root_plan(stack, shared, reflect, &world, named.id).ok()?;
                components.push((named.id, None));
                roots.push(Some(root));
            }
        }
    }
    let ids: Vec<ComponentId> = components.iter().map(|(id, _)| *id).collect();
    drop(world);
    let entities = names::matching(shared, ids)?;
    // The iterator: its safe implementation (this closure's first extra upvalue), then as its
    // extra upvalues the loop state, the matched entities and one reference per reflected
    // component.
    stack.push_upvalue(UPVALUES + 1);
    stack.push_each(Each {
        next: 0,
        components,
    });
    stack.push_entities(&entities);
    drop(entities);
    let call = crate::vm::Budget::call_id();
    for root in roots.iter().flatten() {
        stack.push_reference(Reference::looped(Entity::PLACEHOLDER, *root, call));
    }
    let extra = c_int::try_from(2 + roots.iter().flatten().count()).ok()?;
    stack.push_closure::<Next>(extra)?;
    Some(1)
}

/// One step of the loop: the next entity that still has every component, with its
/// references (or serde values); nothing at the end.
fn next(stack: Stack<'_>) -> Option<c_int> {
    const STATE: c_int = UPVALUES + 1;
    const ENTITIES: c_int = STATE + 1;
    const REFERENCES: c_int = ENTITIES + 1;
    let shared = stack.shared()?;
    let world = shared.lent.borrow_ref()?;
    let each = stack.upvalue_each(STATE)?;
    // A loop in a task goes on in later calls: its references move with it into each.
    let call = crate::vm::Budget::call_id();
    loop {
        let Some(entity) = stack.upvalue_entity(ENTITIES, each.next) else {
            let mut n = REFERENCES;
            while let Some(reference) = stack.upvalue_reference(n) {
                reference.live = false;
                n += 1;
            }
            stack.push_nil();
            return Some(1);
        };
        each.next += 1;
        let Ok(found) = world.get_entity(entity) else {
            continue;
        };
        if !each.components.iter().all(|(id, _)| found.contains_id(*id)) {
            continue;
        }
        stack.push_entity(entity);
        let mut reference = REFERENCES;
        for (_, push) in &each.components {
            match push {
                Some(push) => push(stack, found)?,
                None => {
                    let moved = stack.upvalue_reference(reference)?;
                    moved.entity = entity;
                    moved.call = call;
                    moved.live = true;
                    stack.push_upvalue(reference);
                    reference += 1;
                }
            }
        }
        return c_int::try_from(1 + each.components.len()).ok();
    }
}
