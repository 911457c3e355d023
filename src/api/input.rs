//! The `input` library (feature `input`): the keyboard and mouse state of the frame, read from
//! `bevy_input` and `bevy_window`.
//!
//! ```lua
//! input.key_down("KeyW")        -- held down this frame
//! input.key_pressed("Space")    -- went down this frame
//! input.key_released("Escape")  -- went up this frame
//! input.mouse_down("Left")      -- "Left", "Right", "Middle", "Back" or "Forward"
//! input.mouse_position()        -- vector(x, y, 0) in the primary window, or nil
//! ```
//! - **Keys** are named like Bevy's [`KeyCode`] variants (`"KeyW"`, `"Space"`, `"ArrowUp"`,
//!   `"ShiftLeft"`, `"Digit1"`, …), case-insensitively: they name the physical key, whatever the
//!   keyboard layout. An unknown name is an error that suggests up to three close names.
//! - **Key and button state** comes from the `ButtonInput<KeyCode>` and
//!   `ButtonInput<MouseButton>` resources, which Bevy's `InputPlugin` (part of `DefaultPlugins`)
//!   updates in `PreUpdate`, before the scripting step: a key is "pressed" or "released" during
//!   the one frame it changed. Without those resources (no `InputPlugin`) every key and button
//!   reads as up, and the functions return `false` rather than failing.
//! - **`mouse_position`** reads [`Window::cursor_position`] of the entity with
//!   [`PrimaryWindow`]: logical pixels from the window's top-left corner, y pointing down. It
//!   returns `nil` when there is no primary window or the cursor is outside it. A windowing
//!   backend (`bevy_winit`, part of `DefaultPlugins`) keeps that position up to date; a headless
//!   app can spawn a `Window` with `PrimaryWindow` and set it with
//!   [`Window::set_cursor_position`].

use crate::api::function::{self, describe};
use crate::bridge::lent::with_world_ref;
use crate::error::{ScriptErrorKind, lua_error};
use bevy_ecs::query::With;
use bevy_ecs::world::World;
use bevy_input::ButtonInput;
use bevy_input::keyboard::KeyCode;
use bevy_input::mouse::MouseButton;
use bevy_reflect::enums::{DynamicEnum, DynamicVariant, VariantInfo};
use bevy_reflect::{FromReflect, TypeInfo, Typed};
use bevy_window::{PrimaryWindow, Window};
use mlua::{Lua, Table, Value, Vector};
use std::collections::HashMap;
use std::sync::Arc;

/// The mouse buttons Lua can name, with the names the errors list.
const MOUSE_BUTTONS: [(&str, MouseButton); 5] = [
    ("Left", MouseButton::Left),
    ("Right", MouseButton::Right),
    ("Middle", MouseButton::Middle),
    ("Back", MouseButton::Back),
    ("Forward", MouseButton::Forward),
];

/// How many close key names an "unknown key" error suggests at most.
const SUGGESTIONS: usize = 3;

/// Adds the `input` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let keys = Arc::new(KeyNames::from_reflection());
    let input = lua.create_table()?;
    input.raw_set(
        "key_down",
        key_function(lua, "input.key_down", &keys, ButtonInput::pressed)?,
    )?;
    input.raw_set(
        "key_pressed",
        key_function(lua, "input.key_pressed", &keys, ButtonInput::just_pressed)?,
    )?;
    input.raw_set(
        "key_released",
        key_function(lua, "input.key_released", &keys, ButtonInput::just_released)?,
    )?;
    input.raw_set(
        "mouse_down",
        function::create(lua, "input.mouse_down", |lua, (button,): (Value,)| {
            let button = mouse_button_arg(&button)?;
            with_world_ref(lua, |world| {
                is_held(world, button, ButtonInput::<MouseButton>::pressed)
            })
        })?,
    )?;
    input.raw_set(
        "mouse_position",
        function::create(lua, "input.mouse_position", |lua, ()| {
            let position = with_world_ref(lua, cursor_position)?;
            Ok(position.map(|p| Vector::new(p.x, p.y, 0.0)))
        })?,
    )?;
    input.set_readonly(true);
    globals.raw_set("input", input)
}

