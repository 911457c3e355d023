//! Why a conversion failed, and the helpers that describe values in error messages.

use std::fmt::Write;

use bevy_reflect::{Type, TypePathTable};
use mlua::Value;

use crate::error::{ScriptErrorKind, lua_error};
use crate::value::entity_from_lua;

/// How many tables deep a value may nest, in either direction.
pub(super) const MAX_DEPTH: usize = 64;

/// Why a conversion failed.
pub(super) enum Failure {
    /// Lua itself failed (out of memory, for instance); passed on unchanged.
    Lua(mlua::Error),
    /// The value does not fit the type.
    Mismatch {
        /// What is wrong, without the path: "expected a number, got string \"x\"".
        message: String,
        /// Where the value sits, innermost segment first.
        path: Vec<Segment>,
    },
}

/// One step of the path to a value inside another.
pub(super) enum Segment {
    /// A struct field, a variant, or a map key that reads as a Lua identifier: `.name`.
    Field(String),
    /// A list index or another map key, already rendered: `[3]`, `["two words"]`.
    Index(String),
}

impl Failure {
    /// A mismatch at the value being converted; callers up the stack add the path.
    pub(super) fn mismatch(message: impl Into<String>) -> Self {
        Self::Mismatch {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Records that the failure happened inside `segment`.
    pub(super) fn inside(mut self, segment: Segment) -> Self {
        if let Self::Mismatch { path, .. } = &mut self {
            path.push(segment);
        }
        self
    }

    /// Says what the failure is about, in front of its message: "key 1.5: …".
    pub(super) fn about(mut self, subject: impl FnOnce() -> String) -> Self {
        if let Self::Mismatch { message, .. } = &mut self {
            *message = format!("{}: {message}", subject());
        }
        self
    }

    /// The Lua error: "{what}: field `{path}`: {message}", of kind `TypeMismatch`.
    pub(super) fn into_error(self, what: Option<&str>) -> mlua::Error {
        let (message, path) = match self {
            Self::Lua(error) => return error,
            Self::Mismatch { message, path } => (message, path),
        };
        let mut text = String::new();
        if let Some(what) = what {
            text.push_str(what);
            text.push_str(": ");
        }
        if !path.is_empty() {
            text.push_str("field `");
            for segment in path.iter().rev() {
                match segment {
                    Segment::Field(name) if text.ends_with('`') => text.push_str(name),
                    Segment::Field(name) => {
                        text.push('.');
                        text.push_str(name);
                    }
                    Segment::Index(index) => {
                        text.push('[');
                        text.push_str(index);
                        text.push(']');
                    }
                }
            }
            text.push_str("`: ");
        }
        text.push_str(&message);
        lua_error(ScriptErrorKind::TypeMismatch, text)
    }
}

impl From<mlua::Error> for Failure {
    fn from(error: mlua::Error) -> Self {
        Self::Lua(error)
    }
}

/// The error for a Lua value of the wrong kind: "expected a number, got string \"x\"".
pub(super) fn expected(what: &str, got: &Value) -> Failure {
    Failure::mismatch(format!("expected {what}, got {}", describe(got)))
}

/// Describes a Lua value for an error message: `nil`, `number 2.5`, `string "x"`, `table`.
pub(super) fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match value {
        Value::Boolean(value) => format!("boolean {value}"),
        Value::Integer(value) => format!("number {value}"),
        Value::Number(value) => format!("number {}", show_number(*value)),
        Value::Vector(value) => format!("vector({}, {}, {})", value.x(), value.y(), value.z()),
        Value::String(value) => {
            let text = value.to_string_lossy();
            match text.char_indices().nth(MAX_CHARS) {
                Some((end, _)) => format!("string {:?}…", &text[..end]),
                None => format!("string {text:?}"),
            }
        }
        Value::LightUserData(_) => match entity_from_lua(value) {
            Some(entity) => format!("Entity({entity})"),
            None => "lightuserdata".to_owned(),
        },
        other => other.type_name().to_owned(),
    }
}

/// Shows a number without hundreds of digits: `2.5`, `300`, `1e300`, `NaN`.
pub(crate) fn show_number(number: f64) -> String {
    if number.is_finite() && number.abs() >= 1e16 {
        format!("{number:e}")
    } else {
        format!("{number}")
    }
}

/// Shows a table key as Lua would write it between brackets: `"two words"`, `3`, `Entity(5v0)`.
pub(super) fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => format!("{:?}", text.to_string_lossy()),
        Value::Integer(value) => value.to_string(),
        Value::Number(value) => show_number(*value),
        Value::LightUserData(_) => describe(key),
        other => other.type_name().to_owned(),
    }
}

/// Whether a type is `core::option::Option<T>`, which maps to `nil` or its inner value.
pub(super) fn is_option(path: &TypePathTable) -> bool {
    path.ident() == Some("Option") && path.module_path() == Some("core::option")
}

/// Whether a type is `Option<T>`, from its [`Type`].
pub(super) fn is_option_type(ty: &Type) -> bool {
    is_option(ty.type_path_table())
}

/// Names a key of a Lua table as a path segment.
pub(super) fn key_segment(key: &Value) -> Segment {
    match key {
        Value::String(text) => {
            let text = text.to_string_lossy();
            if crate::value::is_identifier(&text) {
                Segment::Field(text)
            } else {
                Segment::Index(format!("{text:?}"))
            }
        }
        other => Segment::Index(key_text(other)),
    }
}

/// Lists names for an error message: "`a`, `b`".
pub(super) fn list_names(names: &[&str]) -> String {
    let mut out = String::new();
    for (index, name) in names.iter().enumerate() {
        let separator = if index == 0 { "" } else { ", " };
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{separator}`{name}`");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rust to Lua
