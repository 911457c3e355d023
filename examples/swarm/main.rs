//! Scripts on every core: a swarm of boids, each one an actor (an entity with `Script` and
//! `ScriptActor`), whose `on_update` runs in one of the plugin's actor VMs. A boid reads its
//! neighbours' positions and velocities and writes only its own `Velocity` and translation,
//! which is what the actors' parallel phase allows: reads of the world at once, writes queued
//! and applied after it. Rust keeps a grid of the boids in a resource and gives each one the
//! list of its nearest neighbours before the scripting step.
//!
//! The app is headless and runs a fixed number of frames of a fixed 1/60 s step as fast as it
//! can, then prints what the scripting step cost: its frames per second, the time per boid, the
//! actor VMs and how many boids each holds. `--compare` runs the same swarm with one actor VM
//! and with the default count (or `--actors N`) and prints both and their ratio.
//!
//! ```sh
//! cargo run --release --example swarm                           # 2,000 boids, 300 frames
//! cargo run --release --example swarm -- --compare              # 1 actor VM against the default
//! cargo run --release --example swarm -- --boids 5000 --actors 4 --frames 120
//! ```
//! The boid's script is `assets/examples/swarm/boid.luau`.

use bevy_app::{App, AppExit, Startup, TaskPoolPlugin, Update};
use bevy_asset::{AssetPlugin, AssetServer, Handle, LoadState};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use bevy_transform::components::Transform;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// The fixed step of game time each frame advances.
const STEP: Duration = Duration::from_nanos(16_666_667);

/// How far a boid sees its neighbours, and the side of a cell of the grid.
const RADIUS: f32 = 3.0;

/// The most neighbours a boid is given, the nearest ones.
const MAX_NEIGHBOURS: usize = 12;

/// Boids per square unit of the square they fly in.
const DENSITY: f32 = 0.25;

/// The frames that may pass before every boid's script has loaded.
const LOAD_FRAMES: u32 = 10_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Boids in the swarm.
    pub boids: usize,
    /// Actor VMs; `None` is the plugin's default (the compute pool's threads plus one).
    pub actors: Option<usize>,
    /// Frames measured, after the scripts have loaded.
    pub frames: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            boids: 2_000,
            actors: None,
            frames: 300,
        }
    }
}

/// A boid's velocity, in units a second: written by its own script every frame and read by its
/// neighbours'. A serde component; deriving `Reflect` too lets the type definitions describe its
/// fields.
#[derive(Component, Serialize, Deserialize, Reflect, Debug, Clone, Copy, Default)]
pub struct Velocity {
    /// Along x.
    pub x: f32,
    /// Along y (the swarm flies in the xz plane: always 0).
    pub y: f32,
    /// Along z.
    pub z: f32,
}

impl Velocity {
    fn linear(&self) -> Vec3 {
        Vec3::new(self.x, self.y, self.z)
    }
}

/// The boids near this one, at most [`MAX_NEIGHBOURS`] of them, the nearest: written before
/// every scripting step from the [`Grid`], read by the boid's script.
#[derive(Component, Reflect, Debug, Default)]
#[reflect(Component)]
pub struct Neighbours(pub Vec<Entity>);

/// The boids by cell of side [`RADIUS`], so that finding a boid's neighbours looks at nine
/// cells instead of the whole swarm.
#[derive(Resource, Debug, Default)]
struct Grid {
    cells: HashMap<(i32, i32), Vec<(Entity, Vec3)>>,
}

/// The cell a position falls in.
fn cell(position: Vec3) -> (i32, i32) {
    (
        (position.x / RADIUS).floor() as i32,
        (position.z / RADIUS).floor() as i32,
    )
}

/// Half the side of the square `boids` boids fly in at [`DENSITY`].
fn half_extent(boids: usize) -> f32 {
    (boids as f32 / DENSITY).sqrt() / 2.0
}

/// The swarm's app, without the frames run: the plugins with `settings.actors` actor VMs, a
/// fixed step, the types and CVar the boid's script uses, and the systems that spawn the boids
/// and find their neighbours. `tests/script_sets.rs` generates the script's type definitions
/// from it.
pub fn app(settings: &Settings) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LuauScriptingPlugin {
            actors: settings.actors,
            ..Default::default()
        },
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(STEP))
    // `Neighbours` and Bevy's `Transform` are reflected: scripts reach them with nothing to
    // register.
    .register_script_component::<Velocity>()
    .register_cvar(
        "swarm_bounds",
        f64::from(half_extent(settings.boids)),
        "half the side of the square the boids fly in; past it they turn back",
        CVarFlags::empty(),
    )
    .init_resource::<Grid>()
    .init_resource::<Errors>()
    .add_systems(Startup, spawn(settings.boids))
    .add_systems(Update, find_neighbours.before(ScriptingSystem))
    .add_systems(Update, keep_errors.after(ScriptingSystem));
    app
}

