//! Every `ScriptingAppExt` method works whether it is called before or after
//! `LuauScriptingPlugin` is added, and the plugin is added as `LuauScriptingPlugin`, the value.

mod common;

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use common::Harness;
use serde::{Deserialize, Serialize};

/// When the method under test is called.
#[derive(Clone, Copy, Debug)]
enum Order {
    BeforePlugin,
    AfterPlugin,
}

const ORDERS: [Order; 2] = [Order::BeforePlugin, Order::AfterPlugin];

/// A harness over `files` with `setup` applied before or after the plugin is added.
fn harness(order: Order, files: &[(&str, &str)], setup: impl FnOnce(&mut App)) -> Harness {
    match order {
        Order::BeforePlugin => Harness::set_up_before_plugin(LuauScriptingPlugin, files, setup),
        Order::AfterPlugin => {
            let mut h = Harness::with_plugin(LuauScriptingPlugin, files);
            setup(&mut h.app);
            h
        }
    }
}

/// The number payload of the first event called `name`.
fn number(h: &Harness, name: &str) -> Option<f64> {
    h.payloads(name).first().and_then(ScriptValue::as_number)
}

#[derive(Component, Serialize, Deserialize)]
struct Health {
    current: f32,
    max: f32,
}

#[derive(Resource, Serialize, Deserialize)]
struct Score {
    points: u32,
}

#[derive(Message, Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[test]
fn the_plugin_is_added_as_a_value() {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
    ))
    .add_plugins(LuauScriptingPlugin);
    app.finish();
    assert!(app.world().contains_resource::<ScriptEngine>());
    let config = app.world().resource::<ScriptConfig>();
    assert_eq!(config.memory_limit, ScriptConfig::default().memory_limit);
    assert_eq!(
        LuauScriptingPlugin.queue_capacity,
        LuauScriptingPlugin::default().queue_capacity
    );
}

#[test]
fn add_script_works_in_either_order() {
    for order in ORDERS {
        let mut h = harness(
            order,
            &[("scripts/t.luau", "events.emit(\"loaded\", 1)")],
            |app| {
                app.add_script("scripts/t.luau");
            },
        );
        h.run_until_event("loaded");
        h.assert_no_errors();
        assert_eq!(number(&h, "loaded"), Some(1.0), "{order:?}");
    }
}

#[test]
fn add_worker_script_works_in_either_order() {
    let worker = "jobs.define(\"double\", function(x: number) return x * 2 end)";
    // The worker script may load after the main one: retry until the job exists.
    let main = r#"
task.spawn(function()
    while true do
        local ok, result = pcall(function() return jobs.run("double", 21):await() end)
        if ok then
            events.emit("doubled", result)
            return
        end
        task.wait(0.1)
    end
end)
"#;
    for order in ORDERS {
        let mut h = harness(
            order,
            &[("scripts/w.luau", worker), ("scripts/main.luau", main)],
            |app| {
                app.add_worker_script("scripts/w.luau")
                    .add_script("scripts/main.luau");
            },
        );
        h.run_until_event("doubled");
        assert_eq!(number(&h, "doubled"), Some(42.0), "{order:?}");
    }
}

#[test]
fn register_cvar_works_in_either_order_and_announces_changes() {
    let script = r#"
events.emit("speed", cvar.get("t_speed"))
cvar.on_change("t_speed", function(_, _, new)
    events.emit("changed", new)
end)
"#;
    for order in ORDERS {
        let mut h = harness(order, &[("scripts/t.luau", script)], |app| {
            app.register_cvar("t_speed", 2.0, "how fast", CVarFlags::empty())
                .add_script("scripts/t.luau");
        });
        h.run_until_event("speed");
        assert_eq!(number(&h, "speed"), Some(2.0), "{order:?}");
        h.app
            .world_mut()
            .resource_mut::<CVarRegistry>()
            .set("t_speed", 3.0)
            .expect("set the CVar");
        h.run_until_event("changed");
        h.assert_no_errors();
        assert_eq!(number(&h, "changed"), Some(3.0), "{order:?}");
    }
}

#[test]
fn add_console_command_works_in_either_order() {
    let script = r#"
local out, ok = console.execute("greet bob")
assert(ok, out)
events.emit("out", out)
"#;
    for order in ORDERS {
        let mut h = harness(order, &[("scripts/t.luau", script)], |app| {
            app.add_console_command("greet", "says hello", |_, args| {
                Ok(format!("hello {}", args.join(" ")))
            })
            .add_script("scripts/t.luau");
        });
        h.run_until_event("out");
        h.assert_no_errors();
        let out = h.payloads("out");
        assert_eq!(out[0].as_str(), Some("hello bob"), "{order:?}");
    }
}

#[test]
fn register_script_component_and_resource_work_in_either_order() {
    let script = r#"
local e = ecs.spawn({ Health = { current = 5, max = 10 } })
events.emit("hp", ecs.get(e, "Health").current)
events.emit("points", ecs.resource("Score").points)
"#;
    for order in ORDERS {
        let mut h = harness(order, &[("scripts/t.luau", script)], |app| {
            app.register_script_component::<Health>()
                .register_script_resource::<Score>()
                .insert_resource(Score { points: 3 })
                .add_script("scripts/t.luau");
        });
        h.run_until_event("points");
        h.assert_no_errors();
        assert_eq!(number(&h, "hp"), Some(5.0), "{order:?}");
        assert_eq!(number(&h, "points"), Some(3.0), "{order:?}");
        let mut healths = h.app.world_mut().query::<&Health>();
        let health = healths.single(h.app.world()).expect("one entity");
        assert_eq!((health.current, health.max), (5.0, 10.0));
    }
}

#[test]
fn register_script_message_works_in_either_order() {
    let script = r#"
events.on("Ping", function(ping)
    events.emit("pong", ping.n)
end)
events.emit("ready")
"#;
    for order in ORDERS {
        let mut h = harness(order, &[("scripts/t.luau", script)], |app| {
            app.register_script_message::<Ping>()
                .add_script("scripts/t.luau");
        });
        h.run_until_event("ready");
        h.app.world_mut().write_message(Ping { n: 7 });
        h.run_until_event("pong");
        h.assert_no_errors();
        assert_eq!(number(&h, "pong"), Some(7.0), "{order:?}");
    }
}
