//! Entity scripts: 100 entities share one script, and each gets its own `self`. The movers
//! bounce inside a box using the `transform` library and count their own bounces, while four
//! guards walk a patrol route in a `task` coroutine, pausing with `task.wait` at each corner.
//! The app prints a summary and exits.
//!
//! ```sh
//! cargo run --example entity_scripts
//! ```
//! Edit `assets/examples/entity_scripts/mover.luau` while it runs: the methods change, every mover keeps its
//! speed and bounce count.

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, Startup, TaskPoolPlugin, Update};
use bevy_asset::{AssetPlugin, AssetServer};
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use bevy_transform::components::Transform;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Written by the mover script: how often this mover bounced off a wall. A serde component;
/// deriving `Reflect` too lets the type definitions describe its fields.
#[derive(Component, Serialize, Deserialize, Reflect, Debug, Default)]
struct Bounces {
    count: u32,
}

/// Written by the guard script: corners reached on its patrol.
#[derive(Component, Serialize, Deserialize, Reflect, Debug, Default)]
struct Patrol {
    corners: u32,
}

const MOVERS: usize = 100;
const GUARDS: usize = 4;
const FRAMES: u32 = 180;

fn main() -> AppExit {
    app()
        .add_plugins((
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            LogPlugin::default(),
        ))
        .add_systems(Update, (report_errors, summary).after(ScriptingSystem))
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
    .register_script_component::<Bounces>()
    .register_script_component::<Patrol>()
    .add_systems(Startup, spawn);
    app
}

fn spawn(mut commands: Commands, server: Res<AssetServer>) {
    let mover = server.load("examples/entity_scripts/mover.luau");
    for i in 0..MOVERS {
        let x = (i % 10) as f32 - 4.5;
        let z = (i / 10) as f32 - 4.5;
        let transform = Transform::from_xyz(x, 0.0, z);
        commands.spawn((transform, Bounces::default(), Script::new(mover.clone())));
    }
    let guard = server.load("examples/entity_scripts/guard.luau");
    for i in 0..GUARDS {
        let transform = Transform::from_xyz(i as f32 * 2.0, 0.0, 0.0);
        commands.spawn((transform, Patrol::default(), Script::new(guard.clone())));
    }
}

fn summary(
    mut frames: Local<u32>,
    movers: Query<(&Transform, &Bounces)>,
    guards: Query<&Patrol>,
    mut exit: MessageWriter<AppExit>,
) {
    *frames += 1;
    if *frames < FRAMES {
        return;
    }
    let count = movers.iter().count();
    let bounces: u32 = movers.iter().map(|(_, b)| b.count).sum();
    let inside = movers
        .iter()
        .filter(|(t, _)| t.translation.abs().max_element() <= 10.0)
        .count();
    println!("{count} movers after {FRAMES} frames: {bounces} bounces, {inside} inside the box");
    let corners: Vec<u32> = guards.iter().map(|p| p.corners).collect();
    println!("{GUARDS} guards on patrol reached {corners:?} corners");
    exit.write(AppExit::Success);
}

fn report_errors(mut errors: MessageReader<ScriptError>) {
    for error in errors.read() {
        eprintln!("{error}");
    }
}
