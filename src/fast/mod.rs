//! The fast path of world access: the hot Lua library functions written against Luau's C API;
//! and, beside it, the rest of the crate's `unsafe` code (the instruction limit's interrupt).
//!
//! A fast function ([`Fast`]) is a C function of its own with two upvalues: the VM's [`Shared`]
//! state and the function's safe implementation, an ordinary mlua function. Its body handles
//! the calls it can (the right argument types, a component name it knows, an entity that
//! exists, a value it converts itself) and hands every other call, unchanged, to the safe
//! implementation, whose result or error becomes the call's. So the two agree by construction
//! on everything the fast path does not handle, every error message included; for what it does
//! handle, the tests compare them. The bodies live next to their safe implementations in
//! `crate::api`.
//!
//! What makes it fast, measured against a raw mlua no-op (see `benches/ecs_access.rs`):
//! - the lent world is a pointer in [`Shared`], and while it is lent the running VM's `Shared`
//!   is one thread-local read away, not an app-data lookup and a scoped userdata borrow;
//! - component names are found by the atom Luau keeps in the interned Lua string ([`atoms`]),
//!   not by hashing text;
//! - arguments are read and results built on the Lua stack ([`Stack`]), with field-name strings
//!   pinned and reused, not through `Value`s and registry references;
//! - reflected types are converted by per-type plans (`crate::reflect::plan`): a table is made by
//!   copying a template that has the keys already, and read in one walk over its entries;
//! - `r.field` on a component reference is Luau's direct userdata access: the VM calls the body
//!   with the key's atom, without a metamethod lookup.
//!
//! # Safety
//!
//! This module is the only one of the crate allowed `unsafe` code (`unsafe_code` is denied in
//! `Cargo.toml` and expected here). It lives in [`stack`] (every call into the C API), [`world`]
//! (turning the lent pointer into a reference, and reaching a component by id), [`userdata`]
//! (the crate's userdata, and the entity buffers of `ecs.each`), [`dynamic`] (the boxed bodies
//! of the game's own functions), [`interrupt`] (the instruction limit's interrupt callback) and
//! [`Shared::of`]. The argument:
//! - **The world pointer** is set by [`world::lend_world`] from the `&mut World` it holds for
//!   its whole length and cleared before it returns; a flag hands out one reference at a time.
//! - **One thread at a time.** [`Shared`] (cells: the lent world, the caches) is reached only
//!   while the VM's lock (mlua's reentrant mutex) is held by the reaching thread: fast functions
//!   run inside calls into Lua, which hold it; Rust code reaches it only through
//!   [`Shared::with`], which takes it; and `lend_world` holds it for the whole lend, so another
//!   thread with a clone of the `Lua` waits until the world is no longer lent.
//! - **Lua errors** (a memory error while a table is built) are C++ exceptions. They unwind
//!   through the Rust frames of a fast function, running their destructors, which
//!   `extern "C-unwind"` allows; no `catch_unwind` sits on that path.
//! - **No Lua runs inside a fast function** except the safe implementation, called after the
//!   Rust body has returned; conversions use raw table access, so no metamethod can run while
//!   the world is borrowed.
//! - **Userdata** of the crate's tags ([`userdata`], [`dynamic`]) are made only there, and the
//!   block of each tag always holds the same type; direct field access checks the tag Luau
//!   passes. A dynamic function's body is only ever borrowed shared, since a call can run while
//!   another is inside the same body.
//! - **Preconditions** of the safe methods of [`Stack`] (an index that names a value, a table
//!   under the values `raw_set` stores, a function under a closure's upvalues) are checked in
//!   release builds: safe code outside this module cannot corrupt the stack, whatever it passes.

pub(crate) mod atoms;
pub(crate) mod dynamic;
pub(crate) mod interrupt;
pub(crate) mod memory;
pub(crate) mod names;
pub(crate) mod serde;
pub(crate) mod stack;
/// Helpers of the tests that compare the fast path with the safe path.
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod userdata;
pub(crate) mod world;

pub(crate) use names::push_key;
pub(crate) use stack::{Fast, Stack};
pub(crate) use world::{lend_world, with_world};

