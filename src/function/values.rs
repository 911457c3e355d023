//! One Lua value to a Rust value and back: [`FromScript`] and [`IntoScript`] for the types game
//! functions take and return (the table is in `super::convert`'s docs).

use super::convert::{FromScript, IntoScript, expected, optional};
use crate::api::function::describe;
use crate::ffi::dynamic::{Output, Scalar};
use crate::value::{ScriptValue, entity_to_lua};
use bevy_ecs::entity::Entity;
use bevy_math::{Quat, Vec2, Vec3};
use mlua::{IntoLua, Lua, Value};
use std::collections::HashMap;

impl FromScript for f64 {
    fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
        match value {
            Value::Number(n) => Ok(n),
            Value::Integer(i) => Ok(i as f64),
            other => Err(expected("a number", &other)),
        }
    }
    fn luau_type() -> String {
        "number".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Number(n) => Some(n),
            _ => None,
        }
    }
}

impl FromScript for f32 {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        f64::from_script(value, lua).map(|n| n as f32)
    }
    fn luau_type() -> String {
        "number".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        f64::from_scalar(value).map(|n| n as f32)
    }
}

/// Converts a Lua number into integer type `$ty`: whole and inside the type's range as `f64`
/// sees it, so the 64-bit bounds (which `f64` rounds up to 2^63 and 2^64) saturate.
macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl FromScript for $ty {
            fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
                let n = match value {
                    Value::Integer(i) => {
                        return <$ty>::try_from(i).map_err(|_| {
                            format!("{i} is out of range for {}", stringify!($ty))
                        });
                    }
                    Value::Number(n) => n,
                    other => return Err(expected("a number", &other)),
                };
                crate::reflect::whole::<$ty>(n, <$ty>::MIN as f64, <$ty>::MAX as f64).map(|n| n as $ty)
            }
            fn luau_type() -> String {
                "number".to_owned()
            }
            fn from_scalar(value: Scalar<'_>) -> Option<Self> {
                match value {
                    Scalar::Number(n) if n.fract() == 0.0
                        && n >= <$ty>::MIN as f64
                        && n <= <$ty>::MAX as f64 => Some(n as $ty),
                    _ => None,
                }
            }
        }

        impl IntoScript for $ty {
            fn into_script(self, _: &Lua) -> mlua::Result<Value> {
                Ok(Value::Number(self as f64))
            }
            fn luau_type() -> String {
                "number".to_owned()
            }
            fn into_output(self) -> Result<Output, Self> {
                Ok(Output::Number(self as f64))
            }
        }
    )*};
}

integers!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl FromScript for bool {
    fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
        match value {
            Value::Boolean(b) => Ok(b),
            other => Err(expected("a boolean", &other)),
        }
    }
    fn luau_type() -> String {
        "boolean".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Boolean(b) => Some(b),
            _ => None,
        }
    }
}

impl FromScript for String {
    fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(text.to_string_lossy()),
            other => Err(expected("a string", &other)),
        }
    }
    fn luau_type() -> String {
        "string".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::String(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }
}

impl FromScript for Entity {
    fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
        crate::api::function::entity_of(&value).ok_or_else(|| expected("an Entity", &value))
    }
    fn luau_type() -> String {
        "Entity".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Entity(entity) => Some(entity),
            _ => None,
        }
    }
}

impl FromScript for Vec3 {
    fn from_script(value: Value, _: &Lua) -> Result<Self, String> {
        match value {
            Value::Vector(v) => Ok(Vec3::new(v.x(), v.y(), v.z())),
            other => Err(expected("a vector", &other)),
        }
    }
    fn luau_type() -> String {
        "vector".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Vector(v) => Some(v),
            _ => None,
        }
    }
}

impl FromScript for Vec2 {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        Vec3::from_script(value, lua).map(Vec3::truncate)
    }
    fn luau_type() -> String {
        "vector".to_owned()
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        Vec3::from_scalar(value).map(Vec3::truncate)
    }
}

impl FromScript for Quat {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        let Value::Table(table) = &value else {
            return Err(expected("a quaternion {x =, y =, z =, w =}", &value));
        };
        let mut xyzw = [0.0_f32; 4];
        for (slot, key) in xyzw.iter_mut().zip(["x", "y", "z", "w"]) {
            let field: Value = table.raw_get(key).map_err(|e| e.to_string())?;
            *slot = f32::from_script(field, lua).map_err(|message| format!("{key}: {message}"))?;
        }
        Ok(Quat::from_array(xyzw))
    }
    fn luau_type() -> String {
        QUAT.to_owned()
    }
}

/// The Luau type of a quaternion.
const QUAT: &str = "{ x: number, y: number, z: number, w: number }";

impl FromScript for ScriptValue {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        <ScriptValue as mlua::FromLua>::from_lua(value, lua).map_err(|e| crate::registry::plain(&e))
    }
    fn luau_type() -> String {
        "any".to_owned()
    }
}

