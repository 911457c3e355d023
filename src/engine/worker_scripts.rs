//! Worker scripts: loaded through the asset server and handed to every worker VM, again on
//! each change of a script or of a module one of them requires.

use super::scripts::ScriptRequests;
use crate::asset::LuauScript;
use crate::error::{ScriptError, ScriptErrorKind};
use crate::pool::StatePool;
use bevy_asset::{AssetEvent, AssetLoadFailedEvent, AssetServer, Assets, Handle};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::world::World;

/// The worker scripts asked for with `app.add_worker_script`, and their changes.
#[derive(Default)]
pub(crate) struct WorkerScripts {
    scripts: Vec<(String, Handle<LuauScript>)>,
    /// Worker scripts whose first load has neither finished nor failed.
    loading: Vec<Handle<LuauScript>>,
    /// Modules worker scripts required, watched so that editing one rebuilds the workers.
    modules: Vec<(String, Handle<LuauScript>)>,
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
                if !self.scripts.iter().any(|(p, _)| *p == path) {
                    let handle = server.load(path.clone());
                    self.loading.push(handle.clone());
                    self.scripts.push((path, handle));
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
                if !self.modules.iter().any(|(path, _)| *path == file) {
                    let handle = server.load(file.clone());
                    self.modules.push((file, handle));
                }
            }
        }
        let mut module_changed = false;
        for event in self.loaded.read(events) {
            if let AssetEvent::Modified { id } = event {
                module_changed |= self.modules.iter().any(|(_, h)| h.id() == *id);
            }
            let (AssetEvent::Added { id } | AssetEvent::Modified { id }) = event else {
                continue;
            };
            self.loading.retain(|h| h.id() != *id);
            for (path, handle) in self.scripts.iter().filter(|(_, h)| h.id() == *id) {
                if let Some(asset) = assets.get(handle)
                    && let Err(error) = pool.set_script(path, asset.source.clone())
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
                for (path, _) in self.scripts.iter().filter(|(_, h)| h.id() == failure.id) {
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
