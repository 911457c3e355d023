//! Lua values to the reflected types with a mapping of their own: numbers (integers checked
//! to be whole and in range), booleans, strings, entities, vectors and durations.

use std::any::{TypeId, type_name};
use std::borrow::Cow;
use std::time::Duration;

use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_math::{Quat, Vec2, Vec3, Vec3A};
use bevy_reflect::{PartialReflect, Type};
use mlua::Value;

use super::failure::*;
use crate::value::entity_from_lua;

/// Reads a whole number in the range of integer type `$ty`, as `f64` sees the range: the
/// 64-bit (and wider) bounds, which `f64` rounds up (2^63, 2^64), saturate, so that a value read
/// from a field writes back (`r.n = r.n`).
macro_rules! integer {
    ($value:expr, $ty:ty) => {{
        match *$value {
            Value::Integer(whole) => <$ty>::try_from(whole).map_err(|_| {
                Failure::mismatch(format!(
                    "{whole} is out of range for {}",
                    type_name::<$ty>()
                ))
            }),
            Value::Number(number) => whole::<$ty>(number, <$ty>::MIN as f64, <$ty>::MAX as f64)
                .map(|n| n as $ty)
                .map_err(Failure::mismatch),
            _ => Err(expected("a number", $value)),
        }
    }};
}

/// What [`leaf`] made of a value.
pub(super) enum Leaf {
    /// A type with a mapping of its own, converted.
    Done(Box<dyn PartialReflect>),
    /// Not such a type (or a vector type written as a table): convert by its `TypeInfo`.
    Composite(Value),
}

/// Converts the types with a mapping of their own (numbers, strings, entities, vectors, …).
pub(super) fn leaf(value: Value, ty: &Type) -> Result<Leaf, Failure> {
    let id = ty.id();
    let done = |value: Box<dyn PartialReflect>| Ok(Leaf::Done(value));
    if id == TypeId::of::<f32>() {
        return done(Box::new(number(&value)? as f32));
    }
    if id == TypeId::of::<Entity>() {
        let entity = entity_from_lua(&value).ok_or_else(|| expected("an entity", &value))?;
        return done(Box::new(entity));
    }
    if id == TypeId::of::<Quat>() {
        return done(Box::new(rotation(&value)?));
    }
    if id == TypeId::of::<Vec3>() || id == TypeId::of::<Vec3A>() || id == TypeId::of::<Vec2>() {
        let v = match value {
            Value::Vector(v) => v,
            // Vector types are reflected structs, so a table of their fields works too.
            Value::Table(_) => return Ok(Leaf::Composite(value)),
            other => return Err(expected("a vector", &other)),
        };
        return done(if id == TypeId::of::<Vec3>() {
            Box::new(Vec3::new(v.x(), v.y(), v.z()))
        } else if id == TypeId::of::<Vec3A>() {
            Box::new(Vec3A::new(v.x(), v.y(), v.z()))
        } else {
            Box::new(Vec2::new(v.x(), v.y()))
        });
    }
    macro_rules! integers {
        ($($ty:ty),*) => {$(
            if id == TypeId::of::<$ty>() {
                return done(Box::new(integer!(&value, $ty)?));
            }
        )*};
    }
    integers!(
        i32, u32, i64, u64, u8, u16, i8, i16, usize, isize, i128, u128
    );
    if id == TypeId::of::<f64>() {
        return done(Box::new(number(&value)?));
    }
    if id == TypeId::of::<bool>() {
        return match value {
            Value::Boolean(value) => done(Box::new(value)),
            other => Err(expected("a boolean", &other)),
        };
    }
    if id == TypeId::of::<String>() {
        return done(Box::new(string(&value)?));
    }
    if id == TypeId::of::<Cow<'static, str>>() {
        return done(Box::new(Cow::<'static, str>::Owned(string(&value)?)));
    }
    if id == TypeId::of::<Name>() {
        return done(Box::new(Name::new(string(&value)?)));
    }
    if id == TypeId::of::<char>() {
        let one = match &value {
            Value::String(text) => text.to_str().ok().and_then(|text| {
                let mut chars = text.chars();
                chars.next().filter(|_| chars.next().is_none())
            }),
            _ => None,
        };
        return match one {
            Some(one) => done(Box::new(one)),
            None => Err(expected("a string of one character", &value)),
        };
    }
    if id == TypeId::of::<Duration>() {
        let seconds = number(&value)?;
        return match Duration::try_from_secs_f64(seconds) {
            Ok(duration) => done(Box::new(duration)),
            Err(_) => Err(Failure::mismatch(format!(
                "{} is not a duration (expected a number of seconds, not negative)",
                show_number(seconds)
            ))),
        };
    }
    Ok(Leaf::Composite(value))
}

/// Reads a number; floats take any, NaN included.
fn number(value: &Value) -> Result<f64, Failure> {
    match *value {
        Value::Number(value) => Ok(value),
        Value::Integer(value) => Ok(value as f64),
        _ => Err(expected("a number", value)),
    }
}

/// `n` when it is whole and within `min..=max`; the error names the type `T`.
pub(crate) fn whole<T>(n: f64, min: f64, max: f64) -> Result<f64, String> {
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(format!("{} is not a whole number", show_number(n)));
    }
    if n < min || n > max {
        return Err(format!(
            "{} is out of range for {}",
            show_number(n),
            type_name::<T>()
        ));
    }
    Ok(n)
}

/// Reads a rotation, `{x =, y =, z =, w =}`, as a unit quaternion: normalized, since Bevy's
/// `Transform::forward` and friends panic (in debug builds) on one far from unit length, and
/// refused when it has no direction (zero, NaN or infinite).
fn rotation(value: &Value) -> Result<Quat, Failure> {
    let Value::Table(table) = value else {
        return Err(expected("a rotation {x =, y =, z =, w =}", value));
    };
    let mut xyzw = [0.0_f32; 4];
    for (slot, key) in xyzw.iter_mut().zip(["x", "y", "z", "w"]) {
        let field: Value = table
            .raw_get(key)
            .map_err(|e| Failure::mismatch(e.to_string()))?;
        *slot = number(&field).map_err(|_| {
            Failure::mismatch(format!(
                "a rotation's `{key}` must be a number, got {}",
                crate::api::function::describe(&field)
            ))
        })? as f32;
    }
    let quat = Quat::from_array(xyzw);
    let length = quat.length();
    if !(length.is_finite() && length > 0.0) {
        return Err(Failure::mismatch(format!(
            "{{x = {}, y = {}, z = {}, w = {}}} is not a rotation (it has no direction)",
            xyzw[0], xyzw[1], xyzw[2], xyzw[3]
        )));
    }
    Ok(quat / length)
}

/// Reads a string, replacing bytes that are not UTF-8.
fn string(value: &Value) -> Result<String, Failure> {
    match value {
        Value::String(text) => Ok(text.to_string_lossy()),
        other => Err(expected("a string", other)),
    }
}
