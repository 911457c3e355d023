//! Hot reload, driven by rewriting files that the crate's watcher and Bevy's file watcher
//! watch: global scripts, a save that changes nothing, deleted files and missing folders.

mod common;

use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_asset::{AssetPlugin, AssetServer, Assets};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use common::{Deadline, Harness};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn version_script(version: u32) -> String {
    format!(
        r#"
        hooks.on_update(function() events.emit("version", {version}) end)
        events.on("ask", function() events.emit("answer", {version}) end)
        "#
    )
}

fn start() -> Harness {
    let mut h =
        Harness::new(&[("scripts/live.luau", &version_script(1))]).scripts(&["scripts/live.luau"]);
    h.run_until_event("version");
    h
}

/// Runs frames until `version` is reported, then a few more, and returns the versions seen
/// after it first appeared.
fn settle_on(h: &mut Harness, version: u32) -> Vec<ScriptValue> {
    let wanted = ScriptValue::Number(f64::from(version));
    h.run_until(&format!("version {version}"), |seen| {
        seen.events
            .iter()
            .any(|e| e.name == "version" && e.payload == wanted)
    });
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    h.payloads("version")
}

#[test]
fn hot_reload_runs_the_new_code_and_drops_the_old_hooks() {
    let mut h = start();
    h.write("scripts/live.luau", &version_script(2));
    let versions = settle_on(&mut h, 2);
    assert_eq!(
        versions,
        vec![ScriptValue::Number(2.0); 3],
        "only the new hook runs"
    );
    h.assert_no_errors();
}

#[test]
fn hot_reload_replaces_event_handlers_instead_of_adding_them() {
    let mut h = start();
    h.write("scripts/live.luau", &version_script(2));
    settle_on(&mut h, 2);
    let consumed = ScriptEngine::emit(h.app.world_mut(), "ask", ScriptValue::Nil);
    assert_eq!(consumed, Ok(false));
    h.update();
    assert_eq!(h.payloads("answer"), vec![ScriptValue::Number(2.0)]);
}