use mlua::Lua;
use std::cell::{Cell, RefCell};

/// What the fast functions of one VM share: the lent world, the frame's time and the caches.
/// Owned by the VM's app data; upvalue 1 of every fast function points at it.
#[derive(Default)]
pub(crate) struct Shared {
    /// The world of the running step.
    pub lent: world::Lent,
    /// The time the `time` library reports.
    pub time: Cell<StepTime>,
    /// Components by the address of their name.
    pub names: RefCell<names::Names>,
    /// Pinned Lua strings of Rust field names.
    pub keys: RefCell<names::Keys>,
    /// Query states of `ecs.query` and `ecs.each`.
    pub queries: RefCell<names::Queries>,
    /// How reflected types are read and written in place.
    pub plans: RefCell<crate::reflect::plan::Plans>,
    /// The key of the VM (see [`stack::vm_key`]).
    pub vm: usize,
    /// Leaves read by a plan before they are written, kept to reuse the allocation.
    pub staged: RefCell<Vec<Option<crate::reflect::plan::Staged>>>,
}

/// The app data that owns [`Shared`]. Private to this module: nothing else can replace or
/// remove it, so the `Shared` lives exactly as long as the VM.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct SharedBox(Box<Shared>);

// SAFETY: a VM and its app data move between threads as a whole, and only the thread holding the
// VM (mlua's lock) touches them; `Shared` is never shared between threads at once.
unsafe impl Send for SharedBox {}

impl Shared {
    /// Creates the shared state of a main VM. Call once, before creating its fast functions.
    pub fn install(lua: &Lua) -> mlua::Result<()> {
        if lua.app_data_ref::<SharedBox>().is_some() {
            return Err(mlua::Error::runtime("the fast path is installed already"));
        }
        let shared = Shared {
            vm: stack::vm_key(lua)?,
            ..Shared::default()
        };
        lua.set_app_data(SharedBox(Box::new(shared)));
        Ok(())
    }

    /// The shared state of `lua`, when it is a main VM. Private to this module: a reference to
    /// it may be used only while the VM's lock is held (see [`Shared::with`]).
    fn of(lua: &Lua) -> Option<&Shared> {
        let shared: *const Shared = &*lua.app_data_ref::<SharedBox>()?.0;
        // SAFETY: the box is installed once and never replaced or removed (see `SharedBox`),
        // so it lives as long as the VM, which outlives the borrow of `lua`. Only shared
        // references to it are made, and its mutable parts are cells.
        Some(unsafe { &*shared })
    }

    /// Runs `f` with the shared state of `lua` (`None` unless it is a main VM), holding the
    /// VM's lock meanwhile, so that no other thread runs the VM while `f` reads or changes
    /// the state's cells.
    pub fn with<R>(lua: &Lua, f: impl FnOnce(&Shared) -> R) -> Option<R> {
        lua.exec_raw_lua(|_| Self::of(lua).map(f))
    }

    /// Forgets what belongs to the world lent last: component ids.
    fn forget_world(&self) {
        if let Ok(mut names) = self.names.try_borrow_mut() {
            names.clear();
        }
        if let Ok(mut queries) = self.queries.try_borrow_mut() {
            queries.clear();
        }
    }
}

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
        impl $crate::fast::Fast for $ty {
            const NAME: &'static std::ffi::CStr = $name;
            fn call(stack: $crate::fast::Stack<'_>) -> Option<std::ffi::c_int> {
                $body(stack)
            }
        }
    };
}
pub(crate) use fast_fn;

/// The frame's time as the `time` library reports it.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct StepTime {
    /// Seconds since the previous frame.
    pub delta: f64,
    /// Seconds since the app started.
    pub elapsed: f64,
    /// Scripting steps run so far, this one included.
    pub frame: u64,
}

impl StepTime {
    /// The time of the running (or last) step of `lua`'s VM.
    pub fn of(lua: &Lua) -> StepTime {
        Shared::with(lua, |s| s.time.get()).unwrap_or_default()
    }

    /// Makes `self` the time of `lua`'s VM.
    pub fn set(self, lua: &Lua) {
        Shared::with(lua, |shared| shared.time.set(self));
    }
}
