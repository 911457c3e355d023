//! Component references (`ecs.ref`, `ecs.value`), `ecs.each`, and the fast path of world access:
//! what references read and write, change detection, every error path, errors that stay those
//! of the safe path, the memory limit, and world access outside the scripting step.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::{Quat, Vec3};
use bevy_reflect::Reflect;
use bevy_transform::components::Transform;
use common::{Harness, LUA_PRELUDE};
use serde::{Deserialize, Serialize};

/// A serde component: it crosses by value and has no references.
#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Health {
    current: f32,
    max: f32,
}

/// A flat reflected component.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[reflect(Component)]
struct Stamina {
    current: f32,
    max: f32,
}

/// A reflected component with a field of every leaf kind and a nested struct.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[reflect(Component)]
struct Unit {
    name: String,
    level: u32,
    alive: bool,
    home: Entity,
    leader: Option<Entity>,
    stats: Stats,
}

#[derive(Reflect, Debug, Clone, PartialEq)]
struct Stats {
    speed: f32,
    armor: f32,
}

/// A reflected newtype: a component, but not a struct with named fields.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[reflect(Component)]
struct Score(u32);

/// Helpers every test script starts with (after the harness's `fails`). Globals, so that the
/// chunks `call` runs, which see the script's globals but not its locals, have them too.
const PRELUDE: &str = r#"
-- "5v1" for Entity(5v1), as messages spell an entity.
function id(e)
    return string.match(tostring(e), "^Entity%((.+)%)$")
end
-- `fails` of the harness prelude.
function must_fail(expected, f, ...)
    return fails(expected, f, ...)
end
-- Runs `p.code` with `p` as its argument: one script tries many calls, each raising its own
-- uncaught error.
events.on("call", function(p)
    local f = assert(loadstring(p.code))
    f(p)
end)
"#;

/// An app whose script `scripts/t.luau` is `handlers` after the preludes, with the test's
/// components registered. Returns once the script has loaded.
fn harness(handlers: &str) -> Harness {
    harness_with(ScriptConfig::default(), handlers)
}

fn harness_with(config: ScriptConfig, handlers: &str) -> Harness {
    let source = format!("{LUA_PRELUDE}\n{PRELUDE}\n{handlers}\nevents.emit(\"ready\")\n");
    let mut h =
        Harness::with_config(config, &[("scripts/t.luau", &source)]).scripts(&["scripts/t.luau"]);
    h.app
        .register_script_component::<Health>()
        .register_type::<Stamina>()
        .register_type::<Unit>()
        .register_type::<Score>()
        .register_type::<Transform>();
    h.run_until_event("ready");
    h
}

