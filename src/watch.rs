//! Fast hot reload (feature `hot-reload`): the crate watches the script files itself, so a save
//! reaches the running game in a few tens of milliseconds instead of Bevy's 300.
//!
//! Bevy's file watcher (bevy_asset's `file_watcher`) waits until a file has been quiet for
//! 300 ms before it reloads it, a figure fixed where `AssetSourceBuilder::platform_default`
//! builds the default asset source, before any plugin added after `AssetPlugin` could change
//! it. So the crate runs a watcher of its own beside Bevy's:
//!
//! - **What is watched.** The folder of every `.lua`/`.luau` file loaded from the default asset
//!   source: global scripts, entity `Script`s, worker scripts, required modules and a template's
//!   scripts alike, since all of them are `LuauScript` assets. A folder is added when a script
//!   in it first loads (or fails to, so that creating the missing file reloads it), and is
//!   watched without its subfolders. Watching folders rather than files survives editors that
//!   save by writing a new file and renaming it over the old one, and watching only the folders
//!   that hold scripts costs no watch on the rest of a large asset tree.
//! - **The watcher thread** only sends paths over a channel. A write known to be finished (the
//!   file closed after writing, or renamed into place) is sent at once; any other change, on
//!   platforms that do not report closing, once the file has been quiet for 20 ms. Paths that
//!   are not `.lua`/`.luau` files, or no longer exist, are not sent.
//! - **On the main thread**, a system in `PreUpdate` maps each path to its asset path (relative
//!   to `FileAssetReader::get_base_path()` joined with `AssetPlugin::file_path`) and calls
//!   `AssetServer::reload` for paths that are loaded `LuauScript` assets. When the new version
//!   lands in `Assets<LuauScript>` (the next frame, in `PreUpdate`), the system writes its
//!   `AssetEvent::Modified` at once, so the scripting step of that same frame runs it rather than
//!   the next one's, when Bevy's own message for it arrives.
//! - **Duplicates.** Bevy's watcher still reloads the same file 300 ms later. The engine acts on
//!   a changed asset only when its text differs from the text it last ran, so that second reload
//!   (and Bevy's late `Modified` message for the first) re-runs nothing and writes no
//!   `ScriptLoaded`.
//!
//! There is no crate watcher when Bevy does not watch for changes (`AssetPlugin`'s
//! `watch_for_changes_override: Some(false)`, or the feature off), when the server loads
//! processed assets, or when the app never runs `Plugin::finish`. When the asset folder does not
//! exist, or the watcher or a folder watch cannot start, a warning is logged and Bevy's watcher
//! alone reloads scripts, as it would without this module.

use crate::asset::LuauScript;
use bevy_app::{App, PreUpdate};
use bevy_asset::io::AssetSourceId;
use bevy_asset::io::file::FileAssetReader;
use bevy_asset::{
    AssetEvent, AssetId, AssetLoadFailedEvent, AssetPath, AssetPlugin, AssetServer,
    AssetServerMode, AssetTrackingSystems, Assets,
};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::resource::Resource;
use bevy_ecs::schedule::IntoScheduleConfigs;
use bevy_ecs::system::{Res, ResMut};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a changed file must be quiet before it is reloaded, when no event says that its
/// write has finished.
const QUIET: Duration = Duration::from_millis(20);

/// How long a reload may take to land in `Assets` before the system stops looking for it (a load
/// that failed never lands).
const LANDING: Duration = Duration::from_secs(5);

/// Starts the crate's watcher for an app whose asset server watches for changes. Called from
/// `LuauScriptingPlugin::finish`, once the asset server exists.
pub(crate) fn install(app: &mut App) {
    if app.world().contains_resource::<ScriptWatcher>() {
        return;
    }
    let Some(server) = app.world().get_resource::<AssetServer>() else {
        return;
    };
    if !server.watching_for_changes() || server.mode() != AssetServerMode::Unprocessed {
        return;
    }
    let file_path = app
        .get_added_plugins::<AssetPlugin>()
        .first()
        .map_or_else(|| AssetPlugin::default().file_path, |p| p.file_path.clone());
    let root = FileAssetReader::get_base_path().join(file_path);
    if !root.is_dir() {
        tracing::warn!(
            target: "bevy_luau",
            "the asset folder {} is not a folder: scripts reload through Bevy's file watcher only",
            root.display()
        );
        return;
    }
    match FileWatcher::start(QUIET) {
        Ok(files) => {
            app.insert_resource(ScriptWatcher::new(root, files))
                .add_systems(PreUpdate, reload_saved_scripts.after(AssetTrackingSystems));
        }
        Err(error) => tracing::warn!(
            target: "bevy_luau",
            "could not start the script file watcher ({error}): scripts reload through Bevy's file watcher only"
        ),
    }
}

/// The crate's watcher of script files and the reloads it asked for.
#[derive(Resource)]
struct ScriptWatcher {
    /// The folder of the default asset source on disk.
    root: PathBuf,
    files: FileWatcher,
    /// Folders watched, or that could not be.
    folders: HashSet<PathBuf>,
    /// Reloads asked for and not landed yet.
    reloads: Vec<Reload>,
    loaded: MessageCursor<AssetEvent<LuauScript>>,
    failed: MessageCursor<AssetLoadFailedEvent<LuauScript>>,
}

