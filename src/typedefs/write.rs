//! Writing the definitions files: [`write`], [`write_workers`] and [`write_actors`], and the
//! [`write_typedefs`], [`write_worker_typedefs`] and [`write_actor_typedefs`] startup systems.

use crate::error::{ScriptError, ScriptErrorKind};
use bevy_ecs::world::World;
use std::path::{Path, PathBuf};

/// Writes the definitions of [`generate`](super::generate) to `path`, atomically: into a
/// temporary file beside it, then renamed over it. A file that already holds the same text is
/// left untouched, so editors watching it do not reload for nothing.
///
/// Fails with a [`ScriptError`] of kind [`ScriptErrorKind::Io`] naming the path when the file
/// cannot be written; nothing is left behind then.
pub fn write(world: &World, path: impl AsRef<Path>) -> Result<(), ScriptError> {
    write_text(path.as_ref(), &super::generate::generate(world))
}

/// Writes the worker scripts' definitions of [`generate_workers`](super::generate_workers) to
/// `path`, as [`write`](fn@write) does.
pub fn write_workers(world: &World, path: impl AsRef<Path>) -> Result<(), ScriptError> {
    write_text(path.as_ref(), &super::generate::generate_workers(world))
}

/// Writes the actor scripts' definitions of [`generate_actors`](super::generate_actors) to
/// `path`, as [`write`](fn@write) does.
pub fn write_actors(world: &World, path: impl AsRef<Path>) -> Result<(), ScriptError> {
    write_text(path.as_ref(), &super::generate::generate_actors(world))
}

/// Writes `text` to `path` atomically, unless the file already holds it.
fn write_text(path: &Path, text: &str) -> Result<(), ScriptError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    let failed = |what: &str, error: std::io::Error| {
        ScriptError::new(
            path.display().to_string(),
            ScriptErrorKind::Io,
            format!("could not {what} the Luau type definitions: {error}"),
        )
    };
    let temporary = temporary_path(path);
    std::fs::write(&temporary, text).map_err(|e| failed("write", e))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        failed("replace", e)
    })
}

/// A system that writes the definitions to `path`; add it to `Startup`, when every type is
/// registered.
///
/// A relative `path` is relative to the working directory, as `std::fs` reads it, not to the
/// asset folder: `cargo run` starts in the crate's root, so `"assets/bevy_luau.d.luau"` lands
/// beside the scripts there. To be independent of it, pass an absolute path such as
/// `concat!(env!("CARGO_MANIFEST_DIR"), "/assets/bevy_luau.d.luau")`.
///
///
/// ```
/// # use bevy_app::{App, Startup, TaskPoolPlugin};
/// # use bevy_asset::AssetPlugin;
/// # use bevy_luau::prelude::*;
/// # use bevy_time::TimePlugin;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("bevy_luau.d.luau");
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins(LuauScriptingPlugin::default())
///     .add_systems(Startup, bevy_luau::typedefs::write_typedefs(path.clone()));
/// app.update();
/// assert!(std::fs::read_to_string(&path).unwrap().contains("declare ecs: {"));
/// ```
/// A failure does not stop the app: it is logged and sent as a [`ScriptError`] message of
/// kind [`ScriptErrorKind::Io`]. Running the system again rewrites the file when the
/// registrations changed.
pub fn write_typedefs(path: impl Into<PathBuf>) -> impl FnMut(&mut World) {
    writing(path.into(), |world, path| write(world, path))
}

/// A system that writes the worker scripts' definitions to `path`, as [`write_typedefs`]
/// writes the main ones.
pub fn write_worker_typedefs(path: impl Into<PathBuf>) -> impl FnMut(&mut World) {
    writing(path.into(), |world, path| write_workers(world, path))
}

/// A system that writes the actor scripts' definitions to `path`, as [`write_typedefs`]
/// writes the main ones.
pub fn write_actor_typedefs(path: impl Into<PathBuf>) -> impl FnMut(&mut World) {
    writing(path.into(), |world, path| write_actors(world, path))
}

/// The system that writes `path` with `write`, logging and sending its failures.
fn writing(
    path: PathBuf,
    write: fn(&World, &Path) -> Result<(), ScriptError>,
) -> impl FnMut(&mut World) {
    move |world: &mut World| match write(world, &path) {
        Ok(()) => {
            tracing::info!(target: "bevy_luau", "wrote Luau type definitions to {}", path.display())
        }
        Err(error) => {
            tracing::error!(target: "bevy_luau", "{error}");
            world.write_message(error);
        }
    }
}

/// `dir/.name.tmp` beside `path`.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bevy_luau.d.luau".to_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("defs.d.luau");
        let world = World::new();
        write(&world, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("declare extern type Entity with"));
        write(&world, &path).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn a_path_that_cannot_be_written_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let error = write(&World::new(), file.join("defs.d.luau")).unwrap_err();
        assert_eq!(error.kind, ScriptErrorKind::Io);
        assert!(error.script.ends_with("defs.d.luau"), "{error}");
    }
}
