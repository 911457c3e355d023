//! Test helpers that push onto a running stack through Luau's C API.

use mlua::{Lua, Value};

/// Pushes `value` onto the stack of the `produce` call running on `lua`.
pub(crate) fn push_input(lua: &Lua, value: &Value) {
    lua.exec_raw_lua(|raw| {
        // SAFETY: called inside `produce`, whose protected call runs on the VM's current state,
        // which `push_value` pushes onto (growing the stack as Luau's API does); mlua's lock is
        // reentrant.
        unsafe { raw.push_value(value) }
    })
    .expect("pushes the input");
}

/// Pushes a light userdata of `tag` holding `address` onto `lua`'s running stack, for tests of
/// what the fast path does with tags it does not make. Call it inside
/// [`produce`](super::stack::produce).
pub(crate) fn push_tagged_light_userdata(lua: &Lua, address: usize, tag: std::os::raw::c_int) {
    lua.exec_raw_lua(|raw| {
        let address = std::ptr::without_provenance_mut(address);
        // SAFETY: inside `produce`'s protected call on the VM's current state; pushing a light
        // userdata only grows the stack, which `produce` has room for.
        unsafe { mlua::ffi::lua_pushlightuserdatatagged(raw.state(), address, tag) }
    });
}