#[test]
fn syntax_error_keeps_the_old_version_and_fixing_it_takes_effect() {
    let mut h = start();
    h.write(
        "scripts/live.luau",
        "hooks.on_update(function()\n    events.emit('version', 2\nend)\n",
    );
    h.run_until("a compile error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::Compile);
    assert_eq!(errors[0].script, "scripts/live.luau");
    assert!(
        errors[0].message.contains("scripts/live.luau:"),
        "{}",
        errors[0].message
    );

    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    assert_eq!(
        h.payloads("version"),
        vec![ScriptValue::Number(1.0); 3],
        "the old version still runs"
    );

    h.write("scripts/live.luau", &version_script(3));
    let versions = settle_on(&mut h, 3);
    assert_eq!(versions, vec![ScriptValue::Number(3.0); 3]);
    h.assert_no_errors();
}

#[test]
fn failing_top_level_keeps_the_old_version_and_drops_the_new_hooks() {
    let mut h = start();
    h.write(
        "scripts/live.luau",
        "hooks.on_update(function() events.emit('version', 2) end)\nerror('not ready')\n",
    );
    h.run_until("a runtime error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors[0].kind, ScriptErrorKind::Runtime);
    assert!(
        errors[0].message.contains("scripts/live.luau:2"),
        "{}",
        errors[0].message
    );
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    assert_eq!(h.payloads("version"), vec![ScriptValue::Number(1.0); 3]);
}

#[test]
fn editing_a_module_reloads_the_scripts_that_require_it() {
    let mut h = Harness::new(&[
        ("scripts/main.luau", "local m = require('./lib/m')\nhooks.on_update(function() events.emit('version', m.v) end)"),
        ("scripts/other.luau", "hooks.on_update(function() events.emit('other', 1) end)"),
        ("scripts/lib/m.luau", "return {v = 1}"),
    ])
    .scripts(&["scripts/main.luau", "scripts/other.luau"]);
    h.run_until_event("version");
    // Let the asset server pick the module up before it changes.
    for _ in 0..5 {
        h.update();
    }
    h.write("scripts/lib/m.luau", "return {v = 2}");
    let versions = settle_on(&mut h, 2);
    assert_eq!(versions, vec![ScriptValue::Number(2.0); 3]);
    assert_eq!(
        h.payloads("other").len(),
        3,
        "scripts that do not use the module keep running"
    );
    h.assert_no_errors();
}

#[test]
fn hot_reload_loads_modules_afresh() {
    let mut h = Harness::new(&[
        (
            "scripts/main.luau",
            "local m = require('./m')\nhooks.on_update(function() events.emit('version', m.v) end)",
        ),
        ("scripts/m.luau", "return {v = 1}"),
    ])
    .scripts(&["scripts/main.luau"]);
    h.run_until_event("version");
    h.write("scripts/m.luau", "return {v = 2}");
    // Touch the script so it reloads; its new version requires the module again.
    h.write(
        "scripts/main.luau",
        "local m = require('./m')\nhooks.on_update(function() events.emit('version', m.v) end)\n",
    );
    let versions = settle_on(&mut h, 2);
    assert_eq!(versions, vec![ScriptValue::Number(2.0); 3]);
}

#[test]
fn script_loaded_reports_the_first_load_each_reload_and_not_a_broken_save() {
    let mut h = start();
    let loaded = |reloaded| ScriptLoaded {
        path: "scripts/live.luau".into(),
        reloaded,
    };
    assert_eq!(h.seen().loaded, vec![loaded(false)]);

    h.write("scripts/live.luau", "hooks.on_update(function(\n");
    h.run_until("a compile error", |seen| !seen.errors.is_empty());
    for _ in 0..3 {
        h.update();
    }
    assert_eq!(
        h.seen().loaded,
        vec![loaded(false)],
        "a broken save loads nothing"
    );

    h.write("scripts/live.luau", &version_script(2));
    settle_on(&mut h, 2);
    assert_eq!(h.seen().loaded, vec![loaded(false), loaded(true)]);
}

#[test]
fn a_save_that_renames_a_new_file_over_the_script_reaches_the_game() {
    let mut h = start();
    // As editors that save atomically do: write a new file, then rename it over the old one.
    let folder = h.dir.path().join("scripts");
    std::fs::write(folder.join(".live.luau.tmp"), version_script(2)).expect("write");
    std::fs::rename(folder.join(".live.luau.tmp"), folder.join("live.luau")).expect("rename");
    let versions = settle_on(&mut h, 2);
    assert_eq!(versions, vec![ScriptValue::Number(2.0); 3]);
    h.assert_no_errors();
}

/// The text of the loaded script asset at `path`.
fn text(h: &Harness, path: &str) -> Arc<str> {
    let world = h.app.world();
    let handle = world
        .resource::<AssetServer>()
        .get_handle::<LuauScript>(path.to_owned())
        .expect("a loaded script");
    let assets = world.resource::<Assets<LuauScript>>();
    assets.get(&handle).expect("its asset").source.clone()
}

/// Runs frames until the asset at `path` is a new version, not `before`.
fn wait_for_reload(h: &mut Harness, path: &str, before: &Arc<str>) {
    let deadline = Deadline::new();
    while Arc::ptr_eq(&text(h, path), before) {
        deadline.check(&format!("a reload of {path}"));
        h.update();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Saves `path` with the text it has, runs frames until that save reloaded the asset, reloads
/// it once more through the asset server (two reports of one save), and runs a few frames.
fn save_unchanged(h: &mut Harness, path: &str) {
    let before = text(h, path);
    h.write(path, &before);
    wait_for_reload(h, path, &before);
    let saved = text(h, path);
    assert_eq!(saved, before, "the same text, in a new asset version");
    h.app
        .world()
        .resource::<AssetServer>()
        .reload(path.to_owned());
    wait_for_reload(h, path, &saved);
    for _ in 0..5 {
        h.update();
    }
}

/// After [`save_unchanged`]: the script's top level ran once, its one `ScriptLoaded` is the first
/// load's, and the numbers of its `counts` events went 1, 2, 3, ... with no restart.
fn assert_nothing_ran_again(h: &Harness, counts: &str) {
    assert_eq!(
        h.payloads("top level ran").len(),
        1,
        "the top level ran once"
    );
    let loaded = &h.seen().loaded;
    assert!(loaded.len() == 1 && !loaded[0].reloaded, "{loaded:?}");
    let counts = h.payloads(counts);
    let expected: Vec<_> = (1..=counts.len())
        .map(|n| ScriptValue::Number(n as f64))
        .collect();
    assert_eq!(counts, expected, "the running version kept its state");
    h.assert_no_errors();
}

#[test]
fn a_reload_with_unchanged_text_does_not_run_the_script_again() {
    let script = r#"
        local frames = 0
        events.emit("top level ran")
        hooks.on_update(function()
            frames += 1
            events.emit("frames", frames)
        end)
    "#;
    let mut h = Harness::new(&[("scripts/same.luau", script)]).scripts(&["scripts/same.luau"]);
    h.run_until_event("frames");
    save_unchanged(&mut h, "scripts/same.luau");
    assert_nothing_ran_again(&h, "frames");
}

#[test]
fn a_module_saved_with_unchanged_text_reloads_no_script() {
    let main = r#"
        local m = require("./m")
        local frames = 0
        events.emit("top level ran")
        hooks.on_update(function()
            frames += m.step
            events.emit("frames", frames)
        end)
    "#;
    let mut h = Harness::new(&[
        ("scripts/main.luau", main),
        ("scripts/m.luau", "return {step = 1}"),
    ])
    .scripts(&["scripts/main.luau"]);
    h.run_until_event("frames");
    let server = h.app.world().resource::<AssetServer>().clone();
    let deadline = Deadline::new();
    while server
        .get_handle::<LuauScript>("scripts/m.luau")
        .is_none_or(|m| !server.is_loaded(&m))
    {
        deadline.check("the module's asset");
        h.update();
    }
    save_unchanged(&mut h, "scripts/m.luau");
    assert_nothing_ran_again(&h, "frames");
}

#[test]
fn an_entity_script_reload_with_unchanged_text_keeps_self_and_runs_nothing_again() {
    let script = r#"
        events.emit("top level ran")
        local Counter = {}
        function Counter:on_spawn()
            self.count = 0
        end
        function Counter:on_update(dt)
            self.count += 1
            events.emit("count", self.count)
        end
        return Counter
    "#;
    let mut h = Harness::new(&[("scripts/counter.luau", script)]);
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load("scripts/counter.luau");
    h.app.world_mut().spawn(Script::new(handle));
    h.run_until_event("count");
    save_unchanged(&mut h, "scripts/counter.luau");
    assert_nothing_ran_again(&h, "count");
}

#[test]
fn a_worker_script_reload_with_unchanged_text_keeps_the_worker_vms() {
    let script = "local calls = 0\njobs.define('calls', function() calls += 1 return calls end)\n";
    let plugin = LuauScriptingPlugin {
        workers: Some(1),
        ..Default::default()
    };
    let mut h = Harness::with_plugin(plugin, &[("scripts/worker.luau", script)]);
    h.app.add_worker_script("scripts/worker.luau");
    let call = |h: &mut Harness| {
        let runner = h.app.world().resource::<ScriptRunner>().clone();
        let id = runner.call("calls", ScriptValue::Nil);
        h.run_until("the job", |seen| seen.completed.iter().any(|c| c.id == id));
        let seen = h.seen().completed.iter().find(|c| c.id == id);
        seen.expect("completed").result.clone()
    };
    // Until the worker script loads, the job is unknown.
    let deadline = Deadline::new();
    while call(&mut h).is_err() {
        deadline.check("the worker script");
    }
    let before = call(&mut h).expect("a count");
    save_unchanged(&mut h, "scripts/worker.luau");
    let ScriptValue::Number(before) = before else {
        panic!("{before:?}")
    };
    assert_eq!(
        call(&mut h),
        Ok(ScriptValue::Number(before + 1.0)),
        "the same VM, not one rebuilt"
    );
}

#[test]
fn deleting_a_script_keeps_it_running_and_saving_it_again_reloads_it() {
    let mut h = start();
    std::fs::remove_file(h.dir.path().join("scripts/live.luau")).expect("delete");
    // Past Bevy's watcher's 300 ms debounce, so both watchers have seen the removal.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        h.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.take_events();
    h.update();
    assert_eq!(h.payloads("version"), vec![ScriptValue::Number(1.0)]);
    h.write("scripts/live.luau", &version_script(2));
    settle_on(&mut h, 2);
    h.assert_no_errors();
}

/// Every `ScriptError` written.
#[derive(Resource, Default)]
struct Errors(Vec<ScriptError>);

fn record_errors(mut errors: MessageReader<ScriptError>, mut seen: ResMut<Errors>) {
    seen.0.extend(errors.read().cloned());
}

/// An app whose asset folder is `root`, watched, loading one script that cannot be there.
fn app_with_asset_folder(root: &Path) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: root.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(true),
            ..Default::default()
        },
        LuauScriptingPlugin::default(),
    ))
    .init_resource::<Errors>()
    .add_script("scripts/main.luau")
    .add_systems(Update, record_errors.after(ScriptingSystem));
    app.finish();
    app.cleanup();
    app
}

#[test]
fn a_missing_or_unreadable_asset_folder_gives_load_errors_and_no_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not_a_folder");
    std::fs::write(&file, "").expect("write");
    for root in [dir.path().join("missing"), file] {
        let mut app = app_with_asset_folder(&root);
        let deadline = Deadline::new();
        while app.world().resource::<Errors>().0.is_empty() {
            deadline.check("the load error");
            app.update();
            std::thread::sleep(Duration::from_millis(5));
        }
        let errors = &app.world().resource::<Errors>().0;
        assert_eq!(errors[0].kind, ScriptErrorKind::Io, "{errors:?}");
        assert_eq!(errors[0].script, "scripts/main.luau");
    }
}
