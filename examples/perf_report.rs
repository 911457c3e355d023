//! A quick performance report: the workloads of every benchmark in `benches/`, each timed
//! against its baseline in this process (the median of a few short runs), one line per measure
//! of the design's performance targets:
//!
//! ```text
//! entity_on_update 1.31 <=1.50 PASS
//! exists 1.25x (31.0 ns) <=1.50x PASS
//! ...
//! 15 passed, 0 missed
//! ```
//! Lines marked `INFO` are measured for comparison and have no target; `SKIP` lines were not
//! measured. The report does not judge: it always exits successfully. Run it with
//!
//! ```sh
//! cargo run --release --example perf_report
//! cargo run --release --example perf_report --features luau-jit   # with native codegen
//! cargo run --release --example perf_report --features debugger   # with the debugger
//! ```
//! It runs the benchmarks' own code (`benches/hooks.rs`, `ecs_access.rs`, `actors.rs`,
//! `events.rs`, `limits.rs`, `codegen.rs` and `debugger.rs`, included as modules) and repeats the workloads of `frame.rs`
//! and `jobs.rs`. Their scripts are in `assets/scripts/bench/`. Every world-access measure is a
//! ratio against a raw mlua no-op (`lua.create_function(|_, ()| Ok(()))` in a plain
//! `Lua::new()`) timed in the same run, and shows its nanoseconds too.

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

#[path = "../benches/ecs_access.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod ecs_access;

#[path = "../benches/actors.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod actors;

#[cfg(feature = "debugger")]
#[path = "../benches/debugger.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod debugger;

#[cfg(feature = "luau-jit")]
#[path = "../benches/codegen.rs"]
#[expect(
    dead_code,
    reason = "the report runs the benchmark's workload, not its entry point"
)]
mod codegen;

use bevy_app::{App, TaskPoolThreadAssignmentPolicy};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_luau::prelude::*;
use bevy_tasks::AsyncComputeTaskPool;
use hooks::{app, medians, time};
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

    /// A world-access measure, with its nanoseconds and its ratio to the raw no-op.
    fn measured(&mut self, result: &ecs_access::Measured) {
        println!("{}", result.line());
        if result.passes() {
            self.passed += 1;
        } else {
            self.missed += 1;
        }
    }
}

fn main() {
    let started = Instant::now();
    // Task pools are global and the first app to start creates them: give the async compute
    // pool, which runs the jobs, every core before any app starts (as benches/jobs.rs does),
    // and the compute pool, which runs the actors' parallel phase with the main thread, every
    // core but one (as benches/actors.rs does).
    let cores = bevy_tasks::available_parallelism();
    actors::create_pools(TaskPoolThreadAssignmentPolicy {
        min_threads: cores,
        max_threads: cores,
        percent: 1.0,
        on_thread_spawn: None,
        on_thread_destroy: None,
    });

    let mut report = Report::default();

    let mut dispatch = hooks::Hooks::new();
    let (entity, global) = dispatch.ratios(RUNS, 5);
    report.at_most("entity_on_update", entity, 1.5);
    report.info("global_on_update", global);
    // Per-script accounting and its tracing spans, no subscriber: at most 2% of dispatch.
    let overhead = dispatch.accounting_overhead(RUNS * 2 + 1, 5) * 100.0;
    report.at_most("accounting_overhead_percent", overhead, 2.0);
    drop(dispatch);

    println!("world access, per call, against a raw mlua no-op in a plain Lua::new():");
    let mut access = ecs_access::WorldAccess::new();
    for result in access.results(&ecs_access::MEASURES, RUNS) {
        report.measured(&result);
    }

    let mut apps = actors::ActorApps::new(actors::actor_count());
    let n = apps.actors;
    println!(
        "actors: {n} actor VMs ({}) against 1, holding {:?} CPU-bound actors:",
        actors::ACTORS_VAR,
        apps.spread()
    );
    let speedup = apps.cpu_speedup(RUNS, 3);
    report.at_least("actors_cpu_speedup", speedup, actors::cpu_target(n));
    let (speedup, cost) = apps.light_ratios(RUNS, 3);
    report.at_least("actors_light_speedup", speedup, actors::light_target(n));
    report.at_most("actor_entity_cost", cost, 1.5);
    drop(apps);

    let (speedup, target) = jobs();
    report.at_least("jobs_speedup", speedup, target);

    report.at_most("frame_overhead_us", frame_overhead_us(), 5.0);

    let (lua_to_rust, rust_to_lua) = events::Events::new().ratios(RUNS, 3);
    report.info("lua_to_rust_event", lua_to_rust);
    report.info("rust_to_lua_event", rust_to_lua);

    // The debugger with a client attached and breakpoints away from the hot code, against the
    // same app with no client.
    #[cfg(feature = "debugger")]
    report.at_most(
        "debugger_attached",
        debugger::Debugged::new().ratio(RUNS, 5),
        1.05,
    );
    #[cfg(not(feature = "debugger"))]
    println!("debugger_attached - <=1.05 SKIP (build with --features debugger)");

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
