//! Creating Lua functions whose bad-argument errors name the function, as in
//! ``bad argument #1 to `hooks.on_update`: error converting Lua number to function``.
//!
//! mlua's own argument conversion does not know the Lua-visible name of a function, so every
//! library function of the crate is created through [`create`].

use mlua::{FromLua, Function, IntoLuaMulti, Lua, MultiValue, Value};
use std::sync::Arc;

/// The arguments of a library function, converted one by one with their position.
pub(crate) trait Args: Sized {
    /// Converts `args`; `name` is the Lua-visible function name for errors.
    fn convert(lua: &Lua, args: MultiValue, name: &'static str) -> mlua::Result<Self>;
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

impl Args for () {
    fn convert(_: &Lua, _: MultiValue, _: &'static str) -> mlua::Result<Self> {
        Ok(())
    }
}

impl Args for MultiValue {
    fn convert(_: &Lua, args: MultiValue, _: &'static str) -> mlua::Result<Self> {
        Ok(args)
    }
}

macro_rules! impl_args {
    ($($t:ident),+) => {
        impl<$($t: FromLua),+> Args for ($($t,)+) {
            fn convert(lua: &Lua, args: MultiValue, name: &'static str) -> mlua::Result<Self> {
                let mut args = args.into_iter();
                let mut pos = 0;
                Ok(($({
                    pos += 1;
                    arg::<$t>(lua, args.next().unwrap_or(Value::Nil), pos, name)?
                },)+))
            }
        }
    };
}

impl_args!(A);
impl_args!(A, B);
impl_args!(A, B, C);
impl_args!(A, B, C, D);

/// Creates a Lua function called `name` (as Lua code sees it, e.g. `"hooks.on_update"`).
pub(crate) fn create<A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    A: Args,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, args: MultiValue| f(lua, A::convert(lua, args, name)?))
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
