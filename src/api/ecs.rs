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
//! `ecs.set` and `ecs.spawn` replace a component as a whole: a table that leaves out a field
//! is an error naming the field (serde fields with `#[serde(default)]` may be left out).
//! `Script = "path.luau"` in `ecs.spawn` or `ecs.set` attaches an entity script, and
//! `Name = "..."` names the entity. A despawned entity is an error in every call except
//! `ecs.exists`.

use crate::api::function::{self, entity_arg};
use crate::api::require::ModuleReader;
use crate::engine::Script;
use crate::engine::context::{InstructionLimit, with_world};
use crate::engine::entity_scripts;
use crate::error::{ScriptErrorKind, lua_error};
use crate::registry::{Kind, Subject, lookup};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_ecs::query::{QueryBuilder, QueryState};
use bevy_ecs::world::World;
use mlua::{Lua, MultiValue, Table, Value};
use std::collections::HashMap;

/// Query states of `ecs.query` and `ecs.find`, kept between calls so each call only catches up
/// with new archetypes.
#[derive(Default)]
pub(crate) struct QueryCache {
    by_components: HashMap<Vec<ComponentId>, QueryState<Entity>>,
    names: Option<QueryState<(Entity, &'static Name)>>,
}

/// Adds the `ecs` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(QueryCache::default());
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
    ecs.raw_set(
        "exists",
        function::create(lua, "ecs.exists", |lua, (e,): (Value,)| {
            let entity = entity_arg(&e, 1, "ecs.exists")?;
            with_world(lua, |world| world.get_entity(entity).is_ok())
        })?,
    )?;
    ecs.raw_set(
        "get",
        function::create(
            lua,
            "ecs.get",
            |lua, (e, name): (Value, mlua::LuaString)| {
                let entity = entity_arg(&e, 1, "ecs.get")?;
                let name = name.to_str()?;
                with_world(lua, |world| {
                    existing(world, entity, "ecs.get")?;
                    let access = lookup(world, Kind::Component, &name, "ecs.get")?;
                    Ok(access.get(lua, world, entity)?.unwrap_or(Value::Nil))
                })?
            },
        )?,
    )?;
    ecs.raw_set(
        "set",
        function::create(
            lua,
            "ecs.set",
            |lua, (e, name, value): (Value, mlua::LuaString, Value)| {
                let entity = entity_arg(&e, 1, "ecs.set")?;
                let name = name.to_str()?;
                with_world(lua, |world| {
                    existing(world, entity, "ecs.set")?;
                    insert(lua, world, entity, &name, value, "ecs.set")
                })?
            },
        )?,
    )?;
    ecs.raw_set(
        "has",
        function::create(
            lua,
            "ecs.has",
            |lua, (e, name): (Value, mlua::LuaString)| {
                let entity = entity_arg(&e, 1, "ecs.has")?;
                let name = name.to_str()?;
                with_world(lua, |world| {
                    existing(world, entity, "ecs.has")?;
                    let access = lookup(world, Kind::Component, &name, "ecs.has")?;
                    let id = access.component_id(world);
                    Ok(world.entity(entity).contains_id(id))
                })?
            },
        )?,
    )?;
    ecs.raw_set(
        "remove",
        function::create(
            lua,
            "ecs.remove",
            |lua, (e, name): (Value, mlua::LuaString)| {
                let entity = entity_arg(&e, 1, "ecs.remove")?;
                let name = name.to_str()?;
                with_world(lua, |world| {
                    existing(world, entity, "ecs.remove")?;
                    let access = lookup(world, Kind::Component, &name, "ecs.remove")?;
                    Ok(access.remove(world, entity))
                })?
            },
        )?,
    )?;
    ecs.raw_set(
        "query",
        function::create(lua, "ecs.query", |lua, names: MultiValue| query(lua, names))?,
    )?;
    ecs.raw_set(
        "find",
        function::create(lua, "ecs.find", |lua, (name,): (mlua::LuaString,)| {
            let name = name.to_str()?;
            let found = with_world(lua, |world| {
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
                    .find(|(_, n)| n.as_str() == &*name)
                    .map(|(e, _)| e)
            })?;
            Ok(found.map(crate::value::entity_to_lua))
        })?,
    )?;
    ecs.raw_set(
        "name",
        function::create(lua, "ecs.name", |lua, (e,): (Value,)| {
            let entity = entity_arg(&e, 1, "ecs.name")?;
            with_world(lua, |world| {
                existing(world, entity, "ecs.name")?;
                Ok(world.get::<Name>(entity).map(|n| n.as_str().to_owned()))
            })?
        })?,
    )?;
    ecs.raw_set(
        "set_name",
        function::create(lua, "ecs.set_name", |lua, (e, name): (Value, String)| {
            let entity = entity_arg(&e, 1, "ecs.set_name")?;
            with_world(lua, |world| {
                existing(world, entity, "ecs.set_name")?;
                world.entity_mut(entity).insert(Name::new(name));
                Ok(())
            })?
        })?,
    )?;
    ecs.raw_set(
        "resource",
        function::create(lua, "ecs.resource", |lua, (name,): (mlua::LuaString,)| {
            let name = name.to_str()?;
            with_world(lua, |world| {
                let access = lookup(world, Kind::Resource, &name, "ecs.resource")?;
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
                let name = name.to_str()?;
                with_world(lua, |world| {
                    let access = lookup(world, Kind::Resource, &name, "ecs.set_resource")?;
                    let what = Subject {
                        function: "ecs.set_resource",
                        kind: "resource",
                        name: &name,
                    };
                    access.set_resource(lua, world, value, &what)
                })?
            },
        )?,
    )?;
    ecs.set_readonly(true);
    globals.raw_set("ecs", ecs)
}

/// Fails with a clear error when `entity` does not exist.
pub(crate) fn existing(world: &World, entity: Entity, function: &str) -> mlua::Result<()> {
    match world.get_entity(entity) {
        Ok(_) => Ok(()),
        Err(_) => Err(lua_error(
            ScriptErrorKind::EntityNotFound,
            format!("{function}: entity {entity} does not exist (was it despawned?)"),
        )),
    }
}

/// Inserts component `name` built from `value`, including the `Script` and `Name` shorthands.
pub(crate) fn insert(
    lua: &Lua,
    world: &mut World,
    entity: Entity,
    name: &str,
    value: Value,
    function: &str,
) -> mlua::Result<()> {
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
                        ScriptErrorKind::Config,
                        format!("{what}: scripts need Bevy's AssetPlugin"),
                    )
                })?;
            world
                .entity_mut(entity)
                .insert(Script::new(server.load(path)));
            Ok(())
        }
        "Name" => match value {
            Value::String(text) => {
                world
                    .entity_mut(entity)
                    .insert(Name::new(text.to_str()?.to_owned()));
                Ok(())
            }
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
            let access = lookup(world, Kind::Component, name, function)?;
            access.set(lua, world, entity, value, &what)
        }
    }
}

