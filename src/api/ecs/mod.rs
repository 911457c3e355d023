//! The `ecs` library: entities, components and resources of the world, by short type name.
//!
//! ```lua
//! local e = ecs.spawn({Health = {current = 10, max = 10}, Name = "orc"})
//! ecs.set(e, "Health", {current = 7, max = 10})   -- replaces the whole component
//! local hp = ecs.get(e, "Health")                  -- nil when the entity has none
//! ecs.has(e, "Health")   ecs.remove(e, "Health")   ecs.exists(e)   ecs.despawn(e)
//! for _, enemy in ecs.query("Health", "Enemy") do end
//! ecs.find("orc")   ecs.name(e)   ecs.set_name(e, "boss")
//! ecs.resource("Score")   ecs.set_resource("Score", {points = 3})
//! ```
//!
//! Every call reaches the world at once: the next line of the script sees the change. The world
//! is borrowed only for the length of one call and the crate never runs Lua while it holds it,
//! so calls never alias; `commands.*` is there for changes that should wait until the end of
//! the step.
//!
//! In the parallel phase of actor VMs (see `crate::api::deferred`) the world is read-only:
//! `get`, `has`, `exists`, `query`, `each`, `find`, `name`, `ref`, `value` and `resource` read it
//! as the phase began (`query`, `each` and `find` in one fixed order, archetype by archetype,
//! whichever VM asks), while `set`, `spawn`, `despawn`, `remove`, `set_name` and `set_resource`
//! convert their arguments and check their entity at the call and are queued, applied after
//! the phase. `spawn` returns the new entity at once; it exists once the queue is applied, and
//! writes queued after the spawn may name it. A despawn runs `on_despawn` after the phase.
//!
//! `ecs.set` and `ecs.spawn` replace a component as a whole: a table that leaves out a field
//! is an error naming the field (serde fields with `#[serde(default)]` may be left out).
//! `Script = "path.luau"` in `ecs.spawn` or `ecs.set` attaches an entity script, and
//! `Name = "..."` names the entity. A despawned entity is an error in every call except
//! `ecs.exists`.

pub(crate) mod each;
pub(crate) mod reference;

use crate::api::deferred::{self, Write};
use crate::api::function::{self, entity_arg, existing};
use crate::api::require::ModuleReader;
use crate::vm::Limits;

use crate::asset::Script;
use crate::bridge::lent::{in_parallel_phase, with_shared_world_ref, with_world_ref};
use crate::bridge::names::{self, Named};
use crate::bridge::plan;
use crate::error::{ScriptErrorKind, lua_error};
use crate::ffi::{self, Shared, Stack, fast_fn};
use crate::registry::{Access, Converted, Kind, ReflectAccess, Subject};
use crate::runtime::context::{CallLimits, with_world};
use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_ecs::query::QueryState;
use bevy_ecs::world::World;
use mlua::{Lua, MultiValue, Table, Value};
use std::ffi::c_int;

/// The query state of `ecs.find`, kept between calls so each call only catches up with new
/// archetypes.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct QueryCache {
    names: Option<QueryState<(Entity, &'static Name)>>,
}