impl<T: FromScript> FromScript for Option<T> {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        match value {
            Value::Nil => Ok(None),
            value => T::from_script(value, lua).map(Some),
        }
    }
    fn luau_type() -> String {
        optional(&T::luau_type())
    }
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Nil => Some(None),
            value => T::from_scalar(value).map(Some),
        }
    }
}

impl<T: FromScript> FromScript for Vec<T> {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        let Value::Table(table) = &value else {
            return Err(expected("a list", &value));
        };
        (1..=table.raw_len())
            .map(|i| {
                let item: Value = table.raw_get(i).map_err(|e| e.to_string())?;
                T::from_script(item, lua).map_err(|message| format!("[{i}]: {message}"))
            })
            .collect()
    }
    fn luau_type() -> String {
        format!("{{ {} }}", T::luau_type())
    }
}

impl<T: FromScript> FromScript for HashMap<String, T> {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        let Value::Table(table) = &value else {
            return Err(expected("a table with string keys", &value));
        };
        let mut map = HashMap::new();
        for pair in table.pairs::<Value, Value>() {
            let (key, item) = pair.map_err(|e| e.to_string())?;
            let Value::String(key) = &key else {
                return Err(format!("expected string keys, got {}", describe(&key)));
            };
            let key = key.to_string_lossy();
            let item = T::from_script(item, lua).map_err(|message| format!("{key}: {message}"))?;
            map.insert(key, item);
        }
        Ok(map)
    }
    fn luau_type() -> String {
        format!("{{ [string]: {} }}", T::luau_type())
    }
}

impl IntoScript for f64 {
    fn into_script(self, _: &Lua) -> mlua::Result<Value> {
        Ok(Value::Number(self))
    }
    fn luau_type() -> String {
        "number".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Number(self))
    }
}

impl IntoScript for f32 {
    fn into_script(self, _: &Lua) -> mlua::Result<Value> {
        Ok(Value::Number(f64::from(self)))
    }
    fn luau_type() -> String {
        "number".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Number(f64::from(self)))
    }
}

impl IntoScript for bool {
    fn into_script(self, _: &Lua) -> mlua::Result<Value> {
        Ok(Value::Boolean(self))
    }
    fn luau_type() -> String {
        "boolean".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Boolean(self))
    }
}

impl IntoScript for String {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        lua.create_string(&self).map(Value::String)
    }
    fn luau_type() -> String {
        "string".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::String(self))
    }
}

impl IntoScript for &'static str {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        lua.create_string(self).map(Value::String)
    }
    fn luau_type() -> String {
        "string".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::String(self.to_owned()))
    }
}

impl IntoScript for Entity {
    fn into_script(self, _: &Lua) -> mlua::Result<Value> {
        Ok(entity_to_lua(self))
    }
    fn luau_type() -> String {
        "Entity".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Entity(self))
    }
}

impl IntoScript for Vec3 {
    fn into_script(self, _: &Lua) -> mlua::Result<Value> {
        Ok(Value::Vector(mlua::Vector::new(self.x, self.y, self.z)))
    }
    fn luau_type() -> String {
        "vector".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Vector(self))
    }
}

impl IntoScript for Vec2 {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        self.extend(0.0).into_script(lua)
    }
    fn luau_type() -> String {
        "vector".to_owned()
    }
    fn into_output(self) -> Result<Output, Self> {
        Ok(Output::Vector(self.extend(0.0)))
    }
}

impl IntoScript for Quat {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        let table = lua.create_table_with_capacity(0, 4)?;
        for (key, value) in ["x", "y", "z", "w"].into_iter().zip(self.to_array()) {
            table.raw_set(key, value)?;
        }
        Ok(Value::Table(table))
    }
    fn luau_type() -> String {
        QUAT.to_owned()
    }
}

impl IntoScript for ScriptValue {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        self.into_lua(lua)
    }
    fn luau_type() -> String {
        "any".to_owned()
    }
}

impl<T: IntoScript> IntoScript for Option<T> {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        self.map_or(Ok(Value::Nil), |value| value.into_script(lua))
    }
    fn luau_type() -> String {
        optional(&T::luau_type())
    }
    fn into_output(self) -> Result<Output, Self> {
        match self {
            None => Ok(Output::Nil),
            Some(value) => value.into_output().map_err(Some),
        }
    }
}

impl<T: IntoScript> IntoScript for Vec<T> {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        let table = lua.create_table_with_capacity(self.len(), 0)?;
        for (i, item) in self.into_iter().enumerate() {
            table.raw_set(i + 1, item.into_script(lua)?)?;
        }
        Ok(Value::Table(table))
    }
    fn luau_type() -> String {
        format!("{{ {} }}", T::luau_type())
    }
}

impl<T: IntoScript> IntoScript for HashMap<String, T> {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        let table = lua.create_table_with_capacity(0, self.len())?;
        for (key, item) in self {
            table.raw_set(key, item.into_script(lua)?)?;
        }
        Ok(Value::Table(table))
    }
    fn luau_type() -> String {
        format!("{{ [string]: {} }}", T::luau_type())
    }
}
