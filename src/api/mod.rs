//! The Lua libraries, one file each.

pub mod events;
pub(crate) mod function;
pub(crate) mod hooks;
pub mod log;
pub(crate) mod require;
pub(crate) mod time;