/// A reload asked for: the asset, the text it had then, and when to stop waiting.
struct Reload {
    id: AssetId<LuauScript>,
    /// Held so that its address cannot be reused: a new version is a new allocation.
    before: Arc<str>,
    until: Instant,
}

impl ScriptWatcher {
    fn new(root: PathBuf, files: FileWatcher) -> Self {
        Self {
            root,
            files,
            folders: HashSet::new(),
            reloads: Vec::new(),
            loaded: MessageCursor::default(),
            failed: MessageCursor::default(),
        }
    }

    /// Watches the folder of the script at `path`, once.
    fn watch_folder_of(&mut self, path: &AssetPath) {
        if *path.source() != AssetSourceId::Default {
            return;
        }
        let folder = self
            .root
            .join(path.path().parent().unwrap_or(Path::new("")));
        if !self.folders.insert(folder.clone()) {
            return;
        }
        if let Err(error) = self.files.watch(&folder) {
            tracing::warn!(
                target: "bevy_luau",
                "could not watch {} ({error}): its scripts reload through Bevy's file watcher only",
                folder.display()
            );
        }
    }

    /// The asset path of a file under the asset folder.
    fn asset_path(&self, file: &Path) -> Option<AssetPath<'static>> {
        let relative = file.strip_prefix(&self.root).ok()?;
        Some(AssetPath::from(relative.to_path_buf()))
    }
}

/// Watches the folders of new scripts, reloads saved ones, and announces reloads that landed.
fn reload_saved_scripts(
    mut watcher: ResMut<ScriptWatcher>,
    server: Res<AssetServer>,
    assets: Option<Res<Assets<LuauScript>>>,
    messages: Option<ResMut<Messages<AssetEvent<LuauScript>>>>,
    failures: Option<Res<Messages<AssetLoadFailedEvent<LuauScript>>>>,
) {
    let (Some(assets), Some(mut messages)) = (assets, messages) else {
        return;
    };
    let watcher = &mut *watcher;
    let added: Vec<_> = watcher
        .loaded
        .read(&messages)
        .filter_map(|event| match event {
            AssetEvent::Added { id } => server.get_path(*id).map(|p| p.into_owned()),
            _ => None,
        })
        .collect();
    for path in added {
        watcher.watch_folder_of(&path);
    }
    if let Some(failures) = failures {
        let failed: Vec<_> = watcher
            .failed
            .read(&failures)
            .map(|f| f.path.clone())
            .collect();
        for path in failed {
            watcher.watch_folder_of(&path);
        }
    }

    // Reloads that landed: the scripting step of this frame gets them.
    let now = Instant::now();
    watcher
        .reloads
        .retain(|reload| match assets.get(reload.id) {
            Some(asset) if !Arc::ptr_eq(&asset.source, &reload.before) => {
                messages.write(AssetEvent::Modified { id: reload.id });
                false
            }
            Some(_) => now < reload.until,
            None => false,
        });

    let saved: HashSet<PathBuf> = watcher.files.saved.try_iter().collect();
    for file in saved {
        let Some(path) = watcher.asset_path(&file) else {
            continue;
        };
        let ids: Vec<AssetId<LuauScript>> = server
            .get_path_ids(&path)
            .into_iter()
            .filter_map(|id| id.try_typed().ok())
            .collect();
        if ids.is_empty() {
            continue;
        }
        server.reload(path);
        for id in ids {
            let Some(asset) = assets.get(id) else {
                continue;
            };
            if !watcher.reloads.iter().any(|r| r.id == id) {
                watcher.reloads.push(Reload {
                    id,
                    before: asset.source.clone(),
                    until: now + LANDING,
                });
            }
        }
    }
}

/// A file system watcher over folders, whose thread sends the paths of saved script files.
struct FileWatcher {
    watcher: RecommendedWatcher,
    saved: Receiver<PathBuf>,
}

impl FileWatcher {
    /// Starts the watcher and its debouncing thread; `quiet` is how long a file must be quiet
    /// before a change with no end reported is sent.
    fn start(quiet: Duration) -> notify::Result<Self> {
        let (event_sender, events) = crossbeam_channel::unbounded();
        let (saved_sender, saved) = crossbeam_channel::unbounded();
        let watcher = notify::recommended_watcher(move |event| {
            let _ = event_sender.send(event);
        })?;
        std::thread::Builder::new()
            .name("bevy_luau script watcher".into())
            .spawn(move || debounce(&events, &saved_sender, quiet))?;
        Ok(Self { watcher, saved })
    }

    /// Watches the files of `folder`, not its subfolders.
    fn watch(&mut self, folder: &Path) -> notify::Result<()> {
        self.watcher.watch(folder, RecursiveMode::NonRecursive)
    }
}

/// What an event says about a file.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// Its new content is complete: closed after writing, or renamed into place.
    Finished,
    /// It is changing; more may come.
    Ongoing,
}

