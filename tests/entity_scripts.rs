//! Entity scripts: one instance per entity, their methods, despawn, and hot reload that keeps
//! each instance's fields.

mod common;

use bevy_asset::AssetServer;
use bevy_ecs::name::Name;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::Harness;
use serde::{Deserialize, Serialize};

#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Counter {
    value: f64,
}

const COUNTER: &str = r#"
local Counter = {}

function Counter:on_spawn()
    self.count = 0
    self.step = 1
    events.emit("spawned", self.entity)
end

function Counter:on_update(dt)
    self.count += self.step
    ecs.set(self.entity, "Counter", {value = self.count})
end

function Counter:on_event(name, payload)
    if name == "poke" then
        events.emit("poked", {entity = self.entity, payload = payload})
    end
end

function Counter:on_despawn()
    events.emit("despawned", {entity = self.entity, count = self.count})
end

return Counter
"#;

fn harness(files: &[(&str, &str)]) -> Harness {
    let mut h = Harness::new(files);
    h.app.register_script_component::<Counter>();
    h
}

fn spawn_scripted(h: &mut Harness, path: &str, n: usize) -> Vec<Entity> {
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load(path.to_owned());
    (0..n)
        .map(|_| h.app.world_mut().spawn(Script::new(handle.clone())).id())
        .collect()
}

fn counter(h: &Harness, entity: Entity) -> Option<f64> {
    h.app.world().get::<Counter>(entity).map(|c| c.value)
}

#[test]
fn each_entity_gets_its_own_instance() {
    let mut h = harness(&[("scripts/counter.luau", COUNTER)]);
    let entities = spawn_scripted(&mut h, "scripts/counter.luau", 3);
    h.run_until("three spawns", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 3
    });
    h.update();
    h.update();
    h.assert_no_errors();
    let first = counter(&h, entities[0]);
    for entity in &entities {
        assert_eq!(
            counter(&h, *entity),
            first,
            "instances started together count together"
        );
    }
    // A later entity starts from its own zero.
    let late = spawn_scripted(&mut h, "scripts/counter.luau", 1)[0];
    h.update();
    let late_first = counter(&h, late).expect("on_update ran in the step that spawned it");
    h.update();
    assert_eq!(counter(&h, late), Some(late_first + 1.0));
    assert!(
        counter(&h, entities[0]) > counter(&h, late),
        "each instance has its own count"
    );
}

#[test]
fn on_event_reaches_instances_when_no_handler_consumed_it() {
    let mut h = harness(&[("scripts/counter.luau", COUNTER)]);
    let entities = spawn_scripted(&mut h, "scripts/counter.luau", 2);
    h.run_until("spawns", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 2
    });
    assert_eq!(
        ScriptEngine::emit(h.app.world_mut(), "poke", 42.0),
        Ok(false)
    );
    h.update();
    let poked = h.payloads("poked");
    assert_eq!(poked.len(), 2);
    let first = poked[0].as_map().expect("table");
    assert_eq!(first["entity"].as_entity(), Some(entities[0]));
    assert_eq!(first["payload"], ScriptValue::Number(42.0));
}

#[test]
fn despawn_calls_on_despawn_exactly_once() {
    let mut h = harness(&[
        ("scripts/counter.luau", COUNTER),
        (
            "scripts/killer.luau",
            "events.on('kill', function(e) ecs.despawn(e) end)",
        ),
    ]);
    h.app.add_script("scripts/killer.luau");
    let entities = spawn_scripted(&mut h, "scripts/counter.luau", 3);
    h.run_until("spawns", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 3
    });
    h.update();
    let instances = |h: &Harness| {
        h.app
            .world()
            .resource::<ScriptEngine>()
            .entity_script_instances()
    };
    assert_eq!(instances(&h), 3);
    // From Lua: on_despawn runs at once, with the entity still there.
    ScriptEngine::emit(h.app.world_mut(), "kill", entities[0]).expect("handler runs");
    // From Rust: on_despawn runs in the next step.
    h.app.world_mut().despawn(entities[1]);
    // Removing the component counts as a despawn of the script.
    h.app.world_mut().entity_mut(entities[2]).remove::<Script>();
    for _ in 0..3 {
        h.update();
    }
    h.assert_no_errors();
    assert_eq!(
        instances(&h),
        0,
        "no instance outlives its entity or its script"
    );
    let despawned = h.payloads("despawned");
    assert_eq!(despawned.len(), 3, "{despawned:?}");
    for entity in &entities {
        let calls = despawned
            .iter()
            .filter(|d| d.as_map().and_then(|m| m["entity"].as_entity()) == Some(*entity))
            .count();
        assert_eq!(calls, 1, "on_despawn of {entity}");
    }
    assert!(
        h.app.world().get_entity(entities[2]).is_ok(),
        "only the script went away"
    );
    let count = counter(&h, entities[2]);
    h.update();
    assert_eq!(
        counter(&h, entities[2]),
        count,
        "a removed script no longer updates"
    );
}

