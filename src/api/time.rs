//! The `time` library: the frame's time, read from Bevy's `Time` at the start of each step.
//!
//! ```lua
//! time.delta()    -- seconds since the previous frame
//! time.elapsed()  -- seconds since the app started
//! time.frame()    -- scripting steps run so far, this one included
//! ```

use crate::api::function;
use crate::engine::context::StepTime;
use mlua::{Lua, Table};

/// Adds the `time` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let time = lua.create_table()?;
    time.raw_set(
        "delta",
        function::create(lua, "time.delta", |lua, ()| Ok(StepTime::of(lua).delta))?,
    )?;
    time.raw_set(
        "elapsed",
        function::create(lua, "time.elapsed", |lua, ()| Ok(StepTime::of(lua).elapsed))?,
    )?;
    time.raw_set(
        "frame",
        function::create(lua, "time.frame", |lua, ()| Ok(StepTime::of(lua).frame))?,
    )?;
    globals.raw_set("time", time)
}
