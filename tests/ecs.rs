//! The `ecs` and `commands` libraries against a real world: serde and reflected components and
//! resources, names, queries, and every error path.

mod common;

use bevy_ecs::entity::{EntityGeneration, EntityIndex};
use bevy_ecs::name::Name;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use common::Harness;
use serde::{Deserialize, Serialize};

#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Health {
    current: f32,
    max: f32,
}

#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
struct Enemy;

#[derive(Component, Reflect, Debug, Clone, PartialEq, Default)]
#[reflect(Component)]
struct Velocity {
    value: Vec3,
    target: Option<Entity>,
}

#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Score {
    points: u32,
}

#[derive(Resource, Reflect, Debug, Clone, PartialEq, Default)]
#[reflect(Resource)]
struct Difficulty {
    level: f32,
}

fn harness(source: &str) -> Harness {
    let mut h = Harness::new(&[("scripts/test.luau", source)]);
    h.app
        .register_script_component::<Health>()
        .register_script_component::<Enemy>()
        .register_script_resource::<Score>()
        .register_type::<Velocity>()
        .register_type::<Difficulty>()
        .insert_resource(Difficulty { level: 1.0 });
    h.app.add_script("scripts/test.luau");
    h
}

fn run(source: &str) -> Harness {
    let mut h = harness(source);
    h.run_until_done();
    h.assert_no_errors();
    h
}

/// The error a script's top level raised.
fn failure(source: &str) -> ScriptError {
    let mut h = harness(source);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    h.take_errors().remove(0)
}

