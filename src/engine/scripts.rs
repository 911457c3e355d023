//! Global scripts: loading them through the asset server, and hot reload.
//!
//! A global script runs its top level once when its asset loads and again, as a new version,
//! each time the asset changes. A new version replaces the old one only when it compiles and
//! its top level runs without error: then the hooks, handlers and commands of the old version
//! are dropped. Otherwise the old version stays active and a [`ScriptError`] is reported.
//!
//! Modules a script `require`s are watched too: when one changes, every script whose active
//! version required it reloads.
//!
//! A change is a change of text: an asset event whose source equals the text last acted on (a
//! second reload of one save, as when both Bevy's file watcher and the crate's report it) is
//! dropped, so the top level does not run again and no `ScriptLoaded` is written.

use super::env;
use crate::api::require::RequiredModules;
use crate::asset::{LuauScript, ScriptLoaded};
use crate::error::{ScriptError, ScriptErrorKind};
use crate::runtime::callbacks::Callbacks;
use crate::runtime::context::{Caller, Owner, ScriptId, ScriptPaths, call_as, next_id};
use crate::runtime::profile::Site;
use crate::runtime::scheduler::Scheduler;
use crate::vm::Limits;
use bevy_asset::{AssetEvent, AssetLoadFailedEvent, AssetServer, Assets, Handle};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::resource::Resource;
use bevy_ecs::world::World;
use mlua::chunk::ChunkMode;
use mlua::{Lua, Table, Value};
use std::sync::Arc;

/// Paths of global scripts asked for with `app.add_script`, not yet handed to the asset server.
#[derive(Resource, Default, Debug)]
pub(crate) struct ScriptRequests {
    /// Asset paths, in the order they were added.
    pub global: Vec<String>,
    /// Worker script paths, in the order they were added.
    pub worker: Vec<String>,
}

/// One global script and its active version.
struct GlobalScript {
    path: Arc<str>,
    handle: Handle<LuauScript>,
    active: Option<ActiveVersion>,
    /// The source of the last version tried, so one change is never loaded twice.
    last_source: Option<Arc<str>>,
    /// Module files the active version required.
    modules: Vec<String>,
    /// Whether a first version has been tried: it ran, failed to, or its file failed to load.
    /// Until then, scripts added after this one wait, so scripts start in the order they were
    /// added whatever order their files arrive in.
    settled: bool,
}

struct ActiveVersion {
    id: ScriptId,
    /// Kept so the version's globals live as long as it is active.
    _env: Table,
}

/// The global scripts of the main VM.
#[derive(Default)]
pub(crate) struct GlobalScripts {
    scripts: Vec<GlobalScript>,
    loaded: MessageCursor<AssetEvent<LuauScript>>,
    failed: MessageCursor<AssetLoadFailedEvent<LuauScript>>,
    /// Scripts whose asset changed, with the new source, waiting for stage 1 of the step.
    pending: Vec<(usize, LuauScript)>,
    /// Required module files, kept loaded so the asset server watches them.
    modules: Vec<ScriptFile>,
}

/// A script file the engine keeps loaded, and the text it last acted on.
pub(crate) struct ScriptFile {
    pub path: String,
    pub handle: Handle<LuauScript>,
    source: Option<Arc<str>>,
}

impl ScriptFile {
    /// Starts loading `path`, noting its text if the asset is loaded already.
    pub fn load(server: &AssetServer, assets: Option<&Assets<LuauScript>>, path: String) -> Self {
        let handle = server.load::<LuauScript>(path.clone());
        let source = assets
            .and_then(|a| a.get(&handle))
            .map(|a| a.source.clone());
        Self {
            path,
            handle,
            source,
        }
    }

    /// The file's new text when it differs from the text last acted on, which it becomes.
    pub fn take_change(&mut self, assets: &Assets<LuauScript>) -> Option<Arc<str>> {
        let asset = assets.get(&self.handle)?;
        if same_source(self.source.as_ref(), &asset.source) {
            return None;
        }
        self.source = Some(asset.source.clone());
        self.source.clone()
    }
}

