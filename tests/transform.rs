//! The `transform` library: reading and writing an entity's `Transform` from Lua.

mod common;

use std::collections::BTreeMap;
use std::f32::consts::FRAC_PI_2;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::{EulerRot, Quat, Vec3};
use bevy_transform::components::Transform;
use common::Harness;

/// Helpers every test script starts with.
const PRELUDE: &str = r#"
local function near(a, b, eps)
    eps = eps or 1e-5
    return math.abs(a.x - b.x) < eps and math.abs(a.y - b.y) < eps and math.abs(a.z - b.z) < eps
end
local function show(v)
    return string.format("(%g, %g, %g)", v.x, v.y, v.z)
end
-- "5v1" for Entity(5v1), as errors spell an entity.
local function id(e)
    return string.match(tostring(e), "^Entity%((.+)%)$")
end
local NAN = 0 / 0
local INF = math.huge
"#;

/// An app whose script runs `body` in its `setup` handler, with the payload as `p`.
fn harness(body: &str) -> Harness {
    Harness::with_handler(PRELUDE, "setup", body)
}

/// Runs the script's `setup` handler now, with world access.
fn setup(h: &mut Harness, payload: impl Into<ScriptValue>) -> Result<bool, ScriptError> {
    ScriptEngine::emit(h.app.world_mut(), "setup", payload)
}

/// Runs the `setup` handler and fails the test if it raised an error (a failing Lua `assert`).
fn setup_ok(h: &mut Harness, payload: impl Into<ScriptValue>) {
    if let Err(error) = setup(h, payload) {
        panic!("{error}");
    }
    h.update();
    h.assert_no_errors();
}

fn spawn(h: &mut Harness, transform: Transform) -> Entity {
    h.app.world_mut().spawn(transform).id()
}

fn transform(h: &Harness, entity: Entity) -> Transform {
    *h.app
        .world()
        .get::<Transform>(entity)
        .expect("the entity keeps its Transform")
}

fn pair(e: Entity, target: Entity) -> ScriptValue {
    ScriptValue::Map(BTreeMap::from([
        ("e".to_owned(), e.into()),
        ("target".to_owned(), target.into()),
    ]))
}

fn assert_near(actual: Vec3, expected: Vec3) {
    assert!(
        actual.abs_diff_eq(expected, 1e-5),
        "{actual} is not {expected}"
    );
}

#[test]
fn position_reads_the_translation() {
    let mut h = harness(
        r#"
        local v = transform.position(p)
        assert(typeof(v) == "vector", typeof(v))
        assert(v == vector.create(1, 2, 3), show(v))
        "#,
    );
    let e = spawn(&mut h, Transform::from_xyz(1.0, 2.0, 3.0));
    setup_ok(&mut h, e);
}

#[test]
fn set_position_moves_the_entity() {
    let mut h = harness(
        r#"
        transform.set_position(p, vector.create(4, -5, 6.5))
        assert(transform.position(p) == vector.create(4, -5, 6.5))
        "#,
    );
    let e = spawn(&mut h, Transform::from_xyz(1.0, 2.0, 3.0));
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e).translation, Vec3::new(4.0, -5.0, 6.5));
}

#[test]
fn translate_adds_to_the_position() {
    let mut h = harness(
        r#"
        transform.translate(p, vector.create(1, 0, -1))
        transform.translate(p, vector.create(0.5, 2, 0))
        assert(transform.position(p) == vector.create(2.5, 4, 2), show(transform.position(p)))
        "#,
    );
    let e = spawn(&mut h, Transform::from_xyz(1.0, 2.0, 3.0));
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e).translation, Vec3::new(2.5, 4.0, 2.0));
}