/// A table of named values, as the payload of an event.
fn args(pairs: &[(&str, ScriptValue)]) -> ScriptValue {
    ScriptValue::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Runs the script's handler of `event` now, with world access.
fn emit(
    h: &mut Harness,
    event: &str,
    payload: impl Into<ScriptValue>,
) -> Result<bool, ScriptError> {
    ScriptEngine::emit(h.app.world_mut(), event, payload)
}

/// Runs the handler of `event` and fails the test if it raised an error (a failing `assert`).
fn run(h: &mut Harness, event: &str, payload: impl Into<ScriptValue>) {
    if let Err(error) = emit(h, event, payload) {
        panic!("{error}");
    }
}

/// Runs `code` with `p` (the table of `pairs`, plus `code`) as its argument.
fn call(h: &mut Harness, code: &str, pairs: &[(&str, ScriptValue)]) -> Result<bool, ScriptError> {
    let mut all = vec![("code", ScriptValue::String(code.to_owned()))];
    all.extend(pairs.iter().cloned());
    emit(h, "call", args(&all))
}

/// Runs `code` like [`call`] and fails the test if it raised an error.
fn call_ok(h: &mut Harness, code: &str, pairs: &[(&str, ScriptValue)]) {
    if let Err(error) = call(h, code, pairs) {
        panic!("{code}\n{error}");
    }
}

/// The error `code` raises, run like [`call`] after `local p = ...`, so that `p` is the table
/// of `pairs`.
fn call_err(h: &mut Harness, code: &str, pairs: &[(&str, ScriptValue)]) -> ScriptError {
    match call(h, &format!("local p = ...\n{code}"), pairs) {
        Err(error) => error,
        Ok(_) => panic!("expected an error from: {code}"),
    }
}

/// The message of an error without its traceback.
fn text(error: &ScriptError) -> &str {
    error
        .message
        .split("\nstack traceback")
        .next()
        .unwrap_or_default()
}

/// Fails the test unless `code` raises an error of `kind` whose message (before the traceback)
/// is `expected`.
fn assert_error(
    h: &mut Harness,
    code: &str,
    pairs: &[(&str, ScriptValue)],
    kind: ScriptErrorKind,
    expected: &str,
) {
    let error = call_err(h, code, pairs);
    assert_eq!(error.kind, kind, "{code}: {}", error.message);
    assert_eq!(text(&error), expected, "{code}");
}

/// The message of an unknown component `name` in `function`, with `close` (a suggestion, or
/// `.`) after the name.
fn unknown_component(function: &str, name: &str, close: &str) -> String {
    format!(
        "{function}: no component named `{name}`{close} To reach a type from Lua, derive \
         Reflect with #[reflect(Component)] (a generic type also needs \
         `app.register_type::<T>()`), or register a serde component with \
         `app.register_script_component::<T>()`"
    )
}

/// Fails the test unless each `(code, what)` of `cases`, run like [`call_err`] without
/// arguments, raises an error of `kind` whose message is `ComponentRef({what}): {cause}`.
fn assert_ref_errors(h: &mut Harness, kind: ScriptErrorKind, cause: &str, cases: &[(&str, &str)]) {
    for (code, what) in cases {
        let expected = format!("ComponentRef({what}): {cause}");
        assert_error(h, code, &[], kind, &expected);
    }
}

/// The message (before the traceback) of the error `code` raises, run like [`call_err`];
/// fails the test unless it is a type mismatch.
fn type_mismatch(h: &mut Harness, code: &str, pairs: &[(&str, ScriptValue)]) -> String {
    let error = call_err(h, code, pairs);
    assert_eq!(
        error.kind,
        ScriptErrorKind::TypeMismatch,
        "{code}: {}",
        error.message
    );
    text(&error).to_owned()
}

/// The VM memory limit of the tests that reach it.
const MEMORY_LIMIT: usize = 4 * 1024 * 1024;

/// [`harness`] with a memory limit of [`MEMORY_LIMIT`].
fn limited_harness(handlers: &str) -> Harness {
    let config = ScriptConfig {
        memory_limit: MEMORY_LIMIT,
        ..Default::default()
    };
    harness_with(config, handlers)
}

/// An app whose script keeps, on `keep`, a reference to the entity's `Transform` as `kept` and
/// one to its translation as `kept_position`; returns it once `bundle`'s entity is kept.
fn keeping_a_transform(bundle: impl Bundle) -> (Harness, Entity) {
    let mut h = harness(
        r#"
        events.on("keep", function(e)
            kept = ecs.ref(e, "Transform")
            kept_position = kept.translation
        end)
        "#,
    );
    let e = h.app.world_mut().spawn(bundle).id();
    run(&mut h, "keep", e);
    h.update();
    (h, e)
}

/// An app with an empty script and an entity of `bundle`.
fn harness_with_entity(bundle: impl Bundle) -> (Harness, Entity) {
    let mut h = harness("");
    let e = h.app.world_mut().spawn(bundle).id();
    (h, e)
}

/// An app with an empty script, an entity `home` and an orc: `unit(home)` and `placed()`.
/// Returns the app, the orc and its home.
fn harness_with_orc() -> (Harness, Entity, Entity) {
    let mut h = harness("");
    let home = h.app.world_mut().spawn_empty().id();
    let e = h.app.world_mut().spawn((unit(home), placed())).id();
    (h, e, home)
}

fn unit(home: Entity) -> Unit {
    Unit {
        name: "orc".to_owned(),
        level: 3,
        alive: true,
        home,
        leader: None,
        stats: Stats {
            speed: 1.5,
            armor: 2.0,
        },
    }
}

fn health(current: f32, max: f32) -> Health {
    Health { current, max }
}

fn stamina(current: f32) -> Stamina {
    Stamina {
        current,
        max: 100.0,
    }
}

fn placed() -> Transform {
    Transform::from_xyz(1.0, 2.0, 3.0).with_scale(Vec3::splat(2.0))
}

// ---------------------------------------------------------------------------------------------
// Reading and writing through references
// ---------------------------------------------------------------------------------------------

#[test]
fn reference_fields_read_and_write_the_component() {
    let mut h = harness("");
    let home = h.app.world_mut().spawn_empty().id();
    let e = h.app.world_mut().spawn(unit(home)).id();
    call_ok(
        &mut h,
        r#"
        local p = ...
        local u = ecs.ref(p.e, "Unit")
        assert(u.name == "orc" and u.level == 3 and u.alive == true)
        assert(u.home == p.home, "an entity field gives the entity")
        assert(u.leader == nil)
        assert(typeof(u.stats) == "ComponentRef", "a nested struct gives a reference: " .. typeof(u.stats))
        assert(u.stats.speed == 1.5 and u.stats.armor == 2)
        u.level += 1
        u.name = "boss"
        u.alive = false
        u.leader = p.home
        u.stats.speed *= 2
        assert(u.level == 4 and u.name == "boss" and u.alive == false and u.leader == p.home)
        assert(u.stats.speed == 3)
        local plain = ecs.get(p.e, "Unit")
        assert(plain.level == 4 and plain.stats.speed == 3, "ecs.get sees the writes at once")
        u.stats = {speed = 7, armor = 8}
        assert(u.stats.speed == 7 and u.stats.armor == 8, "a nested struct field takes a table")
        "#,
        &[("e", e.into()), ("home", home.into())],
    );
    let expected = Unit {
        name: "boss".to_owned(),
        level: 4,
        alive: false,
        home,
        leader: Some(home),
        stats: Stats {
            speed: 7.0,
            armor: 8.0,
        },
    };
    assert_eq!(h.app.world().get::<Unit>(e), Some(&expected));
}

#[test]
fn ref_of_an_entity_without_the_component_is_nil() {
    let (mut h, bare) = harness_with_entity(health(1.0, 1.0));
    call_ok(
        &mut h,
        r#"
        local p = ...
        assert(ecs.ref(p.bare, "Stamina") == nil)
        assert(ecs.ref(p.bare, "Transform") == nil)
        "#,
        &[("bare", bare.into())],
    );
}

#[test]
fn nested_transform_fields_change_in_place() {
    let (mut h, e) = harness_with_entity(placed());
    call_ok(
        &mut h,
        r#"
        local e = (...).e
        local t = ecs.ref(e, "Transform")
        assert(typeof(t.translation) == "ComponentRef", typeof(t.translation))
        assert(t.translation.x == 1 and t.translation.y == 2 and t.translation.z == 3)
        t.translation.x += 1
        t.translation.y = 5
        assert(t.translation.x == 2 and t.translation.y == 5 and t.translation.z == 3)
        assert(transform.position(e) == vector.create(2, 5, 3), "the transform library sees it")
        t.scale = vector.create(2, 3, 4)
        assert(ecs.value(t.scale) == vector.create(2, 3, 4), "a Vec3 field takes a vector")
        assert(typeof(t.rotation) == "ComponentRef" and t.rotation.w == 1, "a Quat is a reference too")
        "#,
        &[("e", e.into())],
    );
    let t = *h.app.world().get::<Transform>(e).expect("a transform");
    assert_eq!(t.translation, Vec3::new(2.0, 5.0, 3.0));
    assert_eq!(t.scale, Vec3::new(2.0, 3.0, 4.0));
    assert_eq!(t.rotation, Quat::IDENTITY);
}

#[test]
fn the_transform_library_takes_vector_references_as_vectors() {
    let (mut h, e) = harness_with_entity(placed());
    call_ok(
        &mut h,
        r#"
        local e = (...).e
        local t = ecs.ref(e, "Transform")
        transform.translate(e, t.translation)
        assert(transform.position(e) == vector.create(2, 4, 6), "translate by the reference's value")
        transform.set_scale(e, t.translation)
        assert(transform.scale(e) == vector.create(2, 4, 6))
        transform.look_at(e, t.translation + vector.create(0, 0, -1))
        transform.look_at(e, t.scale, vector.create(0, 1, 0))
        "#,
        &[("e", e.into())],
    );
    let error = call_err(
        &mut h,
        "transform.set_position(p.e, ecs.ref(p.e, 'Transform').rotation)",
        &[("e", e.into())],
    );
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        text(&error).contains(
            "bad argument #2 to `transform.set_position`: expected a vector, got a reference to"
        ),
        "{}",
        text(&error)
    );
    // A reference whose entity is gone says so, as ecs.value would.
    let error = call_err(
        &mut h,
        "local at = ecs.ref(p.e, 'Transform').translation; ecs.despawn(p.e); transform.set_position(p.e, at)",
        &[("e", e.into())],
    );
    assert_eq!(error.kind, ScriptErrorKind::EntityNotFound, "{error}");
    assert!(
        text(&error).contains("transform.set_position: ")
            && text(&error).contains("does not exist"),
        "{}",
        text(&error)
    );
}