/// Whether `new` is the text `last` holds: the same allocation, or equal text.
pub(crate) fn same_source(last: Option<&Arc<str>>, new: &Arc<str>) -> bool {
    last.is_some_and(|last| Arc::ptr_eq(last, new) || **last == **new)
}

impl GlobalScripts {
    /// Whether some script version is loaded or waiting to load.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Hands new `add_script` paths to the asset server and collects changed and failed
    /// assets. Runs outside Lua, with plain world access.
    pub fn collect(&mut self, lua: &Lua, world: &mut World, errors: &mut Vec<ScriptError>) {
        self.take_requests(world, errors);
        if self.scripts.is_empty() {
            return;
        }
        self.watch_required_modules(lua, world);
        let mut changed = Vec::new();
        let mut modules_changed = Vec::new();
        if let (Some(messages), Some(assets)) = (
            world.get_resource::<Messages<AssetEvent<LuauScript>>>(),
            world.get_resource::<Assets<LuauScript>>(),
        ) {
            for event in self.loaded.read(messages) {
                let (AssetEvent::Added { id } | AssetEvent::Modified { id }) = event else {
                    continue;
                };
                changed.push(*id);
                for module in self.modules.iter_mut().filter(|m| m.handle.id() == *id) {
                    // A module's first load only notes its text: the script read it already.
                    let new_text = module.take_change(assets).is_some();
                    if new_text && matches!(event, AssetEvent::Modified { .. }) {
                        modules_changed.push(module.path.clone());
                    }
                }
            }
        }
        if let Some(messages) = world.get_resource::<Messages<AssetLoadFailedEvent<LuauScript>>>() {
            for failure in self.failed.read(messages) {
                for script in self
                    .scripts
                    .iter_mut()
                    .filter(|s| s.handle.id() == failure.id)
                {
                    script.settled = true;
                    let message = format!("could not load `{}`: {}", failure.path, failure.error);
                    errors.push(ScriptError::new(
                        &*script.path,
                        ScriptErrorKind::Io,
                        message,
                    ));
                }
            }
        }
        let Some(assets) = world.get_resource::<Assets<LuauScript>>() else {
            return;
        };
        for (index, script) in self.scripts.iter_mut().enumerate() {
            let module_changed = script.modules.iter().any(|m| modules_changed.contains(m));
            if !changed.contains(&script.handle.id()) && !module_changed {
                continue;
            }
            let Some(asset) = assets.get(&script.handle) else {
                continue;
            };
            if !same_source(script.last_source.as_ref(), &asset.source) || module_changed {
                script.last_source = Some(asset.source.clone());
                self.pending.push((index, asset.clone()));
            }
        }
    }

    /// Records the modules active script versions required, and has the asset server watch them.
    fn watch_required_modules(&mut self, lua: &Lua, world: &World) {
        let Some(required) = lua
            .app_data_mut::<RequiredModules>()
            .map(|mut r| std::mem::take(&mut r.0))
        else {
            return;
        };
        for (id, file) in required {
            let Some(script) = self
                .scripts
                .iter_mut()
                .find(|s| s.active.as_ref().is_some_and(|a| a.id == id))
            else {
                continue;
            };
            if !script.modules.contains(&file) {
                script.modules.push(file.clone());
            }
            if !self.modules.iter().any(|m| m.path == file)
                && let Some(server) = world.get_resource::<AssetServer>()
            {
                let assets = world.get_resource::<Assets<LuauScript>>();
                self.modules.push(ScriptFile::load(server, assets, file));
            }
        }
    }

    fn take_requests(&mut self, world: &mut World, errors: &mut Vec<ScriptError>) {
        let Some(mut requests) = world.get_resource_mut::<ScriptRequests>() else {
            return;
        };
        if requests.global.is_empty() {
            return;
        }
        let paths = std::mem::take(&mut requests.global);
        let Some(server) = world.get_resource::<AssetServer>() else {
            for path in paths {
                let message = "scripts are assets: add Bevy's AssetPlugin (part of DefaultPlugins)";
                errors.push(ScriptError::new(
                    path,
                    ScriptErrorKind::MissingPlugin,
                    message,
                ));
            }
            return;
        };
        for path in paths {
            if self.scripts.iter().any(|s| *s.path == *path) {
                continue;
            }
            let handle = server.load::<LuauScript>(path.clone());
            self.scripts.push(GlobalScript {
                path: Arc::from(path),
                handle,
                active: None,
                last_source: None,
                modules: Vec::new(),
                settled: false,
            });
        }
    }

