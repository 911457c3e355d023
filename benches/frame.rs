//! `app.update()` with the plugin and no scripts, against the same app without the plugin.
//! Target: at most 5 µs added per frame.

#![expect(
    missing_docs,
    reason = "criterion_group! makes an undocumented entry point"
)]

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn app(with_plugin: bool) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            watch_for_changes_override: Some(false),
            ..Default::default()
        },
    ));
    if with_plugin {
        app.add_plugins(LuauScriptingPlugin::default());
    }
    app.finish();
    app.cleanup();
    for _ in 0..10 {
        app.update();
    }
    app
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    let mut without = app(false);
    let mut with = app(true);
    group.bench_function("without_plugin", |b| {
        b.iter(|| black_box(&mut without).update())
    });
    group.bench_function("with_plugin_no_scripts", |b| {
        b.iter(|| black_box(&mut with).update())
    });
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