/// Creates `input.<name>(key) -> boolean`, answering with `read` of `ButtonInput<KeyCode>`.
fn key_function(
    lua: &Lua,
    name: &'static str,
    keys: &Arc<KeyNames>,
    read: fn(&ButtonInput<KeyCode>, KeyCode) -> bool,
) -> mlua::Result<mlua::Function> {
    let keys = Arc::clone(keys);
    function::create(lua, name, move |lua, (key,): (Value,)| {
        let key = keys.arg(&key, name)?;
        with_world_ref(lua, |world| is_held(world, key, read))
    })
}

/// `read` of the `ButtonInput<T>` resource, or `false` when the resource is missing.
fn is_held<T>(world: &World, button: T, read: fn(&ButtonInput<T>, T) -> bool) -> bool
where
    T: Copy + Eq + std::hash::Hash + Send + Sync + 'static,
{
    world
        .get_resource::<ButtonInput<T>>()
        .is_some_and(|input| read(input, button))
}

/// The cursor position in the primary window, if there is one and the cursor is inside it.
fn cursor_position(world: &World) -> Option<bevy_math::Vec2> {
    // `try_query` does not register `Window` in a world that has never seen one.
    let mut windows = world.try_query_filtered::<&Window, With<PrimaryWindow>>()?;
    windows.single(world).ok()?.cursor_position()
}

/// Converts the argument of `input.mouse_down` into a button.
fn mouse_button_arg(value: &Value) -> mlua::Result<MouseButton> {
    const NAME: &str = "input.mouse_down";
    let Value::String(text) = value else {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #1 to `{NAME}`: expected a button name (string), got {}",
                describe(value)
            ),
        ));
    };
    let bytes = text.as_bytes();
    MOUSE_BUTTONS
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(&bytes))
        .map(|(_, button)| *button)
        .ok_or_else(|| {
            let names: Vec<String> = MOUSE_BUTTONS
                .iter()
                .map(|(name, _)| format!("{name:?}"))
                .collect();
            lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #1 to `{NAME}`: unknown mouse button {:?}; expected one of {}",
                    String::from_utf8_lossy(&bytes),
                    names.join(", ")
                ),
            )
        })
}

/// The key names Lua can use, as [`KeyCode`] spells them (for `crate::typedefs`).
pub(crate) fn key_names() -> Vec<&'static str> {
    KeyNames::from_reflection().names
}

/// The key names Lua can use: every unit variant of [`KeyCode`], found through reflection so
/// the table follows `bevy_input` without a hand-written list.
struct KeyNames {
    /// Lowercase name to key.
    by_name: HashMap<Box<[u8]>, KeyCode>,
    /// The names as `KeyCode` spells them, for suggestions.
    names: Vec<&'static str>,
    /// The longest name, in bytes: longer arguments are unknown without a lookup.
    longest: usize,
}

impl KeyNames {
    /// Walks `KeyCode`'s reflected variants (`Unidentified(_)` carries data and is skipped).
    fn from_reflection() -> Self {
        let mut names = Vec::new();
        if let TypeInfo::Enum(info) = KeyCode::type_info() {
            for variant in info.iter() {
                if let VariantInfo::Unit(unit) = variant {
                    names.push(unit.name());
                }
            }
        }
        Self::new(names)
    }

    fn new(names: Vec<&'static str>) -> Self {
        let mut by_name = HashMap::with_capacity(names.len());
        let mut kept = Vec::with_capacity(names.len());
        for name in names {
            let dynamic = DynamicEnum::new(name, DynamicVariant::Unit);
            if let Some(key) = KeyCode::from_reflect(&dynamic) {
                by_name.insert(name.to_ascii_lowercase().into_bytes().into(), key);
                kept.push(name);
            }
        }
        let longest = kept.iter().map(|name| name.len()).max().unwrap_or(0);
        Self {
            by_name,
            names: kept,
            longest,
        }
    }