#[test]
fn an_erroring_instance_does_not_stop_the_others() {
    let script = r#"
        local S = {}
        function S:on_update()
            if ecs.name(self.entity) == "bad" then error("bad entity") end
            events.emit("ok", self.entity)
        end
        return S
    "#;
    let mut h = harness(&[("scripts/mixed.luau", script)]);
    let entities = spawn_scripted(&mut h, "scripts/mixed.luau", 2);
    h.app
        .world_mut()
        .entity_mut(entities[0])
        .insert(Name::new("bad"));
    h.run_until_event("ok");
    h.take_events();
    h.take_errors();
    h.update();
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].script, "scripts/mixed.luau");
    assert!(
        errors[0].message.contains(&entities[0].to_string()),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("scripts/mixed.luau:4"),
        "{}",
        errors[0].message
    );
    assert_eq!(h.payloads("ok"), vec![ScriptValue::Entity(entities[1])]);
}

#[test]
fn a_script_that_returns_no_table_is_a_type_mismatch() {
    let mut h = harness(&[("scripts/nothing.luau", "local x = 1")]);
    spawn_scripted(&mut h, "scripts/nothing.luau", 1);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        error.message.contains("table of methods"),
        "{}",
        error.message
    );
}

#[test]
fn scripts_spawn_scripted_entities() {
    let mut h = harness(&[
        ("scripts/counter.luau", COUNTER),
        (
            "scripts/spawner.luau",
            "ecs.spawn({Script = 'scripts/counter.luau', Counter = {value = -1}})",
        ),
    ]);
    h.app.add_script("scripts/spawner.luau");
    h.run_until_event("spawned");
    h.update();
    let spawned = h.payloads("spawned")[0].as_entity().expect("entity");
    // on_update ran in the step of on_spawn and in the one after.
    assert_eq!(counter(&h, spawned), Some(2.0));
    h.assert_no_errors();
}

#[test]
fn hot_reload_keeps_instance_fields() {
    let mut h = harness(&[("scripts/counter.luau", COUNTER)]);
    let entities = spawn_scripted(&mut h, "scripts/counter.luau", 2);
    h.run_until("spawns", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 2
    });
    for _ in 0..5 {
        h.update();
    }
    let before = counter(&h, entities[0]).expect("counter");
    // The new version counts by ten; on_spawn must not run again.
    h.write(
        "scripts/counter.luau",
        &COUNTER.replace("self.count += self.step", "self.count += self.step * 10"),
    );
    h.run_until_a_frame_adds("the new version to take effect", 10.0, |h| {
        counter(h, entities[0]).expect("counter")
    });
    let after = counter(&h, entities[0]).expect("counter");
    assert!(after > before, "fields kept: {before} -> {after}");
    assert_eq!(
        h.payloads("spawned").len(),
        2,
        "on_spawn ran once per entity"
    );
    // A broken version keeps the working methods.
    h.write(
        "scripts/counter.luau",
        "local C = {}\nfunction C:on_update( end\nreturn C",
    );
    h.run_until("a compile error", |seen| !seen.errors.is_empty());
    let a = counter(&h, entities[1]).expect("counter");
    h.update();
    assert_eq!(counter(&h, entities[1]).expect("counter") - a, 10.0);
    // One ScriptLoaded for the class's first version and one for the reload, none per entity
    // and none for the broken save.
    let loaded: Vec<_> = h.seen().loaded.iter().map(|l| l.reloaded).collect();
    assert_eq!(loaded, vec![false, true], "{:?}", h.seen().loaded);
    assert!(
        h.seen()
            .loaded
            .iter()
            .all(|l| l.path == "scripts/counter.luau")
    );
}

#[test]
fn an_instance_despawned_earlier_in_the_frame_is_not_updated() {
    let script = r#"
        local S = {}
        function S:on_update()
            local victim = ecs.find("victim")
            if ecs.name(self.entity) == "killer" and victim then
                ecs.despawn(victim)
            end
            events.emit("updated", ecs.name(self.entity))
        end
        return S
    "#;
    let mut h = harness(&[("scripts/s.luau", script)]);
    let entities = spawn_scripted(&mut h, "scripts/s.luau", 2);
    h.app
        .world_mut()
        .entity_mut(entities[0])
        .insert(Name::new("killer"));
    h.app
        .world_mut()
        .entity_mut(entities[1])
        .insert(Name::new("victim"));
    h.run_until_event("updated");
    h.update();
    h.assert_no_errors();
    let updated = h.payloads("updated");
    assert!(
        updated.iter().all(|n| n.as_str() == Some("killer")),
        "{updated:?}"
    );
    assert!(h.app.world().get_entity(entities[1]).is_err());
}
