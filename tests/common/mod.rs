//! A headless app with a temporary, watched asset folder, for the integration tests.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

#[cfg(feature = "debugger")]
pub mod dap;
pub mod readme;

use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_asset::io::{
    AssetReader, AssetReaderError, AssetSourceBuilder, ErasedAssetReader, PathStream, Reader,
    VecReader,
};
use bevy_asset::{AssetApp, AssetPlugin};
use bevy_ecs::message::MessageReader;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// luau-lsp from `$LUAU_LSP` or the `PATH`, as an absolute path.
pub fn luau_lsp() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LUAU_LSP") {
        let path = PathBuf::from(path);
        return Some(std::fs::canonicalize(&path).unwrap_or_else(|e| {
            panic!("LUAU_LSP is {}, which cannot be used: {e}", path.display())
        }));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("luau-lsp"))
        .find(|candidate| candidate.is_file())
}

/// What a luau-lsp run ended with, and its diagnostics: the lines it printed apart from its
/// `[INFO]` lines.
pub struct LspRun {
    pub status: std::process::ExitStatus,
    pub diagnostics: Vec<String>,
}

impl LspRun {
    /// Whether it passed with no diagnostic at all.
    pub fn clean(&self) -> bool {
        self.status.success() && self.diagnostics.is_empty()
    }
}

/// Runs luau-lsp (`lsp`) with `args` in `dir`.
pub fn run_luau_lsp<S: AsRef<std::ffi::OsStr>>(
    lsp: &Path,
    args: impl IntoIterator<Item = S>,
    dir: &Path,
) -> LspRun {
    let output = std::process::Command::new(lsp)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", lsp.display()));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let diagnostics = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("[INFO]"))
        .map(str::to_owned)
        .collect();
    LspRun {
        status: output.status,
        diagnostics,
    }
}

/// Where `generated` first differs from `checked_in`, a file generated before: the line's
/// number and both versions of it; `None` when they are the same.
pub fn first_difference(generated: &str, checked_in: &str) -> Option<String> {
    if generated == checked_in {
        return None;
    }
    let line = generated
        .lines()
        .zip(checked_in.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| generated.lines().count().min(checked_in.lines().count()));
    Some(format!(
        "line {}:\n  generated:  {:?}\n  checked in: {:?}",
        line + 1,
        generated.lines().nth(line),
        checked_in.lines().nth(line),
    ))
}

