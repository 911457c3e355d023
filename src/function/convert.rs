//! How the arguments and results of the game's own functions cross between Lua and Rust.
//!
//! One value converts through [`FromScript`] (Lua to Rust) and [`IntoScript`] (Rust to Lua);
//! the whole argument list through [`ScriptArgs`] (one value, a tuple of up to eight, or `()`)
//! and the results through [`ScriptReturn`] (one value, a tuple, `()`, or a `Result`).
//!
//! | Rust | Lua | Luau type |
//! |---|---|---|
//! | `f32`, `f64` | number (NaN and infinities included) | `number` |
//! | `i8` … `i128`, `u8` … `u128`, `isize`, `usize` | a whole number in range; the 64-bit bounds saturate as `f64` rounds them | `number` |
//! | `bool` | boolean | `boolean` |
//! | `String` | string (bytes that are not UTF-8 are replaced) | `string` |
//! | `Entity` | an entity, or a number holding its exact bits | `Entity` |
//! | `Vec3`, `Vec2` | vector (`Vec2` ignores `z`, and gives `z = 0`) | `vector` |
//! | `Quat` | `{x =, y =, z =, w =}` | `{ x: number, y: number, z: number, w: number }` |
//! | `Option<T>` | `nil` or a `T` | `T?` |
//! | `Vec<T>` | a sequence `{a, b, c}` | `{ T }` |
//! | `HashMap<String, T>` | a table with string keys | `{ [string]: T }` |
//! | [`ScriptValue`](crate::ScriptValue) | any value `ScriptValue` converts | `any` |
//! | [`Serde<T>`] | what serde makes of `T`, as for serde components | `any` |

use crate::api::function::describe;
use crate::ffi::Stack;
use crate::ffi::dynamic::{Output, Scalar};
use mlua::{Lua, MultiValue, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ffi::c_int;
use std::fmt::Display;

/// A Rust value a Lua value converts into: the type of one argument of a game function.
///
/// Implement it for a type of your own to take it as an argument; [`Serde<T>`] does it for
/// every serde type.
pub trait FromScript: Sized + 'static {
    /// Converts `value`. The error says what was expected and what came, as in
    /// `"expected a number, got boolean true"`; the caller adds the function and position.
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String>;

    /// The Luau type of the argument, for the generated definitions.
    fn luau_type() -> String;

    /// The value read straight off the Lua stack, for the types that allow it; `None` hands
    /// the call to [`from_script`](Self::from_script).
    #[doc(hidden)]
    fn from_scalar(value: Scalar<'_>) -> Option<Self> {
        let _ = value;
        None
    }
}

/// A Rust value that converts into a Lua value: the type of one result of a game function.
pub trait IntoScript: Sized + 'static {
    /// Converts `self` for `lua`.
    fn into_script(self, lua: &Lua) -> mlua::Result<Value>;

    /// The Luau type of the result, for the generated definitions.
    fn luau_type() -> String;

    /// The value as the fast path pushes it, for the types that allow it.
    #[doc(hidden)]
    fn into_output(self) -> Result<Output, Self> {
        Err(self)
    }
}

/// The arguments of a game function, read from the Lua call by position: `()` for none, a
/// [`FromScript`] type for one, a tuple of up to eight for several. Arguments past the last
/// are ignored, as the crate's own functions ignore them.
pub trait ScriptArgs: Sized + 'static {
    /// Converts the arguments of a call to the function `name`, naming the argument that does
    /// not convert (``bad argument #2 to `nav.path`: expected a vector, got nil``).
    fn from_args(lua: &Lua, args: MultiValue, name: &str) -> mlua::Result<Self>;

    /// The Luau type of each parameter.
    fn luau_params() -> Vec<String>;

    /// The arguments read straight off the Lua stack, when every one allows it.
    #[doc(hidden)]
    fn from_stack(args: &Arguments<'_>) -> Option<Self>;
}

