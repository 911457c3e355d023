//! The `profiler` library: what the scripts cost, read-only, for an overlay written in Luau.
//!
//! ```lua
//! for _, s in profiler.scripts() do          -- the most expensive per frame first
//!     print(s.path, s.frame_ms, s.peak_ms, s.calls, s.memory, s.errors)
//! end
//! local step = profiler.step()               -- {mean_ms, peak_ms, memory, queued_jobs}
//! ```
//! The figures are [`ScriptProfiles`](crate::ScriptProfiles)': means and peaks over the last
//! second, as of the end of the previous scripting step. `memory` is in bytes, measured once a
//! second, and `nil` for a script past Luau's memory categories. With accounting off
//! (`ScriptConfig::profiling`), `scripts()` is empty and the step figures are zero.

use crate::api::function;
use crate::bridge::lent::with_world_ref;
use crate::diagnostics::ScriptProfiles;
use mlua::{Lua, Table};

/// Adds the `profiler` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let profiler = lua.create_table()?;
    profiler.raw_set(
        "scripts",
        function::create(lua, "profiler.scripts", |lua, ()| {
            with_world_ref(lua, |world| {
                let list = lua.create_table()?;
                let Some(profiles) = world.get_resource::<ScriptProfiles>() else {
                    return Ok(list);
                };
                for (i, script) in profiles.by_time().into_iter().enumerate() {
                    let entry = lua.create_table_with_capacity(0, 6)?;
                    entry.raw_set("path", script.path.as_str())?;
                    entry.raw_set("frame_ms", script.frame_time.as_secs_f64() * 1000.0)?;
                    entry.raw_set("peak_ms", script.peak.as_secs_f64() * 1000.0)?;
                    entry.raw_set("calls", script.calls as f64)?;
                    entry.raw_set("memory", script.memory.map(|b| b as f64))?;
                    entry.raw_set("errors", script.errors as f64)?;
                    list.raw_set(i + 1, entry)?;
                }
                Ok(list)
            })?
        })?,
    )?;
    profiler.raw_set(
        "step",
        function::create(lua, "profiler.step", |lua, ()| {
            with_world_ref(lua, |world| {
                let step = lua.create_table_with_capacity(0, 4)?;
                let profiles = world.get_resource::<ScriptProfiles>();
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                step.raw_set("mean_ms", profiles.map_or(0.0, |p| ms(p.step_average)))?;
                step.raw_set("peak_ms", profiles.map_or(0.0, |p| ms(p.step_peak)))?;
                step.raw_set("memory", profiles.map_or(0.0, |p| p.memory as f64))?;
                step.raw_set(
                    "queued_jobs",
                    profiles.map_or(0.0, |p| p.queued_jobs as f64),
                )?;
                Ok(step)
            })?
        })?,
    )?;
    profiler.set_readonly(true);
    globals.raw_set("profiler", profiler)
}
