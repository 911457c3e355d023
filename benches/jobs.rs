//! Worker pool scaling: 256 CPU-bound jobs on a pool of one worker VM against the same jobs on
//! a pool of N, N being the async compute pool's thread count, in the same run.
//! Target: speedup ≥ 0.85 × min(N, cores).
//!
//! Jobs run on `AsyncComputeTaskPool`, which Bevy's default `TaskPoolOptions` give a quarter of
//! the cores (one thread on up to five cores). This bench gives it every core, so that N can
//! reach the number of cores; the last line prints the speedup against the target.

#![expect(
    missing_docs,
    reason = "criterion_group! makes an undocumented entry point"
)]

use bevy_app::{App, TaskPoolOptions, TaskPoolPlugin, TaskPoolThreadAssignmentPolicy};
use bevy_asset::AssetPlugin;
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_luau::prelude::*;
use bevy_tasks::AsyncComputeTaskPool;
use bevy_time::TimePlugin;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Jobs per measured iteration.
const JOBS: usize = 256;

/// Loop iterations per job: about 800,000 arithmetic operations (a few milliseconds), well
/// inside the default instruction limit.
const ITERATIONS: u32 = 100_000;

/// Timed runs per pool for the speedup line; their median counts.
const RUNS: usize = 5;

const WORKER_SCRIPT: &str = r#"
jobs.define("crunch", function(n)
    local sum = 0
    for i = 1, n do
        local x = i * 0.5
        sum += x * x - x / 3 + (i % 7) * 2
    end
    return sum
end)
"#;

/// An app whose worker pool has `workers` VMs, once its worker script has loaded.
fn app(assets: &TempDir, workers: usize) -> App {
    let cores = bevy_tasks::available_parallelism();
    let every_core = TaskPoolThreadAssignmentPolicy {
        min_threads: cores,
        max_threads: cores,
        percent: 1.0,
        on_thread_spawn: None,
        on_thread_destroy: None,
    };
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin {
            task_pool_options: TaskPoolOptions {
                async_compute: every_core,
                ..Default::default()
            },
        },
        TimePlugin,
        AssetPlugin {
            file_path: assets.path().to_string_lossy().into_owned(),
            watch_for_changes_override: Some(false),
            ..Default::default()
        },
        LuauScriptingPlugin {
            workers: Some(workers),
            ..Default::default()
        },
    ))
    .add_worker_script("scripts/workers/crunch.luau");
    app.finish();
    app.cleanup();
    // Jobs fail with "no job named" until the worker script has loaded: probe until one succeeds.
    let mut cursor = MessageCursor::<JobCompleted>::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = app.world().resource::<ScriptRunner>().call("crunch", 1);
        let results = wait_for(&mut app, &mut cursor, &HashSet::from([probe]));
        if results.iter().all(Result::is_ok) {
            return app;
        }
        assert!(
            Instant::now() < deadline,
            "the worker script did not load: {results:?}"
        );
    }
}

/// Runs scripting steps until every job in `ids` has completed; returns their results.
fn wait_for(
    app: &mut App,
    cursor: &mut MessageCursor<JobCompleted>,
    ids: &HashSet<JobId>,
) -> Vec<Result<ScriptValue, ScriptError>> {
    let mut results = Vec::with_capacity(ids.len());
    while results.len() < ids.len() {
        app.update();
        let completed = app.world().resource::<Messages<JobCompleted>>();
        results.extend(
            cursor
                .read(completed)
                .filter(|c| ids.contains(&c.id))
                .map(|c| c.result.clone()),
        );
        std::thread::sleep(Duration::from_micros(100));
    }
    results
}

/// One measured iteration: submits the jobs and waits until all of them have succeeded.
fn run_jobs(app: &mut App, cursor: &mut MessageCursor<JobCompleted>) {
    let runner = app.world().resource::<ScriptRunner>().clone();
    let ids: HashSet<JobId> = (0..JOBS)
        .map(|_| runner.call("crunch", ITERATIONS))
        .collect();
    for result in wait_for(app, cursor, &ids) {
        if let Err(error) = result {
            panic!("a job failed: {error}");
        }
    }
}

fn median_time(app: &mut App, cursor: &mut MessageCursor<JobCompleted>) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run_jobs(app, cursor);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// Whether criterion measures (`cargo bench`), rather than running each benchmark once as a test
/// (`cargo test --benches`, `cargo bench -- --test`) or listing them.
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn jobs(c: &mut Criterion) {
    let assets = tempfile::tempdir().expect("bench asset folder");
    let workers = assets.path().join("scripts/workers");
    std::fs::create_dir_all(&workers).expect("bench asset folder");
    std::fs::write(workers.join("crunch.luau"), WORKER_SCRIPT).expect("bench script");

    let mut one = app(&assets, 1);
    let n = AsyncComputeTaskPool::get().thread_num();
    let mut many = app(&assets, n);
    let cores = bevy_tasks::available_parallelism();
    println!("N = {n} workers (async compute threads), {cores} cores");

    let mut cursors = [MessageCursor::default(), MessageCursor::default()];
    let mut group = c.benchmark_group(format!("jobs_x{JOBS}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    group.bench_function("1_worker", |b| {
        b.iter(|| run_jobs(&mut one, &mut cursors[0]));
    });
    group.bench_function(format!("{n}_workers"), |b| {
        b.iter(|| run_jobs(&mut many, &mut cursors[1]));
    });
    group.finish();

    if !measuring() {
        return;
    }
    let single = median_time(&mut one, &mut cursors[0]);
    let parallel = median_time(&mut many, &mut cursors[1]);
    let speedup = single.as_secs_f64() / parallel.as_secs_f64();
    let target = 0.85 * n.min(cores) as f64;
    let verdict = if speedup >= target { "PASS" } else { "FAIL" };
    println!(
        "1 worker {single:.2?}, {n} workers {parallel:.2?} (median of {RUNS} runs of {JOBS} jobs)"
    );
    println!("jobs speedup {speedup:.2} target {target:.2} {verdict}");
}

criterion_group!(benches, jobs);
criterion_main!(benches);