/// Despawns an existing entity, running its entity script's `on_despawn` first.
pub(crate) fn despawn(lua: &Lua, entity: Entity, function: &str) -> mlua::Result<()> {
    with_world(lua, |world| existing(world, entity, function))??;
    let limit = lua.app_data_ref::<InstructionLimit>().map_or(0, |l| l.0);
    entity_scripts::despawned(lua, entity, limit);
    with_world(lua, |world| {
        world.despawn(entity);
    })
}

/// Spawns an entity with `(name, value)` components; on any error nothing stays spawned.
pub(crate) fn spawn(
    lua: &Lua,
    components: impl Iterator<Item = mlua::Result<(Value, Value)>>,
    function: &str,
) -> mlua::Result<Entity> {
    with_world(lua, |world| {
        let entity = world.spawn_empty().id();
        let mut inserted = Ok(());
        for pair in components {
            inserted = pair.and_then(|(key, value)| {
                let Value::String(name) = key else {
                    return Err(lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!(
                            "{function}: component names are strings, got {}",
                            function::describe(&key)
                        ),
                    ));
                };
                insert(lua, world, entity, &name.to_str()?, value, function)
            });
            if inserted.is_err() {
                break;
            }
        }
        if inserted.is_err() {
            world.despawn(entity);
        }
        inserted.map(|()| entity)
    })?
}

fn query(lua: &Lua, names: MultiValue) -> mlua::Result<Table> {
    if names.is_empty() {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            "ecs.query: name at least one component",
        ));
    }
    let entities = with_world(lua, |world| {
        let mut ids = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name: mlua::LuaString = function::arg(lua, name.clone(), i + 1, "ecs.query")?;
            let access = lookup(world, Kind::Component, &name.to_str()?, "ecs.query")?;
            ids.push(access.component_id(world));
        }
        ids.sort_unstable();
        ids.dedup();
        let mut cache = lua
            .app_data_mut::<QueryCache>()
            .ok_or_else(|| mlua::Error::runtime("ecs.query needs the main VM"))?;
        let state = cache.by_components.entry(ids).or_insert_with_key(|ids| {
            let mut builder = QueryBuilder::<Entity>::new(world);
            for id in ids {
                builder.with_id(*id);
            }
            builder.build()
        });
        state.update_archetypes(world);
        Ok::<_, mlua::Error>(state.iter_manual(world).collect::<Vec<Entity>>())
    })??;
    let table = lua.create_table_with_capacity(entities.len(), 0)?;
    for (i, entity) in entities.into_iter().enumerate() {
        table.raw_set(i + 1, crate::value::entity_to_lua(entity))?;
    }
    Ok(table)
}