    /// Runs the versions collected by [`Self::collect`]: stage 1 of the step.
    pub fn apply(
        &mut self,
        lua: &Lua,
        limit: Limits,
        errors: &mut Vec<ScriptError>,
        loaded: &mut Vec<ScriptLoaded>,
    ) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|(index, _)| *index);
        for (index, asset) in pending {
            // A first version waits until every script added before it has tried its own.
            let waits = self.scripts.get(index).is_some_and(|s| !s.settled)
                && self.scripts[..index].iter().any(|s| !s.settled);
            if waits {
                self.pending.push((index, asset));
                continue;
            }
            let id = next_id();
            let Some(script) = self.scripts.get_mut(index) else {
                continue;
            };
            script.settled = true;
            match run_version(lua, id, &script.path, &asset.source, limit) {
                Ok((env, _)) => {
                    script.modules.clear();
                    let old = script.active.replace(ActiveVersion { id, _env: env });
                    loaded.push(ScriptLoaded {
                        path: script.path.to_string(),
                        reloaded: old.is_some(),
                    });
                    if let Some(old) = old {
                        disconnect(lua, old.id);
                        cancel_tasks(lua, old.id);
                        tracing::info!(target: "bevy_luau", script = %script.path, "reloaded");
                    }
                }
                Err(error) => {
                    disconnect(lua, id);
                    cancel_tasks(lua, id);
                    let kept = if script.active.is_some() {
                        "; the previous version stays active"
                    } else {
                        ""
                    };
                    tracing::debug!(target: "bevy_luau", script = %script.path, "version not loaded{kept}");
                    errors.push(error);
                }
            }
        }
    }
}

/// Compiles and runs one version of a script in a fresh environment; returns the environment
/// and what the top level returned.
pub(crate) fn run_version(
    lua: &Lua,
    id: ScriptId,
    path: &Arc<str>,
    source: &str,
    limit: Limits,
) -> Result<(Table, Value), ScriptError> {
    let owner = Owner {
        id,
        path: path.clone(),
    };
    let lua_error = |error: mlua::Error, exhausted| ScriptError::from_lua(path, &error, exhausted);
    let modules = lua.create_table().map_err(|e| lua_error(e, None))?;
    let env = env::build(lua, &owner, path, &modules).map_err(|e| lua_error(e, None))?;
    let function = lua
        .load(source)
        .set_name(format!("@{path}"))
        .set_mode(ChunkMode::Text)
        .set_environment(env.clone())
        .into_function()
        .map_err(|e| ScriptError::new(&**path, ScriptErrorKind::Compile, e.to_string()))?;
    crate::debug::chunk_loaded(lua, path, &function, source);
    if let Some(mut paths) = lua.app_data_mut::<ScriptPaths>() {
        paths.0.insert(id, path.clone());
    }
    let caller = Caller {
        script: id,
        entity: None,
    };
    let call = || crate::debug::call::<Value>(lua, &function, ());
    let (result, exhausted) = call_as(lua, Some(caller), Some(Site::Load), limit, call);
    let value = result.map_err(|e| lua_error(e, exhausted))?;
    Ok((env, value))
}

/// Cancels the `task` coroutines of a global script version that is no longer active.
fn cancel_tasks(lua: &Lua, id: ScriptId) {
    if let Some(mut scheduler) = lua.app_data_mut::<Scheduler>() {
        scheduler.cancel_script(id);
    }
    if let Some(mut paths) = lua.app_data_mut::<ScriptPaths>() {
        paths.0.remove(&id);
    }
}

/// Disconnects every hook and handler of script version `id`.
pub(crate) fn disconnect(lua: &Lua, id: ScriptId) {
    if let Some(mut callbacks) = lua.app_data_mut::<Callbacks>() {
        callbacks.disconnect_script(id);
    }
}
