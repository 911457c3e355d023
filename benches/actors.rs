//! Actor VMs (`ScriptActor` entity scripts): the same actors on N actor VMs against 1, and an
//! actor against a plain entity script, all in the same run. N is `BEVY_LUAU_ACTORS` (default
//! 2), so that a machine with more cores can measure more:
//!
//! ```sh
//! cargo bench --bench actors
//! BEVY_LUAU_ACTORS=16 cargo bench --bench actors
//! ```
//!
//! - **CPU-bound actors.** [`CPU_ACTORS`] actors running `assets/scripts/bench/steer.luau`:
//!   each frame, a steering computation over the 32 neighbours its instance keeps in a table,
//!   then an `ecs.set` of its `Velocity`. Throughput on N actor VMs over 1.
//!   Target: ≥ 0.85 × min(N, cores), which is DESIGN's 1.7 for 2 actor VMs.
//! - **Light actors.** [`LIGHT_ACTORS`] actors running `assets/scripts/bench/drift.luau`: read
//!   the `Transform` and the `Velocity`, write a new translation. Throughput on N actor VMs
//!   over 1. Target: ≥ 0.65 × min(N, cores), DESIGN's 1.3 for 2. And the per-entity cost on 1
//!   actor VM over the same script as a plain entity script of the main VM. Target: ≤ 1.5×.
//!
//! Each measure is `app.update()` of the app with the actors minus the same app with the
//! plugin and no scripts, so only the scripting work counts. The actors' `on_update` runs in
//! the parallel phase on the compute task pool and the main thread: this bench gives the
//! compute pool every core but the main thread's before any app starts.
//!
//! Like the other benchmarks, this file also serves `examples/perf_report.rs`, which includes
//! it as a module.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "only the shared helpers of the hooks benchmark are used"
)]
mod hooks;

use bevy_app::{App, TaskPoolOptions, TaskPoolThreadAssignmentPolicy};
use bevy_asset::AssetServer;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use bevy_transform::components::Transform;
use criterion::{Criterion, SamplingMode};
use hooks::{app, measuring, medians, time, wait_for};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// CPU-bound actors per app.
pub(crate) const CPU_ACTORS: usize = 500;

/// Light actors per app.
pub(crate) const LIGHT_ACTORS: usize = 10_000;

/// The environment variable that sets N, the actor VMs measured against 1.
pub(crate) const ACTORS_VAR: &str = "BEVY_LUAU_ACTORS";

/// What both scripts write, and the light one reads: a serde component. Deriving `Reflect`
/// too (without `#[reflect(Component)]`) lets the type definitions describe its fields.
#[derive(Component, Serialize, Deserialize, Reflect, Default)]
pub(crate) struct Velocity {
    x: f32,
    y: f32,
    z: f32,
}

/// N: `BEVY_LUAU_ACTORS`, or 2.
///
/// # Panics
/// When the variable is set to anything but a whole number of at least 1.
pub(crate) fn actor_count() -> usize {
    match std::env::var(ACTORS_VAR) {
        Ok(value) => match value.parse() {
            Ok(n) if n >= 1 => n,
            _ => panic!("{ACTORS_VAR}={value}: expected a number of actor VMs, at least 1"),
        },
        Err(_) => 2,
    }
}

/// The CPU-bound speedup's target for `actors` actor VMs: 0.85 × min(N, cores).
pub(crate) fn cpu_target(actors: usize) -> f64 {
    0.85 * actors.min(bevy_tasks::available_parallelism()) as f64
}

/// The light speedup's target for `actors` actor VMs: 0.65 × min(N, cores).
pub(crate) fn light_target(actors: usize) -> f64 {
    0.65 * actors.min(bevy_tasks::available_parallelism()) as f64
}

/// Creates the task pools with every core but one in the compute pool, which runs the
/// parallel phase together with the main thread. Task pools are global and the first app
/// creates them: call this before any app starts. `async_compute` is the jobs' pool, left to
/// the caller.
pub(crate) fn create_pools(async_compute: TaskPoolThreadAssignmentPolicy) {
    let helpers = bevy_tasks::available_parallelism().saturating_sub(1).max(1);
    TaskPoolOptions {
        compute: TaskPoolThreadAssignmentPolicy {
            min_threads: helpers,
            max_threads: helpers,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        },
        async_compute,
        ..Default::default()
    }
    .create_default_pools();
}

/// The types the scripts reach by name. `tests/script_sets.rs` checks the scripts against the
/// definitions of an app with these.
pub(crate) fn register(app: &mut App) {
    app.register_script_component::<Velocity>();
}

/// An app with `count` entities running `script`, as actors on `actors` actor VMs or, with
/// `None`, as entity scripts of the main VM; once every instance has spawned.
fn actor_app(script: &'static str, count: usize, actors: Option<usize>) -> App {
    let plugin = LuauScriptingPlugin {
        actors,
        ..Default::default()
    };
    let mut app = app(Some(plugin), |app| {
        register(app);
        let world = app.world_mut();
        let script = world.resource::<AssetServer>().load(script);
        for i in 0..count {
            let x = i as f32;
            let mut entity = world.spawn((
                Transform::from_xyz(x, 0.0, 0.0),
                Velocity {
                    x: 1.0,
                    y: 2.0,
                    z: x % 7.0,
                },
                Script::new(script.clone()),
            ));
            if actors.is_some() {
                entity.insert(ScriptActor);
            }
        }
    });
    wait_for(&mut app, "spawned", count);
    for _ in 0..10 {
        app.update();
    }
    app
}

