//! The `input` library: keyboard, mouse buttons and the cursor, read from Lua.
//!
//! Run with `cargo test --features input --test input`.
#![cfg(feature = "input")]

mod common;

use bevy_app::PreUpdate;
use bevy_ecs::prelude::*;
use bevy_input::keyboard::{Key, KeyCode, KeyboardFocusLost, KeyboardInput, keyboard_input_system};
use bevy_input::mouse::MouseButton;
use bevy_input::{ButtonInput, ButtonState};
use bevy_luau::prelude::*;
use bevy_math::Vec2;
use bevy_window::{PrimaryWindow, Window};
use common::Harness;

/// An app whose script runs `body` in its `check` handler, with the payload as `p`.
fn harness(body: &str) -> Harness {
    Harness::with_handler("", "check", body)
}

/// Runs the script's `check` handler now and fails the test if a Lua `assert` in it failed.
fn check(h: &mut Harness, payload: impl Into<ScriptValue>) {
    if let Err(error) = ScriptEngine::emit(h.app.world_mut(), "check", payload) {
        panic!("{error}");
    }
    h.assert_no_errors();
}

fn keys(h: &mut Harness) -> Mut<'_, ButtonInput<KeyCode>> {
    h.app.world_mut().resource_mut::<ButtonInput<KeyCode>>()
}

