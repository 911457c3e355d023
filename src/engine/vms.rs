//! Making the engine's main-style VMs: the main VM and the actor VMs.

use super::entity_scripts::{self, EntityScripts};
use super::env::SharedFunctions;
use crate::api::require::{ModuleEnv, ModuleReader, RequiredModules};
use crate::error::{ScriptError, ScriptErrorKind};
use crate::function::registration::GameLibraries;
use crate::runtime::callbacks::Callbacks;
use crate::runtime::context::{CallLimits, EngineHooks, ErrorSink};
use crate::runtime::profile::Profiler;
use crate::value::ScriptValue;
use crate::vm::{self, ScriptConfig};
use bevy_asset::AssetServer;
use mlua::Lua;
use std::sync::Arc;

/// Makes a main-style VM: every library, the game's functions (all of them in the main VM, the
/// worker functions and stand-ins in an actor VM), and the app data the engine's stages use.
pub(crate) fn main_style_vm(
    config: &ScriptConfig,
    assets: Option<AssetServer>,
    functions: &GameLibraries,
    main: bool,
) -> Result<Lua, ScriptError> {
    let lua = vm::new_vm(config, |lua, globals| {
        crate::api::install_shared(lua, globals)?;
        if !main {
            crate::api::random::install(lua, globals)?;
        }
        functions.install(lua, globals, main)
    })
    .map_err(|e| ScriptError::in_crate(ScriptErrorKind::Config, e.to_string()))?;
    let shared = SharedFunctions::new(&lua)
        .map_err(|e| ScriptError::in_crate(ScriptErrorKind::Config, e.to_string()))?;
    lua.set_app_data(shared);
    lua.set_app_data(Callbacks::default());
    lua.set_app_data(RequiredModules::default());
    lua.set_app_data(ModuleEnv(super::env::build));
    lua.set_app_data(EngineHooks {
        despawned: entity_scripts::despawned,
    });
    lua.set_app_data(EntityScripts::default());
    lua.set_app_data(ErrorSink::default());
    lua.set_app_data(CallLimits(config.limits()));
    lua.set_app_data(crate::runtime::context::ScriptPaths::default());
    lua.set_app_data(Profiler::new(config.profiling));
    if let Some(assets) = assets {
        lua.set_app_data(ModuleReader(assets));
    }
    Ok(lua)
}

/// Lets `jobs.run` in `lua` reach the worker pool of `runner`.
pub(crate) fn attach_runner_to(lua: &Lua, runner: &crate::runner::ScriptRunner) {
    let pool = runner.pool().clone();
    let runner = runner.clone();
    lua.set_app_data(crate::api::jobs::Runner {
        run: Arc::new(move |name: String, args: ScriptValue| runner.call(name, args)),
        known: Arc::new(move || pool.job_names()),
    });
}