#[test]
fn vector_references_do_arithmetic_and_give_vectors() {
    let (mut h, e) = harness_with_entity(placed());
    call_ok(
        &mut h,
        r#"
        local t = ecs.ref((...).e, "Transform")
        local up = t.translation + vector.create(0, 1, 0)
        assert(typeof(up) == "vector" and up == vector.create(1, 3, 3))
        assert(vector.create(0, 1, 0) + t.translation == vector.create(1, 3, 3), "a vector on the left")
        assert(t.translation - vector.one == vector.create(0, 1, 2))
        assert(-t.translation == vector.create(-1, -2, -3))
        assert(t.scale * 2 == vector.create(4, 4, 4))
        assert(2 * t.scale == vector.create(4, 4, 4))
        assert(t.scale / 2 == vector.one)
        assert(4 / t.scale == vector.create(2, 2, 2))
        assert(t.translation * t.scale == vector.create(2, 4, 6), "two references")
        assert(t.translation / t.scale == vector.create(0.5, 1, 1.5))
        t.translation += vector.create(1, 1, 1)
        assert(ecs.value(t.translation) == vector.create(2, 3, 4))
        t.translation = t.translation * 2
        assert(ecs.value(t.translation) == vector.create(4, 6, 8))
        "#,
        &[("e", e.into())],
    );
    let t = h.app.world().get::<Transform>(e).expect("a transform");
    assert_eq!(t.translation, Vec3::new(4.0, 6.0, 8.0));
}

#[test]
fn value_gives_a_plain_copy_of_what_a_reference_stands_for() {
    let (mut h, e, home) = harness_with_orc();
    call_ok(
        &mut h,
        r#"
        local p = ...
        local u = ecs.ref(p.e, "Unit")
        local v = ecs.value(u)
        assert(type(v) == "table", type(v))
        assert(v.name == "orc" and v.level == 3 and v.alive == true and v.home == p.home)
        assert(v.leader == nil and v.stats.speed == 1.5 and v.stats.armor == 2)
        local stats = ecs.value(u.stats)
        assert(type(stats) == "table" and stats.speed == 1.5 and stats.armor == 2)
        v.level = 99
        stats.speed = 99
        assert(u.level == 3 and u.stats.speed == 1.5, "the value is a copy")
        local t = ecs.ref(p.e, "Transform")
        local position = ecs.value(t.translation)
        assert(typeof(position) == "vector" and position == vector.create(1, 2, 3))
        local whole, plain = ecs.value(t), ecs.get(p.e, "Transform")
        assert(whole.translation == plain.translation and whole.scale == plain.scale)
        assert(whole.rotation.w == plain.rotation.w, "the same value as ecs.get gives")
        "#,
        &[("e", e.into()), ("home", home.into())],
    );
    assert_eq!(h.app.world().get::<Unit>(e), Some(&unit(home)));
}

#[test]
fn references_print_compare_and_type_as_component_refs() {
    let (mut h, e) = harness_with_entity((placed(), stamina(1.0)));
    let other = h.app.world_mut().spawn(placed()).id();
    call_ok(
        &mut h,
        r#"
        local p = ...
        local a, b = ecs.ref(p.e, "Transform"), ecs.ref(p.e, "Transform")
        assert(typeof(a) == "ComponentRef" and type(a) == "userdata", typeof(a))
        assert(tostring(a) == "ComponentRef(Transform of " .. id(p.e) .. ")", tostring(a))
        local text = tostring(a.translation)
        assert(text == "ComponentRef(Transform.translation of " .. id(p.e) .. ")", text)
        assert(a == b, "the same entity and component")
        assert(a.translation == b.translation, "the same field path")
        assert(a ~= a.translation and a.translation ~= a.scale)
        assert(a ~= ecs.ref(p.other, "Transform"), "another entity")
        assert(ecs.ref(p.e, "Stamina") ~= a, "another component")
        assert(a ~= 1 and a ~= "Transform")
        "#,
        &[("e", e.into()), ("other", other.into())],
    );
}

#[test]
fn a_kept_reference_follows_the_component_across_frames() {
    let mut h = harness(
        r#"
        events.on("keep", function(e) kept = ecs.ref(e, "Stamina") end)
        events.on("check", function(expected)
            assert(kept.current == expected, "kept.current is " .. tostring(kept.current))
            kept.max = expected * 2
        end)
        "#,
    );
    let e = h.app.world_mut().spawn(stamina(10.0)).id();
    run(&mut h, "keep", e);
    for frame in 1..=3 {
        h.update();
        let value = frame as f32 * 5.0;
        h.app
            .world_mut()
            .get_mut::<Stamina>(e)
            .expect("stamina")
            .current = value;
        h.update();
        run(&mut h, "check", f64::from(value));
        let now = h.app.world().get::<Stamina>(e).cloned();
        assert_eq!(
            now,
            Some(Stamina {
                current: value,
                max: value * 2.0
            })
        );
    }
    h.assert_no_errors();
}

// ---------------------------------------------------------------------------------------------
// Change detection
// ---------------------------------------------------------------------------------------------

/// The entities whose `Stamina` changed, per frame, seen after the scripting step.
#[derive(Resource, Default)]
struct ChangedStamina(Vec<Vec<Entity>>);

fn watch_stamina(changed: Query<Entity, Changed<Stamina>>, mut seen: ResMut<ChangedStamina>) {
    seen.0.push(changed.iter().collect());
}

#[test]
fn writes_through_a_reference_are_changes_and_reads_are_not() {
    let mut h = harness(
        r#"
        local mode = "idle"
        events.on("mode", function(m) mode = m end)
        hooks.on_update(function()
            local e = ecs.query("Stamina")[1]
            if e == nil then return end
            local r = ecs.ref(e, "Stamina")
            if mode == "read" then
                local total = r.current + r.max
                assert(ecs.value(r).current + ecs.get(e, "Stamina").max == total)
                for _, s in ecs.each("Stamina") do
                    assert(s.current == r.current)
                end
            elseif mode == "refused" then
                fails("expected a number", function() r.current = "lots" end)
                fails("no field", function() r.nope = 1 end)
            elseif mode == "write" then
                r.current -= 1
            end
        end)
        "#,
    );
    h.app
        .init_resource::<ChangedStamina>()
        .add_systems(Update, watch_stamina.after(ScriptingSystem));
    let e = h.app.world_mut().spawn(stamina(50.0)).id();
    h.update();
    assert_eq!(
        h.app.world().resource::<ChangedStamina>().0.last(),
        Some(&vec![e]),
        "spawning is a change"
    );
    for (mode, changed) in [
        ("read", vec![]),
        ("refused", vec![]),
        ("write", vec![e]),
        ("idle", vec![]),
    ] {
        run(&mut h, "mode", mode);
        h.update();
        h.assert_no_errors();
        let frames = &h.app.world().resource::<ChangedStamina>().0;
        assert_eq!(frames.last(), Some(&changed), "a frame that does `{mode}`");
    }
    assert_eq!(h.app.world().get::<Stamina>(e), Some(&stamina(49.0)));
}

// ---------------------------------------------------------------------------------------------
// Errors of references
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reference_to_a_despawned_entity_is_an_entity_not_found_error() {
    let (mut h, e) = keeping_a_transform(placed());
    h.app.world_mut().despawn(e);
    h.update();
    let gone = format!("entity {e} does not exist (was it despawned?)");
    assert_ref_errors(
        &mut h,
        ScriptErrorKind::EntityNotFound,
        &gone,
        &[
            ("return kept.translation", "Transform"),
            ("kept.scale = vector.one", "Transform"),
            ("return kept_position.x", "Transform.translation"),
            ("kept_position.x = 1", "Transform.translation"),
            ("return kept_position + vector.one", "Transform.translation"),
            ("return -kept_position", "Transform.translation"),
        ],
    );
}