/// Adds the `ecs` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(QueryCache::default());
    reference::install(lua)?;
    let ecs = lua.create_table()?;
    ecs.raw_set(
        "spawn",
        function::create(lua, "ecs.spawn", |lua, (components,): (Option<Table>,)| {
            let pairs: Vec<mlua::Result<(Value, Value)>> = match &components {
                Some(table) => table.pairs().collect(),
                None => Vec::new(),
            };
            spawn(lua, pairs.into_iter(), "ecs.spawn").map(crate::value::entity_to_lua)
        })?,
    )?;
    ecs.raw_set(
        "despawn",
        function::create(lua, "ecs.despawn", |lua, (e,): (Value,)| {
            despawn(lua, entity_arg(&e, 1, "ecs.despawn")?, "ecs.despawn")
        })?,
    )?;
    let slow = function::create(lua, "ecs.exists", |lua, (e,): (Value,)| {
        let entity = entity_arg(&e, 1, "ecs.exists")?;
        with_world_ref(lua, |world| world.get_entity(entity).is_ok())
    })?;
    ecs.raw_set("exists", ffi::function::<Exists>(lua, slow)?)?;
    let slow = function::create(
        lua,
        "ecs.get",
        |lua, (e, name): (Value, mlua::LuaString)| {
            let entity = entity_arg(&e, 1, "ecs.get")?;
            let name = name.to_str()?;
            with_shared_world_ref(lua, |shared, world| {
                existing(world, entity, "ecs.get")?;
                let access = names::lookup(shared, world, Kind::Component, &name, "ecs.get")?;
                Ok(access.get(lua, world, entity)?.unwrap_or(Value::Nil))
            })?
        },
    )?;
    ecs.raw_set("get", ffi::function::<Get>(lua, slow)?)?;
    let slow = function::create(
        lua,
        "ecs.set",
        |lua, (e, name, value): (Value, mlua::LuaString, Value)| {
            let entity = entity_arg(&e, 1, "ecs.set")?;
            set(lua, entity, &name.to_str()?, value, "ecs.set")
        },
    )?;
    ecs.raw_set("set", ffi::function::<Set>(lua, slow)?)?;
    let slow = function::create(
        lua,
        "ecs.has",
        |lua, (e, name): (Value, mlua::LuaString)| {
            let entity = entity_arg(&e, 1, "ecs.has")?;
            let name = name.to_str()?;
            with_shared_world_ref(lua, |shared, world| {
                existing(world, entity, "ecs.has")?;
                let access = names::lookup(shared, world, Kind::Component, &name, "ecs.has")?;
                Ok(has(world, entity, &access))
            })?
        },
    )?;
    ecs.raw_set("has", ffi::function::<Has>(lua, slow)?)?;
    ecs.raw_set("ref", reference::create_ref(lua)?)?;
    ecs.raw_set("value", reference::create_value(lua)?)?;
    ecs.raw_set("each", each::create(lua)?)?;
    ecs.raw_set(
        "remove",
        function::create(
            lua,
            "ecs.remove",
            |lua, (e, name): (Value, mlua::LuaString)| {
                let entity = entity_arg(&e, 1, "ecs.remove")?;
                remove(lua, entity, &name.to_str()?, "ecs.remove")
            },
        )?,
    )?;
    let slow = function::create(lua, "ecs.query", |lua, names: MultiValue| query(lua, names))?;
    ecs.raw_set("query", ffi::function::<Query>(lua, slow)?)?;
    ecs.raw_set(
        "find",
        function::create(lua, "ecs.find", |lua, (name,): (mlua::LuaString,)| {
            let name = name.to_str()?;
            Ok(find(lua, &name)?.map(crate::value::entity_to_lua))
        })?,
    )?;
    ecs.raw_set(
        "name",
        function::create(lua, "ecs.name", |lua, (e,): (Value,)| {
            let entity = entity_arg(&e, 1, "ecs.name")?;
            with_world_ref(lua, |world| {
                existing(world, entity, "ecs.name")?;
                Ok(world.get::<Name>(entity).map(|n| n.as_str().to_owned()))
            })?
        })?,
    )?;
    ecs.raw_set(
        "set_name",
        function::create(lua, "ecs.set_name", |lua, (e, name): (Value, String)| {
            const NAME: &str = "ecs.set_name";
            let entity = entity_arg(&e, 1, NAME)?;
            with_world_ref(lua, |world| deferred::existing(lua, world, entity, NAME))??;
            let component = name_component(name);
            deferred::write(lua, NAME, Write::Insert { entity, component })
        })?,
    )?;
    ecs.raw_set(
        "resource",
        function::create(lua, "ecs.resource", |lua, (name,): (mlua::LuaString,)| {
            let name = name.to_str()?;
            with_shared_world_ref(lua, |shared, world| {
                let access = names::lookup(shared, world, Kind::Resource, &name, "ecs.resource")?;
                Ok(access.get_resource(lua, world)?.unwrap_or(Value::Nil))
            })?
        })?,
    )?;
    ecs.raw_set(
        "set_resource",
        function::create(
            lua,
            "ecs.set_resource",
            |lua, (name, value): (mlua::LuaString, Value)| {
                const NAME: &str = "ecs.set_resource";
                let name = name.to_str()?;
                let resource = with_shared_world_ref(lua, |shared, world| {
                    let access = names::lookup(shared, world, Kind::Resource, &name, NAME)?;
                    let what = Subject {
                        function: NAME,
                        kind: "resource",
                        name: &name,
                    };
                    access.convert_resource(lua, world, value, &what)
                })??;
                deferred::write(lua, NAME, Write::SetResource { resource })
            },
        )?,
    )?;
    ecs.set_readonly(true);
    globals.raw_set("ecs", ecs)
}

