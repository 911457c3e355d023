//! Game templates: `game.toml` and `scripts/`, loaded by the plugin through the asset server.

mod common;

use bevy_luau::GameTemplate;
use bevy_luau::prelude::*;
use common::Harness;

fn plugin() -> LuauScriptingPlugin {
    LuauScriptingPlugin {
        template: Some("games/demo".into()),
        workers: Some(1),
        ..Default::default()
    }
}

#[test]
fn a_template_loads_its_scripts_in_order_workers_and_cvars() {
    let mut h = Harness::with_plugin(
        plugin(),
        &[
            (
                "games/demo/game.toml",
                "name = \"demo\"\nversion = \"0.2.0\"\nscripts = [\"second.luau\", \"first.luau\"]\nworkers = [\"workers/math.luau\"]\n\n[cvars]\nsv_port = 4000\n",
            ),
            (
                "games/demo/scripts/first.luau",
                "events.emit('order', 'first')",
            ),
            (
                "games/demo/scripts/second.luau",
                "events.emit('order', 'second')\njobs.run('triple', cvar.get('sv_port')):on_complete(function(ok, r) events.emit('job', r) end)",
            ),
            (
                "games/demo/scripts/workers/math.luau",
                "jobs.define('triple', function(x) return x * 3 end)",
            ),
        ],
    );
    h.run_until_event("job");
    h.assert_no_errors();
    assert_eq!(
        h.payloads("order"),
        vec![ScriptValue::from("second"), ScriptValue::from("first")]
    );
    assert_eq!(h.payloads("job"), vec![ScriptValue::Number(12000.0)]);
    let template = h.app.world().resource::<GameTemplate>();
    assert_eq!(
        (template.name.as_str(), template.version.as_str()),
        ("demo", "0.2.0")
    );
    assert_eq!(
        h.app.world().resource::<CVarRegistry>().get("sv_port"),
        Some(&CVarValue::Int(4000))
    );
}

#[test]
fn a_bad_template_is_a_config_error_naming_the_line() {
    let mut h = Harness::with_plugin(
        plugin(),
        &[
            (
                "games/demo/game.toml",
                "name = \"demo\"\nscripts = [\n  \"missing.luau\",\n]\n",
            ),
            ("games/demo/scripts/present.luau", "events.emit('ran')"),
        ],
    );
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert_eq!(error.kind, ScriptErrorKind::Config);
    assert!(
        error.message.contains("games/demo/game.toml:3"),
        "{}",
        error.message
    );
    assert!(error.message.contains("missing.luau"), "{}", error.message);
    for _ in 0..5 {
        h.update();
    }
    assert!(
        h.payloads("ran").is_empty(),
        "nothing of a broken template runs"
    );
}
