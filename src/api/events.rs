//! The `events` library: named events between scripts and Rust.
//!
//! ```lua
//! events.emit("door_opened", {id = 3})                  -- writes a ScriptEvent message
//! events.on("door_opened", function(payload)            -- runs in stage 5 of the step
//!     return true                                       -- consumes it: later handlers are skipped
//! end)
//! ```
//! Events emitted during a step reach Lua handlers in the same step (stage 5) when emitted
//! before it, and in the next step when emitted by a handler; Rust systems read them with a
//! `MessageReader<ScriptEvent>`.

use crate::api::function;
use crate::error::{ScriptErrorKind, lua_error};
use crate::registry::ScriptRegistry;
use crate::runtime::callbacks::{self, List};
use crate::runtime::context::{Owner, with_world};
use crate::value::ScriptValue;
use bevy_ecs::change_detection::DetectChangesMut;
use bevy_ecs::message::Message;
use bevy_ecs::world::World;
use mlua::{FromLua, Function, Lua, Table, Value};

/// A named event with a payload, written by Lua's `events.emit` or by Rust, and delivered to
/// Lua's `events.on` handlers.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ScriptEvent {
    /// The event name handlers subscribe to.
    pub name: String,
    /// The data the event carries.
    pub payload: ScriptValue,
}

impl ScriptEvent {
    /// Creates an event.
    pub fn new(name: impl Into<String>, payload: impl Into<ScriptValue>) -> Self {
        Self {
            name: name.into(),
            payload: payload.into(),
        }
    }
}

/// Adds `events` to a script's environment; handlers it registers belong to `owner`.
pub(crate) fn install(lua: &Lua, env: &Table, owner: &Owner, emit: &Function) -> mlua::Result<()> {
    let events = lua.create_table()?;
    let owner = owner.clone();
    let on = function::create(
        lua,
        "events.on",
        move |lua, (name, function): (String, Function)| {
            if name.is_empty() {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    "events.on: the event name is empty",
                ));
            }
            // Outside the step there is no world to ask, and nothing to hint.
            let _ = with_world(lua, |world| hint_message(world, &name, "events.on"));
            callbacks::register(lua, List::Event(&name), owner.clone(), function)
        },
    )?;
    events.raw_set("on", on)?;
    events.raw_set("emit", emit.clone())?;
    events.set_readonly(true);
    env.raw_set("events", events)
}

/// Creates the `events.emit` function, shared by every script of a VM.
pub(crate) fn create_emit(lua: &Lua) -> mlua::Result<Function> {
    function::create(
        lua,
        "events.emit",
        |lua, (name, payload): (String, Value)| emit(lua, &name, payload, "events.emit"),
    )
}

/// Warns, once per name, when event `name` is no registered message but close to one.
fn hint_message(world: &mut World, name: &str, function: &str) {
    // Most event names are not type names: leave them before looking anything up.
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return;
    }
    let hint = world
        .get_resource_mut::<ScriptRegistry>()
        .and_then(|mut registry| registry.bypass_change_detection().message_hint(name));
    if let Some(hint) = hint {
        tracing::warn!(
            target: "bevy_luau",
            "{function}: `{name}` is not a registered message, so it is a ScriptEvent{hint}"
        );
    }
}

/// Emits event `name`: a registered message of that name when there is one (see
/// `register_script_message`), a [`ScriptEvent`] otherwise.
pub(crate) fn emit(lua: &Lua, name: &str, payload: Value, function: &str) -> mlua::Result<()> {
    if name.is_empty() {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!("{function}: the event name is empty"),
        ));
    }
    if name.len() > crate::suggest::MAX_NAME {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "{function}: the event name `{}` is longer than {} bytes",
                crate::suggest::shown(name),
                crate::suggest::MAX_NAME
            ),
        ));
    }
    with_world(lua, |world| {
        let registered = world
            .get_resource::<ScriptRegistry>()
            .and_then(|r| r.message(name));
        if let Some(message) = registered {
            return (message.write)(
                lua,
                world,
                payload,
                &crate::registry::Subject {
                    function,
                    kind: "message",
                    name,
                },
            );
        }
        hint_message(world, name, function);
        let payload =
            crate::vm::converting(lua, || ScriptValue::from_lua(payload, lua)).map_err(|e| {
                lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!("{function}: event `{name}`: {e}"),
                )
            })?;
        crate::runtime::context::charge_step_copy(
            lua,
            crate::value::size::bytes(&payload),
            function,
        )?;
        world.write_message(ScriptEvent::new(name, payload));
        Ok(())
    })?
}