/// What a game function returns to Lua: `()` for nothing, an [`IntoScript`] type for one value,
/// a tuple of up to eight for several, or a `Result` whose `Err` is raised as a Lua error that
/// names the function (`pcall` catches it).
pub trait ScriptReturn: Sized + Send + 'static {
    /// Converts the results of the function `name`.
    fn into_results(self, lua: &Lua, name: &str) -> mlua::Result<MultiValue>;

    /// The Luau return type: `()`, one type, or `(A, B)`.
    fn luau_returns() -> String;

    /// The results as the fast path pushes them, when it can.
    #[doc(hidden)]
    fn into_fast(self, name: &str) -> Fast<Self>;
}

/// The arguments of a call, as the fast path reads them.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Arguments<'a>(pub(crate) Stack<'a>);

impl std::fmt::Debug for Arguments<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arguments").finish_non_exhaustive()
    }
}

impl<'a> Arguments<'a> {
    /// Argument `position` (from 1); `Nil` past the last.
    #[inline]
    pub fn get(&self, position: c_int) -> Scalar<'a> {
        self.0.scalar(position)
    }
}

/// What the fast path does with the results of a call.
#[doc(hidden)]
#[derive(Debug)]
pub enum Fast<T> {
    /// No results.
    Nothing,
    /// One result it pushes itself.
    One(Output),
    /// Results it hands to [`ScriptReturn::into_results`].
    Slow(T),
    /// An error to raise.
    Failed(mlua::Error),
}

/// The error for argument `position` of `name` that did not convert.
pub(crate) fn bad_argument(position: usize, name: &str, message: &str) -> mlua::Error {
    crate::error::lua_error(
        crate::ScriptErrorKind::TypeMismatch,
        format!("bad argument #{position} to `{name}`: {message}"),
    )
}

/// "expected `what`, got `value`".
pub(super) fn expected(what: &str, value: &Value) -> String {
    format!("expected {what}, got {}", describe(value))
}

/// A value that travels through serde, as serde components do: arguments are read with serde's
/// `Deserialize` and results written with `Serialize`. Its Luau type is `any`.
///
/// ```
/// use bevy_luau::Serde;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Route { stops: Vec<String>, cost: f32 }
///
/// fn plan(Serde(route): Serde<Route>) -> Serde<Route> {
///     Serde(Route { cost: route.cost * 2.0, ..route })
/// }
/// # let _ = plan;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Serde<T>(pub T);

impl<T: DeserializeOwned + 'static> FromScript for Serde<T> {
    fn from_script(value: Value, lua: &Lua) -> Result<Self, String> {
        crate::registry::deserialize(lua, value).map(Serde)
    }
    fn luau_type() -> String {
        "any".to_owned()
    }
}

impl<T: Serialize + 'static> IntoScript for Serde<T> {
    fn into_script(self, lua: &Lua) -> mlua::Result<Value> {
        crate::registry::serialize(lua, &self.0)
    }
    fn luau_type() -> String {
        "any".to_owned()
    }
}

impl ScriptArgs for () {
    fn from_args(_: &Lua, _: MultiValue, _: &str) -> mlua::Result<Self> {
        Ok(())
    }
    fn luau_params() -> Vec<String> {
        Vec::new()
    }
    fn from_stack(_: &Arguments<'_>) -> Option<Self> {
        Some(())
    }
}

impl<T: FromScript> ScriptArgs for T {
    fn from_args(lua: &Lua, args: MultiValue, name: &str) -> mlua::Result<Self> {
        let value = args.into_iter().next().unwrap_or(Value::Nil);
        T::from_script(value, lua).map_err(|message| bad_argument(1, name, &message))
    }
    fn luau_params() -> Vec<String> {
        vec![T::luau_type()]
    }
    fn from_stack(args: &Arguments<'_>) -> Option<Self> {
        T::from_scalar(args.get(1))
    }
}

