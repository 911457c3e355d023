//! World access from Lua, per call, against a Lua→Rust call that does next to nothing
//! (`time.delta()`, which reads one value), all in the same run.
//! Targets: `ecs.get` + `ecs.set` of a 2-field serde component ≤ 10×, `transform.position` +
//! `transform.set_position` ≤ 3×.

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use bevy_transform::components::Transform;
use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Component, Serialize, Deserialize)]
struct Health {
    current: f32,
    max: f32,
}

/// Calls per measured iteration, so the cost of entering Lua is spread thin.
const CALLS: u32 = 1000;

const SCRIPT: &str = r#"
local N = 1000
events.on("baseline", function()
    for _ = 1, N do time.delta() time.delta() end
end)
events.on("transform", function(e)
    for _ = 1, N do transform.set_position(e, transform.position(e)) end
end)
events.on("serde_get", function(e)
    for _ = 1, N do ecs.get(e, "Health") ecs.get(e, "Health") end
end)
events.on("serde_set", function(e)
    local v = {current = 1, max = 2}
    for _ = 1, N do ecs.set(e, "Health", v) ecs.set(e, "Health", v) end
end)
events.on("serde", function(e)
    for _ = 1, N do ecs.set(e, "Health", ecs.get(e, "Health")) end
end)
events.emit("ready")
"#;

fn app() -> (App, Entity) {
    let dir = std::env::temp_dir().join(format!("bevy_luau_bench_{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).expect("bench dir");
    std::fs::write(dir.join("scripts/bench.luau"), SCRIPT).expect("bench script");
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: dir.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(false),
            ..Default::default()
        },
        LuauScriptingPlugin::default(),
    ))
    .register_script_component::<Health>()
    .add_script("scripts/bench.luau");
    app.finish();
    app.cleanup();
    let entity = app
        .world_mut()
        .spawn((
            Transform::default(),
            Health {
                current: 5.0,
                max: 10.0,
            },
        ))
        .id();
    let mut cursor = bevy_ecs::message::MessageCursor::<ScriptEvent>::default();
    let mut ready = false;
    for _ in 0..5000 {
        app.update();
        let events = app
            .world()
            .resource::<bevy_ecs::message::Messages<ScriptEvent>>();
        ready |= cursor.read(events).any(|e| e.name == "ready");
        if ready {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(ready, "the bench script did not load");
    (app, entity)
}

fn access(c: &mut Criterion) {
    let (mut app, entity) = app();
    let mut group = c.benchmark_group(format!("ecs_access_x{CALLS}"));
    for name in ["baseline", "transform", "serde", "serde_get", "serde_set"] {
        group.bench_function(name, |b| {
            b.iter(|| ScriptEngine::emit(app.world_mut(), name, entity).expect("handler runs"));
        });
    }
    group.finish();
}

criterion_group!(benches, access);
criterion_main!(benches);
