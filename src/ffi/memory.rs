//! Luau's memory categories: every allocation is counted under the category of the thread
//! that makes it, which lets the accounting attribute a VM's memory to the scripts whose code
//! allocated it (see `crate::runtime::profile`).
//!
//! Categories are registered by name through mlua ([`register`]), so mlua's heap dumps name
//! them, and then switched and read by number here: a field write or read on the running
//! thread, with no protected call (neither can raise an error) and nothing allocated.

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
    lua.exec_raw_lua(|raw| {
        // SAFETY: `raw.state()` is the running thread, valid while mlua's lock is held for this
        // closure; `lua_setmemcat` only writes a field of it and cannot raise, and any number
        // up to 254 is a valid category.
        unsafe { mlua::ffi::lua_setmemcat(raw.state(), c_int::from(category)) }
    });
}

/// Bytes allocated and not yet freed under `category`, across the whole VM.
pub(crate) fn total(lua: &Lua, category: u8) -> usize {
    lua.exec_raw_lua(|raw| {
        // SAFETY: `raw.state()` is valid while mlua's lock is held for this closure;
        // `lua_totalbytes` only reads a counter of the VM's global state and cannot raise.
        unsafe { mlua::ffi::lua_totalbytes(raw.state(), c_int::from(category)) }
    })
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