/// Whether the existing `entity` has the component of `access`.
fn has(world: &World, entity: Entity, access: &Access) -> bool {
    let id = access.id(world);
    world
        .get_entity(entity)
        .is_ok_and(|found| id.is_some_and(|id| found.contains_id(id)))
}

/// `ecs.find(name)`: the first entity named `name`. In the parallel phase it reads the
/// archetypes in a fixed order, so the first is the same in every actor VM.
fn find(lua: &Lua, name: &str) -> mlua::Result<Option<Entity>> {
    if in_parallel_phase(lua) {
        return with_world_ref(lua, |world| {
            let id = world.components().valid_component_id::<Name>()?;
            names::scan(world, vec![id])
                .into_iter()
                .find(|&e| world.get::<Name>(e).is_some_and(|n| n.as_str() == name))
        });
    }
    with_world(lua, |world| {
        let mut cache = lua.app_data_mut::<QueryCache>();
        let state = match cache.as_deref_mut() {
            Some(cache) => cache
                .names
                .get_or_insert_with(|| world.query::<(Entity, &Name)>()),
            None => return None,
        };
        state.update_archetypes(world);
        state
            .iter_manual(world)
            .find(|(_, n)| n.as_str() == name)
            .map(|(e, _)| e)
    })
}

// ---------------------------------------------------------------------------------------------
// The fast path (see `crate::ffi`): each body takes the calls whose entity exists and whose
// component name resolves, and leaves every other call to the safe implementation above.
// ---------------------------------------------------------------------------------------------

fast_fn!(Exists, c"ecs.exists", exists);
fast_fn!(Get, c"ecs.get", get);
fast_fn!(Set, c"ecs.set", fast_set);
fast_fn!(Has, c"ecs.has", fast_has);
fast_fn!(Query, c"ecs.query", fast_query);

/// `ecs.exists(e)`.
fn exists(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let world = stack.shared()?.lent.borrow_ref()?;
    stack.push_bool(world.get_entity(entity).is_ok());
    Some(1)
}

/// `ecs.get(e, name)`.
fn get(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let world = stack.shared()?.lent.borrow_ref()?;
    let named = names::component(stack, &world, 2, "ecs.get")?;
    match &named.access {
        Access::Serde(serde) => (serde.push)(stack, world.get_entity(entity).ok()?)?,
        Access::Reflect(reflect) => {
            let shared = stack.shared()?;
            plan_of(stack, shared, &named, reflect)?;
            let plans = shared.plans()?.try_borrow().ok()?;
            let plan = named.plan.get()?;
            match reflected(&world, entity, &named, reflect)? {
                Some(value) => plan::push_value(&plans, plan, stack, value.as_partial_reflect())?,
                None => stack.push_nil(),
            }
        }
    }
    Some(1)
}

/// The reflected component `named` of an existing `entity`, if it has one; `None` (the outer
/// one) when the entity does not exist, or the component has no plan yet, which the caller
/// makes first with [`plan_of`].
fn reflected<'w>(
    world: &'w World,
    entity: Entity,
    named: &Named,
    reflect: &ReflectAccess,
) -> Option<Option<&'w dyn bevy_reflect::Reflect>> {
    let found = world.get_entity(entity).ok()?;
    Some(match &reflect.from_ptr {
        Some(from_ptr) if found.contains_id(named.id) => Some(ffi::world::reflect_by_id(
            world, entity, named.id, from_ptr,
        )?),
        Some(_) => None,
        None => reflect.component.reflect(found),
    })
}

/// `ecs.set(e, name, value)`.
fn fast_set(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    // `Script` and `Name` are shorthands the safe implementation handles.
    if matches!(stack.string(2)?.bytes(), b"Script" | b"Name") {
        return None;
    }
    let shared = stack.shared()?;
    // Read-only in the parallel phase: the safe implementation queues the write.
    let mut world = shared.lent.borrow()?;
    let named = names::component(stack, &world, 2, "ecs.set")?;
    world.get_entity(entity).ok()?;
    match &named.access {
        Access::Serde(serde) => (serde.read)(stack, 3, &mut world, entity)?,
        Access::Reflect(reflect) => {
            set_reflected(stack, shared, &mut world, entity, &named, reflect)?
        }
    }
    Some(0)
}