    /// Converts argument #1 of `name` into a key.
    fn arg(&self, value: &Value, name: &'static str) -> mlua::Result<KeyCode> {
        let Value::String(text) = value else {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #1 to `{name}`: expected a key name (string), got {}",
                    describe(value)
                ),
            ));
        };
        let bytes = text.as_bytes();
        self.find(&bytes).ok_or_else(|| {
            let wanted = String::from_utf8_lossy(&bytes);
            lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #1 to `{name}`: unknown key {wanted:?}{}",
                    self.hint(&wanted)
                ),
            )
        })
    }

    /// Looks a name up case-insensitively, without allocating.
    fn find(&self, name: &[u8]) -> Option<KeyCode> {
        if name.len() > self.longest {
            return None;
        }
        let mut buffer = [0u8; 64];
        let lowercase = buffer.get_mut(..name.len())?;
        for (to, from) in lowercase.iter_mut().zip(name) {
            *to = from.to_ascii_lowercase();
        }
        self.by_name.get(&*lowercase).copied()
    }

    /// `"; did you mean \"KeyW\"?"`, or a reminder of what key names look like.
    fn hint(&self, wanted: &str) -> String {
        let close = self.close_to(wanted);
        if close.is_empty() {
            return "; key names are KeyCode variants such as \"KeyW\", \"Space\", \"ArrowUp\", \
                    \"ShiftLeft\" or \"Digit1\""
                .to_owned();
        }
        let quoted: Vec<String> = close.iter().map(|name| format!("\"{name}\"")).collect();
        format!("; did you mean {}?", quoted.join(", "))
    }

    /// Up to [`SUGGESTIONS`] names close to `wanted`: few edits away, or ending with it
    /// (`"w"` suggests `"KeyW"`), closest and then shortest first.
    fn close_to(&self, wanted: &str) -> Vec<&'static str> {
        let wanted = wanted.to_ascii_lowercase();
        if wanted.is_empty() {
            return Vec::new();
        }
        let limit = (wanted.chars().count() / 3).max(1);
        let mut scored: Vec<(usize, &'static str)> = self
            .names
            .iter()
            .filter_map(|&name| {
                let lowercase = name.to_ascii_lowercase();
                let mut score = strsim::levenshtein(&wanted, &lowercase);
                if lowercase.ends_with(&wanted) {
                    score = score.min(1);
                }
                (score <= limit).then_some((score, name))
            })
            .collect();
        scored.sort_by_key(|&(score, name)| (score, name.len(), name));
        scored
            .into_iter()
            .take(SUGGESTIONS)
            .map(|(_, name)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_finds_the_unit_key_codes() {
        let keys = KeyNames::from_reflection();
        assert!(keys.names.len() > 150, "{} names", keys.names.len());
        assert!(!keys.names.contains(&"Unidentified"));
        for (name, key) in [
            ("KeyW", KeyCode::KeyW),
            ("space", KeyCode::Space),
            ("ARROWUP", KeyCode::ArrowUp),
            ("ShiftLeft", KeyCode::ShiftLeft),
            ("Digit1", KeyCode::Digit1),
            ("F12", KeyCode::F12),
        ] {
            assert_eq!(keys.find(name.as_bytes()), Some(key), "{name}");
        }
        assert_eq!(keys.find(b"NoSuchKey"), None);
        assert_eq!(keys.find(&[b'a'; 100]), None);
        assert_eq!(keys.find(b""), None);
    }

    #[test]
    fn suggestions_are_close_names() {
        let keys = KeyNames::from_reflection();
        assert_eq!(keys.close_to("KeyWW").first(), Some(&"KeyW"));
        assert!(keys.close_to("spce").contains(&"Space"));
        assert_eq!(keys.close_to("w"), vec!["KeyW"]);
        assert!(keys.close_to("Arrowup2").contains(&"ArrowUp"));
        assert!(keys.close_to("xyzzyplugh").is_empty());
        assert!(keys.close_to("1").len() <= SUGGESTIONS);
    }
}