#[test]
fn spawn_get_set_has_remove_and_despawn_a_serde_component() {
    let mut h = run(r#"
        local e = ecs.spawn({Health = {current = 10, max = 10}, Enemy = {}})
        assert(ecs.exists(e))
        local hp = ecs.get(e, "Health")
        assert(hp.current == 10 and hp.max == 10)
        ecs.set(e, "Health", {current = 7, max = 10})
        assert(ecs.get(e, "Health").current == 7, "the next line sees the change")
        assert(ecs.has(e, "Enemy"))
        assert(ecs.remove(e, "Enemy") == true)
        assert(not ecs.has(e, "Enemy"))
        assert(ecs.remove(e, "Enemy") == false)
        assert(ecs.get(e, "Enemy") == nil)
        local gone = ecs.spawn()
        ecs.despawn(gone)
        assert(not ecs.exists(gone))
        events.emit("done", e)
    "#);
    let entity = h.payloads("done")[0].as_entity().expect("an entity");
    let world = h.app.world_mut();
    assert_eq!(
        world.get::<Health>(entity),
        Some(&Health {
            current: 7.0,
            max: 10.0
        })
    );
    assert!(world.get::<Enemy>(entity).is_none());
}

#[test]
fn reflected_components_keep_vectors_and_exact_entities() {
    let mut h = run(r#"
        local target = ecs.spawn()
        local e = ecs.spawn({Velocity = {value = vector.create(1, 2, 3), target = target}})
        local v = ecs.get(e, "Velocity")
        assert(typeof(v.value) == "vector" and v.value == vector.create(1, 2, 3))
        assert(v.target == target, "entities stay entities")
        ecs.set(e, "Velocity", {value = v.value * 2, target = nil})
        assert(ecs.get(e, "Velocity").target == nil)
        events.emit("done", e)
    "#);
    let entity = h.payloads("done")[0].as_entity().expect("an entity");
    let velocity = h.app.world_mut().get::<Velocity>(entity).cloned();
    assert_eq!(
        velocity,
        Some(Velocity {
            value: Vec3::new(2.0, 4.0, 6.0),
            target: None
        })
    );
}

#[test]
fn entities_with_high_generations_round_trip_exactly() {
    let mut h = harness(
        r#"
        events.on("check", function(list)
            local e, same = list[1], list[2]
            assert(e == same, "two conversions of one entity are equal")
            local seen = {}
            seen[e] = true
            assert(seen[same], "entities work as table keys")
            assert(not ecs.exists(e), "no such entity in this world")
            local ok, err = pcall(ecs.get, e, "Health")
            assert(not ok and string.find(tostring(err), "does not exist", 1, true), tostring(err))
            events.emit("done", {e = e, text = tostring(e)})
        end)
        events.emit("ready")
    "#,
    );
    h.run_until_event("ready");
    let high = Entity::from_index_and_generation(
        EntityIndex::from_raw_u32(u32::MAX - 7).expect("index"),
        EntityGeneration::from_bits((1 << 21) + 77),
    );
    let list = ScriptValue::List(vec![high.into(), high.into()]);
    assert_eq!(
        ScriptEngine::emit(h.app.world_mut(), "check", list),
        Ok(false)
    );
    h.update();
    h.assert_no_errors();
    let done = h.payloads("done")[0].as_map().cloned().expect("table");
    assert_eq!(
        done["e"].as_entity().map(Entity::to_bits),
        Some(high.to_bits())
    );
    assert!(
        done["text"]
            .as_str()
            .is_some_and(|t| t.contains(&high.to_string())),
        "{done:?}"
    );
}

#[test]
fn query_returns_entities_with_all_named_components() {
    let mut h = run(r#"
        local a = ecs.spawn({Health = {current = 1, max = 1}, Enemy = {}})
        local b = ecs.spawn({Health = {current = 1, max = 1}})
        local c = ecs.spawn({Enemy = {}})
        local both = ecs.query("Health", "Enemy")
        assert(#both == 1 and both[1] == a)
        assert(#ecs.query("Health") == 2)
        assert(#ecs.query("Enemy", "Enemy") == 2, "names may repeat")
        ecs.despawn(a)
        assert(#ecs.query("Health", "Enemy") == 0)
        assert(#ecs.query("Velocity") == 0, "a reflected component nobody has yet")
        events.emit("done")
    "#);
    let mut enemies = h.app.world_mut().query_filtered::<Entity, With<Enemy>>();
    assert_eq!(enemies.iter(h.app.world()).count(), 1);
}

#[test]
fn names_find_and_rename_entities() {
    let h = run(r#"
        local orc = ecs.spawn({Name = "orc"})
        assert(ecs.name(orc) == "orc")
        assert(ecs.find("orc") == orc)
        ecs.set_name(orc, "boss")
        assert(ecs.find("orc") == nil and ecs.find("boss") == orc)
        assert(ecs.name(ecs.spawn()) == nil)
        events.emit("done", orc)
    "#);
    let entity = h.payloads("done")[0].as_entity().expect("an entity");
    assert_eq!(
        h.app.world().get::<Name>(entity).map(Name::as_str),
        Some("boss")
    );
}

#[test]
fn serde_and_reflected_resources_read_and_write() {
    let mut h = harness(
        r#"
        assert(ecs.resource("Score") == nil, "not inserted yet")
        ecs.set_resource("Score", {points = 3})
        assert(ecs.resource("Score").points == 3)
        assert(ecs.resource("Difficulty").level == 1)
        ecs.set_resource("Difficulty", {level = 2.5})
        events.emit("done")
    "#,
    );
    h.run_until_event("done");
    h.assert_no_errors();
    assert_eq!(h.app.world().resource::<Score>(), &Score { points: 3 });
    assert_eq!(h.app.world().resource::<Difficulty>().level, 2.5);
}

#[test]
fn unknown_names_are_unknown_component_errors() {
    let error = failure("ecs.get(ecs.spawn(), 'Helth')");
    assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
    assert!(
        error.message.contains("ecs.get") && error.message.contains("Helth"),
        "{}",
        error.message
    );
    assert!(
        !error.message.contains("[C]"),
        "the traceback leaves out the crate's own frames: {}",
        error.message
    );
    for fix in [
        "did you mean `Health`?",
        "#[reflect(Component)]",
        "app.register_type::<T>()",
        "app.register_script_component::<T>()",
    ] {
        assert!(error.message.contains(fix), "{fix}: {}", error.message);
    }
    let error = failure("ecs.ref(ecs.spawn(), 'Velocty')");
    assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
    assert!(
        error
            .message
            .contains("ecs.ref: no component named `Velocty`; did you mean `Velocity`?"),
        "{}",
        error.message
    );
    let error = failure("ecs.resource('Scroe')");
    assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
    assert!(
        error
            .message
            .contains("no resource named `Scroe`; did you mean `Score`?")
            && error
                .message
                .contains("app.register_script_resource::<T>()"),
        "{}",
        error.message
    );
    let error = failure("ecs.resource('Nope')");
    assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
    assert!(error.message.contains("resource"), "{}", error.message);
}

#[test]
fn wrong_shapes_are_type_mismatches_naming_the_problem() {
    let error = failure("ecs.spawn({Health = {current = 7}})");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        error.message.contains("Health") && error.message.contains("max"),
        "{}",
        error.message
    );
    let error = failure("ecs.set(ecs.spawn(), 'Health', {current = 'full', max = 1})");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(error.message.contains("ecs.set"), "{}", error.message);
    let error = failure("ecs.set(ecs.spawn(), 'Velocity', {value = 3, target = nil})");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(error.message.contains("value"), "{}", error.message);
    let error = failure("ecs.get('not an entity', 'Health')");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        error.message.contains("ecs.get") && error.message.contains("Entity"),
        "{}",
        error.message
    );
}

#[test]
fn failed_spawn_leaves_nothing_behind() {
    let mut h = harness(
        r#"
        local before = #ecs.query("Enemy")
        local ok = pcall(ecs.spawn, {Enemy = {}, Health = {current = 1}})
        assert(not ok)
        assert(#ecs.query("Enemy") == before)
        events.emit("done")
    "#,
    );
    h.run_until_event("done");
    h.assert_no_errors();
}

#[test]
fn despawned_entities_are_clear_errors() {
    for call in [
        "ecs.get(e, 'Health')",
        "ecs.set(e, 'Health', {current = 1, max = 1})",
        "ecs.has(e, 'Health')",
        "ecs.remove(e, 'Health')",
        "ecs.despawn(e)",
        "ecs.name(e)",
    ] {
        let error = failure(&format!("local e = ecs.spawn()\necs.despawn(e)\n{call}"));
        assert_eq!(
            error.kind,
            ScriptErrorKind::EntityNotFound,
            "{call}: {error:?}"
        );
        assert!(
            error.message.contains("does not exist"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("scripts/test.luau:3"),
            "{}",
            error.message
        );
    }
}

#[test]
fn commands_apply_after_the_step_in_order() {
    let mut h = harness(
        r#"
        local e = ecs.spawn({Health = {current = 1, max = 1}})
        commands.set(e, "Health", {current = 2, max = 2})
        commands.set(e, "Health", {current = 3, max = 3})
        commands.spawn({Enemy = {}})
        commands.emit("applied", e)
        assert(ecs.get(e, "Health").current == 1, "commands wait for the end of the step")
        assert(#ecs.query("Enemy") == 0)
        commands.despawn(ecs.spawn())
        commands.set(ecs.spawn(), "Nope", 1)
        events.emit("issued", e)
    "#,
    );
    h.run_until_event("issued");
    h.update();
    let entity = h.payloads("issued")[0].as_entity().expect("an entity");
    assert_eq!(
        h.app.world().get::<Health>(entity).map(|h| h.current),
        Some(3.0)
    );
    let mut enemies = h.app.world_mut().query_filtered::<Entity, With<Enemy>>();
    assert_eq!(enemies.iter(h.app.world()).count(), 1);
    assert_eq!(h.payloads("applied").len(), 1);
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::UnknownComponent);
    assert!(
        errors[0].message.contains("commands.set"),
        "{}",
        errors[0].message
    );
}

#[test]
fn bad_arguments_to_commands_fail_when_issued() {
    let h = run(r#"
        local ok, err = pcall(commands.set, "not an entity", "Health", {})
        assert(not ok and string.find(tostring(err), "commands.set", 1, true), tostring(err))
        ok, err = pcall(commands.set, ecs.spawn(), "Health", function() end)
        assert(not ok and string.find(tostring(err), "function", 1, true), tostring(err))
        ok, err = pcall(commands.spawn, {Health = coroutine.create(function() end)})
        assert(not ok and string.find(tostring(err), "commands.spawn", 1, true), tostring(err))
        ok, err = pcall(commands.despawn, nil)
        assert(not ok and string.find(tostring(err), "commands.despawn", 1, true), tostring(err))
        events.emit("done")
    "#);
    assert_eq!(h.payloads("done").len(), 1);
}
