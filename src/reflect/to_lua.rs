//! Reflected values to Lua, written straight onto the Lua stack.
//!
//! One writer serves both paths: the fast path pushes with it inside its C functions, and
//! [`to_lua`] runs it in a protected call for everything else.

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
use crate::ffi::Stack;
use crate::ffi::stack::{Type, produce};

/// Converts a reflected value into a Lua value, following the mapping in the module docs.
///
/// Errors (an opaque type, a value nested too deeply) are [`ScriptErrorKind::TypeMismatch`]
/// errors that name the field; the caller adds what was being converted, for example with
/// [`mlua::ErrorContext::context`]. Errors from Lua itself, such as running out of memory, are
/// returned unchanged.
pub(crate) fn to_lua(lua: &Lua, value: &dyn PartialReflect) -> mlua::Result<Value> {
    produce(lua, |stack| Writer { stack }.value(value, 0))?
        .map_err(|failure| failure.into_error(None))
}

/// Pushes `value` converted (one Lua value); returns `false`, leaving the stack as it was, when
/// it cannot cross (the safe path then reports why).
pub(crate) fn push(stack: Stack<'_>, value: &dyn PartialReflect) -> bool {
    let top = stack.top();
    let pushed = Writer { stack }.value(value, 0).is_ok();
    if !pushed {
        stack.truncate(top);
    }
    pushed
}

// ---------------------------------------------------------------------------------------------

/// Converts reflected values onto the Lua stack: each conversion that succeeds pushes exactly
/// one value; one that fails may leave values behind, which the caller drops.
struct Writer<'s> {
    stack: Stack<'s>,
}

impl Writer<'_> {
    /// Converts `value`, which sits `depth` containers deep.
    fn value(&self, value: &dyn PartialReflect, depth: usize) -> Result<(), Failure> {
        if self.leaf(value) {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            let message = format!("value nested more than {MAX_DEPTH} levels deep");
            return Err(Failure::mismatch(message));
        }
        let stack = self.stack;
        let depth = depth + 1;
        match value.reflect_ref() {
            ReflectRef::Struct(value) => {
                stack.push_table(0, value.field_len());
                let table = stack.top();
                let names = static_names(value);
                for (index, (name, field)) in value.iter_fields().enumerate() {
                    match names.and_then(|names| names.get(index)) {
                        Some(name) => crate::bridge::keys::push_key(stack, name),
                        None => stack.push_str(name.as_bytes()),
                    }
                    self.value(field, depth)
                        .map_err(|f| f.inside(Segment::Field(name.to_owned())))?;
                    stack.raw_set(table);
                }
            }
            ReflectRef::TupleStruct(value) if value.field_len() == 1 => match value.field(0) {
                Some(field) => self.value(field, depth)?,
                None => stack.push_nil(),
            },
            ReflectRef::TupleStruct(value) => {
                self.list(value.field_len(), value.iter_fields(), depth)?
            }
            ReflectRef::Tuple(value) => self.list(value.field_len(), value.iter_fields(), depth)?,
            ReflectRef::List(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Array(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Set(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Map(value) => {
                stack.push_table(0, value.len());
                let table = stack.top();
                for (key, item) in value.iter() {
                    self.value(key, depth)?;
                    let key = stack.top();
                    match stack.kind(key) {
                        Type::Nil => return Err(Failure::mismatch("a map key converts to nil")),
                        Type::Number if stack.number(key).is_some_and(f64::is_nan) => {
                            return Err(Failure::mismatch("a map key converts to NaN"));
                        }
                        _ => {}
                    }
                    self.value(item, depth)
                        .map_err(|f| f.inside(key_segment_at(stack, key)))?;
                    stack.raw_set(table);
                }
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
                    match value.field_at(0) {
                        Some(inner) if name == "Some" => self.value(inner, depth)?,
                        _ => stack.push_nil(),
                    }
                    return Ok(());
                }
                if value.variant_type() == VariantType::Unit {
                    stack.push_str(name.as_bytes());
                    return Ok(());
                }
                stack.push_table(0, 1);
                let table = stack.top();
                stack.push_str(name.as_bytes());
                let inside = |f: Failure| f.inside(Segment::Field(name.to_owned()));
                match value.variant_type() {
                    VariantType::Tuple if value.field_len() == 1 => match value.field_at(0) {
                        Some(field) => self.value(field, depth).map_err(inside)?,
                        None => stack.push_nil(),
                    },
                    VariantType::Tuple => self
                        .list(
                            value.field_len(),
                            value.iter_fields().map(|f| f.value()),
                            depth,
                        )
                        .map_err(inside)?,
                    _ => {
                        stack.push_table(0, value.field_len());
                        let fields = stack.top();
                        for field in value.iter_fields() {
                            let field_name = field.name().unwrap_or_default();
                            stack.push_str(field_name.as_bytes());
                            self.value(field.value(), depth).map_err(|f| {
                                inside(f.inside(Segment::Field(field_name.to_owned())))
                            })?;
                            stack.raw_set(fields);
                        }
                    }
                }
                stack.raw_set(table);
            }
            // Opaque values that `leaf` did not know (and functions, where that feature is on).
            _ => {
                let message = format!(
                    "type `{}` cannot cross to Lua (it is opaque to reflection)",
                    value.reflect_short_type_path()
                );
                return Err(Failure::mismatch(message));
            }
        }
        Ok(())
    }

    /// Writes items into a sequence table `{a, b, c}`.
    fn list<'a>(
        &self,
        len: usize,
        items: impl Iterator<Item = &'a dyn PartialReflect>,
        depth: usize,
    ) -> Result<(), Failure> {
        let stack = self.stack;
        stack.push_table(len, 0);
        let table = stack.top();
        for (index, item) in items.enumerate() {
            self.value(item, depth)
                .map_err(|f| f.inside(Segment::Index((index + 1).to_string())))?;
            stack.raw_set_index(table, index + 1);
        }
        Ok(())
    }

    /// Pushes the types with a mapping of their own; returns `false` (pushing nothing) for
    /// everything else.
    fn leaf(&self, value: &dyn PartialReflect) -> bool {
        let stack = self.stack;
        let Some(reflect) = value.try_as_reflect() else {
            return match dynamic_leaf(value) {
                Some(vector) => {
                    stack.push_vector(vector);
                    true
                }
                None => false,
            };
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
        macro_rules! numbers {
            ($($ty:ty),*) => {$(
                if let Some(&value) = get!($ty) {
                    stack.push_number(value as f64);
                    return true;
                }
            )*};
        }
        numbers!(f32);
        if let Some(&value) = get!(Entity) {
            stack.push_entity(value);
            return true;
        }
        if let Some(&value) = get!(Vec3) {
            stack.push_vector(value);
            return true;
        }
        numbers!(
            i32, u32, i64, u8, u16, i8, i16, usize, u64, isize, i128, u128, f64
        );
        if let Some(&value) = get!(bool) {
            stack.push_bool(value);
            return true;
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
            stack.push_str(text.as_bytes());
            return true;
        }
        if let Some(&value) = get!(Vec3A) {
            stack.push_vector(value.into());
            return true;
        }
        if let Some(&value) = get!(Vec2) {
            stack.push_vector(value.extend(0.0));
            return true;
        }
        if let Some(value) = get!(Duration) {
            stack.push_number(value.as_secs_f64());
            return true;
        }
        false
    }
}

/// The `'static` field names of a struct that is not dynamic, whose names come from its type.
fn static_names(value: &dyn bevy_reflect::structs::Struct) -> Option<&'static [&'static str]> {
    if value.is_dynamic() {
        return None;
    }
    value
        .get_represented_struct_info()
        .map(|info| info.field_names())
}