/// The boid's script, as an asset path.
const BOID: &str = "examples/swarm/boid.luau";

/// The boid's script, kept to see whether it loaded.
#[derive(Resource, Debug)]
struct BoidScript(Handle<LuauScript>);

/// Spawns `boids` actors spread evenly over the square, each flying off at its own angle.
fn spawn(boids: usize) -> impl FnMut(Commands, Res<AssetServer>) {
    move |mut commands, server| {
        let script = server.load(BOID);
        commands.insert_resource(BoidScript(script.clone()));
        let side = 2.0 * half_extent(boids);
        commands.spawn_batch((0..boids).map(move |i| {
            // An R2 sequence: points that cover the square evenly with no two alike.
            let n = i as f32 + 0.5;
            let x = (n * 0.754_877_7).fract() - 0.5;
            let z = (n * 0.569_840_3).fract() - 0.5;
            let angle = i as f32 * 2.399_963;
            let speed = 3.0 + (i % 5) as f32 * 0.5;
            (
                Transform::from_xyz(x * side, 0.0, z * side),
                Velocity {
                    x: angle.cos() * speed,
                    y: 0.0,
                    z: angle.sin() * speed,
                },
                Neighbours::default(),
                Script::new(script.clone()),
                ScriptActor,
            )
        }));
    }
}

/// Puts every boid in the grid, then gives each the nearest of the boids in the nine cells
/// around it.
fn find_neighbours(
    mut grid: ResMut<Grid>,
    mut boids: Query<(Entity, &Transform, &mut Neighbours)>,
    mut near: Local<Vec<(f32, Entity)>>,
) {
    for boids in grid.cells.values_mut() {
        boids.clear();
    }
    for (entity, transform, _) in &boids {
        let position = transform.translation;
        grid.cells
            .entry(cell(position))
            .or_default()
            .push((entity, position));
    }
    for (entity, transform, mut neighbours) in &mut boids {
        let position = transform.translation;
        let (x, z) = cell(position);
        near.clear();
        for dx in -1..=1 {
            for dz in -1..=1 {
                let Some(others) = grid.cells.get(&(x + dx, z + dz)) else {
                    continue;
                };
                for &(other, at) in others {
                    let distance = at.distance_squared(position);
                    if other != entity && distance < RADIUS * RADIUS {
                        near.push((distance, other));
                    }
                }
            }
        }
        if near.len() > MAX_NEIGHBOURS {
            near.select_nth_unstable_by(MAX_NEIGHBOURS, |a, b| a.0.total_cmp(&b.0));
            near.truncate(MAX_NEIGHBOURS);
        }
        neighbours.0.clear();
        neighbours.0.extend(near.iter().map(|&(_, other)| other));
    }
}

/// Every script error so far.
#[derive(Resource, Debug, Default)]
pub struct Errors(pub Vec<ScriptError>);

fn keep_errors(mut errors: MessageReader<ScriptError>, mut kept: ResMut<Errors>) {
    kept.0.extend(errors.read().cloned());
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Frames measured.
    pub frames: u32,
    /// Boids that flew.
    pub boids: usize,
    /// The scripting steps of the measured frames, in all (`ScriptProfiles::step`).
    pub step: Duration,
    /// Boids per actor VM, by VM (`ScriptEngine::actor_instances`).
    pub actor_instances: Vec<usize>,
    /// How aligned the swarm flies, from 0 (every which way) to 1 (all one way), before the
    /// measured frames and after them.
    pub alignment: (f32, f32),
    /// Neighbours per boid, on average, after the measured frames.
    pub neighbours: f32,
}

impl Outcome {
    /// Scripting steps a second: frames per second if the step were the whole frame.
    pub fn steps_per_second(&self) -> f64 {
        f64::from(self.frames) / self.step.as_secs_f64()
    }

    /// The scripting step's time per boid and frame, in microseconds.
    pub fn micros_per_boid(&self) -> f64 {
        self.step.as_secs_f64() * 1e6 / (f64::from(self.frames) * self.boids as f64)
    }
}

/// Builds the swarm, waits until every boid's script has loaded, then runs `settings.frames`
/// frames and measures their scripting steps.
pub fn run(settings: &Settings) -> Result<Outcome, String> {
    let mut app = app(settings);
    app.finish();
    app.cleanup();
    load(&mut app, settings.boids)?;
    measure(&mut app, settings)
}