#[test]
fn set_rotation_then_rotation_returns_the_same_euler_angles() {
    let mut h = harness(
        r#"
        for _, v in {
            vector.create(0, 0, 0),
            vector.create(0.3, -1.2, 0.7),
            vector.create(-1.5, 3.1, -3.1),
            vector.create(1.2, 0.25, 2.5),
        } do
            transform.set_rotation(p, v)
            local back = transform.rotation(p)
            assert(near(back, v), show(v) .. " came back as " .. show(back))
        end
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    // The last rotation set is yaw 0.25 about Y, then pitch 1.2 about X, then roll 2.5 about Z.
    let expected = Quat::from_euler(EulerRot::YXZ, 0.25, 1.2, 2.5);
    let actual = transform(&h, e).rotation;
    assert!(actual.angle_between(expected) < 1e-5, "{actual}");
}

#[test]
fn rotation_reads_pitch_yaw_roll_of_a_rust_rotation() {
    let mut h = harness(
        r#"
        local r = transform.rotation(p)
        assert(near(r, vector.create(-0.4, 0.5, 0.1)), show(r))
        "#,
    );
    let rotation =
        Quat::from_rotation_y(0.5) * Quat::from_rotation_x(-0.4) * Quat::from_rotation_z(0.1);
    let e = spawn(&mut h, Transform::from_rotation(rotation));
    setup_ok(&mut h, e);
}

#[test]
fn rotate_turns_about_the_entity_own_axes() {
    let mut h = harness(
        r#"
        transform.set_rotation(p, vector.create(0, math.pi / 2, 0))
        transform.rotate(p, vector.create(0.3, 0, 0))
        -- Pitching in local space keeps the yaw: the result is (pitch 0.3, yaw pi/2).
        local r = transform.rotation(p)
        assert(near(r, vector.create(0.3, math.pi / 2, 0)), show(r))
        transform.set_rotation(p, vector.zero)
        transform.rotate(p, vector.create(0, 0.5, 0))
        transform.rotate(p, vector.create(0, 0.5, 0))
        r = transform.rotation(p)
        assert(near(r, vector.create(0, 1, 0)), show(r))
        transform.set_rotation(p, vector.create(0, math.pi / 2, 0))
        transform.rotate(p, vector.create(0.3, 0, 0))
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    let expected = Quat::from_rotation_y(FRAC_PI_2) * Quat::from_rotation_x(0.3);
    let actual = transform(&h, e).rotation;
    assert!(actual.angle_between(expected) < 1e-5, "{actual}");
    assert!(actual.is_normalized());
}

#[test]
fn many_small_rotations_stay_normalized() {
    let mut h = harness(
        r#"
        for _ = 1, 10000 do
            transform.rotate(p, vector.create(0.001, 0.002, -0.003))
        end
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    let rotation = transform(&h, e).rotation;
    assert!((rotation.length() - 1.0).abs() < 1e-5, "{rotation}");
}

#[test]
fn set_scale_changes_the_scale() {
    let mut h = harness(
        r#"
        assert(transform.scale(p) == vector.create(2, 2, 2))
        transform.set_scale(p, vector.create(1, 0.5, 3))
        assert(transform.scale(p) == vector.create(1, 0.5, 3))
        "#,
    );
    let e = spawn(&mut h, Transform::from_scale(Vec3::splat(2.0)));
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e).scale, Vec3::new(1.0, 0.5, 3.0));
}

#[test]
fn forward_right_and_up_follow_the_rotation() {
    let mut h = harness(
        r#"
        assert(near(transform.forward(p), vector.create(0, 0, -1)))
        assert(near(transform.right(p), vector.create(1, 0, 0)))
        assert(near(transform.up(p), vector.create(0, 1, 0)))
        -- A quarter turn to the left (positive yaw) faces -X.
        transform.set_rotation(p, vector.create(0, math.pi / 2, 0))
        assert(near(transform.forward(p), vector.create(-1, 0, 0)), show(transform.forward(p)))
        assert(near(transform.right(p), vector.create(0, 0, -1)), show(transform.right(p)))
        assert(near(transform.up(p), vector.create(0, 1, 0)), show(transform.up(p)))
        -- Pitching up by a quarter turn faces +Y.
        transform.set_rotation(p, vector.create(math.pi / 2, 0, 0))
        assert(near(transform.forward(p), vector.create(0, 1, 0)), show(transform.forward(p)))
        assert(near(transform.up(p), vector.create(0, 0, 1)), show(transform.up(p)))
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    let t = transform(&h, e);
    assert_near(*t.forward(), Vec3::Y);
    assert_near(*t.up(), Vec3::Z);
}

#[test]
fn look_at_points_forward_at_the_target() {
    let mut h = harness(
        r#"
        transform.look_at(p, vector.create(11, 2, 3))
        assert(near(transform.forward(p), vector.create(1, 0, 0)), show(transform.forward(p)))
        assert(near(transform.up(p), vector.create(0, 1, 0)), show(transform.up(p)))
        "#,
    );
    let e = spawn(&mut h, Transform::from_xyz(1.0, 2.0, 3.0));
    setup_ok(&mut h, e);
    let t = transform(&h, e);
    assert_near(*t.forward(), Vec3::X);
    assert_near(*t.up(), Vec3::Y);
    assert_eq!(
        t.translation,
        Vec3::new(1.0, 2.0, 3.0),
        "only the rotation changes"
    );
}

#[test]
fn look_at_an_entity_faces_its_position() {
    let mut h = harness(
        r#"
        transform.look_at(p.e, p.target)
        local expected = vector.normalize(transform.position(p.target) - transform.position(p.e))
        assert(near(transform.forward(p.e), expected), show(transform.forward(p.e)))
        "#,
    );
    let e = spawn(&mut h, Transform::from_xyz(0.0, 0.0, 0.0));
    let target = spawn(&mut h, Transform::from_xyz(0.0, 3.0, 4.0));
    setup_ok(&mut h, pair(e, target));
    assert_near(*transform(&h, e).forward(), Vec3::new(0.0, 0.6, 0.8));
}

#[test]
fn look_at_keeps_the_given_up_direction() {
    let mut h = harness(
        r#"
        transform.look_at(p, vector.create(0, 10, 0), vector.create(0, 0, -1))
        assert(near(transform.forward(p), vector.create(0, 1, 0)), show(transform.forward(p)))
        assert(near(transform.up(p), vector.create(0, 0, -1)), show(transform.up(p)))
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    assert_near(*transform(&h, e).up(), Vec3::NEG_Z);
}

#[test]
fn look_at_without_a_direction_leaves_the_rotation_unchanged() {
    let mut h = harness(
        r#"
        local before = transform.rotation(p.e)
        -- The target is the entity's own position.
        transform.look_at(p.e, transform.position(p.e))
        transform.look_at(p.e, p.e)
        transform.look_at(p.e, p.target)
        -- Straight up, with the default up (+Y) parallel to the direction.
        transform.look_at(p.e, transform.position(p.e) + vector.create(0, 5, 0))
        transform.look_at(p.e, vector.create(1, -100, 1), vector.create(0, -3, 0))
        local after = transform.rotation(p.e)
        assert(after == before, show(before) .. " became " .. show(after))
        "#,
    );
    let rotation = Quat::from_euler(EulerRot::YXZ, 0.4, 0.2, 0.1);
    let e = spawn(
        &mut h,
        Transform::from_xyz(1.0, 2.0, 1.0).with_rotation(rotation),
    );
    let same_place = spawn(&mut h, Transform::from_xyz(1.0, 2.0, 1.0));
    setup_ok(&mut h, pair(e, same_place));
    let t = transform(&h, e);
    assert_eq!(t.rotation, rotation);
    assert!(t.is_finite());
}

#[test]
fn nan_is_refused_and_the_transform_is_unchanged() {
    let mut h = harness(
        r#"
        local bad = {
            vector.create(NAN, 0, 0),
            vector.create(0, INF, 0),
            vector.create(0, 0, -INF),
        }
        for _, name in {"set_position", "translate", "set_rotation", "rotate", "set_scale", "look_at"} do
            for _, v in bad do
                local err = fails("bad argument #2 to `transform." .. name .. "`", transform[name], p, v)
                assert(string.find(err, "finite", 1, true), err)
            end
        end
        for _, v in bad do
            fails("bad argument #3 to `transform.look_at`", transform.look_at, p, vector.create(5, 5, 5), v)
        end
        "#,
    );
    let before = Transform::from_xyz(1.0, 2.0, 3.0)
        .with_rotation(Quat::from_rotation_y(0.3))
        .with_scale(Vec3::splat(2.0));
    let e = spawn(&mut h, before);
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e), before);
}

#[test]
fn translate_that_would_overflow_is_refused() {
    let mut h = harness(
        r#"
        transform.set_position(p, vector.create(3e38, 0, 0))
        fails("transform.translate: the position would not be finite", transform.translate, p, vector.create(3e38, 0, 0))
        assert(transform.position(p) == vector.create(3e38, 0, 0))
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    assert!(transform(&h, e).is_finite());
}

#[test]
fn rotate_refuses_to_turn_a_broken_rotation() {
    let mut h = harness(
        r#"
        fails("transform.rotate: the rotation would not be finite", transform.rotate, p, vector.create(0.1, 0, 0))
        "#,
    );
    // A zero quaternion set from Rust has no direction to normalize to.
    let broken = Transform::from_rotation(Quat::from_xyzw(0.0, 0.0, 0.0, 0.0));
    let e = spawn(&mut h, broken);
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e), broken);
}

