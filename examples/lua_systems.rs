//! A Lua system: one global script moves 1,000 boids every frame with `ecs.each`, which loops
//! over the entities that have every named component and yields live references to them, so
//! `t.translation += velocity.linear * dt` reads and writes the components in place (Bevy's
//! change detection sees the writes). The app runs for three seconds of game time and prints
//! how the flock did.
//!
//! ```sh
//! cargo run --example lua_systems
//! ```
//! The script is `assets/examples/lua_systems/flock.luau`; edit it while the app runs and the next frames
//! use the new version.

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, Startup, TaskPoolPlugin, Update};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use bevy_transform::components::Transform;
use std::time::Duration;

/// How a boid moves, in units a second; the script reads and writes it through a reference.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Velocity {
    linear: Vec3,
}

/// How often the script turned a boid back towards the middle.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Steering {
    turns: u32,
}

const BOIDS: usize = 1_000;
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
    // `Velocity`, `Steering` and Bevy's `Transform` derive `Reflect` with
    // `#[reflect(Component)]`: scripts reach them with nothing to register.
    .add_script("examples/lua_systems/flock.luau")
    .add_systems(Startup, spawn);
    app
}

fn spawn(mut commands: Commands) {
    commands.spawn_batch((0..BOIDS).map(|i| {
        // Spread on a ring, each flying off at its own angle and speed.
        let angle = i as f32 * 2.399_963;
        let speed = 5.0 + (i % 7) as f32;
        let position = Vec3::new(angle.cos(), 0.0, angle.sin()) * (i % 10) as f32;
        let direction = Vec3::new((angle * 1.7).cos(), 0.0, (angle * 1.7).sin());
        (
            Transform::from_translation(position),
            Velocity {
                linear: direction * speed,
            },
            Steering::default(),
        )
    }));
}

fn summary(
    mut frames: Local<u32>,
    boids: Query<(&Transform, &Steering)>,
    moved: Query<(), Changed<Transform>>,
    mut exit: MessageWriter<AppExit>,
) {
    *frames += 1;
    if *frames < FRAMES {
        return;
    }
    let turns: u32 = boids.iter().map(|(_, s)| s.turns).sum();
    let farthest = boids
        .iter()
        .map(|(t, _)| t.translation.length())
        .fold(0.0, f32::max);
    println!(
        "{} boids after {FRAMES} frames: {} moved in the last one, {turns} turns back, the farthest {farthest:.1} from the middle",
        boids.iter().count(),
        moved.iter().count()
    );
    exit.write(AppExit::Success);
}

fn report_errors(mut errors: MessageReader<ScriptError>) {
    for error in errors.read() {
        eprintln!("{error}");
    }
}
