//! The crate's floor: every call into Luau's C API and every other `unsafe` block of the crate,
//! behind safe types whose methods keep the API's rules. It knows nothing of the crate's domain
//! (no components by name, no reflection plans, no registry): it imports only `std`, mlua and
//! Bevy's ECS, and the layer above it, `crate::bridge`, gives its pieces their meaning.
//!
//! - [`stack`]: [`Stack`], the Lua stack of a running C function; [`Fast`], the C functions of
//!   the fast path, which hand every call they do not handle to a safe implementation;
//! - [`world`]: lending the world to Lua for a step, and reaching a component by id;
//! - [`userdata`]: the crate's userdata (component references, `ecs.each` loops and their
//!   entity buffers), each kind under a tag of its own;
//! - [`dynamic`]: the boxed bodies of the game's own functions;
//! - [`interrupt`]: the call limits, in Luau's interrupt callback;
//! - [`memory`]: Luau's memory categories;
//! - `debug` (feature `debugger`): the break callback, breakpoints, and reading and writing the
//!   frames of a stopped script;
//! - [`Shared`]: what the fast functions of one VM share, with slots ([`Extension`]) that the
//!   layer above fills with its caches.
//!
//! What makes the fast path fast, measured against a raw mlua no-op (see `benches/`):
//! - the lent world is a pointer in [`Shared`], and while it is lent the running VM's `Shared`
//!   is one thread-local read away, not an app-data lookup and a scoped userdata borrow;
//! - component names are found by the atom Luau keeps in the interned Lua string, or by the
//!   address of the string, not by hashing text;
//! - arguments are read and results built on the Lua stack ([`Stack`]), with field-name strings
//!   pinned and reused, not through `Value`s and registry references;
//! - `r.field` on a component reference is Luau's direct userdata access: the VM calls the body
//!   with the key's atom, without a metamethod lookup.
//!
//! # Safety
//!
//! This module is the only one of the crate allowed `unsafe` code (`unsafe_code` is denied in
//! `Cargo.toml` and expected here, in `lib.rs`). The argument, written once:
//! - **The world pointer** is set by [`shared::lend_world`] from the `&mut World` it holds for
//!   its whole length and cleared before it returns, also when it unwinds; a flag hands out one
//!   reference at a time ([`world::Lent::borrow`], and [`world::Lent::borrow_ref`] for a
//!   shared one).
//! - **The read-only lend.** [`shared::lend_world_ref`] sets the pointer from a `&World` it
//!   holds for its whole length, with the `read_only` flag, both restored before it returns
//!   (also when it unwinds). While the flag is set, `Lent::borrow`, the only maker of
//!   `&mut World`, refuses, and `Lent::borrow_ref` makes shared references only, any number at
//!   once: they alias nothing but one another. The same world may be lent read-only to other VMs
//!   on other threads at the same time (the parallel phase of actor VMs). That is sound: each VM
//!   has a [`Shared`] of its own, reached only under that VM's lock (below), so no cell is
//!   touched by two threads; [`shared::running`] is thread-local; while any of those `&World`s
//!   is alive the `&mut World` they came from is frozen by the borrow checker, so only shared
//!   references to the world exist anywhere; and `World: Sync`, so Bevy makes every `&World`
//!   method safe to call from several threads at once (the entity allocator that reserves ids
//!   for `ecs.spawn` is concurrent). Component reads by id ([`world::reflect_by_id`]) go through
//!   a read-only `UnsafeWorldCell`, which reads what a `&World` may read, while nothing writes.
//! - **One thread at a time.** [`Shared`] (cells: the lent world, the extension's caches) is
//!   reached only while the VM's lock (mlua's reentrant mutex) is held by the reaching thread:
//!   fast functions run inside calls into Lua, which hold it; Rust code reaches it only through
//!   [`Shared::with`], which takes it; and `lend_world` holds it for the whole lend, so another
//!   thread with a clone of the `Lua` waits until the world is no longer lent. `Shared::of`,
//!   which makes the reference without the lock, is private.
//! - **Extensions** are owned by [`Shared`] for the VM's whole life and read back only as the
//!   type they were installed with: [`Shared::extension`] compares the `TypeId` first. They
//!   are reached shared; their mutable parts are cells.
//! - **Lua errors** (a memory error while a table is built) are C++ exceptions. They unwind
//!   through the Rust frames of a fast function, running their destructors, which
//!   `extern "C-unwind"` allows; no `catch_unwind` sits on that path. Callbacks Luau calls
//!   that must not unwind (the atom callback, the interrupt's checks) run no Lua and catch
//!   panics.
//! - **No Lua runs inside a fast function** except the safe implementation, called after the
//!   Rust body has returned; conversions use raw table access, so no metamethod can run while
//!   the world is borrowed.
//! - **Userdata** of the crate's tags ([`userdata`], [`dynamic`]) are made only there, and the
//!   block of each tag always holds the same type; direct field access checks the tag Luau
//!   passes. A dynamic function's body is only ever borrowed shared, since a call can run while
//!   another is inside the same body.
//! - **The debugger's stops** (feature `debugger`) run inside Luau's break callback, an
//!   interrupt checkpoint or an error handler: points where Luau allows calling a function,
//!   with the stopped frames intact beneath. The callback only makes a protected call of a
//!   registered Lua function, so what it runs is an ordinary mlua callback on the stopped
//!   thread, under the lock that thread already holds. Frames are read with `lua_getinfo`,
//!   `lua_getlocal` and `lua_getupvalue` through `exec_raw`, each push checked for room, the
//!   values moved with `lua_xmove` when the frames are another thread's (a coroutine that
//!   failed and is dead, so nothing runs on it); a level that names no frame reads nothing.
//!   `lua_breakpoint` is given a Lua function only (checked). A pause is an atomic counter
//!   read at the checkpoints that read the clock, never Luau's single-step flag, which is not
//!   safe to write from another thread.
//! - **Preconditions.** Every safe method of [`Stack`] checks its preconditions in release
//!   builds (an index that names a value, a table under the values `raw_set` stores, a function
//!   under a closure's upvalues, a pin that names a pinned value); a method whose precondition
//!   cannot be checked is an `unsafe fn` that only this module calls. So no safe code outside
//!   this module can corrupt the stack, whatever it passes, with or without Luau's own
//!   assertions (`-DNDEBUG`).

#[cfg(feature = "debugger")]
pub(crate) mod debug;
pub(crate) mod dynamic;
pub(crate) mod interrupt;
pub(crate) mod memory;
pub(crate) mod shared;
pub(crate) mod stack;
/// Test helpers that push onto a running stack.
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod userdata;
pub(crate) mod world;

pub(crate) use shared::{Extension, Extensions, Shared, lend_world, lend_world_ref};
pub(crate) use stack::{Fast, Stack};

use mlua::Lua;

/// Creates fast function `F`, whose calls go to its body and, for what it does not handle (it
/// returns `None`), to `slow`, its safe implementation.
pub(crate) fn function<F: Fast>(lua: &Lua, slow: mlua::Function) -> mlua::Result<mlua::Function> {
    stack::closure::<F>(lua, slow, mlua::MultiValue::new())
}

/// Declares `struct $ty`, the fast function `$name` (a C string) running `$body`.
macro_rules! fast_fn {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $body:expr) => {
        $(#[$doc])*
        pub(crate) struct $ty;
        impl $crate::ffi::Fast for $ty {
            const NAME: &'static std::ffi::CStr = $name;
            fn call(stack: $crate::ffi::Stack<'_>) -> Option<std::ffi::c_int> {
                $body(stack)
            }
        }
    };
}
pub(crate) use fast_fn;