/// The change `kind` reports about `path`, when it is one worth a reload.
fn change(kind: &EventKind, path: &Path) -> Option<Change> {
    let script = path.extension().is_some_and(|e| e == "lua" || e == "luau");
    if !script {
        return None;
    }
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => Some(Change::Finished),
        // The file it was is gone; `To` (or `Both`'s last path) names the new one.
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => None,
        EventKind::Create(_) | EventKind::Modify(_) => Some(Change::Ongoing),
        _ => None,
    }
}

/// The thread between the watcher and the main thread: sends each changed script file once its
/// change is finished or has been quiet for `quiet`. Ends when either side hangs up.
fn debounce(
    events: &Receiver<notify::Result<notify::Event>>,
    saved: &Sender<PathBuf>,
    quiet: Duration,
) {
    let mut waiting: Vec<(PathBuf, Instant)> = Vec::new();
    loop {
        let received = match waiting.iter().map(|(_, due)| *due).min() {
            Some(due) => events.recv_deadline(due),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let mut ready = Vec::new();
        match received {
            Ok(Ok(event)) => {
                // A rename's `Both` names the old path first: only its last path is a file now.
                let (kind, paths) = match event.kind {
                    EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => (
                        EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                        &event.paths[event.paths.len().saturating_sub(1)..],
                    ),
                    kind => (kind, &event.paths[..]),
                };
                for path in paths {
                    match change(&kind, path) {
                        Some(Change::Finished) => {
                            waiting.retain(|(p, _)| p != path);
                            ready.push(path.clone());
                        }
                        Some(Change::Ongoing) => {
                            let due = Instant::now() + quiet;
                            match waiting.iter_mut().find(|(p, _)| p == path) {
                                Some(entry) => entry.1 = due,
                                None => waiting.push((path.clone(), due)),
                            }
                        }
                        None => {}
                    }
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(target: "bevy_luau", "script file watcher: {error}");
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        waiting.retain(|(path, due)| {
            let is_due = *due <= now;
            if is_due {
                ready.push(path.clone());
            }
            !is_due
        });
        for path in ready {
            // A file deleted or renamed away meanwhile has nothing to reload.
            if path.is_file() && saved.send(path).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
    }

    /// Waits for the next path the watcher sends.
    fn next(files: &FileWatcher) -> PathBuf {
        files
            .saved
            .recv_timeout(Duration::from_secs(20))
            .expect("a saved file")
    }

    /// A temporary folder holding `files`, and a watcher of it.
    fn watched(files: &[(&str, &str)]) -> (tempfile::TempDir, FileWatcher) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            write(&dir.path().join(name), text);
        }
        let mut watcher = FileWatcher::start(QUIET).expect("watcher");
        watcher.watch(dir.path()).expect("watch");
        (dir, watcher)
    }

    #[test]
    fn a_saved_script_file_is_sent_and_other_files_are_not() {
        let (dir, files) = watched(&[]);
        write(&dir.path().join("notes.txt"), "not a script");
        let script = dir.path().join("live.luau");
        write(&script, "return 1");
        assert_eq!(next(&files), script);
    }

    #[test]
    fn a_script_renamed_into_place_is_sent_under_its_new_name() {
        let (dir, files) = watched(&[("live.lua", "return 1")]);
        let temporary = dir.path().join("live.lua.tmp");
        write(&temporary, "return 2");
        let script = dir.path().join("live.lua");
        std::fs::rename(&temporary, &script).expect("rename");
        assert_eq!(next(&files), script);
    }

    #[test]
    fn a_change_is_sent_once_quiet_and_not_when_the_file_is_gone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kept = dir.path().join("kept.luau");
        write(&kept, "return 1");
        let gone = dir.path().join("gone.luau");
        let (event_sender, events) = crossbeam_channel::unbounded();
        let (saved_sender, saved) = crossbeam_channel::unbounded();
        let thread = std::thread::spawn(move || debounce(&events, &saved_sender, QUIET));
        let data = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any));
        for path in [&gone, &kept, &kept] {
            let event = notify::Event::new(data).add_path(path.clone());
            event_sender.send(Ok(event)).expect("send");
        }
        let sent = saved.recv_timeout(Duration::from_secs(20)).expect("a path");
        assert_eq!(sent, kept);
        drop(event_sender);
        thread
            .join()
            .expect("the thread ends when the watcher hangs up");
        assert_eq!(
            saved.try_iter().count(),
            0,
            "once, and never the missing file"
        );
    }

    #[test]
    fn changes_are_classified_by_kind_and_extension() {
        let script = Path::new("scripts/a.luau");
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let data = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any));
        let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        let removed = EventKind::Remove(notify::event::RemoveKind::File);
        assert_eq!(change(&closed, script), Some(Change::Finished));
        assert_eq!(change(&data, script), Some(Change::Ongoing));
        assert_eq!(change(&from, script), None);
        assert_eq!(change(&removed, script), None);
        assert_eq!(change(&closed, Path::new("scripts/a.luau.swp")), None);
        assert_eq!(
            change(&closed, Path::new("scripts/a.lua")),
            Some(Change::Finished)
        );
    }
}
