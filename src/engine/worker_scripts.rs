//! Worker scripts: loaded through the asset server and handed to every worker VM, again on
//! each change of the text of a script or of a module one of them requires.

use super::scripts::{ScriptFile, ScriptRequests};
use crate::asset::LuauScript;
use crate::error::{ScriptError, ScriptErrorKind};
use crate::pool::StatePool;
use bevy_asset::{AssetEvent, AssetLoadFailedEvent, AssetServer, Assets, Handle};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::world::World;

/// The worker scripts asked for with `app.add_worker_script`, and their changes.
#[derive(Default)]
pub(crate) struct WorkerScripts {
    scripts: Vec<ScriptFile>,
    /// Worker scripts whose first load has neither finished nor failed.
    loading: Vec<Handle<LuauScript>>,
    /// Modules worker scripts required, watched so that editing one rebuilds the workers.
    modules: Vec<ScriptFile>,
    loaded: MessageCursor<AssetEvent<LuauScript>>,
    failed: MessageCursor<AssetLoadFailedEvent<LuauScript>>,
}

impl WorkerScripts {
    /// Whether a worker script asked for is still loading for the first time. Scripts of the
    /// main VM wait for it, so their first `jobs.run` finds the jobs defined.
    pub fn is_loading(&self) -> bool {
        !self.loading.is_empty()
    }

    /// Loads new worker scripts and hands changed ones to the pool. Cheap when there are none.
    pub fn collect(&mut self, world: &mut World, errors: &mut Vec<ScriptError>) {
        let requested = world
            .get_resource_mut::<ScriptRequests>()
            .map(|mut r| std::mem::take(&mut r.worker))
            .unwrap_or_default();
        if !requested.is_empty() {
            let Some(server) = world.get_resource::<AssetServer>() else {
                return;
            };
            for path in requested {
                if !self.scripts.iter().any(|s| s.path == path) {
                    // Not noting a loaded text: the pool has not run this script yet.
                    let script = ScriptFile::load(server, None, path);
                    self.loading.push(script.handle.clone());
                    self.scripts.push(script);
                }
            }
        }
        if self.scripts.is_empty() {
            return;
        }
        let (Some(events), Some(assets), Some(pool)) = (
            world.get_resource::<Messages<AssetEvent<LuauScript>>>(),
            world.get_resource::<Assets<LuauScript>>(),
            world.get_resource::<StatePool>(),
        ) else {
            return;
        };
        if let Some(server) = world.get_resource::<AssetServer>() {
            for file in pool.take_required() {
                if !self.modules.iter().any(|m| m.path == file) {
                    self.modules
                        .push(ScriptFile::load(server, Some(assets), file));
                }
            }
        }
        let mut module_changed = false;
        for event in self.loaded.read(events) {
            let (AssetEvent::Added { id } | AssetEvent::Modified { id }) = event else {
                continue;
            };
            for module in self.modules.iter_mut().filter(|m| m.handle.id() == *id) {
                // A module's first load only notes its text: the workers read it already.
                let new_text = module.take_change(assets).is_some();
                module_changed |= new_text && matches!(event, AssetEvent::Modified { .. });
            }
            self.loading.retain(|h| h.id() != *id);
            for script in self.scripts.iter_mut().filter(|s| s.handle.id() == *id) {
                if let Some(source) = script.take_change(assets)
                    && let Err(error) = pool.set_script(&script.path, source)
                {
                    errors.push(error);
                }
            }
        }
        if module_changed && let Err(error) = pool.reload() {
            errors.push(error);
        }
        if let Some(failures) = world.get_resource::<Messages<AssetLoadFailedEvent<LuauScript>>>() {
            for failure in self.failed.read(failures) {
                self.loading.retain(|h| h.id() != failure.id);
                for script in self.scripts.iter().filter(|s| s.handle.id() == failure.id) {
                    let path = &script.path;
                    let message =
                        format!("could not load worker script `{path}`: {}", failure.error);
                    errors.push(ScriptError::new(
                        path.as_str(),
                        ScriptErrorKind::Io,
                        message,
                    ));
                }
            }
        }
    }
}