/// `ecs.has(e, name)`.
fn fast_has(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let world = stack.shared()?.lent.borrow_ref()?;
    let Named { id, .. } = *names::component(stack, &world, 2, "ecs.has")?;
    let entity = world.get_entity(entity).ok()?;
    stack.push_bool(entity.contains_id(id));
    Some(1)
}

/// `ecs.query(...)`: the table of matching entities, built on the stack.
fn fast_query(stack: Stack<'_>) -> Option<c_int> {
    let count = usize::try_from(stack.args()).ok().filter(|n| *n > 0)?;
    let shared = stack.shared()?;
    let world = shared.lent.borrow_ref()?;
    let mut ids = Vec::with_capacity(count);
    for index in 1..=stack.args() {
        ids.push(names::component(stack, &world, index, "ecs.query")?.id);
    }
    drop(world);
    let entities = names::matching(shared, ids)?;
    stack.push_table(entities.len(), 0);
    let table = stack.top();
    for (index, entity) in entities.into_iter().enumerate() {
        stack.push_entity(entity);
        stack.raw_set_index(table, index + 1)?;
    }
    Some(1)
}

/// Writes the reflected component at stack index 3 in place, by its plan; `None` when the plan
/// or the value is not one the fast path handles, or the entity has no such component yet.
fn set_reflected(
    stack: Stack<'_>,
    shared: &Shared,
    world: &mut World,
    entity: Entity,
    named: &Named,
    reflect: &ReflectAccess,
) -> Option<()> {
    plan_of(stack, shared, named, reflect)?;
    let plans = shared.plans()?.try_borrow().ok()?;
    let id = named.plan.get()?;
    let mut staged = shared.staged()?.try_borrow_mut().ok()?;
    staged.clear();
    staged.resize_with(plans.get(id).leaves, || None);
    plan::stage(&plans, id, stack, 3, &mut staged)?;
    let from_ptr = reflect.from_ptr.as_ref()?;
    // A component the entity does not have yet is inserted by the safe implementation.
    let component = ffi::world::reflect_mut_by_id(world, entity, named.id, from_ptr).ok()?;
    plan::apply(
        &plans,
        id,
        component.as_partial_reflect_mut(),
        &mut staged.drain(..),
    )
}

/// Makes sure the reflected component `named` has its plan (made on first use).
fn plan_of(
    stack: Stack<'_>,
    shared: &Shared,
    named: &Named,
    reflect: &ReflectAccess,
) -> Option<()> {
    if named.plan.get().is_none() {
        let mut plans = shared.plans()?.try_borrow_mut().ok()?;
        named.plan.set(Some(plans.of(stack, reflect.info)));
    }
    Some(())
}

/// Builds component `name` from `value` for writing it, including the `Script` and `Name`
/// shorthands; reads the world only. `function` names the caller in errors.
pub(crate) fn convert(
    lua: &Lua,
    shared: &Shared,
    world: &World,
    name: &str,
    value: Value,
    function: &str,
) -> mlua::Result<Converted> {
    let what = Subject {
        function,
        kind: "component",
        name,
    };
    match name {
        "Script" => {
            let path = match value {
                Value::String(path) => path.to_str()?.to_owned(),
                other => {
                    return Err(lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!(
                            "{}: expected a script path, got {}",
                            what,
                            function::describe(&other)
                        ),
                    ));
                }
            };
            let server = lua
                .app_data_ref::<ModuleReader>()
                .map(|s| s.0.clone())
                .ok_or_else(|| {
                    lua_error(
                        ScriptErrorKind::MissingPlugin,
                        format!("{what}: scripts need Bevy's AssetPlugin"),
                    )
                })?;
            let script = Script::new(server.load(path));
            Ok(Converted::Typed(
                "Script",
                Box::new(move |world, entity| {
                    if let Ok(mut entity) = world.get_entity_mut(entity) {
                        entity.insert(script);
                    }
                }),
            ))
        }
        "Name" => match value {
            Value::String(text) => Ok(name_component(text.to_str()?.to_owned())),
            other => Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "{}: expected a string, got {}",
                    what,
                    function::describe(&other)
                ),
            )),
        },
        _ => {
            let access = names::lookup(shared, world, Kind::Component, name, function)?;
            access.convert(lua, world, value, &what)
        }
    }
}

