#![doc = include_str!("../README.md")]

mod api;
mod asset;
mod bridge;
mod console;
mod cvar;
mod debug;
#[cfg(feature = "debugger")]
mod debugger;
mod diagnostics;
mod engine;
mod error;
#[expect(
    unsafe_code,
    reason = "the crate's floor, the one module that calls Luau's C API; its docs give the argument"
)]
mod ffi;
mod function;
mod plugin;
mod pool;
mod queue;
mod reflect;
mod registry;
mod runner;
mod runtime;
mod serde_lua;
mod suggest;
mod template;
pub mod typedefs;
mod value;
mod vm;
#[cfg(feature = "hot-reload")]
mod watch;

/// The mlua crate this one is built on: [`ScriptEngine::lua`] and [`PoolLease`] hand out its
/// types, so code that needs mlua directly uses the same version.
pub use mlua;

pub use api::events::ScriptEvent;
pub use asset::{LuauScript, LuauScriptLoader, ScriptLoaded};
pub use asset::{Script, ScriptActor};
pub use console::{Console, ConsoleError};
pub use cvar::{
    CVar, CVarChanged, CVarFlags, CVarRegistry, CVarSnapshot, CVarValue, CVarValueError, SV_CHEATS,
};
#[cfg(feature = "debugger")]
pub use debugger::{ScriptDebugger, ScriptDebuggerPlugin};
pub use diagnostics::{
    ActorPhaseProfile, JobProfile, ScriptBudgetExceeded, ScriptDiagnosticsPlugin, ScriptProfile,
    ScriptProfileReport, ScriptProfiles, SiteProfile,
};
pub use engine::ScriptEngine;
pub use error::{ErrorOrigin, ScriptError, ScriptErrorKind};
#[doc(hidden)]
pub use ffi::dynamic::{Output, Scalar};
#[doc(hidden)]
pub use function::{Arguments, Builder, Fast, Install, Shape, Signature, Source};
pub use function::{
    Documented, FromScript, IntoScript, IntoScriptFunction, IntoWorkerScriptFunction, ScriptArgs,
    ScriptFunctionDoc, ScriptInput, ScriptReturn, Serde,
};
pub use plugin::{LuauScriptingPlugin, ScriptingAppExt, ScriptingSystem};
pub use pool::{PoolLease, RUN_CHUNK, StatePool, WorkerVm};
pub use queue::ScriptCommand;
pub use queue::{Action, ActionQueue, JobId, JobTiming};
pub use registry::ScriptRegistry;
pub use runner::{JobCompleted, ScriptRunner};
pub use template::GameTemplate;
pub use value::ScriptValue;
pub use vm::ScriptConfig;

/// The most common types, re-exported: `use bevy_luau::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Action, ActionQueue, CVar, CVarChanged, CVarFlags, CVarRegistry, CVarValue, CVarValueError,
        Console, ConsoleError, ErrorOrigin, GameTemplate, JobCompleted, JobId, LuauScript,
        LuauScriptingPlugin, Script, ScriptActor, ScriptCommand, ScriptConfig,
        ScriptDiagnosticsPlugin, ScriptEngine, ScriptError, ScriptErrorKind, ScriptEvent,
        ScriptFunctionDoc, ScriptLoaded, ScriptProfiles, ScriptRegistry, ScriptRunner, ScriptValue,
        ScriptingAppExt, ScriptingSystem, Serde, StatePool,
    };
}
