//! Luau's memory categories: every allocation is counted under the category of the thread
//! that makes it, which lets the accounting attribute a VM's memory to the scripts whose code
//! allocated it (see `crate::runtime::profile`).
//!
//! Categories are registered by name through mlua ([`register`]), so mlua's heap dumps name
//! them, and then switched and read by number here, which costs a protected call instead of a
//! search of the names.

use mlua::Lua;
use std::ffi::c_int;

/// The category every VM starts in (mlua calls it "main"); the crate counts what its own code
/// and the scripts beyond the category limit allocate there.
pub(crate) const MAIN: u8 = 0;

/// Registers the category `name` with mlua and leaves the running thread in category
/// `previous`. mlua numbers categories in the order they are registered, from 1 ("main" is 0);
/// the crate is the only one to register them in its VMs, so its `n`th is number `n` (a test
/// checks this against mlua's heap dump). Fails when all of Luau's 255 categories are taken.
pub(crate) fn register(lua: &Lua, name: &str, previous: u8) -> mlua::Result<()> {
    let registered = lua.set_memory_category(name);
    set(lua, previous);
    registered
}

/// Makes `category` the category of the running thread: what Lua allocates from now on is
/// counted under it. Coroutines created afterwards start in it too.
pub(crate) fn set(lua: &Lua, category: u8) {
    // SAFETY: in a protected call, sets a field of the running thread; any number is valid up
    // to 255, and `register` only hands out numbers mlua registered.
    unsafe {
        let _ = lua.exec_raw::<()>((), |state| {
            mlua::ffi::lua_setmemcat(state, c_int::from(category));
        });
    }
}

/// Bytes allocated and not yet freed under `category`, across the whole VM.
pub(crate) fn total(lua: &Lua, category: u8) -> usize {
    let mut bytes = 0;
    // SAFETY: in a protected call, reads a counter of the VM's global state.
    unsafe {
        let _ = lua.exec_raw::<()>((), |state| {
            bytes = mlua::ffi::lua_totalbytes(state, c_int::from(category));
        });
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crate_numbers_categories_as_mlua_does() {
        let lua = Lua::new();
        register(&lua, "first", MAIN).expect("first");
        register(&lua, "second", MAIN).expect("second");
        set(&lua, 2);
        lua.load("kept = {} for i = 1, 20000 do kept[i] = { i } end")
            .exec()
            .expect("allocates");
        set(&lua, MAIN);
        let _ = lua.gc_collect();
        let dump = lua.heap_dump().expect("a heap dump");
        let by_name = dump.size_by_category();
        let second = by_name.get("second").copied().unwrap_or_default() as usize;
        assert!(second > 500_000, "{by_name:?}");
        assert_eq!(total(&lua, 2), second, "number 2 is mlua's \"second\"");
        assert_eq!(total(&lua, 1), 0, "nothing ran in \"first\"");
    }
}
