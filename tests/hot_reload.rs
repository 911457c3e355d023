//! Hot reload of global scripts, driven by rewriting files that Bevy's file watcher watches.

mod common;

use bevy_luau::prelude::*;
use common::Harness;

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