#[test]
fn value_of_a_reference_that_lost_its_component_keeps_the_error_kind() {
    let mut h = harness(
        r#"
        events.on("keep", function(p)
            gone = ecs.ref(p.gone, "Stamina")
            stripped = ecs.ref(p.stripped, "Stamina")
        end)
        "#,
    );
    let gone = h.app.world_mut().spawn(stamina(1.0)).id();
    let stripped = h.app.world_mut().spawn(stamina(2.0)).id();
    run(
        &mut h,
        "keep",
        args(&[("gone", gone.into()), ("stripped", stripped.into())]),
    );
    h.app.world_mut().despawn(gone);
    h.app.world_mut().entity_mut(stripped).remove::<Stamina>();
    h.update();
    // What every other access through these references gives.
    use ScriptErrorKind::{EntityNotFound, UnknownComponent};
    let despawned = format!("entity {gone} does not exist (was it despawned?)");
    let removed = format!("entity {stripped} no longer has the component");
    for (code, kind, expected) in [
        (
            "return gone.current",
            EntityNotFound,
            format!("ComponentRef(Stamina): {despawned}"),
        ),
        (
            "return ecs.value(gone)",
            EntityNotFound,
            format!("ecs.value: ComponentRef(Stamina): {despawned}"),
        ),
        (
            "return ecs.value(stripped)",
            UnknownComponent,
            format!("ecs.value: ComponentRef(Stamina): {removed}"),
        ),
    ] {
        assert_error(&mut h, code, &[], kind, &expected);
    }
}

#[test]
fn a_reference_to_a_removed_component_is_an_unknown_component_error() {
    let (mut h, e) = keeping_a_transform((placed(), stamina(1.0)));
    h.app.world_mut().entity_mut(e).remove::<Transform>();
    h.update();
    let removed = format!("entity {e} no longer has the component");
    assert_ref_errors(
        &mut h,
        ScriptErrorKind::UnknownComponent,
        &removed,
        &[
            ("return kept.translation", "Transform"),
            ("kept.scale = vector.one", "Transform"),
            ("return kept_position.x", "Transform.translation"),
            ("kept_position.y = 1", "Transform.translation"),
            ("return kept_position * 2", "Transform.translation"),
        ],
    );
    // The component back: the kept reference reaches the new one.
    h.app
        .world_mut()
        .entity_mut(e)
        .insert(Transform::from_xyz(7.0, 0.0, 0.0));
    call_ok(
        &mut h,
        "assert(kept.translation.x == 7 and kept_position.x == 7)",
        &[],
    );
}

#[test]
fn unknown_fields_are_errors_listing_the_fields() {
    let (mut h, e) = harness_with_entity((stamina(1.0), placed()));
    let e = [("e", ScriptValue::from(e))];
    for (code, expected) in [
        (
            "return ecs.ref(p.e, 'Stamina').curent",
            r#"ComponentRef(Stamina): no field string "curent"; fields are current, max"#,
        ),
        (
            "ecs.ref(p.e, 'Stamina').curent = 1",
            r#"ComponentRef(Stamina): no field string "curent"; fields are current, max"#,
        ),
        (
            "return ecs.ref(p.e, 'Stamina')[1]",
            "ComponentRef(Stamina): no field number 1; fields are current, max",
        ),
        (
            "return ecs.ref(p.e, 'Transform').translation.w",
            r#"ComponentRef(Transform.translation): no field string "w"; fields are x, y, z"#,
        ),
        (
            "ecs.ref(p.e, 'Transform').position = vector.one",
            r#"ComponentRef(Transform): no field string "position"; fields are translation, rotation, scale"#,
        ),
    ] {
        assert_error(&mut h, code, &e, ScriptErrorKind::TypeMismatch, expected);
    }
}

#[test]
fn values_that_do_not_fit_are_type_mismatches_and_change_nothing() {
    let (mut h, e, home) = harness_with_orc();
    let payload = [("e", ScriptValue::from(e))];
    for (code, field) in [
        ("ecs.ref(p.e, 'Unit').level = 'high'", "level"),
        ("ecs.ref(p.e, 'Unit').level = 1.5", "level"),
        ("ecs.ref(p.e, 'Unit').level = -1", "level"),
        ("ecs.ref(p.e, 'Unit').alive = 1", "alive"),
        ("ecs.ref(p.e, 'Unit').name = {}", "name"),
        (
            "ecs.ref(p.e, 'Unit').stats = {speed = 9, armor = 'thick'}",
            "stats",
        ),
        ("ecs.ref(p.e, 'Unit').stats = {speed = 9}", "stats"),
        ("ecs.ref(p.e, 'Unit').stats = 9", "stats"),
        ("ecs.ref(p.e, 'Unit').stats.speed = 'fast'", "speed"),
        ("ecs.ref(p.e, 'Transform').translation = 5", "translation"),
        (
            "ecs.ref(p.e, 'Transform').translation = {1, 2, 3}",
            "translation",
        ),
        ("ecs.ref(p.e, 'Transform').translation.x = 'far'", "x"),
    ] {
        let text = type_mismatch(&mut h, code, &payload);
        assert!(
            text.starts_with("ComponentRef(") && text.contains(field),
            "{code}: {text}"
        );
    }
    assert_eq!(h.app.world().get::<Unit>(e), Some(&unit(home)));
    assert_eq!(h.app.world().get::<Transform>(e), Some(&placed()));
}

#[test]
fn ref_refuses_what_it_cannot_reference() {
    let (mut h, e) = harness_with_entity((health(1.0, 1.0), Score(3), stamina(1.0)));
    let gone = h.app.world_mut().spawn(stamina(1.0)).id();
    h.app.world_mut().despawn(gone);
    let payload = [("e", ScriptValue::from(e)), ("gone", gone.into())];
    let cases = [
        (
            "ecs.ref(p.e, 'Health')",
            ScriptErrorKind::TypeMismatch,
            "ecs.ref: component `Health` crosses through serde; references need reflection \
             (#[derive(Reflect)] with #[reflect(Component)]), so use ecs.get and ecs.set"
                .to_owned(),
        ),
        (
            "ecs.ref(p.e, 'Score')",
            ScriptErrorKind::TypeMismatch,
            "ecs.ref: component `Score` is not a struct with named fields; use ecs.get and ecs.set"
                .to_owned(),
        ),
        (
            "ecs.ref('orc', 'Stamina')",
            ScriptErrorKind::TypeMismatch,
            r#"bad argument #1 to `ecs.ref`: expected an Entity, got string "orc""#.to_owned(),
        ),
        (
            "ecs.ref(1.5, 'Stamina')",
            ScriptErrorKind::TypeMismatch,
            "bad argument #1 to `ecs.ref`: expected an Entity, got number 1.5".to_owned(),
        ),
        (
            "ecs.ref(nil, 'Stamina')",
            ScriptErrorKind::TypeMismatch,
            "bad argument #1 to `ecs.ref`: expected an Entity, got nil".to_owned(),
        ),
        (
            "ecs.ref(p.gone, 'Stamina')",
            ScriptErrorKind::EntityNotFound,
            format!("ecs.ref: entity {gone} does not exist (was it despawned?)"),
        ),
        (
            "ecs.ref(p.e, 'Stamna')",
            ScriptErrorKind::UnknownComponent,
            unknown_component("ecs.ref", "Stamna", "; did you mean `Stamina`?"),
        ),
    ];
    for (code, kind, expected) in cases {
        assert_error(&mut h, code, &payload, kind, &expected);
    }
}

