//! Worker jobs: procedural terrain generated off the main thread, on the worker VMs, and applied to
//! the world as commands. The worker script defines a job, `generate_chunk`, that computes a
//! chunk's height map with value noise and spawns a `Tree` for each forested cell with
//! `commands.spawn`. Workers never touch the world: the main thread applies their commands, in
//! order, before it delivers their results. The main script starts 16 chunk jobs with `jobs.run`,
//! logs each one with `job:on_complete`, waits for all of them with `job:await()` inside a task,
//! and emits `world_ready`; Rust then counts the trees and exits.
//!
//! ```sh
//! cargo run --example worker_jobs
//! ```

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, TaskPoolPlugin, Update};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Spawned by the worker script on every forested cell. A serde component; deriving `Reflect`
/// too (which registers it for reflection, with no `#[reflect(Component)]`, so serde stays how
/// it crosses) lets the type definitions describe its fields.
#[derive(Component, Serialize, Deserialize, Reflect, Debug)]
struct Tree {
    x: i32,
    z: i32,
    height: f32,
}

/// Frames to wait for `world_ready` before giving up.
const TIMEOUT_FRAMES: u32 = 600;

fn main() -> AppExit {
    app()
        .add_plugins((
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            LogPlugin::default(),
        ))
        .add_systems(Update, (report_errors, world_ready).after(ScriptingSystem))
        .run()
}

/// The example's app without its runner and log plugin: the plugins, the types and CVars its
/// scripts use, and its scripts. `tests/script_sets.rs` generates the scripts' type
/// definitions from it.
pub fn app() -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LuauScriptingPlugin::default(),
    ))
    .register_script_component::<Tree>()
    .add_worker_script("examples/worker_jobs/workers/terrain.luau")
    .add_script("examples/worker_jobs/worker_jobs.luau");
    app
}

/// Waits for the main script's `world_ready` and checks its tree count against the world's.
fn world_ready(
    mut frames: Local<u32>,
    mut events: MessageReader<ScriptEvent>,
    trees: Query<&Tree>,
    pool: Res<StatePool>,
    mut exit: MessageWriter<AppExit>,
) {
    *frames += 1;
    let Some(ready) = events.read().find(|e| e.name == "world_ready") else {
        if *frames >= TIMEOUT_FRAMES {
            eprintln!("no world_ready after {TIMEOUT_FRAMES} frames");
            exit.write(AppExit::error());
        }
        return;
    };
    let field = |name: &str| {
        ready
            .payload
            .as_map()
            .and_then(|m| m.get(name))
            .and_then(ScriptValue::as_number)
            .unwrap_or(f64::NAN)
    };
    let (chunks, reported) = (field("chunks"), field("trees"));
    let counted = trees.iter().count();
    let tallest = trees.iter().map(|t| t.height).fold(0.0, f32::max);
    let workers = pool.size();
    let plural = if workers == 1 { "" } else { "s" };
    println!(
        "world ready after {} frames: {chunks} chunks from {workers} worker VM{plural}",
        *frames
    );
    println!(
        "{counted} trees in the world, {reported} reported by the scripts; the tallest is {tallest:.1} m"
    );
    if counted as f64 == reported {
        exit.write(AppExit::Success);
    } else {
        eprintln!("the scripts and the world disagree on the number of trees");
        exit.write(AppExit::error());
    }
}

fn report_errors(mut errors: MessageReader<ScriptError>) {
    for error in errors.read() {
        eprintln!("{error}");
    }
}
