//! What Lua functions of the main VM reach while the scripting step runs: the bottom layer the
//! Lua libraries (`crate::api`) stand on, below the engine that runs the step.
//!
//! - [`context`]: the lent world, the step's time, the calling script and entity, error
//!   reporting and the instruction budget of a call;
//! - [`callbacks`]: the Lua functions scripts registered (hooks, handlers, commands), by owner;
//! - [`scheduler`]: the `task` coroutines and when they resume;
//! - [`profile`]: per-script accounting of every call into Lua.
//!
//! The layers import downwards only: `runtime` imports neither `api` nor `engine`; `api`
//! imports `runtime`, never `engine`; the engine, the pool, the console and the plugin sit on
//! top. Where the runtime must call up (a script's `ecs.despawn` runs the entity script's
//! `on_despawn`, `require` builds a module's environment), the engine installs a function in
//! the VM's app data at start-up ([`context::EngineHooks`], [`context::ConsoleHooks`], and
//! `crate::api::require::ModuleEnv`).
//!
//! # App data
//!
//! About thirty types live in the VMs' app data (each says so in its docs). mlua hands them
//! out as `RefCell`-like borrows, and `app_data_mut` panics when the same type is already
//! borrowed. Lua code can call back into the crate at any point (a console command that runs
//! the console, a handler that sets a CVar whose handler runs...), so the rule is: **borrow app
//! data only between calls into Lua, never across one.** Copy out what the call needs (clone the
//! `Function`, copy the hook) and let the borrow end before calling. The re-entrancy tests in
//! `tests/console.rs` run the console from a command run by the console, from Rust and from Lua.

pub(crate) mod callbacks;
pub(crate) mod context;
pub(crate) mod identity;
pub(crate) mod profile;
pub(crate) mod scheduler;
