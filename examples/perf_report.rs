//! A quick performance report: the workloads of every benchmark in `benches/`, each timed
//! against its baseline in this process (the median of a few short runs), one line per measure
//! of the design's performance targets:
//!
//! ```text
//! entity_on_update 1.31 <=1.50 PASS
//! ...
//! 8 passed, 0 missed
//! ```
//! Lines marked `INFO` are measured for comparison and have no target; `SKIP` lines were not
//! measured. The report does not judge: it always exits successfully. Run it with
//!
//! ```sh
//! cargo run --release --example perf_report
//! cargo run --release --example perf_report --features luau-jit   # with native codegen
//! ```
//! It runs the new benchmarks' own code (`benches/hooks.rs`, `events.rs`, `limits.rs` and
//! `codegen.rs`, included as modules) and repeats the workloads of `frame.rs`,
//! `ecs_access.rs` and `jobs.rs`. Their scripts are in `assets/scripts/bench/`.

#![expect(
    clippy::duplicate_mod,
    reason = "each included benchmark includes the helpers of benches/hooks.rs too"
)]

#[path = "../benches/hooks.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod hooks;

#[path = "../benches/events.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod events;

#[path = "../benches/limits.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod limits;

#[cfg(feature = "luau-jit")]
#[path = "../benches/codegen.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod codegen;

use bevy_app::{App, TaskPoolOptions, TaskPoolThreadAssignmentPolicy};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_tasks::AsyncComputeTaskPool;
use bevy_transform::components::Transform;
use hooks::{app, medians, time, wait_for};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Timed runs per measure; the median counts.
const RUNS: usize = 9;

/// Counts the lines printed with a target.
#[derive(Default)]
struct Report {
    passed: usize,
    missed: usize,
}

impl Report {
    /// A measure that passes at or below `bound`.
    fn at_most(&mut self, name: &str, value: f64, bound: f64) {
        self.line(name, value, "<=", bound, value <= bound);
    }

    /// A measure that passes at or above `bound`.
    fn at_least(&mut self, name: &str, value: f64, bound: f64) {
        self.line(name, value, ">=", bound, value >= bound);
    }

    fn line(&mut self, name: &str, value: f64, relation: &str, bound: f64, pass: bool) {
        let verdict = if pass { "PASS" } else { "MISS" };
        println!("{name} {value:.2} {relation}{bound:.2} {verdict}");
        if pass {
            self.passed += 1;
        } else {
            self.missed += 1;
        }
    }

    /// A measure without a target.
    fn info(&self, name: &str, value: f64) {
        println!("{name} {value:.2} - INFO");
    }
}

fn main() {
    let started = Instant::now();
    // Task pools are global and the first app to start creates them: give the async compute
    // pool, which runs the jobs, every core before any app starts (as benches/jobs.rs does).
    let cores = bevy_tasks::available_parallelism();
    TaskPoolOptions {
        async_compute: TaskPoolThreadAssignmentPolicy {
            min_threads: cores,
            max_threads: cores,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        },
        ..Default::default()
    }
    .create_default_pools();

    let mut report = Report::default();

    let (entity, global) = hooks::Hooks::new().ratios(RUNS, 5);
    report.at_most("entity_on_update", entity, 1.5);
    report.info("global_on_update", global);

    let (serde, transform) = ecs_access();
    report.at_most("ecs_get_set", serde, 10.0);
    report.at_most("transform_position_set", transform, 3.0);

    let (speedup, target) = jobs();
    report.at_least("jobs_speedup", speedup, target);

    report.at_most("frame_overhead_us", frame_overhead_us(), 5.0);

    let (lua_to_rust, rust_to_lua) = events::Events::new().ratios(RUNS, 3);
    report.info("lua_to_rust_event", lua_to_rust);
    report.info("rust_to_lua_event", rust_to_lua);

    #[cfg(feature = "luau-jit")]
    {
        let mut native = codegen::compute_app(true);
        let mut interpreted = codegen::compute_app(false);
        let speedup = codegen::speedup(&mut native, &mut interpreted, RUNS, 3);
        report.at_least("native_codegen", speedup, 1.3);
    }
    #[cfg(not(feature = "luau-jit"))]
    println!("native_codegen - >=1.30 SKIP (build with --features luau-jit)");

    let slowdowns = limits::Limits::new().slowdowns(5);
    for (name, slowdown) in limits::LOOPS.into_iter().zip(slowdowns) {
        report.at_most(&format!("limits_{name}"), slowdown, 1.3);
    }

    println!("{} passed, {} missed", report.passed, report.missed);
    eprintln!("(report took {:.1?})", started.elapsed());
}

