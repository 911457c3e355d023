//! Creating Lua functions whose bad-argument errors name the function, as in
//! ``bad argument #1 to `hooks.on_update`: error converting Lua number to function``.
//!
//! mlua's own argument conversion does not know the Lua-visible name of a function, so every
//! library function of the crate is created through [`create`].

use crate::error::{ScriptErrorKind, lua_error};
use crate::value::entity_from_lua;
use bevy_ecs::entity::Entity;
use bevy_ecs::world::World;
use mlua::{FromLua, FromLuaMulti, Function, IntoLuaMulti, Lua, MultiValue, Value};
use std::sync::Arc;

/// The arguments of a library function, converted one by one with their position.
///
/// mlua first takes the raw values off the stack (`Raw`, a tuple of `Value`s, which cannot
/// fail and allocates nothing); each is then converted here, so an error can name the
/// function and the argument.
pub(crate) trait Args: Sized {
    /// The values as mlua takes them from the stack.
    type Raw: FromLuaMulti;
    /// Converts `raw`; `name` is the Lua-visible function name for errors.
    fn convert(lua: &Lua, raw: Self::Raw, name: &'static str) -> mlua::Result<Self>;
}

/// Converts argument number `pos` (from 1) of function `name`.
pub(crate) fn arg<T: FromLua>(
    lua: &Lua,
    value: Value,
    pos: usize,
    name: &'static str,
) -> mlua::Result<T> {
    T::from_lua(value, lua).map_err(|cause| mlua::Error::BadArgument {
        to: Some(name.to_owned()),
        pos,
        name: None,
        cause: Arc::new(cause),
    })
}

/// Converts argument number `pos` of function `name` into an entity: an entity value, or a
/// number holding exact entity bits (as entity fields of serde components arrive in Lua).
pub(crate) fn entity_arg(value: &Value, pos: usize, name: &'static str) -> mlua::Result<Entity> {
    entity_of(value).ok_or_else(|| {
        lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #{pos} to `{name}`: expected an Entity, got {}",
                describe(value)
            ),
        )
    })
}

/// The entity `value` is: an entity value, or a number holding exact entity bits (as entity
/// fields of serde components arrive in Lua).
pub(crate) fn entity_of(value: &Value) -> Option<Entity> {
    match value {
        Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 9_007_199_254_740_992.0 => {
            Entity::try_from_bits(*n as u64)
        }
        Value::Integer(i) => u64::try_from(*i).ok().and_then(Entity::try_from_bits),
        other => entity_from_lua(other),
    }
}

/// A short description of a Lua value for error messages: its type, and the value itself
/// when it is short.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_owned(),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::Integer(i) => format!("number {i}"),
        Value::String(s) => {
            let text = s.to_string_lossy();
            if text.len() <= 32 {
                format!("string \"{text}\"")
            } else {
                "a string".to_owned()
            }
        }
        Value::LightUserData(_) => match entity_from_lua(value) {
            Some(entity) => format!("Entity({entity})"),
            None => "lightuserdata".to_owned(),
        },
        other => other.type_name().to_owned(),
    }
}

impl Args for () {
    type Raw = ();
    fn convert(_: &Lua, _: (), _: &'static str) -> mlua::Result<Self> {
        Ok(())
    }
}

impl Args for MultiValue {
    type Raw = MultiValue;
    fn convert(_: &Lua, args: MultiValue, _: &'static str) -> mlua::Result<Self> {
        Ok(args)
    }
}

macro_rules! impl_args {
    ($($t:ident $v:ident $pos:literal),+) => {
        impl<$($t: FromLua),+> Args for ($($t,)+) {
            type Raw = ($(impl_args!(@value $t),)+);
            fn convert(lua: &Lua, ($($v,)+): Self::Raw, name: &'static str) -> mlua::Result<Self> {
                Ok(($(arg::<$t>(lua, $v, $pos, name)?,)+))
            }
        }
    };
    (@value $t:ident) => { Value };
}

impl_args!(A a 1);
impl_args!(A a 1, B b 2);
impl_args!(A a 1, B b 2, C c 3);
impl_args!(A a 1, B b 2, C c 3, D d 4);

/// Creates a Lua function called `name` (as Lua code sees it, e.g. `"hooks.on_update"`).
pub(crate) fn create<A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    A: Args,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, raw: A::Raw| f(lua, A::convert(lua, raw, name)?))
}

/// Fails with a clear error when `entity` does not exist.
pub(crate) fn existing(world: &World, entity: Entity, function: &str) -> mlua::Result<()> {
    match world.get_entity(entity) {
        Ok(_) => Ok(()),
        Err(_) => Err(lua_error(
            ScriptErrorKind::EntityNotFound,
            format!("{function}: entity {entity} does not exist (was it despawned?)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_name_the_function_and_position() {
        let lua = Lua::new();
        let f = create(&lua, "demo.twice", |_, (a, b): (f64, String)| {
            Ok(format!("{a}{b}"))
        })
        .unwrap();
        assert_eq!(f.call::<String>((1, "x")).unwrap(), "1x");
        let error = f.call::<String>((1, true)).unwrap_err().to_string();
        assert!(error.contains("bad argument #2 to `demo.twice`"), "{error}");
        let error = f.call::<String>(()).unwrap_err().to_string();
        assert!(error.contains("bad argument #1 to `demo.twice`"), "{error}");
    }
}
