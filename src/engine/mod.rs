//! The main-thread engine: [`ScriptEngine`], the scripting step, hooks and hot reload.

pub(crate) mod callbacks;
pub(crate) mod context;
pub(crate) mod env;
mod script_engine;
pub(crate) mod scripts;

pub use script_engine::ScriptEngine;