#[test]
fn value_of_something_else_than_a_reference_is_an_error_naming_ecs_value() {
    let (mut h, e) = harness_with_entity(stamina(1.0));
    let payload = [("e", ScriptValue::from(e))];
    for (code, got) in [
        ("ecs.value('Stamina')", r#"string "Stamina""#),
        ("ecs.value({current = 1})", "table"),
        ("ecs.value()", "nil"),
        ("ecs.value(p.e)", &format!("Entity({e})")),
        ("ecs.value(ecs.value(ecs.ref(p.e, 'Stamina')))", "table"),
    ] {
        assert_error(
            &mut h,
            code,
            &payload,
            ScriptErrorKind::TypeMismatch,
            &format!("bad argument #1 to `ecs.value`: expected a ComponentRef, got {got}"),
        );
    }
}

#[test]
fn arithmetic_on_a_reference_that_is_not_a_vector_is_a_type_mismatch() {
    let (mut h, e, _) = harness_with_orc();
    let payload = [("e", ScriptValue::from(e))];
    for code in [
        "return ecs.ref(p.e, 'Unit') + 1",
        "return ecs.ref(p.e, 'Unit').stats * 2",
        "return -ecs.ref(p.e, 'Unit').stats",
        "return 2 / ecs.ref(p.e, 'Unit').stats",
        "return ecs.ref(p.e, 'Transform').rotation + vector.one",
        "return ecs.ref(p.e, 'Transform').translation + 'up'",
        "return ecs.ref(p.e, 'Transform').translation + ecs.ref(p.e, 'Transform').rotation",
        "return ecs.ref(p.e, 'Transform') * ecs.ref(p.e, 'Transform')",
    ] {
        let text = type_mismatch(&mut h, code, &payload);
        let expected = if code.contains("return -") {
            "ComponentRef: negation needs a reference to a vector, got"
        } else {
            "ComponentRef: arithmetic needs a reference to a vector and a vector or number, got"
        };
        assert!(text.starts_with(expected), "{code}: {text}");
    }
    assert_eq!(h.app.world().get::<Transform>(e), Some(&placed()));
}

// ---------------------------------------------------------------------------------------------
// ecs.each
// ---------------------------------------------------------------------------------------------

#[test]
fn each_visits_every_matching_entity_once_with_its_references_and_values() {
    let mut h = harness("");
    let mut both = Vec::new();
    for i in 1..=5 {
        let hp = health(i as f32 * 10.0, 100.0);
        both.push(h.app.world_mut().spawn((stamina(i as f32), hp)).id());
    }
    h.app.world_mut().spawn(stamina(99.0));
    h.app.world_mut().spawn(health(1.0, 1.0));
    let both = ScriptValue::List(both.into_iter().map(ScriptValue::from).collect());
    call_ok(
        &mut h,
        r#"
        local p = ...
        local seen, count = {}, 0
        for e, s, hp, extra in ecs.each("Stamina", "Health") do
            assert(not seen[e], "each entity once")
            seen[e] = true
            count += 1
            assert(typeof(s) == "ComponentRef", "a reflected component gives a reference")
            assert(type(hp) == "table", "a serde component gives its value")
            assert(extra == nil)
            assert(hp.current == s.current * 10 and hp.max == 100)
            assert(s == ecs.ref(e, "Stamina"), "the reference is the entity's own")
            assert(tostring(s) == "ComponentRef(Stamina of " .. id(e) .. ")", tostring(s))
        end
        assert(count == #p.both, "visited " .. count)
        for _, e in p.both do
            assert(seen[e], "missed " .. tostring(e))
        end
        local stamina = 0
        for _ in ecs.each("Stamina") do
            stamina += 1
        end
        assert(stamina == 6, "one name: " .. stamina)
        for _, a, b in ecs.each("Stamina", "Stamina") do
            assert(a == b and a.current == b.current, "a name may repeat")
        end
        "#,
        &[("both", both)],
    );
}

#[test]
fn each_skips_entities_despawned_or_stripped_during_the_loop() {
    let mut h = harness("");
    let all: Vec<Entity> = (0..6)
        .map(|i| h.app.world_mut().spawn(stamina(i as f32)).id())
        .collect();
    let all = ScriptValue::List(all.into_iter().map(ScriptValue::from).collect());
    call_ok(
        &mut h,
        r#"
        local p = ...
        local visited, spawned = {}, {}
        for e, s in ecs.each("Stamina") do
            table.insert(visited, e)
            if #visited == 1 then
                for i, other in p.all do
                    if other ~= e then
                        if i % 2 == 0 then ecs.despawn(other) else ecs.remove(other, "Stamina") end
                    end
                end
                -- New entities may reuse the despawned ones' indices.
                for _ = 1, 3 do
                    table.insert(spawned, ecs.spawn({Stamina = {current = -1, max = 1}}))
                end
                s.current = 1000
            end
        end
        assert(#visited == 1, "visited " .. #visited)
        for _, e in spawned do
            assert(ecs.get(e, "Stamina").current == -1)
        end
        assert(ecs.get(visited[1], "Stamina").current == 1000)
        "#,
        &[("all", all)],
    );
}

#[test]
fn each_goes_on_after_the_current_entity_is_despawned() {
    let mut h = harness("");
    for i in 0..4 {
        h.app.world_mut().spawn(stamina(i as f32));
    }
    call_ok(
        &mut h,
        r#"
        local count = 0
        for e, s in ecs.each("Stamina") do
            count += 1
            assert(s.current >= 0, "the reference reads the current entity")
            ecs.despawn(e)
            local err = must_fail("does not exist", function() return s.current end)
            assert(string.find(err, "ComponentRef(Stamina)", 1, true), err)
        end
        assert(count == 4, "visited " .. count)
        assert(#ecs.query("Stamina") == 0)
        "#,
        &[],
    );
}

#[test]
fn each_in_a_task_spans_frames_and_skips_entities_despawned_meanwhile() {
    let mut h = harness(
        r#"
        events.on("loop", function()
            task.spawn(function()
                for _, s in ecs.each("Stamina") do
                    events.emit("visit", s.current)
                    task.wait()
                end
                events.emit("finished")
            end)
        end)
        "#,
    );
    let entities: Vec<Entity> = (0..4)
        .map(|i| h.app.world_mut().spawn(stamina(i as f32)).id())
        .collect();
    let visited = |h: &Harness| -> Vec<usize> {
        let payloads = h.payloads("visit");
        let values = payloads.iter().filter_map(ScriptValue::as_number);
        values.map(|current| current as usize).collect()
    };
    // The task visits one entity when it starts and one more in the next frame.
    run(&mut h, "loop", ScriptValue::Nil);
    h.update();
    assert_eq!(visited(&h).len(), 2, "{:?}", visited(&h));
    // Between two frames, an entity the loop has not reached yet goes.
    let victim = (0..4)
        .find(|i| !visited(&h).contains(i))
        .expect("an entity not visited yet");
    h.app.world_mut().despawn(entities[victim]);
    h.run_until_event("finished");
    h.assert_no_errors();
    let mut all = visited(&h);
    all.sort_unstable();
    let expected: Vec<usize> = (0..4).filter(|&i| i != victim).collect();
    assert_eq!(all, expected, "every other entity, once");
}

#[test]
fn each_over_a_thousand_entities_writes_through_its_references() {
    let mut h = harness("");
    let entities: Vec<Entity> = (0..1000)
        .map(|i| {
            h.app
                .world_mut()
                .spawn((stamina(i as f32), Transform::default()))
                .id()
        })
        .collect();
    call_ok(
        &mut h,
        r#"
        local count = 0
        for e, s, t in ecs.each("Stamina", "Transform") do
            count += 1
            s.current += 1
            t.translation.x = s.current
            t.scale = t.scale * 2
        end
        assert(count == 1000, "visited " .. count)
        "#,
        &[],
    );
    for (i, e) in entities.into_iter().enumerate() {
        let expected = i as f32 + 1.0;
        assert_eq!(h.app.world().get::<Stamina>(e), Some(&stamina(expected)));
        let t = h.app.world().get::<Transform>(e).expect("a transform");
        assert_eq!(t.translation, Vec3::new(expected, 0.0, 0.0));
        assert_eq!(t.scale, Vec3::splat(2.0));
    }
}

#[test]
fn each_references_are_runtime_errors_once_the_loop_has_ended() {
    let mut h = harness(
        r#"
        events.on("loop", function()
            for _, s, t in ecs.each("Stamina", "Transform") do
                kept, kept_transform = s, t
            end
        end)
        "#,
    );
    h.app.world_mut().spawn((stamina(1.0), placed()));
    h.app.world_mut().spawn((stamina(2.0), placed()));
    run(&mut h, "loop", ScriptValue::Nil);
    let ended = "this reference belonged to an ecs.each loop that has ended; keep the entity \
                 and call ecs.ref(e, name) for one that lasts";
    assert_ref_errors(
        &mut h,
        ScriptErrorKind::Runtime,
        ended,
        &[
            ("return kept.current", "Stamina"),
            ("kept.current = 5", "Stamina"),
            ("return kept_transform.translation", "Transform"),
            ("return kept_transform.scale * 2", "Transform"),
        ],
    );
    let error = call_err(&mut h, "return ecs.value(kept)", &[]);
    assert!(text(&error).contains(ended), "{}", error.message);
}

#[test]
fn each_without_names_or_with_unknown_names_is_an_error_naming_ecs_each() {
    let mut h = harness("");
    h.app.world_mut().spawn(stamina(1.0));
    assert_error(
        &mut h,
        "for _ in ecs.each() do end",
        &[],
        ScriptErrorKind::TypeMismatch,
        "ecs.each: name at least one component",
    );
    assert_error(
        &mut h,
        "for _ in ecs.each('Stamina', 'Stamna') do end",
        &[],
        ScriptErrorKind::UnknownComponent,
        &unknown_component("ecs.each", "Stamna", "; did you mean `Stamina`?"),
    );
    let text = type_mismatch(&mut h, "for _ in ecs.each('Stamina', {}) do end", &[]);
    assert!(text.contains("bad argument #2 to `ecs.each`"), "{text}");
    assert_error(
        &mut h,
        "for _ in ecs.each(table.unpack(table.create(33, 'Stamina'))) do end",
        &[],
        ScriptErrorKind::TypeMismatch,
        "ecs.each: name at most 32 components",
    );
}

// ---------------------------------------------------------------------------------------------
// The fast path keeps the errors of the safe path
// ---------------------------------------------------------------------------------------------

#[test]
fn fast_functions_keep_the_error_messages_of_the_safe_path() {
    let (mut h, e) = harness_with_entity((health(1.0, 1.0), stamina(1.0), placed()));
    let bare = h.app.world_mut().spawn_empty().id();
    let gone = h.app.world_mut().spawn(placed()).id();
    h.app.world_mut().despawn(gone);
    let payload = [
        ("e", ScriptValue::from(e)),
        ("bare", bare.into()),
        ("gone", gone.into()),
    ];
    // Every name and entity has been through the fast path once, so its caches are warm.
    call_ok(
        &mut h,
        r#"
        local p = ...
        assert(ecs.exists(p.e) and not ecs.exists(p.gone))
        assert(ecs.has(p.e, "Health") and ecs.has(p.e, "Stamina") and not ecs.has(p.bare, "Health"))
        ecs.set(p.e, "Health", ecs.get(p.e, "Health"))
        ecs.set(p.e, "Stamina", ecs.get(p.e, "Stamina"))
        transform.set_position(p.e, transform.position(p.e))
        "#,
        &payload,
    );
    let unknown = |function: &str, name: &str| {
        let close = if name == "Helth" {
            "; did you mean `Health`?"
        } else {
            "."
        };
        unknown_component(function, name, close)
    };
    let not_entity = |n: usize, function: &str, got: &str| {
        format!("bad argument #{n} to `{function}`: expected an Entity, got {got}")
    };
    let despawned =
        |function: &str| format!("{function}: entity {gone} does not exist (was it despawned?)");
    use ScriptErrorKind::{EntityNotFound, Runtime, TypeMismatch, UnknownComponent};
    let cases = [
        // ecs.get
        ("ecs.get(p.e, 'Helth')", UnknownComponent, unknown("ecs.get", "Helth")),
        ("ecs.get(p.gone, 'Health')", EntityNotFound, despawned("ecs.get")),
        ("ecs.get(p.gone, 'Stamina')", EntityNotFound, despawned("ecs.get")),
        ("ecs.get(1.5, 'Health')", TypeMismatch, not_entity(1, "ecs.get", "number 1.5")),
        ("ecs.get(-1, 'Health')", TypeMismatch, not_entity(1, "ecs.get", "number -1")),
        ("ecs.get('orc', 'Health')", TypeMismatch, not_entity(1, "ecs.get", r#"string "orc""#)),
        // ecs.set
        ("ecs.set(p.e, 'Helth', {})", UnknownComponent, unknown("ecs.set", "Helth")),
        (
            "ecs.set(p.gone, 'Health', {current = 1, max = 1})",
            EntityNotFound,
            despawned("ecs.set"),
        ),
        (
            "ecs.set(p.gone, 'Stamina', {current = 1, max = 1})",
            EntityNotFound,
            despawned("ecs.set"),
        ),
        (
            "ecs.set(1.5, 'Health', {current = 1, max = 1})",
            TypeMismatch,
            not_entity(1, "ecs.set", "number 1.5"),
        ),
        ("ecs.set({}, 'Health', {})", TypeMismatch, not_entity(1, "ecs.set", "table")),
        // ecs.has
        ("ecs.has(p.e, 'Helth')", UnknownComponent, unknown("ecs.has", "Helth")),
        ("ecs.has(p.gone, 'Health')", EntityNotFound, despawned("ecs.has")),
        ("ecs.has(1.5, 'Health')", TypeMismatch, not_entity(1, "ecs.has", "number 1.5")),
        ("ecs.has(true, 'Health')", TypeMismatch, not_entity(1, "ecs.has", "boolean true")),
        // ecs.exists
        ("ecs.exists(1.5)", TypeMismatch, not_entity(1, "ecs.exists", "number 1.5")),
        ("ecs.exists('orc')", TypeMismatch, not_entity(1, "ecs.exists", r#"string "orc""#)),
        ("ecs.exists()", TypeMismatch, not_entity(1, "ecs.exists", "nil")),
        // transform.position
        (
            "transform.position(p.gone)",
            Runtime,
            format!("transform.position: entity {gone} does not exist"),
        ),
        (
            "transform.position(p.bare)",
            Runtime,
            format!("transform.position: entity {bare} has no Transform"),
        ),
        (
            "transform.position(1.5)",
            TypeMismatch,
            not_entity(1, "transform.position", "number 1.5"),
        ),
        // transform.set_position
        (
            "transform.set_position(p.gone, vector.one)",
            Runtime,
            format!("transform.set_position: entity {gone} does not exist"),
        ),
        (
            "transform.set_position(p.bare, vector.one)",
            Runtime,
            format!("transform.set_position: entity {bare} has no Transform"),
        ),
        (
            "transform.set_position(1.5, vector.one)",
            TypeMismatch,
            not_entity(1, "transform.set_position", "number 1.5"),
        ),
        (
            "transform.set_position(p.e, 'up')",
            TypeMismatch,
            r#"bad argument #2 to `transform.set_position`: expected a vector, got string "up""#
                .to_owned(),
        ),
        (
            "transform.set_position(p.e, vector.create(0/0, 0, 0))",
            TypeMismatch,
            "bad argument #2 to `transform.set_position`: expected a finite vector, got \
             vector(NaN, 0, 0)"
                .to_owned(),
        ),
        // Values that do not fit, serde and reflected
        (
            "ecs.set(p.e, 'Health', {current = 'full', max = 1})",
            TypeMismatch,
            r#"ecs.set: component `Health`: invalid type: string "full", expected f32"#.to_owned(),
        ),
        (
            "ecs.set(p.e, 'Health', {current = 1})",
            TypeMismatch,
            "ecs.set: component `Health`: missing field `max`".to_owned(),
        ),
        (
            "ecs.set(p.e, 'Health', 5)",
            TypeMismatch,
            "ecs.set: component `Health`: invalid type: integer, expected table".to_owned(),
        ),
        (
            "ecs.set(p.e, 'Stamina', {current = 'full', max = 1})",
            TypeMismatch,
            r#"ecs.set: component `Stamina`: field `current`: expected a number, got string "full""#
                .to_owned(),
        ),
        (
            "ecs.set(p.e, 'Stamina', {current = 1})",
            TypeMismatch,
            "ecs.set: component `Stamina`: missing field `max`".to_owned(),
        ),
        (
            "ecs.set(p.e, 'Stamina', 5)",
            TypeMismatch,
            "ecs.set: component `Stamina`: expected a table, got number 5".to_owned(),
        ),
        (
            "ecs.set(p.e, 'Stamina', {current = 1, max = 1, extra = 2})",
            TypeMismatch,
            "ecs.set: component `Stamina`: unknown field `extra`; fields are `current`, `max`"
                .to_owned(),
        ),
        (
            "ecs.set(p.e, 'Stamina')",
            TypeMismatch,
            "ecs.set: component `Stamina`: expected a table, got nil".to_owned(),
        ),
        // Names that are not strings
        (
            "ecs.get(p.e)",
            TypeMismatch,
            "bad argument #2 to `ecs.get`: error converting Lua nil to string (expected string or \
             number)"
                .to_owned(),
        ),
        ("ecs.has(p.e, 5)", UnknownComponent, unknown("ecs.has", "5")),
    ];
    for (code, kind, expected) in cases {
        assert_error(&mut h, code, &payload, kind, &expected);
    }
    assert_eq!(h.app.world().get::<Health>(e), Some(&health(1.0, 1.0)));
    assert_eq!(h.app.world().get::<Stamina>(e), Some(&stamina(1.0)));
    assert_eq!(h.app.world().get::<Transform>(e), Some(&placed()));
}

// ---------------------------------------------------------------------------------------------
// Limits and the edges of the step
// ---------------------------------------------------------------------------------------------

#[test]
fn memory_limit_stops_ecs_get_and_a_later_get_works() {
    let mut h = limited_harness(
        r#"
        local target
        local phase = "idle"
        events.on("start", function(e)
            target = e
            phase = "fill"
        end)
        hooks.on_update(function()
            if phase == "fill" then
                phase = "recover"
                -- Room for every result first, then memory filled up to the limit.
                kept = table.create(100000, false)
                t = table.create(10000, false)
                local filled = pcall(function()
                    for i = 1, 10000 do
                        t[i] = string.rep("x", 1000) .. i
                    end
                end)
                assert(not filled, "the memory limit was never reached")
                -- Only ecs.get allocates now.
                for i = 1, 100000 do
                    kept[i] = ecs.get(target, "Health")
                end
                events.emit("never")
            elseif phase == "recover" then
                t, kept = nil, nil
                events.emit("recovered", ecs.get(target, "Health").current)
            end
        end)
        hooks.on_update(function()
            if target then
                events.emit("world", ecs.exists(target))
            end
        end)
        "#,
    );
    let e = h.app.world_mut().spawn(health(7.0, 9.0)).id();
    run(&mut h, "start", e);
    h.update();
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::MemoryLimit, "{errors:#?}");
    assert_eq!(
        h.payloads("world"),
        vec![ScriptValue::Bool(true)],
        "the next hook of the frame still reaches the world"
    );
    h.update();
    h.assert_no_errors();
    assert_eq!(h.payloads("recovered"), vec![ScriptValue::Number(7.0)]);
    assert!(h.payloads("never").is_empty());
}

/// A serde component the fast path leaves to the safe path: a struct variant.
#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Mood {
    Walking { speed: f32, song: String },
}

#[test]
fn memory_limit_holds_for_values_the_fast_path_leaves_to_the_safe_path() {
    let mut h = limited_harness(
        r#"
        events.on("fill", function(e)
            -- 1.6 MB of room, then only ecs.get allocates: about 45 MB of values.
            kept = table.create(200000, false)
            for i = 1, 200000 do
                kept[i] = ecs.get(e, "Mood")
            end
        end)
        "#,
    );
    h.app.register_script_component::<Mood>();
    let mood = Mood::Walking {
        speed: 1.0,
        song: "la".repeat(100),
    };
    let e = h.app.world_mut().spawn(mood).id();
    let error = emit(&mut h, "fill", e).expect_err("the memory limit stops the loop");
    assert_eq!(
        error.kind,
        ScriptErrorKind::MemoryLimit,
        "{}",
        error.message
    );
    let used = h.app.world().resource::<ScriptEngine>().lua().used_memory();
    assert!(used <= MEMORY_LIMIT, "the VM uses {used} bytes");
}

#[test]
fn world_access_outside_the_step_is_an_error_not_a_panic() {
    let (mut h, e) = harness_with_entity((stamina(3.0), placed()));
    let lua = h.app.world().resource::<ScriptEngine>().lua().clone();
    // Script globals are private to their script, so the references are made by a task
    // deferred from outside the step, which runs inside the next one.
    let kept: mlua::Table = lua
        .load(
            r#"
            local e = ...
            local kept = {}
            task.defer(function()
                kept.stamina = ecs.ref(e, "Stamina")
                kept.transform = ecs.ref(e, "Transform")
                kept.position = kept.transform.translation
                kept.loop = ecs.each("Stamina")
                kept.made = kept.stamina.current == 3
            end)
            return kept
            "#,
        )
        .call(ScriptValue::from(e))
        .expect("the chunk runs");
    h.update();
    h.assert_no_errors();
    assert!(
        kept.get::<bool>("made").expect("a boolean"),
        "the task ran in the step"
    );
    let checks: mlua::Function = lua
        .load(
            r#"
            local kept, e = ...
            local outside = "the world can only be reached while the scripting step runs"
            for _, f in {
                function() return ecs.exists(e) end,
                function() return ecs.get(e, "Stamina") end,
                function() return ecs.ref(e, "Stamina") end,
                function() return kept.stamina.current end,
                function() kept.stamina.current = 1 end,
                function() return kept.transform.translation end,
                function() return kept.position.x end,
                function() return kept.position + vector.one end,
                function() return ecs.value(kept.stamina) end,
                function() return kept.loop() end,
                function() return transform.position(e) end,
            } do
                local ok, err = pcall(f)
                assert(not ok, "an error outside the step")
                assert(string.find(tostring(err), outside, 1, true), tostring(err))
            end
            "#,
        )
        .into_function()
        .expect("the chunk compiles");
    checks
        .call::<()>((kept.clone(), ScriptValue::from(e)))
        .expect("every world access fails with a clear error");
    let error = lua
        .load("local e = ...\nreturn ecs.exists(e)")
        .call::<bool>(ScriptValue::from(e))
        .expect_err("ecs.exists outside the step");
    assert!(
        error
            .to_string()
            .contains("the world can only be reached while the scripting step runs"),
        "{error}"
    );
    let error = lua
        .load("local kept = ...\nreturn kept.stamina.current")
        .call::<f64>(kept)
        .expect_err("a reference outside the step");
    assert!(
        error
            .to_string()
            .contains("the world can only be reached while the scripting step runs"),
        "{error}"
    );
    assert_eq!(h.app.world().get::<Stamina>(e), Some(&stamina(3.0)));
}

/// Luau has no hook on `break`, so a loop left early keeps its references until the host call
/// that ran it returns; then they end, and so do the references derived from them.
#[test]
fn each_references_end_with_the_host_call_even_after_break() {
    let mut h = harness(
        r#"
        events.on("loop", function()
            for _, s, t in ecs.each("Stamina", "Transform") do
                kept, derived = s, t.translation
                assert(kept.current >= 1, "live inside the call")
                break
            end
            assert(type(derived.x) == "number", "still live in the same call, after break")
        end)
        "#,
    );
    h.app.world_mut().spawn((stamina(1.0), placed()));
    h.app.world_mut().spawn((stamina(2.0), placed()));
    run(&mut h, "loop", ScriptValue::Nil);
    let ended = "this reference belonged to an ecs.each loop that has ended; keep the entity \
                 and call ecs.ref(e, name) for one that lasts";
    assert_ref_errors(
        &mut h,
        ScriptErrorKind::Runtime,
        ended,
        &[
            ("return kept.current", "Stamina"),
            ("kept.current = 5", "Stamina"),
            ("return derived.x", "Transform.translation"),
        ],
    );
}

/// A 64-bit field near its maximum reads as the `f64` nearest to it (2^64 for `u64::MAX`), and
/// writes back: the bounds `f64` rounds up saturate, through a reference, `ecs.set` and the
/// safe path alike.
#[test]
fn sixty_four_bit_fields_near_their_bounds_round_trip() {
    #[derive(Component, Reflect, Debug, PartialEq)]
    #[reflect(Component)]
    struct Wide {
        n: u64,
        m: i64,
        low: i64,
    }
    let mut h = harness(
        r#"
        events.on("round_trip", function(e)
            local r = assert(ecs.ref(e, "Wide"))
            r.n = r.n
            r.m = r.m
            r.low = r.low
            ecs.set(e, "Wide", ecs.get(e, "Wide"))
            fails("out of range for u64", function() r.n = 2^65 end)
        end)
        "#,
    );
    h.app.register_type::<Wide>();
    let wide = Wide {
        n: u64::MAX,
        m: i64::MAX,
        low: i64::MIN,
    };
    let e = h
        .app
        .world_mut()
        .spawn(Wide {
            n: u64::MAX,
            m: i64::MAX,
            low: i64::MIN,
        })
        .id();
    run(&mut h, "round_trip", e);
    assert_eq!(h.app.world().get::<Wide>(e), Some(&wide));
}

/// A rotation written from Lua is a unit quaternion: normalized when it is written whole, and
/// refused when it has no direction or when one of its components is written alone, so Bevy's
/// `Transform::forward` (which panics in debug builds on a rotation far from unit length) never
/// meets a bad one.
#[test]
fn rotations_written_from_lua_stay_unit_quaternions() {
    let mut h = harness(
        r#"
        events.on("rotate", function(e)
            ecs.set(e, "Transform", {
                translation = vector.create(0, 0, 0),
                rotation = { x = 0, y = 0, z = 0, w = 2 },
                scale = vector.create(1, 1, 1),
            })
            local r = assert(ecs.ref(e, "Transform"))
            assert(r.rotation.w == 1, "normalized")
            fails("is not a rotation (it has no direction)", function()
                r.rotation = { x = 0, y = 0, z = 0, w = 0 }
            end)
            fails("is not a rotation (it has no direction)", function()
                r.rotation = { x = 0, y = 0, z = 0, w = 0 / 0 }
            end)
            fails("a rotation is written whole", function() r.rotation.x = 5 end)
            r.rotation = { x = 0, y = 3, z = 0, w = 0 }
            assert(r.rotation.y == 1)
            local f = transform.forward(e)
            assert(f == f, "forward is a number")
        end)
        "#,
    );
    let e = h.app.world_mut().spawn(placed()).id();
    run(&mut h, "rotate", e);
    let transform = h.app.world().get::<Transform>(e).expect("a Transform");
    assert!(transform.rotation.is_normalized());
    let _ = transform.forward();
}
