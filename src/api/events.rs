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
//! `MessageReader<ScriptEvent>`. In the parallel phase of actor VMs an emitted event is queued
//! and written after the phase; `events.on` works there too.

use crate::api::deferred::{self, Edit, Refusal};
use crate::api::function;
use crate::bridge::lent::with_world_ref;
use crate::error::{ScriptErrorKind, lua_error};
use crate::registry::{MessageAccess, MessageWrite, ScriptRegistry, Subject};
use crate::runtime::callbacks::{self, List};
use crate::runtime::context::{Owner, with_world};
use crate::value::ScriptValue;
use bevy_ecs::change_detection::DetectChangesMut;
use bevy_ecs::entity::Entity;
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
/// `register_script_message`), a [`ScriptEvent`] otherwise. In the parallel phase the payload
/// is converted at the call and the event queued (see `crate::api::deferred`).
pub(crate) fn emit(
    lua: &Lua,
    name: &str,
    payload: Value,
    function: &'static str,
) -> mlua::Result<()> {
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
    let registered = with_world_ref(lua, |world| {
        world
            .get_resource::<ScriptRegistry>()
            .and_then(|r| r.message(name))
    })?;
    let payload = match registered {
        Some(message) => {
            let what = Subject {
                function,
                kind: "message",
                name,
            };
            Payload::Message((message.convert)(lua, payload, &what)?)
        }
        None => {
            // The hint changes the registry: not in the parallel phase, where it is skipped.
            let _ = with_world(lua, |world| hint_message(world, name, function));
            let payload = crate::vm::converting(lua, || ScriptValue::from_lua(payload, lua))
                .map_err(|e| {
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
            Payload::Event(payload)
        }
    };
    let emission = Emission {
        name: name.to_owned(),
        function,
        payload,
    };
    deferred::edit(lua, function, emission)
}

/// An event on its way out, converted from Lua: what `events.emit` writes at once in the main
/// VM and queues in the parallel phase.
#[derive(Debug)]
struct Emission {
    name: String,
    function: &'static str,
    payload: Payload,
}

/// What an [`Emission`] writes.
enum Payload {
    /// A [`ScriptEvent`].
    Event(ScriptValue),
    /// A registered message.
    Message(MessageWrite),
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Event(value) => f.debug_tuple("Event").field(value).finish(),
            Payload::Message(_) => f.write_str("Message"),
        }
    }
}

impl Edit for Emission {
    fn target(&self) -> Option<Entity> {
        None
    }

    fn apply(self, world: &mut World) -> Result<(), Refusal> {
        match self.payload {
            Payload::Event(payload) => {
                world.write_message(ScriptEvent::new(self.name, payload));
            }
            Payload::Message(write) => {
                if !write(world) {
                    let what = Subject {
                        function: self.function,
                        kind: "message",
                        name: &self.name,
                    };
                    return Err(Refusal::Failed(MessageAccess::not_added(&what)));
                }
            }
        }
        Ok(())
    }
}
