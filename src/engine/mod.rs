//! The main-thread engine: [`ScriptEngine`], the scripting step, hooks and hot reload.

pub(crate) mod callbacks;
pub(crate) mod context;
pub(crate) mod entity_scripts;
pub(crate) mod env;
pub(crate) mod scheduler;
mod script_engine;
pub(crate) mod scripts;
pub(crate) mod worker_scripts;

pub use entity_scripts::Script;
pub use script_engine::ScriptEngine;
