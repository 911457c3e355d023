//! The edit loop: how long a saved script takes to run in the game. The app runs headless at
//! 60 frames a second over a real, watched asset folder (a temporary one, which it writes the
//! script into), saves the script many times with new content from another thread, as an editor
//! would, and times each save until the frame whose `ScriptLoaded` reports that version.
//!
//! ```sh
//! cargo run --release --example edit_loop            # 20 saves of each script
//! cargo run --release --example edit_loop -- 50      # 50 saves
//! ```
//!
//! Two scripts are saved, one through each watcher, in the same run: `live.luau` in the asset
//! folder, which the crate watches itself (feature `hot-reload`), and `bevy://live.luau` in a
//! second asset source that only Bevy's own file watcher (300 ms debounce) watches.

use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_asset::io::AssetSourceBuilder;
use bevy_asset::{AssetApp, AssetPlugin};
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use std::path::Path;
use std::time::{Duration, Instant};

/// The frame time: 60 frames a second, as a game runs.
const FRAME: Duration = Duration::from_micros(16_667);

/// When each script version loaded, and the versions the scripts reported.
#[derive(Resource, Default)]
struct Loaded {
    /// `(path, when)` for each `ScriptLoaded`.
    at: Vec<(String, Instant)>,
    /// The number of each `version` event (only the script just saved runs a new version).
    versions: Vec<f64>,
}

fn main() {
    let saves: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (crate_dir, bevy_dir) = (dir.path().join("assets"), dir.path().join("bevy"));
    for folder in [&crate_dir, &bevy_dir] {
        std::fs::create_dir_all(folder).expect("a folder");
        std::fs::write(folder.join("live.luau"), script(0)).expect("a script");
    }

    let mut app = App::new();
    app.register_asset_source(
        "bevy",
        AssetSourceBuilder::platform_default(&bevy_dir.to_string_lossy(), None),
    )
    .add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        LogPlugin {
            filter: "warn".into(),
            ..Default::default()
        },
        AssetPlugin {
            file_path: crate_dir.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(true),
            ..Default::default()
        },
        LuauScriptingPlugin::default(),
    ))
    .init_resource::<Loaded>()
    .add_script("live.luau")
    .add_script("bevy://live.luau")
    .add_systems(Update, record.after(ScriptingSystem));
    app.finish();
    app.cleanup();
    for path in ["live.luau", "bevy://live.luau"] {
        wait_for(&mut app, path, 0, Duration::from_secs(10)).expect("the first version");
    }

    println!("save -> ScriptLoaded, {saves} saves each, frames at 60 Hz:");
    let runs = [
        (
            "crate watcher (feature `hot-reload`)",
            &crate_dir,
            "live.luau",
        ),
        ("Bevy's file watcher alone", &bevy_dir, "bevy://live.luau"),
    ];
    for (name, folder, path) in runs {
        let mut times = Vec::with_capacity(saves);
        for version in 1..=saves {
            times.push(save_and_time(&mut app, folder, path, version));
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p90 = times[(times.len() * 9).div_ceil(10).saturating_sub(1)];
        println!(
            "  {name:<38} median {:6.1} ms   p90 {:6.1} ms   max {:6.1} ms",
            ms(times[times.len() / 2]),
            ms(p90),
            ms(times[times.len() - 1]),
        );
    }
}

/// A script version that reports its number when it runs.
fn script(version: usize) -> String {
    format!("events.emit(\"version\", {version})\nhooks.on_update(function(dt) end)\n")
}

/// Saves version `version` of `path` from another thread while the game runs, as an editor
/// would, and runs frames until it has loaded; returns how long that took.
fn save_and_time(app: &mut App, folder: &Path, path: &str, version: usize) -> Duration {
    *app.world_mut().resource_mut::<Loaded>() = Loaded::default();
    let file = folder.join("live.luau");
    // Long enough for the last save's late reloads (Bevy's watcher) to pass, and at a different
    // point of a frame each time.
    let delay = Duration::from_millis(400) + FRAME.mul_f64((version as f64 * 0.37).fract());
    let editor = std::thread::spawn(move || {
        std::thread::sleep(delay);
        let saved = Instant::now();
        std::fs::write(file, script(version)).expect("save");
        saved
    });
    let loaded = wait_for(app, path, version, delay + Duration::from_secs(10));
    let saved = editor.join().expect("the save");
    match loaded {
        Some(loaded) => loaded - saved,
        None => panic!("version {version} of {path} never loaded"),
    }
}

/// Runs frames until `path` has reported `version` with its `ScriptLoaded` (since [`Loaded`] was
/// last cleared); returns when.
fn wait_for(app: &mut App, path: &str, version: usize, limit: Duration) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < limit {
        frame(app);
        let loaded = app.world().resource::<Loaded>();
        let reported = loaded.versions.contains(&(version as f64));
        let at = loaded.at.iter().find(|(p, _)| p == path).map(|(_, at)| *at);
        if let (true, Some(at)) = (reported, at) {
            return Some(at);
        }
    }
    None
}

/// One frame, then a sleep until the next one is due.
fn frame(app: &mut App) {
    let start = Instant::now();
    app.update();
    std::thread::sleep(FRAME.saturating_sub(start.elapsed()));
}

fn record(
    mut loaded: MessageReader<ScriptLoaded>,
    mut events: MessageReader<ScriptEvent>,
    mut seen: ResMut<Loaded>,
) {
    let now = Instant::now();
    for message in loaded.read() {
        seen.at.push((message.path.clone(), now));
    }
    for event in events.read().filter(|e| e.name == "version") {
        if let ScriptValue::Number(version) = event.payload {
            seen.versions.push(version);
        }
    }
}
