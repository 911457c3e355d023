//! The `commands` library: world changes deferred to the end of the scripting step.
//!
//! ```lua
//! commands.spawn({Health = {current = 5, max = 5}})
//! commands.set(e, "Health", {current = 1, max = 5})
//! commands.remove(e, "Poisoned")
//! commands.despawn(e)
//! commands.emit("wave_cleared", {wave = 3})
//! ```
//! Commands are applied after stage 5 of the step, in the order they were issued, with the same
//! checks as `ecs.*`; a command that fails is reported as a `ScriptError` and the rest still
//! apply. Values are copied when the command is issued, so later changes to a table do not
//! reach it. Use them when a change must not be seen by the rest of this frame's scripts, for
//! example despawning an entity other scripts still look up this frame. Worker VMs, which
//! have no world, change it only through commands. In the parallel phase of actor VMs a command
//! is converted at the call (so a value that does not fit is an error there) and queued with
//! the phase's other writes, applied after the phase.

use crate::api::function::{self, entity_arg};
use crate::api::{ecs, events};
use crate::bridge::lent::in_parallel_phase;
use crate::error::ScriptError;
use crate::queue::{Action, ActionQueue, ScriptCommand};
use crate::runtime::context::report;
use crate::value::ScriptValue;
use mlua::{IntoLua, Lua, Table, Value};

/// Commands issued in the main VM during the running step.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct CommandQueue(pub Vec<ScriptCommand>);

/// Adds the `commands` library to the shared globals of the main VM.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(CommandQueue::default());
    let commands = lua.create_table()?;
    commands.raw_set(
        "spawn",
        function::create(
            lua,
            "commands.spawn",
            |lua, (components,): (Option<Table>,)| {
                let mut list = Vec::new();
                if let Some(components) = components {
                    for pair in components.pairs::<Value, Value>() {
                        let (name, value) = pair?;
                        let name: String = function::arg(lua, name, 1, "commands.spawn")?;
                        list.push((name, function::arg(lua, value, 1, "commands.spawn")?));
                    }
                }
                push(lua, ScriptCommand::Spawn(list))
            },
        )?,
    )?;
    commands.raw_set(
        "set",
        function::create(
            lua,
            "commands.set",
            |lua, (e, name, value): (Value, String, ScriptValue)| {
                let entity = entity_arg(&e, 1, "commands.set")?;
                push(lua, ScriptCommand::Set(entity, name, value))
            },
        )?,
    )?;
    commands.raw_set(
        "remove",
        function::create(lua, "commands.remove", |lua, (e, name): (Value, String)| {
            let entity = entity_arg(&e, 1, "commands.remove")?;
            push(lua, ScriptCommand::Remove(entity, name))
        })?,
    )?;
    commands.raw_set(
        "despawn",
        function::create(lua, "commands.despawn", |lua, (e,): (Value,)| {
            let entity = entity_arg(&e, 1, "commands.despawn")?;
            push(lua, ScriptCommand::Despawn(entity))
        })?,
    )?;
    commands.raw_set(
        "emit",
        function::create(
            lua,
            "commands.emit",
            |lua, (name, payload): (String, Option<ScriptValue>)| {
                push(lua, ScriptCommand::Emit(name, payload.unwrap_or_default()))
            },
        )?,
    )?;
    commands.set_readonly(true);
    globals.raw_set("commands", commands)
}

/// In a worker VM: commands go straight to the main thread's action queue.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
pub(crate) struct RemoteCommands(pub ActionQueue);

fn push(lua: &Lua, command: ScriptCommand) -> mlua::Result<()> {
    let (names, values): (Vec<&str>, Vec<&ScriptValue>) = match &command {
        ScriptCommand::Spawn(list) => list.iter().map(|(n, v)| (n.as_str(), v)).unzip(),
        ScriptCommand::Set(_, name, value) | ScriptCommand::Emit(name, value) => {
            (vec![name.as_str()], vec![value])
        }
        ScriptCommand::Remove(_, name) => (vec![name.as_str()], Vec::new()),
        ScriptCommand::Despawn(_) => (Vec::new(), Vec::new()),
    };
    if let Some(long) = names.iter().find(|n| n.len() > crate::suggest::MAX_NAME) {
        return Err(crate::error::lua_error(
            crate::error::ScriptErrorKind::TypeMismatch,
            format!(
                "commands: the name `{}` is longer than {} bytes",
                crate::suggest::shown(long),
                crate::suggest::MAX_NAME
            ),
        ));
    }
    // In the parallel phase every write waits until after the phase: the command is converted
    // and queued with the others, in call order (see `crate::api::deferred`).
    if in_parallel_phase(lua) {
        return apply_one(lua, command);
    }
    let remote = lua.app_data_ref::<RemoteCommands>().map(|r| r.0.clone());
    if let Some(queue) = remote {
        queue.push(Action::Command(command));
        return Ok(());
    }
    let bytes = values
        .iter()
        .map(|v| crate::value::size::bytes(v))
        .fold(0, usize::saturating_add);
    crate::runtime::context::charge_step_copy(lua, bytes, "commands")?;
    let mut queue = lua
        .app_data_mut::<CommandQueue>()
        .ok_or_else(|| mlua::Error::runtime("commands are not available in this VM"))?;
    queue.0.push(command);
    Ok(())
}

/// Applies the queued commands in order; a failing one is reported and the rest still apply.
pub(crate) fn apply(lua: &Lua) {
    let Some(commands) = lua
        .app_data_mut::<CommandQueue>()
        .map(|mut q| std::mem::take(&mut q.0))
    else {
        return;
    };
    for command in commands {
        if let Err(error) = apply_one(lua, command) {
            report(lua, ScriptError::from_lua("commands", &error, None));
        }
    }
}

/// Applies one command through the same code as the `ecs` and `events` functions. In the
/// parallel phase those queue it instead (see `crate::api::deferred`).
pub(crate) fn apply_one(lua: &Lua, command: ScriptCommand) -> mlua::Result<()> {
    match command {
        ScriptCommand::Spawn(components) => {
            let pairs = components.into_iter().map(|(name, value)| {
                Ok((
                    Value::String(lua.create_string(&name)?),
                    value.into_lua(lua)?,
                ))
            });
            ecs::spawn(lua, pairs, "commands.spawn").map(|_| ())
        }
        ScriptCommand::Set(entity, name, value) => {
            ecs::set(lua, entity, &name, value.into_lua(lua)?, "commands.set")
        }
        ScriptCommand::Remove(entity, name) => {
            ecs::remove(lua, entity, &name, "commands.remove").map(|_| ())
        }
        ScriptCommand::Despawn(entity) => ecs::despawn(lua, entity, "commands.despawn"),
        ScriptCommand::Emit(name, payload) => {
            events::emit(lua, &name, payload.into_lua(lua)?, "commands.emit")
        }
    }
}
