//! Reflected values to Lua.

use std::any::TypeId;
use std::borrow::Cow;
use std::time::Duration;

use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_math::{Vec2, Vec3, Vec3A};
use bevy_reflect::enums::VariantType;
use bevy_reflect::{FromReflect, PartialReflect, ReflectRef};
use mlua::{Lua, Value};

use super::failure::*;
use crate::value::entity_to_lua;

/// Converts a reflected value into a Lua value, following the mapping in the module docs.
///
/// Errors (an opaque type, a value nested too deeply) are [`ScriptErrorKind::TypeMismatch`]
/// errors that name the field; the caller adds what was being converted, for example with
/// [`mlua::ErrorContext::context`]. Errors from Lua itself, such as running out of memory, are
/// returned unchanged.
pub(crate) fn to_lua(lua: &Lua, value: &dyn PartialReflect) -> mlua::Result<Value> {
    Writer { lua }
        .value(value, 0)
        .map_err(|failure| failure.into_error(None))
}

// ---------------------------------------------------------------------------------------------

/// Converts reflected values into Lua values.
struct Writer<'l> {
    /// The VM that owns the strings and tables being made.
    lua: &'l Lua,
}

impl Writer<'_> {
    /// Converts `value`, which sits `depth` containers deep.
    fn value(&self, value: &dyn PartialReflect, depth: usize) -> Result<Value, Failure> {
        if let Some(leaf) = self.leaf(value)? {
            return Ok(leaf);
        }
        if depth >= MAX_DEPTH {
            let message = format!("value nested more than {MAX_DEPTH} levels deep");
            return Err(Failure::mismatch(message));
        }
        let lua = self.lua;
        let depth = depth + 1;
        Ok(match value.reflect_ref() {
            ReflectRef::Struct(value) => {
                let table = lua.create_table_with_capacity(0, value.field_len())?;
                for (name, field) in value.iter_fields() {
                    let item = self
                        .value(field, depth)
                        .map_err(|f| f.inside(Segment::Field(name.to_owned())))?;
                    table.raw_set(name, item)?;
                }
                Value::Table(table)
            }
            ReflectRef::TupleStruct(value) if value.field_len() == 1 => match value.field(0) {
                Some(field) => self.value(field, depth)?,
                None => Value::Nil,
            },
            ReflectRef::TupleStruct(value) => {
                self.list(value.field_len(), value.iter_fields(), depth)?
            }
            ReflectRef::Tuple(value) => self.list(value.field_len(), value.iter_fields(), depth)?,
            ReflectRef::List(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Array(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Set(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Map(value) => {
                let table = lua.create_table_with_capacity(0, value.len())?;
                for (key, item) in value.iter() {
                    let key = self.value(key, depth)?;
                    if key.is_nil() {
                        return Err(Failure::mismatch("a map key converts to nil"));
                    }
                    let item = self
                        .value(item, depth)
                        .map_err(|f| f.inside(key_segment(&key)))?;
                    table.raw_set(key, item)?;
                }
                Value::Table(table)
            }
            ReflectRef::Enum(value) => {
                let option = if value.is_dynamic() {
                    value
                        .get_represented_type_info()
                        .is_some_and(|info| is_option(info.type_path_table()))
                } else {
                    value.reflect_type_ident() == Some("Option")
                        && value.reflect_module_path() == Some("core::option")
                };
                let name = value.variant_name();
                if option {
                    return match value.field_at(0) {
                        Some(inner) if name == "Some" => self.value(inner, depth),
                        _ => Ok(Value::Nil),
                    };
                }
                let inside = |f: Failure| f.inside(Segment::Field(name.to_owned()));
                let payload = match value.variant_type() {
                    VariantType::Unit => return Ok(Value::String(lua.create_string(name)?)),
                    VariantType::Tuple if value.field_len() == 1 => match value.field_at(0) {
                        Some(field) => self.value(field, depth).map_err(inside)?,
                        None => Value::Nil,
                    },
                    VariantType::Tuple => self
                        .list(
                            value.field_len(),
                            value.iter_fields().map(|f| f.value()),
                            depth,
                        )
                        .map_err(inside)?,
                    VariantType::Struct => {
                        let table = lua.create_table_with_capacity(0, value.field_len())?;
                        for field in value.iter_fields() {
                            let field_name = field.name().unwrap_or_default();
                            let item = self.value(field.value(), depth).map_err(|f| {
                                inside(f.inside(Segment::Field(field_name.to_owned())))
                            })?;
                            table.raw_set(field_name, item)?;
                        }
                        Value::Table(table)
                    }
                };
                let table = lua.create_table_with_capacity(0, 1)?;
                table.raw_set(name, payload)?;
                Value::Table(table)
            }
            // Opaque values that `leaf` did not know (and functions, where that feature is on).
            _ => {
                let message = format!(
                    "type `{}` cannot cross to Lua (it is opaque to reflection)",
                    value.reflect_short_type_path()
                );
                return Err(Failure::mismatch(message));
            }
        })
    }

    /// Writes items into a sequence table `{a, b, c}`.
    fn list<'a>(
        &self,
        len: usize,
        items: impl Iterator<Item = &'a dyn PartialReflect>,
        depth: usize,
    ) -> Result<Value, Failure> {
        let table = self.lua.create_table_with_capacity(len, 0)?;
        for (index, item) in items.enumerate() {
            let item = self
                .value(item, depth)
                .map_err(|f| f.inside(Segment::Index((index + 1).to_string())))?;
            table.raw_set(index + 1, item)?;
        }
        Ok(Value::Table(table))
    }

    /// Converts the types with a mapping of their own; `None` for everything else.
    fn leaf(&self, value: &dyn PartialReflect) -> Result<Option<Value>, Failure> {
        let Some(reflect) = value.try_as_reflect() else {
            return Ok(dynamic_leaf(value));
        };
        let any = reflect.as_any();
        let id = any.type_id();
        // One `type_id` call, then plain comparisons; the downcast after a match cannot fail.
        macro_rules! get {
            ($ty:ty) => {
                (id == TypeId::of::<$ty>())
                    .then(|| any.downcast_ref::<$ty>())
                    .flatten()
            };
        }
        macro_rules! exact_integers {
            ($($ty:ty),*) => {$(
                if let Some(value) = get!($ty) {
                    return Ok(Some(Value::Integer(i64::from(*value))));
                }
            )*};
        }
        macro_rules! wide_integers {
            ($($ty:ty),*) => {$(
                if let Some(&value) = get!($ty) {
                    let number = Value::Number(value as f64);
                    return Ok(Some(i64::try_from(value).map_or(number, Value::Integer)));
                }
            )*};
        }
        if let Some(value) = get!(f32) {
            return Ok(Some(Value::Number(f64::from(*value))));
        }
        if let Some(value) = get!(Entity) {
            return Ok(Some(entity_to_lua(*value)));
        }
        if let Some(value) = get!(Vec3) {
            return Ok(Some(vector(value.x, value.y, value.z)));
        }
        exact_integers!(i32, u32, i64, u8, u16, i8, i16);
        wide_integers!(usize, u64, isize, i128, u128);
        if let Some(value) = get!(f64) {
            return Ok(Some(Value::Number(*value)));
        }
        if let Some(value) = get!(bool) {
            return Ok(Some(Value::Boolean(*value)));
        }
        let mut buffer = [0; 4];
        let text: Option<&str> = if let Some(value) = get!(String) {
            Some(value)
        } else if let Some(value) = get!(Cow<'static, str>) {
            Some(value)
        } else if let Some(value) = get!(&'static str) {
            Some(value)
        } else if let Some(value) = get!(Name) {
            Some(value.as_str())
        } else if let Some(value) = get!(char) {
            Some(value.encode_utf8(&mut buffer))
        } else {
            None
        };
        if let Some(text) = text {
            return Ok(Some(Value::String(self.lua.create_string(text)?)));
        }
        if let Some(value) = get!(Vec3A) {
            return Ok(Some(vector(value.x, value.y, value.z)));
        }
        if let Some(value) = get!(Vec2) {
            return Ok(Some(vector(value.x, value.y, 0.0)));
        }
        if let Some(value) = get!(Duration) {
            return Ok(Some(Value::Number(value.as_secs_f64())));
        }
        Ok(None)
    }
}

/// The special mappings for dynamic values that stand for a vector type.
///
/// Opaque leaves are always concrete, so only the glam structs can turn up here.
fn dynamic_leaf(value: &dyn PartialReflect) -> Option<Value> {
    let id = value.get_represented_type_info()?.type_id();
    if id == TypeId::of::<Vec3>() {
        Vec3::from_reflect(value).map(|v| vector(v.x, v.y, v.z))
    } else if id == TypeId::of::<Vec3A>() {
        Vec3A::from_reflect(value).map(|v| vector(v.x, v.y, v.z))
    } else if id == TypeId::of::<Vec2>() {
        Vec2::from_reflect(value).map(|v| vector(v.x, v.y, 0.0))
    } else {
        None
    }
}

/// A Luau `vector`.
fn vector(x: f32, y: f32, z: f32) -> Value {
    Value::Vector(mlua::Vector::new(x, y, z))
}