#[test]
fn despawned_entity_is_a_clear_error() {
    let mut h = harness(
        r#"
        for _, name in {"position", "rotation", "scale", "forward", "right", "up"} do
            fails("transform." .. name .. ": entity " .. id(p) .. " does not exist", transform[name], p)
        end
        for _, name in {"set_position", "translate", "set_rotation", "rotate", "set_scale", "look_at"} do
            fails("transform." .. name .. ": entity " .. id(p) .. " does not exist", transform[name], p, vector.one)
        end
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    h.app.world_mut().despawn(e);
    setup_ok(&mut h, e);
}

#[test]
fn uncaught_errors_reach_rust_as_script_errors() {
    let mut h = harness("transform.set_position(p, vector.one)");
    let e = spawn(&mut h, Transform::default());
    h.app.world_mut().despawn(e);
    let error = setup(&mut h, e).expect_err("a despawned entity");
    assert_eq!(error.kind, ScriptErrorKind::Runtime);
    assert!(
        error.message.contains(&format!(
            "transform.set_position: entity {e} does not exist"
        )),
        "{}",
        error.message
    );

    let mut h = harness("transform.translate(p, vector.create(0/0, 0, 0))");
    let e = spawn(&mut h, Transform::default());
    let error = setup(&mut h, e).expect_err("a NaN vector");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        error
            .message
            .contains("bad argument #2 to `transform.translate`"),
        "{}",
        error.message
    );
    assert_eq!(transform(&h, e), Transform::default());
}