/// Lua helpers a test script may start with.
pub const LUA_PRELUDE: &str = r#"
-- Calls f(...), which must fail with a message containing `expected`; returns the message.
local function fails(expected, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected an error containing: " .. expected)
    err = tostring(err)
    assert(string.find(err, expected, 1, true), err)
    return err
end
"#;

/// The frame time of every test app.
pub const FRAME: Duration = Duration::from_millis(100);

/// Every `ScriptError` and `ScriptEvent` the app produced, in order.
#[derive(Resource, Default)]
pub struct Seen {
    pub errors: Vec<ScriptError>,
    pub events: Vec<ScriptEvent>,
    pub completed: Vec<JobCompleted>,
    pub loaded: Vec<ScriptLoaded>,
}

/// A time limit for a test's retry loop, so a condition that never holds fails the test instead
/// of hanging it.
pub struct Deadline(Instant);

impl Deadline {
    /// Twenty seconds from now.
    pub fn new() -> Self {
        Self(Instant::now())
    }

    /// Fails the test when the time is up.
    pub fn check(&self, what: &str) {
        assert!(
            self.0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
    }
}

pub struct Harness {
    pub app: App,
    pub dir: TempDir,
}

impl Harness {
    /// An app whose asset folder holds `files`, with the default plugin settings.
    pub fn new(files: &[(&str, &str)]) -> Self {
        Self::with_plugin(LuauScriptingPlugin::default(), files)
    }

    pub fn with_config(config: ScriptConfig, files: &[(&str, &str)]) -> Self {
        Self::with_plugin(
            LuauScriptingPlugin {
                config,
                ..Default::default()
            },
            files,
        )
    }

    pub fn with_plugin(plugin: LuauScriptingPlugin, files: &[(&str, &str)]) -> Self {
        Self::set_up_before_plugin(plugin, files, |_| {})
    }

    /// An app like [`Harness::with_plugin`]'s, with `before` applied once Bevy's plugins are
    /// added and before `plugin` is.
    pub fn set_up_before_plugin(
        plugin: LuauScriptingPlugin,
        files: &[(&str, &str)],
        before: impl FnOnce(&mut App),
    ) -> Self {
        Self::set_up(plugin, files, |_| {}, before)
    }

    /// An app like [`Harness::new`]'s whose asset source `gated://` serves `files` from memory,
    /// each one only once the returned [`Gate`] opens.
    pub fn with_gated_files(files: &[(&str, &str)]) -> (Self, Gate) {
        let gate = Gate::default();
        let reader = GatedReader {
            files: files
                .iter()
                .map(|(path, source)| (PathBuf::from(path), source.as_bytes().to_vec()))
                .collect(),
            gate: gate.clone(),
        };
        let register = move |app: &mut App| {
            let builder = AssetSourceBuilder::new(move || {
                Box::new(reader.clone()) as Box<dyn ErasedAssetReader>
            });
            app.register_asset_source("gated", builder);
        };
        let harness = Self::set_up(LuauScriptingPlugin::default(), &[], register, |_| {});
        (harness, gate)
    }

    fn set_up(
        plugin: LuauScriptingPlugin,
        files: &[(&str, &str)],
        before_assets: impl FnOnce(&mut App),
        before: impl FnOnce(&mut App),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, contents) in files {
            write(dir.path(), path, contents);
        }
        let mut app = App::new();
        before_assets(&mut app);
        app.add_plugins((
            TaskPoolPlugin::default(),
            TimePlugin,
            AssetPlugin {
                file_path: dir.path().to_string_lossy().into_owned(),
                watch_for_changes_override: Some(true),
                ..Default::default()
            },
        ));
        before(&mut app);
        app.add_plugins(plugin)
            .insert_resource(TimeUpdateStrategy::ManualDuration(FRAME))
            .init_resource::<Seen>()
            .add_systems(Update, record.after(ScriptingSystem));
        app.finish();
        app.cleanup();
        Self { app, dir }
    }

    /// An app with one script, `scripts/t.luau`: `prelude`, then a handler of `event` that runs
    /// `body` with the payload as `p`. Returns once the script has loaded.
    pub fn with_handler(prelude: &str, event: &str, body: &str) -> Self {
        let source = format!(
            "{LUA_PRELUDE}\n{prelude}\nevents.on(\"{event}\", function(p)\n{body}\nend)\nevents.emit(\"ready\")\n"
        );
        let mut h = Harness::new(&[("scripts/t.luau", &source)]).scripts(&["scripts/t.luau"]);
        h.run_until_event("ready");
        h
    }

    /// Runs frames until the scripts emitted `done` or reported an error.
    pub fn run_until_done(&mut self) {
        self.run_until("the script to finish", |seen| {
            !seen.errors.is_empty() || seen.events.iter().any(|e| e.name == "done")
        });
    }

    /// Adds global scripts, in order.
    pub fn scripts(mut self, paths: &[&str]) -> Self {
        for path in paths {
            self.app.add_script(*path);
        }
        self
    }

    /// Rewrites a file of the asset folder.
    pub fn write(&self, path: &str, contents: &str) {
        write(self.dir.path(), path, contents);
    }

    pub fn update(&mut self) {
        self.app.update();
    }

    /// Runs frames until `done` holds, failing the test after 20 s.
    pub fn run_until(&mut self, what: &str, mut done: impl FnMut(&Seen) -> bool) {
        let start = Instant::now();
        loop {
            self.app.update();
            if done(self.seen()) {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let seen = self.seen();
                panic!(
                    "timed out waiting for {what}; errors: {:#?}; events: {:?}",
                    seen.errors, seen.events
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs frames until one frame changes `read` by `step` (a new version of a script taking
    /// effect), failing the test after the [`Deadline`].
    pub fn run_until_a_frame_adds(&mut self, what: &str, step: f64, read: impl Fn(&Self) -> f64) {
        let deadline = Deadline::new();
        loop {
            deadline.check(what);
            let before = read(self);
            self.app.update();
            if read(self) - before == step {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs frames until an event called `name` was emitted.
    pub fn run_until_event(&mut self, name: &str) {
        self.run_until(&format!("event `{name}`"), |seen| {
            seen.events.iter().any(|e| e.name == name)
        });
    }

    pub fn seen(&self) -> &Seen {
        self.app.world().resource::<Seen>()
    }

    /// Takes the events seen so far.
    pub fn take_events(&mut self) -> Vec<ScriptEvent> {
        std::mem::take(&mut self.app.world_mut().resource_mut::<Seen>().events)
    }

    /// Takes the errors seen so far.
    pub fn take_errors(&mut self) -> Vec<ScriptError> {
        std::mem::take(&mut self.app.world_mut().resource_mut::<Seen>().errors)
    }

    /// Payloads of the events called `name` seen so far.
    pub fn payloads(&self, name: &str) -> Vec<ScriptValue> {
        self.seen()
            .events
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.payload.clone())
            .collect()
    }

    /// Fails the test if any script error was reported (a failing Lua `assert` is one).
    pub fn assert_no_errors(&self) {
        let errors = &self.seen().errors;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
    }
}

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, contents).expect("write file");
}

fn record(
    mut errors: MessageReader<ScriptError>,
    mut events: MessageReader<ScriptEvent>,
    mut completed: MessageReader<JobCompleted>,
    mut loaded: MessageReader<ScriptLoaded>,
    mut seen: ResMut<Seen>,
) {
    seen.loaded.extend(loaded.read().cloned());
    seen.errors.extend(errors.read().cloned());
    seen.events.extend(events.read().cloned());
    seen.completed.extend(completed.read().cloned());
}

/// Holds back the files of [`Harness::with_gated_files`] until opened.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<HashMap<PathBuf, Channel>>>);

type Channel = (async_channel::Sender<()>, async_channel::Receiver<()>);

impl Gate {
    /// Lets the file at `path` (under `gated://`) be read.
    pub fn open(&self, path: &str) {
        self.channel(Path::new(path)).0.close();
    }

    fn channel(&self, path: &Path) -> Channel {
        let mut gates = self.0.lock().expect("gate");
        let channel = gates
            .entry(path.to_path_buf())
            .or_insert_with(|| async_channel::bounded(1));
        channel.clone()
    }
}

/// An asset reader over files in memory that answers a read only once its [`Gate`] is open.
#[derive(Clone)]
struct GatedReader {
    files: HashMap<PathBuf, Vec<u8>>,
    gate: Gate,
}

impl AssetReader for GatedReader {
    async fn read<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        let bytes = self
            .files
            .get(path)
            .ok_or_else(|| AssetReaderError::NotFound(path.to_path_buf()))?;
        // Nothing is ever sent: the read goes on when `Gate::open` closes the channel.
        let (_, opened) = self.gate.channel(path);
        let _ = opened.recv().await;
        Ok(VecReader::new(bytes.clone()))
    }

    async fn read_meta<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        Err::<VecReader, _>(AssetReaderError::NotFound(path.to_path_buf()))
    }

    async fn read_directory<'a>(
        &'a self,
        path: &'a Path,
    ) -> Result<Box<PathStream>, AssetReaderError> {
        Err(AssetReaderError::NotFound(path.to_path_buf()))
    }

    async fn is_directory<'a>(&'a self, _path: &'a Path) -> Result<bool, AssetReaderError> {
        Ok(false)
    }
}

/// A copy of the repository's `assets/games/<game>` in a temporary asset folder (as
/// `games/<game>`), for tests that edit a game's scripts while it runs.
pub fn game_copy(game: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let games = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/games");
    copy_dir(&games.join(game), &dir.path().join("games").join(game));
    dir
}

/// Replaces `from` with `to` in the file at `path`, which must contain it.
pub fn edit(path: &Path, from: &str, to: &str) {
    let source = std::fs::read_to_string(path).expect("read");
    assert!(source.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, source.replace(from, to)).expect("write");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}
