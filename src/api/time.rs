//! The `time` library: the frame's time, read from Bevy's `Time` at the start of each step.
//!
//! ```lua
//! time.delta()    -- seconds since the previous frame
//! time.elapsed()  -- seconds since the app started
//! time.frame()    -- scripting steps run so far, this one included
//! ```
//!
//! Each function is one read of the step's time (see `crate::ffi`).

use crate::api::function;
use crate::ffi::{self, Stack, fast_fn};
use crate::runtime::context::StepTime;
use mlua::{Lua, Table};
use std::ffi::c_int;

/// Adds the `time` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let time = lua.create_table()?;
    let slow = function::create(lua, "time.delta", |lua, ()| Ok(StepTime::of(lua).delta))?;
    time.raw_set("delta", ffi::function::<Delta>(lua, slow)?)?;
    let slow = function::create(lua, "time.elapsed", |lua, ()| Ok(StepTime::of(lua).elapsed))?;
    time.raw_set("elapsed", ffi::function::<Elapsed>(lua, slow)?)?;
    let slow = function::create(lua, "time.frame", |lua, ()| Ok(StepTime::of(lua).frame))?;
    time.raw_set("frame", ffi::function::<Frame>(lua, slow)?)?;
    globals.raw_set("time", time)
}

fast_fn!(Delta, c"time.delta", delta);
fast_fn!(Elapsed, c"time.elapsed", elapsed);
fast_fn!(Frame, c"time.frame", frame);

/// `time.delta()`.
fn delta(stack: Stack<'_>) -> Option<c_int> {
    stack.push_number(stack.shared()?.time()?.get().delta);
    Some(1)
}

/// `time.elapsed()`.
fn elapsed(stack: Stack<'_>) -> Option<c_int> {
    stack.push_number(stack.shared()?.time()?.get().elapsed);
    Some(1)
}

/// `time.frame()`.
fn frame(stack: Stack<'_>) -> Option<c_int> {
    stack.push_number(stack.shared()?.time()?.get().frame as f64);
    Some(1)
}