/// The special mappings for dynamic values that stand for a vector type.
///
/// Opaque leaves are always concrete, so only the glam structs can turn up here.
fn dynamic_leaf(value: &dyn PartialReflect) -> Option<Vec3> {
    let id = value.get_represented_type_info()?.type_id();
    if id == TypeId::of::<Vec3>() {
        Vec3::from_reflect(value)
    } else if id == TypeId::of::<Vec3A>() {
        Vec3A::from_reflect(value).map(Vec3::from)
    } else if id == TypeId::of::<Vec2>() {
        Vec2::from_reflect(value).map(|v| v.extend(0.0))
    } else {
        None
    }
}

/// Names the key at `index` of the stack as a path segment, as `key_segment` names a key value.
fn key_segment_at(stack: Stack<'_>, index: std::ffi::c_int) -> Segment {
    let value = match stack.kind(index) {
        Type::String => {
            let text = stack
                .string(index)
                .map(|s| String::from_utf8_lossy(s.bytes()).into_owned())
                .unwrap_or_default();
            return if crate::value::is_identifier(&text) {
                Segment::Field(text)
            } else {
                Segment::Index(format!("{text:?}"))
            };
        }
        Type::Number => Value::Number(stack.number(index).unwrap_or_default()),
        Type::Boolean => Value::Boolean(stack.boolean(index).unwrap_or_default()),
        Type::LightUserData => match stack.entity(index) {
            Some(entity) => crate::value::entity_to_lua(entity),
            None => return Segment::Index("lightuserdata".to_owned()),
        },
        Type::Vector => {
            let v = stack.vector(index).unwrap_or_default();
            Value::Vector(mlua::Vector::new(v.x, v.y, v.z))
        }
        _ => return Segment::Index("table".to_owned()),
    };
    key_segment(&value)
}