/// The `Name` component `name`, to write.
fn name_component(name: String) -> Converted {
    Converted::Typed(
        "Name",
        Box::new(move |world, entity| {
            if let Ok(mut entity) = world.get_entity_mut(entity) {
                entity.insert(Name::new(name));
            }
        }),
    )
}

/// `ecs.set`, and `commands.set` when applied: replaces (or inserts) component `name` of an
/// existing `entity`; queued in the parallel phase.
pub(crate) fn set(
    lua: &Lua,
    entity: Entity,
    name: &str,
    value: Value,
    function: &'static str,
) -> mlua::Result<()> {
    let component = with_shared_world_ref(lua, |shared, world| {
        deferred::existing(lua, world, entity, function)?;
        convert(lua, shared, world, name, value, function)
    })??;
    deferred::write(lua, function, Write::Insert { entity, component })
}

/// `ecs.remove`, and `commands.remove` when applied: removes component `name` from an existing
/// `entity`; returns whether it had one (in the parallel phase: when the phase began).
pub(crate) fn remove(
    lua: &Lua,
    entity: Entity,
    name: &str,
    function: &'static str,
) -> mlua::Result<bool> {
    let (access, had) = with_shared_world_ref(lua, |shared, world| {
        deferred::existing(lua, world, entity, function)?;
        let access = names::lookup(shared, world, Kind::Component, name, function)?;
        let had = has(world, entity, &access);
        Ok::<_, mlua::Error>((access, had))
    })??;
    deferred::write(lua, function, Write::Remove { entity, access })?;
    Ok(had)
}

/// Despawns an existing entity, running its entity script's `on_despawn` first. In the
/// parallel phase the despawn is queued, and `on_despawn` runs after the phase.
pub(crate) fn despawn(lua: &Lua, entity: Entity, function: &'static str) -> mlua::Result<()> {
    if in_parallel_phase(lua) {
        with_world_ref(lua, |world| {
            deferred::existing(lua, world, entity, function)
        })??;
        return deferred::write(lua, function, Write::Despawn { entity });
    }
    with_world_ref(lua, |world| existing(world, entity, function))??;
    let limit = lua
        .app_data_ref::<CallLimits>()
        .map_or(Limits::NONE, |l| l.0);
    crate::runtime::context::despawned(lua, entity, limit);
    with_world(lua, |world| {
        world.despawn(entity);
    })?;
    crate::runtime::context::stop_if_spent()
}

/// Spawns an entity with `(name, value)` components; on any error nothing stays spawned. The
/// components are built first; in the parallel phase the entity's id is reserved and the
/// spawn queued.
pub(crate) fn spawn(
    lua: &Lua,
    components: impl Iterator<Item = mlua::Result<(Value, Value)>>,
    function: &'static str,
) -> mlua::Result<Entity> {
    let (entity, components) = with_shared_world_ref(lua, |shared, world| {
        let mut converted = Vec::new();
        for pair in components {
            let (key, value) = pair?;
            let Value::String(name) = key else {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!(
                        "{function}: component names are strings, got {}",
                        function::describe(&key)
                    ),
                ));
            };
            converted.push(convert(
                lua,
                shared,
                world,
                &name.to_str()?,
                value,
                function,
            )?);
        }
        // The allocator is concurrent: this works through `&World`, in every actor VM at once.
        Ok((world.entity_allocator().alloc(), converted))
    })??;
    deferred::write(lua, function, Write::Spawn { entity, components })?;
    Ok(entity)
}

fn query(lua: &Lua, names: MultiValue) -> mlua::Result<Table> {
    if names.is_empty() {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            "ecs.query: name at least one component",
        ));
    }
    let ids = with_shared_world_ref(lua, |shared, world| {
        let mut ids = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name: mlua::LuaString = function::arg(lua, name.clone(), i + 1, "ecs.query")?;
            let access =
                names::lookup(shared, world, Kind::Component, &name.to_str()?, "ecs.query")?;
            // A component the world has not registered: no entity has it.
            match access.id(world) {
                Some(id) => ids.push(id),
                None => return Ok(None),
            }
        }
        Ok::<_, mlua::Error>(Some(ids))
    })??;
    let entities = match ids {
        Some(ids) => names::matching_in(lua, ids)?,
        None => Vec::new(),
    };
    let table = lua.create_table_with_capacity(entities.len(), 0)?;
    for (i, entity) in entities.into_iter().enumerate() {
        table.raw_set(i + 1, crate::value::entity_to_lua(entity))?;
    }
    Ok(table)
}