macro_rules! tuple_args {
    ($($t:ident $pos:literal),+) => {
        impl<$($t: FromScript),+> ScriptArgs for ($($t,)+) {
            fn from_args(lua: &Lua, args: MultiValue, name: &str) -> mlua::Result<Self> {
                let mut args = args.into_iter();
                Ok(($(
                    $t::from_script(args.next().unwrap_or(Value::Nil), lua)
                        .map_err(|message| bad_argument($pos, name, &message))?,
                )+))
            }
            fn luau_params() -> Vec<String> {
                vec![$($t::luau_type()),+]
            }
            fn from_stack(args: &Arguments<'_>) -> Option<Self> {
                Some(($($t::from_scalar(args.get($pos))?,)+))
            }
        }
    };
}

tuple_args!(A 1);
tuple_args!(A 1, B 2);
tuple_args!(A 1, B 2, C 3);
tuple_args!(A 1, B 2, C 3, D 4);
tuple_args!(A 1, B 2, C 3, D 4, E 5);
tuple_args!(A 1, B 2, C 3, D 4, E 5, F 6);
tuple_args!(A 1, B 2, C 3, D 4, E 5, F 6, G 7);
tuple_args!(A 1, B 2, C 3, D 4, E 5, F 6, G 7, H 8);

impl ScriptReturn for () {
    fn into_results(self, _: &Lua, _: &str) -> mlua::Result<MultiValue> {
        Ok(MultiValue::new())
    }
    fn luau_returns() -> String {
        "()".to_owned()
    }
    fn into_fast(self, _: &str) -> Fast<Self> {
        Fast::Nothing
    }
}

impl<T: IntoScript + Send> ScriptReturn for T {
    fn into_results(self, lua: &Lua, _: &str) -> mlua::Result<MultiValue> {
        Ok(MultiValue::from_iter([self.into_script(lua)?]))
    }
    fn luau_returns() -> String {
        T::luau_type()
    }
    fn into_fast(self, _: &str) -> Fast<Self> {
        match self.into_output() {
            Ok(output) => Fast::One(output),
            Err(value) => Fast::Slow(value),
        }
    }
}

impl<T: ScriptReturn, E: Display + Send + 'static> ScriptReturn for Result<T, E> {
    fn into_results(self, lua: &Lua, name: &str) -> mlua::Result<MultiValue> {
        match self {
            Ok(value) => value.into_results(lua, name),
            Err(error) => Err(failed(name, &error)),
        }
    }
    fn luau_returns() -> String {
        T::luau_returns()
    }
    fn into_fast(self, name: &str) -> Fast<Self> {
        match self {
            Ok(value) => match value.into_fast(name) {
                Fast::Nothing => Fast::Nothing,
                Fast::One(output) => Fast::One(output),
                Fast::Slow(value) => Fast::Slow(Ok(value)),
                Fast::Failed(error) => Fast::Failed(error),
            },
            Err(error) => Fast::Failed(failed(name, &error)),
        }
    }
}

/// The Lua error for a game function `name` that returned `Err(error)`.
fn failed(name: &str, error: &dyn Display) -> mlua::Error {
    crate::error::lua_error(crate::ScriptErrorKind::Runtime, format!("{name}: {error}"))
}

macro_rules! tuple_returns {
    ($($t:ident $v:ident),+) => {
        impl<$($t: IntoScript + Send),+> ScriptReturn for ($($t,)+) {
            fn into_results(self, lua: &Lua, _: &str) -> mlua::Result<MultiValue> {
                let ($($v,)+) = self;
                Ok(MultiValue::from_iter([$($v.into_script(lua)?),+]))
            }
            fn luau_returns() -> String {
                format!("({})", [$($t::luau_type()),+].join(", "))
            }
            fn into_fast(self, _: &str) -> Fast<Self> {
                Fast::Slow(self)
            }
        }

        /// `nil`, or the values.
        impl<$($t: IntoScript + Send),+> ScriptReturn for Option<($($t,)+)> {
            fn into_results(self, lua: &Lua, name: &str) -> mlua::Result<MultiValue> {
                match self {
                    Some(values) => values.into_results(lua, name),
                    None => Ok(MultiValue::from_iter([Value::Nil])),
                }
            }
            fn luau_returns() -> String {
                let types: Vec<String> = vec![$(optional(&$t::luau_type())),+];
                format!("({})", types.join(", "))
            }
            fn into_fast(self, _: &str) -> Fast<Self> {
                match self {
                    Some(values) => Fast::Slow(Some(values)),
                    None => Fast::One(Output::Nil),
                }
            }
        }
    };
}