#[test]
fn entity_without_a_transform_is_a_clear_error() {
    let mut h = harness(
        r#"
        fails("transform.position: entity " .. id(p.e) .. " has no Transform", transform.position, p.e)
        fails("transform.rotate: entity " .. id(p.e) .. " has no Transform", transform.rotate, p.e, vector.one)
        fails("transform.look_at: entity " .. id(p.e) .. " has no Transform", transform.look_at, p.e, vector.one)
        fails("transform.look_at: target entity " .. id(p.e) .. " has no Transform", transform.look_at, p.target, p.e)
        fails("transform.look_at: entity " .. id(p.e) .. " has no Transform", transform.look_at, p.e, p.e)
        "#,
    );
    let bare = h.app.world_mut().spawn_empty().id();
    let placed = spawn(&mut h, Transform::default());
    setup_ok(&mut h, pair(bare, placed));
    assert!(h.app.world().get::<Transform>(bare).is_none());
}

#[test]
fn wrong_argument_types_name_the_function_and_argument() {
    let mut h = harness(
        r#"
        fails("bad argument #1 to `transform.position`: expected an Entity, got string \"player\"", transform.position, "player")
        fails("bad argument #1 to `transform.scale`: expected an Entity, got nil", transform.scale)
        fails("bad argument #1 to `transform.set_position`: expected an Entity, got table", transform.set_position, {}, vector.one)
        fails("bad argument #2 to `transform.set_position`: expected a vector, got table", transform.set_position, p, {1, 2, 3})
        fails("bad argument #2 to `transform.translate`: expected a vector, got number 1", transform.translate, p, 1)
        fails("bad argument #2 to `transform.set_scale`: expected a vector, got nil", transform.set_scale, p)
        fails("bad argument #2 to `transform.look_at`: expected a vector or an Entity, got string \"x\"", transform.look_at, p, "x")
        fails("bad argument #3 to `transform.look_at`: expected a vector, got boolean true", transform.look_at, p, vector.one, true)
        fails("bad argument #3 to `transform.look_at`: up is the zero vector", transform.look_at, p, vector.one, vector.zero)
        "#,
    );
    let before = Transform::from_xyz(1.0, 2.0, 3.0);
    let e = spawn(&mut h, before);
    setup_ok(&mut h, e);
    assert_eq!(transform(&h, e), before);
}

#[test]
fn the_library_is_read_only() {
    let mut h = harness(
        r#"
        fails("readonly", function() transform.position = nil end)
        assert(type(transform.position) == "function")
        "#,
    );
    setup_ok(&mut h, ScriptValue::Nil);
}

#[test]
fn hooks_move_an_entity_every_frame() {
    let mut h = harness(
        r#"
        hooks.on_update(function()
            transform.translate(p, vector.create(1, 0, 0))
            events.emit("moved", transform.position(p))
        end)
        "#,
    );
    let e = spawn(&mut h, Transform::default());
    setup_ok(&mut h, e);
    h.update();
    h.update();
    h.assert_no_errors();
    let moved = h.payloads("moved");
    assert_eq!(moved.len(), 3, "{moved:?}");
    assert_eq!(moved[2], ScriptValue::Vector(Vec3::new(3.0, 0.0, 0.0)));
    assert_eq!(transform(&h, e).translation, Vec3::new(3.0, 0.0, 0.0));
}
