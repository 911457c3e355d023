//! Entity scripts: 100 entities share one script, and each gets its own `self`. The movers
//! bounce inside a box using the `transform` library and count their own bounces; the app
//! prints a summary and exits.
//!
//! ```sh
//! cargo run --example entity_scripts
//! ```
//! Edit `assets/scripts/mover.luau` while it runs: the methods change, every mover keeps its
//! speed and bounce count.

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, TaskPoolPlugin, Update};
use bevy_asset::{AssetPlugin, AssetServer};
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use bevy_transform::components::Transform;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Written by the script: how often this mover bounced off a wall.
#[derive(Component, Serialize, Deserialize, Debug, Default)]
struct Bounces {
    count: u32,
}

const MOVERS: usize = 100;
const FRAMES: u32 = 180;

fn main() -> AppExit {
    App::new()
        .add_plugins((
            TaskPoolPlugin::default(),
            TimePlugin,
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            AssetPlugin::default(),
            LogPlugin::default(),
            LuauScriptingPlugin::default(),
        ))
        .register_script_component::<Bounces>()
        .add_systems(bevy_app::Startup, spawn_movers)
        .add_systems(Update, (report_errors, summary).after(ScriptingSystem))
        .run()
}

fn spawn_movers(mut commands: Commands, server: Res<AssetServer>) {
    let script = server.load("scripts/mover.luau");
    for i in 0..MOVERS {
        let x = (i % 10) as f32 - 4.5;
        let z = (i / 10) as f32 - 4.5;
        commands.spawn((
            Transform::from_xyz(x, 0.0, z),
            Bounces::default(),
            Script::new(script.clone()),
        ));
    }
}

fn summary(
    mut frames: Local<u32>,
    movers: Query<(&Transform, &Bounces)>,
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
    println!(
        "{count} movers after {FRAMES} frames: {bounces} bounces in all, {inside} inside the box"
    );
    exit.write(AppExit::Success);
}

fn report_errors(mut errors: MessageReader<ScriptError>) {
    for error in errors.read() {
        eprintln!("{error}");
    }
}