#[test]
fn key_down_reads_held_keys_by_case_insensitive_name() {
    let mut h = harness(
        r#"
        assert(input.key_down("KeyW") == true)
        assert(input.key_down("keyw") and input.key_down("KEYW"))
        assert(input.key_down("ShiftLeft") and input.key_down("Digit1"))
        assert(input.key_down("KeyS") == false)
        assert(input.key_down("Space") == false)
        "#,
    );
    h.app.init_resource::<ButtonInput<KeyCode>>();
    for key in [KeyCode::KeyW, KeyCode::ShiftLeft, KeyCode::Digit1] {
        keys(&mut h).press(key);
    }
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn key_pressed_and_released_hold_until_the_input_is_cleared() {
    let mut h = harness(
        r#"
        assert(input.key_down("Space") == p.down, "down")
        assert(input.key_pressed("Space") == p.pressed, "pressed")
        assert(input.key_released("Space") == p.released, "released")
        "#,
    );
    let state = |down: bool, pressed: bool, released: bool| {
        ScriptValue::Map(
            [
                ("down".to_owned(), down.into()),
                ("pressed".to_owned(), pressed.into()),
                ("released".to_owned(), released.into()),
            ]
            .into(),
        )
    };
    h.app.init_resource::<ButtonInput<KeyCode>>();
    check(&mut h, state(false, false, false));
    keys(&mut h).press(KeyCode::Space);
    check(&mut h, state(true, true, false));
    keys(&mut h).clear();
    check(&mut h, state(true, false, false));
    keys(&mut h).release(KeyCode::Space);
    check(&mut h, state(false, false, true));
    keys(&mut h).clear();
    check(&mut h, state(false, false, false));
}

#[test]
fn with_bevy_input_systems_a_key_is_pressed_for_one_frame() {
    let mut h = harness(
        r#"
        hooks.on_update(function()
            events.emit("state", {
                down = input.key_down("ArrowUp"),
                pressed = input.key_pressed("ArrowUp"),
                released = input.key_released("ArrowUp"),
            })
        end)
        "#,
    );
    // What `InputPlugin` adds for the keyboard (plugins cannot be added to the built app).
    h.app
        .add_message::<KeyboardInput>()
        .add_message::<KeyboardFocusLost>()
        .init_resource::<ButtonInput<KeyCode>>()
        .init_resource::<ButtonInput<Key>>()
        .add_systems(PreUpdate, keyboard_input_system);
    check(&mut h, ScriptValue::Nil);
    let send = |h: &mut Harness, state: ButtonState| {
        h.app.world_mut().write_message(KeyboardInput {
            key_code: KeyCode::ArrowUp,
            logical_key: Key::ArrowUp,
            state,
            text: None,
            repeat: false,
            window: Entity::PLACEHOLDER,
        });
    };
    send(&mut h, ButtonState::Pressed);
    h.update();
    h.update();
    send(&mut h, ButtonState::Released);
    h.update();
    h.update();
    h.assert_no_errors();
    let seen: Vec<(bool, bool, bool)> = h
        .payloads("state")
        .iter()
        .map(|state| {
            let state = state.as_map().expect("a table");
            let flag = |name: &str| state[name].as_bool().expect("a boolean");
            (flag("down"), flag("pressed"), flag("released"))
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (true, true, false),
            (true, false, false),
            (false, false, true),
            (false, false, false),
        ]
    );
}

#[test]
fn mouse_down_reads_mouse_buttons() {
    let mut h = harness(
        r#"
        assert(input.mouse_down("Left") == true)
        assert(input.mouse_down("left") and input.mouse_down("FORWARD"))
        assert(input.mouse_down("Right") == false)
        assert(input.mouse_down("Middle") == false)
        assert(input.mouse_down("Back") == false)
        "#,
    );
    h.app.init_resource::<ButtonInput<MouseButton>>();
    let mut buttons = h.app.world_mut().resource_mut::<ButtonInput<MouseButton>>();
    buttons.press(MouseButton::Left);
    buttons.press(MouseButton::Forward);
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn without_input_resources_everything_reads_as_up() {
    let mut h = harness(
        r#"
        assert(input.key_down("KeyW") == false)
        assert(input.key_pressed("KeyW") == false)
        assert(input.key_released("KeyW") == false)
        assert(input.mouse_down("Left") == false)
        assert(input.mouse_position() == nil)
        "#,
    );
    assert!(!h.app.world().contains_resource::<ButtonInput<KeyCode>>());
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn mouse_position_reads_the_primary_window_cursor() {
    let mut h = harness(
        r#"
        local position = input.mouse_position()
        if p then
            assert(typeof(position) == "vector", typeof(position))
            assert(position == vector.create(p.x, p.y, 0), tostring(position))
        else
            assert(position == nil, tostring(position))
        end
        "#,
    );
    // No window at all.
    check(&mut h, ScriptValue::Nil);
    // A window that is not the primary one is ignored.
    let mut other = Window::default();
    other.set_cursor_position(Some(Vec2::new(1.0, 2.0)));
    h.app.world_mut().spawn(other);
    check(&mut h, ScriptValue::Nil);
    // The primary window, with the cursor inside it.
    let window = h
        .app
        .world_mut()
        .spawn((Window::default(), PrimaryWindow))
        .id();
    check(&mut h, ScriptValue::Nil);
    let move_cursor = |h: &mut Harness, position: Option<Vec2>| {
        let world = h.app.world_mut();
        let mut window = world.get_mut::<Window>(window).expect("the window");
        window.set_cursor_position(position);
    };
    move_cursor(&mut h, Some(Vec2::new(100.0, 50.5)));
    let at = |x: f64, y: f64| {
        ScriptValue::Map([("x".to_owned(), x.into()), ("y".to_owned(), y.into())].into())
    };
    check(&mut h, at(100.0, 50.5));
    // Outside the window there is no position.
    move_cursor(&mut h, Some(Vec2::new(-5.0, 10.0)));
    check(&mut h, ScriptValue::Nil);
    move_cursor(&mut h, None);
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn unknown_key_names_suggest_close_matches() {
    let mut h = harness(
        r#"
        fails('bad argument #1 to `input.key_down`: unknown key "KeyWW"; did you mean "KeyW"', input.key_down, "KeyWW")
        fails('did you mean "Space"', input.key_pressed, "spce")
        fails('did you mean "KeyW"', input.key_released, "w")
        local err = fails("bad argument #1 to `input.key_down`: unknown key", input.key_down, "nothing like a key")
        assert(string.find(err, "such as", 1, true), err)
        fails('bad argument #1 to `input.mouse_down`: unknown mouse button "Centre"; expected one of "Left", "Right", "Middle", "Back", "Forward"', input.mouse_down, "Centre")
        "#,
    );
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn wrong_argument_types_name_the_function() {
    let mut h = harness(
        r#"
        fails("bad argument #1 to `input.key_down`: expected a key name (string), got number 87", input.key_down, 87)
        fails("bad argument #1 to `input.key_pressed`: expected a key name (string), got nil", input.key_pressed)
        fails("bad argument #1 to `input.key_released`: expected a key name (string), got table", input.key_released, {})
        fails("bad argument #1 to `input.mouse_down`: expected a button name (string), got boolean true", input.mouse_down, true)
        fails("readonly", function() input.key_down = nil end)
        "#,
    );
    check(&mut h, ScriptValue::Nil);
}

#[test]
fn an_uncaught_unknown_key_is_a_type_mismatch_script_error() {
    let mut h = harness(r#"input.key_down("Kye")"#);
    let error = ScriptEngine::emit(h.app.world_mut(), "check", ScriptValue::Nil)
        .expect_err("an unknown key");
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(
        error.message.contains("input.key_down"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("scripts/t.luau"),
        "{}",
        error.message
    );
}