tuple_returns!(A a, B b);
tuple_returns!(A a, B b, C c);
tuple_returns!(A a, B b, C c, D d);
tuple_returns!(A a, B b, C c, D d, E e);
tuple_returns!(A a, B b, C c, D d, E e, F f);
tuple_returns!(A a, B b, C c, D d, E e, F f, G g);
tuple_returns!(A a, B b, C c, D d, E e, F f, G g, H h);

/// `ty?`, in parentheses when `ty` is more than a name or a table.
pub(super) fn optional(ty: &str) -> String {
    let simple = ty.chars().all(|c| c.is_alphanumeric() || c == '_')
        || (ty.starts_with('{') && ty.ends_with('}'));
    if ty.ends_with('?') {
        ty.to_owned()
    } else if simple {
        format!("{ty}?")
    } else {
        format!("({ty})?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::entity::Entity;
    use bevy_math::{Quat, Vec3};
    use std::collections::HashMap;

    #[test]
    fn integers_are_whole_in_range_and_saturate_at_the_64_bit_bounds() {
        let lua = Lua::new();
        let int = |n: f64| u8::from_script(Value::Number(n), &lua);
        assert_eq!(int(255.0), Ok(255));
        assert_eq!(int(256.0).unwrap_err(), "256 is out of range for u8");
        assert_eq!(int(-1.0).unwrap_err(), "-1 is out of range for u8");
        assert_eq!(int(1.5).unwrap_err(), "1.5 is not a whole number");
        assert!(int(f64::NAN).unwrap_err().contains("not a whole number"));
        // 2^63 and 2^64 are what f64 makes of i64::MAX and u64::MAX.
        let two_63 = 9_223_372_036_854_775_808.0;
        assert_eq!(i64::from_script(Value::Number(two_63), &lua), Ok(i64::MAX));
        assert_eq!(
            u64::from_script(Value::Number(two_63 * 2.0), &lua),
            Ok(u64::MAX)
        );
        assert_eq!(i64::from_script(Value::Number(-two_63), &lua), Ok(i64::MIN));
        assert!(u64::from_script(Value::Number(two_63 * 4.0), &lua).is_err());
        assert_eq!(u8::from_scalar(Scalar::Number(3.0)), Some(3));
        assert_eq!(u8::from_scalar(Scalar::Number(3.5)), None);
    }

    #[test]
    fn luau_types_follow_the_rust_types() {
        assert_eq!(
            <Option<Vec<Entity>> as FromScript>::luau_type(),
            "{ Entity }?"
        );
        assert_eq!(
            <HashMap<String, f32> as IntoScript>::luau_type(),
            "{ [string]: number }"
        );
        assert_eq!(
            <(f64, Option<String>)>::luau_params(),
            ["number", "string?"]
        );
        assert_eq!(
            <Result<(Vec3, bool), String>>::luau_returns(),
            "(vector, boolean)"
        );
        assert_eq!(<()>::luau_returns(), "()");
    }

    #[test]
    fn nested_values_name_the_element_that_does_not_convert() {
        let lua = Lua::new();
        let list = lua.load("return {1, 2, 'x'}").eval::<Value>().unwrap();
        let error = <Vec<f64>>::from_script(list, &lua).unwrap_err();
        assert_eq!(error, "[3]: expected a number, got string \"x\"");
        let map = lua.load("return {speed = true}").eval::<Value>().unwrap();
        let error = <HashMap<String, f64>>::from_script(map, &lua).unwrap_err();
        assert_eq!(error, "speed: expected a number, got boolean true");
        let quat = lua
            .load("return {x = 0, y = 0, z = 0}")
            .eval::<Value>()
            .unwrap();
        let error = Quat::from_script(quat, &lua).unwrap_err();
        assert_eq!(error, "w: expected a number, got nil");
    }
}
