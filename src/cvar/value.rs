//! [`CVarValue`]: the typed value of a console variable, parsed from text and checked
//! against the type of a CVar's default.

use bevy_ecs::message::Message;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The value of a console variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CVarValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    String(String),
}

impl CVarValue {
    /// The type's name, for messages: `bool`, `int`, `float` or `string`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float",
            Self::String(_) => "string",
        }
    }

    /// The value as a number, for range checks.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Parses `text` as a value of the same type as `self` (`1`/`0`, `on`/`off` and
    /// `true`/`false` for booleans).
    ///
    /// ```
    /// use bevy_luau::{CVarValue, CVarValueError};
    ///
    /// let like = CVarValue::Bool(false);
    /// assert_eq!(like.parse_like("on"), Ok(CVarValue::Bool(true)));
    /// let error = like.parse_like("maybe").unwrap_err();
    /// assert!(matches!(error, CVarValueError::NotABool { .. }));
    /// assert_eq!(error.to_string(), "`maybe` is not a bool (use true/false, 1/0, on/off)");
    /// ```
    pub fn parse_like(&self, text: &str) -> Result<CVarValue, CVarValueError> {
        let text = text.trim();
        match self {
            Self::Bool(_) => match text.to_ascii_lowercase().as_str() {
                "1" | "true" | "on" | "yes" => Ok(Self::Bool(true)),
                "0" | "false" | "off" | "no" => Ok(Self::Bool(false)),
                _ => Err(CVarValueError::NotABool {
                    text: text.to_owned(),
                }),
            },
            Self::Int(_) => {
                text.parse()
                    .map(Self::Int)
                    .map_err(|_| CVarValueError::NotAWholeNumber {
                        text: text.to_owned(),
                    })
            }
            Self::Float(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Self::Float(f)),
                _ => Err(CVarValueError::NotFinite {
                    text: text.to_owned(),
                }),
            },
            Self::String(_) => Ok(Self::String(text.to_owned())),
        }
    }

    /// Converts `value` to the type of `self`: an int may become a float, a whole float an int.
    pub(crate) fn coerce_like(&self, value: CVarValue) -> Result<CVarValue, CVarValueError> {
        match (self, value) {
            (Self::Float(_), Self::Int(i)) => Ok(Self::Float(i as f64)),
            (Self::Int(_), Self::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Ok(Self::Int(f as i64))
            }
            (Self::Float(_), Self::Float(f)) if !f.is_finite() => Err(CVarValueError::NotFinite {
                text: f.to_string(),
            }),
            (expected, value)
                if std::mem::discriminant(expected) == std::mem::discriminant(&value) =>
            {
                Ok(value)
            }
            (expected, value) => Err(CVarValueError::WrongType {
                expected: expected.type_name(),
                got: value.type_name(),
                value,
            }),
        }
    }
}

impl fmt::Display for CVarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::String(s) => write!(f, "{s}"),
        }
    }
}

impl From<bool> for CVarValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for CVarValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<i32> for CVarValue {
    fn from(value: i32) -> Self {
        Self::Int(value.into())
    }
}

impl From<f64> for CVarValue {
    fn from(value: f64) -> Self {
        Self::Float(value)
    }
}

impl From<f32> for CVarValue {
    fn from(value: f32) -> Self {
        Self::Float(value.into())
    }
}

impl From<&str> for CVarValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for CVarValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

/// Why a value does not fit a CVar's type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CVarValueError {
    /// Text that is none of the boolean words.
    #[error("`{text}` is not a bool (use true/false, 1/0, on/off)")]
    NotABool {
        /// The text given.
        text: String,
    },
    /// Text that is not a whole number, for an int CVar.
    #[error("`{text}` is not a whole number")]
    NotAWholeNumber {
        /// The text given.
        text: String,
    },
    /// Text or a number that is not a finite number, for a float CVar.
    #[error("`{text}` is not a finite number")]
    NotFinite {
        /// The text, or the number, given.
        text: String,
    },
    /// A value of another type.
    #[error("expected a {expected}, got a {got} ({value})")]
    WrongType {
        /// The CVar's type.
        expected: &'static str,
        /// The value's type.
        got: &'static str,
        /// The value.
        value: CVarValue,
    },
}

/// A console variable changed. Written at stage 2 of the scripting step after the change.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct CVarChanged {
    /// The CVar.
    pub name: String,
    /// Its value before.
    pub old: CVarValue,
    /// Its value now.
    pub new: CVarValue,
}
