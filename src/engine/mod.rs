//! The main-thread engine: [`ScriptEngine`], the scripting step, hooks and hot reload.

pub(crate) mod actors;
pub(crate) mod entity_scripts;
pub(crate) mod env;
mod error_log;
mod script_engine;
pub(crate) mod scripts;
mod vms;
pub(crate) mod worker_scripts;

pub use script_engine::ScriptEngine;
