//! Native code generation: a compute-heavy script (`assets/scripts/bench/compute.luau`: a
//! Mandelbrot set and steps of an n-body simulation in `vector` math) run by
//! `ScriptEngine::emit` in an app with `ScriptConfig::native_codegen` on, against the same app
//! with it off, in the same run. Both have no instruction limit.
//! Target: at least 1.3× faster with native code.
//!
//! Needs the `luau-jit` feature: `cargo bench --bench codegen --features luau-jit`.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "only the shared helpers of the hooks benchmark are used"
)]
mod hooks;

use bevy_app::App;
use bevy_luau::prelude::*;
use criterion::{Criterion, SamplingMode};
use hooks::{app, measuring, medians, time, wait_for};
use std::time::Duration;

/// The Mandelbrot set's width and height in pixels; the simulation has half as many bodies.
const SIZE: u32 = 96;

/// An app running compute.luau, compiled to native code or interpreted.
pub(crate) fn compute_app(native_codegen: bool) -> App {
    let plugin = LuauScriptingPlugin {
        config: ScriptConfig {
            native_codegen,
            instruction_limit: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut app = app(Some(plugin), |app| {
        app.add_script("scripts/bench/compute.luau");
    });
    wait_for(&mut app, "ready", 1);
    app
}

/// Runs the computation once in `app`.
pub(crate) fn compute(app: &mut App) {
    let consumed = ScriptEngine::emit(app.world_mut(), "compute", SIZE);
    assert!(matches!(consumed, Ok(true)), "compute: {consumed:?}");
}

/// How many times faster the native app computes than the interpreted one: medians of `runs`
/// timings of `iterations` computations.
pub(crate) fn speedup(
    native: &mut App,
    interpreted: &mut App,
    runs: usize,
    iterations: u32,
) -> f64 {
    let [native, interpreted] = medians(runs, |k| match k {
        0 => time(iterations, || compute(native)),
        _ => time(iterations, || compute(interpreted)),
    });
    interpreted / native
}

fn codegen(c: &mut Criterion) {
    let mut native = compute_app(true);
    let mut interpreted = compute_app(false);
    let mut group = c.benchmark_group("codegen");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("interpreted", |b| b.iter(|| compute(&mut interpreted)));
    group.bench_function("native", |b| b.iter(|| compute(&mut native)));
    group.finish();

    if measuring() {
        let speedup = speedup(&mut native, &mut interpreted, 9, 3);
        let verdict = if speedup >= 1.3 { "PASS" } else { "MISS" };
        println!("native_codegen {speedup:.2} >=1.30 {verdict}");
    }
}

/// `criterion_main!` written out, like in benches/hooks.rs, so that
/// `examples/perf_report.rs` can include this file.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    codegen(&mut criterion);
    criterion.final_summary();
}