/// The apps of both workloads and their baseline.
pub(crate) struct ActorApps {
    /// N.
    pub actors: usize,
    /// The plugin, no scripts: the frame cost that is not the actors'.
    empty: App,
    /// steer.luau on 1 actor VM.
    cpu_one: App,
    /// steer.luau on N.
    cpu_many: App,
    /// drift.luau on 1 actor VM.
    light_one: App,
    /// drift.luau on N.
    light_many: App,
    /// drift.luau as plain entity scripts of the main VM.
    light_main: App,
}

impl ActorApps {
    /// Builds the apps for `actors` actor VMs against 1 and waits until their scripts run.
    pub(crate) fn new(actors: usize) -> Self {
        let cpu = |vms| actor_app("scripts/bench/steer.luau", CPU_ACTORS, Some(vms));
        let light = |vms| actor_app("scripts/bench/drift.luau", LIGHT_ACTORS, vms);
        Self {
            actors,
            empty: app(Some(LuauScriptingPlugin::default()), |_| {}),
            cpu_one: cpu(1),
            cpu_many: cpu(actors),
            light_one: light(Some(1)),
            light_many: light(Some(actors)),
            light_main: light(None),
        }
    }

    /// Instances per actor VM of the CPU-bound app with N actor VMs.
    pub(crate) fn spread(&self) -> Vec<usize> {
        self.cpu_many
            .world()
            .resource::<ScriptEngine>()
            .actor_instances()
    }

    /// The CPU-bound actors' throughput on N actor VMs over 1: medians of `runs` timings of
    /// `frames` frames.
    pub(crate) fn cpu_speedup(&mut self, runs: usize, frames: u32) -> f64 {
        let [empty, one, many] = medians(runs, |k| match k {
            0 => time(frames, || self.empty.update()),
            1 => time(frames, || self.cpu_one.update()),
            _ => time(frames, || self.cpu_many.update()),
        });
        (one - empty) / (many - empty)
    }

    /// The light actors' throughput on N actor VMs over 1, and their per-entity cost on 1
    /// actor VM over the same script in the main VM: medians of `runs` timings of `frames`
    /// frames.
    pub(crate) fn light_ratios(&mut self, runs: usize, frames: u32) -> (f64, f64) {
        let [empty, one, many, main] = medians(runs, |k| match k {
            0 => time(frames, || self.empty.update()),
            1 => time(frames, || self.light_one.update()),
            2 => time(frames, || self.light_many.update()),
            _ => time(frames, || self.light_main.update()),
        });
        (
            (one - empty) / (many - empty),
            (one - empty) / (main - empty),
        )
    }
}

fn actors(c: &mut Criterion) {
    let mut apps = ActorApps::new(actor_count());
    let n = apps.actors;
    let mut group = c.benchmark_group("actors");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("frame_no_scripts", |b| b.iter(|| apps.empty.update()));
    group.bench_function(format!("cpu_x{CPU_ACTORS}_1_vm"), |b| {
        b.iter(|| apps.cpu_one.update())
    });
    group.bench_function(format!("cpu_x{CPU_ACTORS}_{n}_vms"), |b| {
        b.iter(|| apps.cpu_many.update())
    });
    group.bench_function(format!("light_x{LIGHT_ACTORS}_1_vm"), |b| {
        b.iter(|| apps.light_one.update())
    });
    group.bench_function(format!("light_x{LIGHT_ACTORS}_{n}_vms"), |b| {
        b.iter(|| apps.light_many.update())
    });
    group.bench_function(format!("light_x{LIGHT_ACTORS}_main_vm"), |b| {
        b.iter(|| apps.light_main.update())
    });
    group.finish();

    if measuring() {
        println!(
            "{n} actor VMs ({ACTORS_VAR}) against 1, holding {:?} CPU-bound actors:",
            apps.spread()
        );
        let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
        let cpu = apps.cpu_speedup(9, 3);
        let target = cpu_target(n);
        println!(
            "actors_cpu_speedup {cpu:.2} >={target:.2} {}",
            verdict(cpu >= target)
        );
        let (light, cost) = apps.light_ratios(9, 3);
        let target = light_target(n);
        println!(
            "actors_light_speedup {light:.2} >={target:.2} {}",
            verdict(light >= target)
        );
        println!(
            "actor_entity_cost {cost:.2} <=1.50 {}",
            verdict(cost <= 1.5)
        );
    }
}

/// `criterion_main!` written out, like in benches/hooks.rs, so that
/// `examples/perf_report.rs` can include this file.
fn main() {
    create_pools(TaskPoolOptions::default().async_compute);
    let mut criterion = Criterion::default().configure_from_args();
    actors(&mut criterion);
    criterion.final_summary();
}
