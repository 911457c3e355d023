//! The `hooks` library: per-frame callbacks of global scripts.
//!
//! ```lua
//! local connection = hooks.on_update(function(dt) end)   -- every frame, stage 4 of the step
//! connection:disconnect()                                 -- stops it; connection.connected is false
//! ```
//! A hook that errors is reported as a `ScriptError` and stays registered; the other hooks of
//! the frame still run. Hot reload drops the hooks the old version of a script registered.

use crate::api::function;
use crate::runtime::callbacks::{self, List};
use crate::runtime::context::Owner;
use mlua::{Function, Lua, Table};

/// Adds `hooks` to a script's environment; hooks it registers belong to `owner`.
pub(crate) fn install(lua: &Lua, env: &Table, owner: &Owner) -> mlua::Result<()> {
    let hooks = lua.create_table()?;
    let owner = owner.clone();
    let on_update = function::create(lua, "hooks.on_update", move |lua, (f,): (Function,)| {
        callbacks::register(lua, List::Update, owner.clone(), f)
    })?;
    hooks.raw_set("on_update", on_update)?;
    hooks.set_readonly(true);
    env.raw_set("hooks", hooks)
}