/// A 2-field serde component, as in benches/ecs_access.rs.
#[derive(Component, Serialize, Deserialize)]
struct Health {
    current: f32,
    max: f32,
}

/// benches/ecs_access.rs: `ecs.get` + `ecs.set` of a serde component and
/// `transform.position` + `transform.set_position`, per pair of calls, over a pair of no-op
/// Lua→Rust calls (`time.delta()`).
fn ecs_access() -> (f64, f64) {
    let mut app = app(Some(LuauScriptingPlugin::default()), |app| {
        app.register_script_component::<Health>()
            .add_script("scripts/bench/ecs_access.luau");
    });
    wait_for(&mut app, "ready", 1);
    let health = Health {
        current: 5.0,
        max: 10.0,
    };
    let entity = app.world_mut().spawn((Transform::default(), health)).id();
    let [baseline, serde, transform] = medians(RUNS, |k| {
        let name = ["baseline", "serde", "transform"][k];
        time(20, || {
            let run = ScriptEngine::emit(app.world_mut(), name, entity);
            assert!(run.is_ok(), "{name}: {run:?}");
        })
    });
    (serde / baseline, transform / baseline)
}

/// Jobs per timed run, as in benches/jobs.rs.
const JOBS: usize = 256;

/// Loop iterations per job, as in benches/jobs.rs.
const JOB_ITERATIONS: u32 = 100_000;

/// benches/jobs.rs: 256 CPU-bound jobs on one worker VM, over the same jobs on N, N being the
/// async compute pool's thread count. Returns the speedup and its target,
/// 0.85 × min(N, cores).
fn jobs() -> (f64, f64) {
    let n = AsyncComputeTaskPool::get().thread_num();
    let mut one = jobs_app(1);
    let mut many = jobs_app(n);
    let [single, parallel] = medians(RUNS.min(5), |k| {
        let app = if k == 0 { &mut one } else { &mut many };
        time(1, || {
            assert!(run_jobs(app, JOB_ITERATIONS, JOBS), "a job failed")
        })
    });
    let cores = bevy_tasks::available_parallelism();
    (single / parallel, 0.85 * n.min(cores) as f64)
}

/// An app whose worker pool has `workers` VMs, once its worker script has loaded.
fn jobs_app(workers: usize) -> App {
    let plugin = LuauScriptingPlugin {
        workers: Some(workers),
        ..Default::default()
    };
    let mut app = app(Some(plugin), |app| {
        app.add_worker_script("scripts/bench/crunch.luau");
    });
    // Jobs fail with "no job named" until the worker script has loaded: probe until one runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run_jobs(&mut app, 1, 1) {
        assert!(Instant::now() < deadline, "the worker script did not load");
    }
    app
}

/// Runs `jobs` jobs of `iterations` and updates `app` until all have completed; returns
/// whether all succeeded.
fn run_jobs(app: &mut App, iterations: u32, jobs: usize) -> bool {
    let runner = app.world().resource::<ScriptRunner>().clone();
    let mut pending: HashSet<JobId> = (0..jobs)
        .map(|_| runner.call("crunch", iterations))
        .collect();
    let mut cursor = MessageCursor::<JobCompleted>::default();
    let mut succeeded = true;
    while !pending.is_empty() {
        app.update();
        let completed = app.world().resource::<Messages<JobCompleted>>();
        for job in cursor.read(completed) {
            if pending.remove(&job.id) {
                succeeded &= job.result.is_ok();
            }
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    succeeded
}

/// benches/frame.rs: `app.update()` with the plugin and no scripts, minus the same app without
/// the plugin, in microseconds.
fn frame_overhead_us() -> f64 {
    let mut without = app(None, |_| {});
    let mut with = app(Some(LuauScriptingPlugin::default()), |_| {});
    let [without, with] = medians(RUNS, |k| {
        let app = if k == 0 { &mut without } else { &mut with };
        time(2000, || app.update())
    });
    (with - without) * 1e6
}