/// Updates `app` until the boid's script has loaded and `boids` actors have their instances.
/// Fails on a script error, when the script cannot be read, or when it does not load within
/// [`LOAD_FRAMES`] frames.
pub fn load(app: &mut App, boids: usize) -> Result<(), String> {
    let mut versions = MessageCursor::<ScriptLoaded>::default();
    let mut loaded = false;
    for _ in 0..LOAD_FRAMES {
        app.update();
        check(app)?;
        let world = app.world();
        loaded |= versions
            .read(world.resource::<Messages<ScriptLoaded>>())
            .any(|version| version.path == BOID);
        if loaded && actor_instances(app).iter().sum::<usize>() == boids {
            return Ok(());
        }
        let script = &world.resource::<BoidScript>().0;
        if let Some(LoadState::Failed(error)) =
            world.resource::<AssetServer>().get_load_state(script)
        {
            return Err(format!("{BOID}: {error}"));
        }
        // Loading happens on other threads: do not take the core they need.
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!("{BOID} did not load in {LOAD_FRAMES} frames"))
}

/// Runs `settings.frames` frames of a loaded swarm and measures their scripting steps. Fails on
/// a script error.
pub fn measure(app: &mut App, settings: &Settings) -> Result<Outcome, String> {
    let before = alignment(app.world_mut());
    let mut step = Duration::ZERO;
    for _ in 0..settings.frames {
        app.update();
        step += app.world().resource::<ScriptProfiles>().step;
    }
    check(app)?;
    let after = alignment(app.world_mut());
    let world = app.world_mut();
    let mut neighbours = world.query::<&Neighbours>();
    let total: usize = neighbours.iter(world).map(|n| n.0.len()).sum();
    Ok(Outcome {
        frames: settings.frames,
        boids: settings.boids,
        step,
        actor_instances: actor_instances(app),
        alignment: (before, after),
        neighbours: total as f32 / settings.boids.max(1) as f32,
    })
}

fn actor_instances(app: &App) -> Vec<usize> {
    app.world().resource::<ScriptEngine>().actor_instances()
}

/// The first script error, if there was one.
fn check(app: &App) -> Result<(), String> {
    match app.world().resource::<Errors>().0.first() {
        Some(error) => Err(error.to_string()),
        None => Ok(()),
    }
}

/// The length of the mean of the boids' directions: 1 when all fly the same way.
fn alignment(world: &mut World) -> f32 {
    let mut velocities = world.query::<&Velocity>();
    let (sum, count) = velocities
        .iter(world)
        .fold((Vec3::ZERO, 0), |(sum, count), velocity| {
            (sum + velocity.linear().normalize_or_zero(), count + 1)
        });
    if count == 0 {
        0.0
    } else {
        sum.length() / count as f32
    }
}

/// The command line: `--boids N`, `--actors N`, `--frames N`, `--compare`.
fn options() -> Result<(Settings, bool), String> {
    let mut settings = Settings::default();
    let mut compare = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let value = args.next().ok_or(format!("{name} needs a number"))?;
            match value.parse() {
                Ok(0) => Err(format!("{name} must be at least 1")),
                Ok(n) => Ok(n),
                Err(e) => Err(format!("{name} {value}: {e}")),
            }
        };
        match arg.as_str() {
            "--boids" => settings.boids = number("--boids")?,
            "--actors" => settings.actors = Some(number("--actors")?),
            "--frames" => {
                let frames = number("--frames")?;
                settings.frames = u32::try_from(frames).map_err(|e| format!("--frames: {e}"))?;
            }
            "--compare" => compare = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((settings, compare))
}

fn main() -> AppExit {
    let (settings, compare) = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("usage: swarm [--boids N] [--actors N] [--frames N] [--compare]: {error}");
            return AppExit::error();
        }
    };
    let runs = if compare {
        let one = Settings {
            actors: Some(1),
            ..settings.clone()
        };
        vec![one, settings]
    } else {
        vec![settings]
    };
    let mut outcomes = Vec::new();
    for settings in &runs {
        match run(settings) {
            Ok(outcome) => {
                print(&outcome);
                outcomes.push(outcome);
            }
            Err(error) => {
                eprintln!("{error}");
                return AppExit::error();
            }
        }
    }
    if let [one, many] = &outcomes[..] {
        println!(
            "{} actor VMs over 1: {:.2}x the scripting steps a second",
            many.actor_instances.len(),
            many.steps_per_second() / one.steps_per_second()
        );
    }
    AppExit::Success
}

fn print(outcome: &Outcome) {
    let vms = outcome.actor_instances.len();
    println!(
        "{} boids, {} frames, {vms} actor VM{} holding {:?} boids",
        outcome.boids,
        outcome.frames,
        if vms == 1 { "" } else { "s" },
        outcome.actor_instances,
    );
    println!(
        "  scripting step: {:.2} ms, {:.1} steps a second, {:.2} µs per boid",
        outcome.step.as_secs_f64() * 1e3 / f64::from(outcome.frames),
        outcome.steps_per_second(),
        outcome.micros_per_boid(),
    );
    println!(
        "  alignment {:.2} -> {:.2}, {:.1} neighbours a boid",
        outcome.alignment.0, outcome.alignment.1, outcome.neighbours
    );
}
