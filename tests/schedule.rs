//! The scripting step runs in the schedule the plugin is given: `Update` by default, or
//! `FixedUpdate`, where scripts see the fixed clock.

mod common;

use bevy_app::FixedUpdate;
use bevy_luau::prelude::*;
use common::{FRAME, Harness};

/// Emits the `dt` of the first three hooks with `time.delta()`, then how long a
/// `task.wait(0.5)` slept and how many steps ran meanwhile.
const SCRIPT: &str = r#"
local steps = 0
hooks.on_update(function(dt: number)
    steps += 1
    if steps <= 3 then
        events.emit("dt", { dt = dt, delta = time.delta() })
    end
end)
task.spawn(function()
    local before = steps
    local slept = task.wait(0.5)
    events.emit("waited", { slept = slept, steps = steps - before })
end)
"#;

/// A field of a map payload.
fn field(value: &ScriptValue, key: &str) -> f64 {
    value
        .as_map()
        .and_then(|map| map.get(key))
        .and_then(ScriptValue::as_number)
        .unwrap_or_else(|| panic!("no number `{key}` in {value:?}"))
}

/// Runs `SCRIPT` under `plugin`; returns the `dt` payloads, the `waited` payload and the
/// number of frames (`app.update()` calls) it took.
fn run(plugin: LuauScriptingPlugin) -> (Vec<ScriptValue>, ScriptValue, u32) {
    let mut h =
        Harness::with_plugin(plugin, &[("scripts/t.luau", SCRIPT)]).scripts(&["scripts/t.luau"]);
    let mut frames = 0;
    h.run_until("the wait to end", |seen| {
        frames += 1;
        !seen.errors.is_empty() || seen.events.iter().any(|e| e.name == "waited")
    });
    h.assert_no_errors();
    let waited = h.payloads("waited").remove(0);
    (h.payloads("dt"), waited, frames)
}

#[test]
fn in_fixed_update_scripts_count_the_fixed_clock() {
    let (dts, waited, frames) = run(LuauScriptingPlugin.in_schedule(FixedUpdate));
    // Bevy's default fixed timestep: 64 Hz.
    let step = 1.0 / 64.0;
    assert_eq!(dts.len(), 3, "{dts:?}");
    for dt in &dts {
        assert!((field(dt, "dt") - step).abs() < 1e-9, "{dts:?}");
        assert!((field(dt, "delta") - step).abs() < 1e-9, "{dts:?}");
    }
    // task.wait counts fixed time: half a second is 32 fixed steps, several per 100 ms frame.
    let (slept, steps) = (field(&waited, "slept"), field(&waited, "steps"));
    assert!(slept > 0.5 - 1e-9 && slept < 0.5 + 2.0 * step, "{waited:?}");
    assert!((32.0..=34.0).contains(&steps), "{waited:?}");
    assert!(f64::from(frames) < steps, "{frames} frames, {waited:?}");
}

#[test]
fn by_default_the_step_runs_once_a_frame_in_update() {
    let (dts, waited, _) = run(LuauScriptingPlugin);
    let frame = FRAME.as_secs_f64();
    // The first step may come on the app's first frame, whose delta is zero.
    for dt in dts.iter().filter(|dt| field(dt, "dt") > 0.0) {
        assert!((field(dt, "dt") - frame).abs() < 1e-9, "{dts:?}");
        assert!((field(dt, "delta") - frame).abs() < 1e-9, "{dts:?}");
    }
    let (slept, steps) = (field(&waited, "slept"), field(&waited, "steps"));
    assert!(
        slept > 0.5 - 1e-9 && slept < 0.5 + 2.0 * frame,
        "{waited:?}"
    );
    assert!((5.0..=7.0).contains(&steps), "{waited:?}");
}
