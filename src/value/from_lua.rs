//! Lua values to [`ScriptValue`]s: what is accepted, and errors that say what was rejected and
//! where.

use super::size::SizeLimit;
use super::{ScriptValue, entity_from_light_userdata, is_identifier};
use bevy_math::Vec3;
use mlua::{Table, Value};
use std::collections::BTreeMap;

/// How many tables deep a Lua value may nest before conversion gives up.
///
/// A table that contains itself also stops here.
const MAX_DEPTH: usize = 64;

/// Converts a Lua value, with the limit above and the size limit of [`SizeLimit`]: tables
/// that share strings or sub-tables are copied once per reference, so a few lines of Lua could
/// otherwise ask for an exponentially large value.
pub(super) fn convert(value: Value) -> mlua::Result<ScriptValue> {
    let from = value.type_name();
    let mut budget = SizeLimit::default();
    convert_value(value, 0, &mut budget).map_err(|failure| failure.into_error(from))
}

/// Why a conversion from Lua failed, with the path to the offending value.
enum Failure {
    Lua(mlua::Error),
    Rejected {
        message: String,
        /// Path segments (`.name`, `[3]`), innermost first.
        path: Vec<String>,
    },
}

impl Failure {
    fn rejected(message: String) -> Self {
        Self::Rejected {
            message,
            path: Vec::new(),
        }
    }

    fn inside(mut self, segment: impl FnOnce() -> String) -> Self {
        if let Self::Rejected { path, .. } = &mut self {
            path.push(segment());
        }
        self
    }

    fn into_error(self, from: &'static str) -> mlua::Error {
        match self {
            Self::Lua(error) => error,
            Self::Rejected { message, path } => {
                let path: String = path.into_iter().rev().collect();
                let message = match path.strip_prefix('.').unwrap_or(&path) {
                    "" => message,
                    path => format!("{message} (at `{path}`)"),
                };
                mlua::Error::FromLuaConversionError {
                    from,
                    to: "ScriptValue".to_owned(),
                    message: Some(message),
                }
            }
        }
    }
}

fn convert_value(
    value: Value,
    depth: usize,
    budget: &mut SizeLimit,
) -> Result<ScriptValue, Failure> {
    budget.charge_value(&value).map_err(Failure::rejected)?;
    Ok(match value {
        Value::Nil => ScriptValue::Nil,
        Value::Boolean(value) => ScriptValue::Bool(value),
        Value::Integer(value) => ScriptValue::Number(value as f64),
        Value::Number(value) => ScriptValue::Number(value),
        Value::Vector(value) => ScriptValue::Vector(Vec3::new(value.x(), value.y(), value.z())),
        Value::String(value) => ScriptValue::String(value.to_string_lossy()),
        Value::LightUserData(data) => match entity_from_light_userdata(data) {
            Some(entity) => ScriptValue::Entity(entity),
            None => {
                let message = format!("light userdata {:p} is not an Entity", data.0);
                return Err(Failure::rejected(message));
            }
        },
        Value::Table(table) => convert_table(&table, depth, budget)?,
        other => {
            let name = other.type_name();
            let message = format!("cannot convert {} {name} to a ScriptValue", article(name));
            return Err(Failure::rejected(message));
        }
    })
}

fn convert_table(
    table: &Table,
    depth: usize,
    budget: &mut SizeLimit,
) -> Result<ScriptValue, Failure> {
    if depth >= MAX_DEPTH {
        let message = "table nested too deeply (or contains a cycle)".to_owned();
        return Err(Failure::rejected(message));
    }
    const ALLOWED: &str = "keys must be strings, or the indices 1..n of a sequence without holes";
    let len = table.raw_len();
    let mut items: Vec<Option<ScriptValue>> = Vec::new();
    let mut entries = BTreeMap::new();
    for pair in table.pairs::<Value, Value>() {
        let (key, item) = pair.map_err(Failure::Lua)?;
        let index = match key {
            Value::Integer(index) => usize::try_from(index)
                .ok()
                .filter(|i| (1..=len).contains(i)),
            _ => None,
        };
        if let Some(index) = index {
            let item = convert_value(item, depth + 1, budget)
                .map_err(|f| f.inside(|| format!("[{index}]")))?;
            if items.is_empty() {
                items.resize(len, None);
            }
            items[index - 1] = Some(item);
        } else if let Value::String(key) = key {
            budget
                .charge(key.as_bytes().len())
                .map_err(Failure::rejected)?;
            let key = key.to_string_lossy();
            let item = convert_value(item, depth + 1, budget)
                .map_err(|f| f.inside(|| key_segment(&key)))?;
            entries.insert(key, item);
        } else {
            let key = describe_key(&key);
            return Err(Failure::rejected(format!(
                "key {key} is not allowed ({ALLOWED})"
            )));
        }
    }
    if entries.is_empty() {
        let missing = items.iter().position(Option::is_none);
        match missing {
            None => Ok(ScriptValue::List(items.into_iter().flatten().collect())),
            Some(hole) => Err(Failure::rejected(format!(
                "table has a hole at index {} ({ALLOWED})",
                hole + 1
            ))),
        }
    } else if items.is_empty() {
        Ok(ScriptValue::Map(entries))
    } else {
        let message = format!("table mixes sequence items with string keys ({ALLOWED})");
        Err(Failure::rejected(message))
    }
}

/// Names a rejected table key for an error message.
fn describe_key(key: &Value) -> String {
    match key {
        Value::Boolean(value) => format!("`{value}`"),
        Value::Integer(value) => format!("`{value}`"),
        Value::Number(value) => format!("`{value}`"),
        Value::LightUserData(data) => match entity_from_light_userdata(*data) {
            Some(entity) => format!("`Entity({entity})`"),
            None => "of type lightuserdata".to_owned(),
        },
        other => format!("of type {}", other.type_name()),
    }
}

fn article(name: &str) -> &'static str {
    match name.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o') => "an",
        _ => "a",
    }
}

fn key_segment(key: &str) -> String {
    if is_identifier(key) {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

impl mlua::FromLua for ScriptValue {
    fn from_lua(value: Value, _lua: &mlua::Lua) -> mlua::Result<Self> {
        convert(value)
    }
}
