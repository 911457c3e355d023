//! [`Stack`]: the Lua stack of a running fast function, read and written through Luau's C API.
//!
//! Every call into Luau's C API made by the fast path is in this file, behind methods that keep
//! the API's rules (see the module docs of [`crate::ffi`] for the whole safety argument):
//! - a `Stack` exists only inside a call from Luau into one of the crate's C functions, and
//!   cannot leave it (it borrows the call);
//! - reads check the index against the stack top and the value's type before they convert;
//! - pushes grow the stack as needed (Luau's `ensure_stack`), and an allocation that fails
//!   raises a Lua memory error that unwinds through the caller's Rust frames, running their
//!   destructors, as a C++ exception does through `extern "C-unwind"` functions.

use super::shared::{Shared, running};
use bevy_ecs::entity::Entity;
use bevy_math::Vec3;
use mlua::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The type of a value on the stack, for the cases the fast path tells apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Type {
    /// `nil`, or an index past the top.
    Nil,
    Boolean,
    Number,
    String,
    Table,
    Vector,
    LightUserData,
    UserData,
    /// A function, thread, buffer or 64-bit integer.
    Other,
}

/// A fast function: its name and its body, as a type, so that each fast function is a C
/// function of its own and finds its body without reading an upvalue.
pub(crate) trait Fast {
    /// The name Lua sees, for tracebacks.
    const NAME: &'static CStr;
    /// The body: `Some(n)` when it pushed its `n` results, `None` to hand the call to the
    /// function's safe implementation (after dropping nothing but what it pushed itself).
    fn call(stack: Stack<'_>) -> Option<c_int>;
}

/// The stack of the C function Luau is running, for the length of that call.
#[derive(Clone, Copy)]
pub(crate) struct Stack<'call> {
    state: NonNull<ffi::lua_State>,
    /// The number of arguments the function was called with.
    args: c_int,
    /// The VM's shared state: always there for a fast function, and for [`produce`] in a main
    /// VM.
    shared: Option<&'call Shared>,
    /// For a direct field access, the userdata and the key's atom.
    direct: Option<Direct>,
    _call: PhantomData<&'call mut ffi::lua_State>,
}

/// The C function of fast function `F`.
///
/// Its [`Shared`] is that of the VM whose world is lent, when that is this VM (the common
/// case: one thread-local read), else the one upvalue 1 points at. When the body returns
/// `None`, the call goes to the safe implementation kept in upvalue 2, with the original
/// arguments, and its results (or its error) are the call's.
pub(super) unsafe extern "C-unwind" fn trampoline<F: Fast>(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Luau runs this only as a closure made by `closure` or `Stack::push_closure`.
    unsafe { run::<F>(state, None) }
}

/// What Luau passes to a direct-access function (see [`install_direct_access`]).
#[derive(Clone, Copy)]
struct Direct {
    /// The block of the userdata being indexed.
    data: NonNull<c_void>,
    /// The atom of the key.
    atom: c_int,
    /// The instruction's cache slot.
    slot: NonNull<u16>,
    /// The tag of the userdata.
    tag: c_int,
}

/// `r.key` (or `r.key = value`) on a userdata whose tag has direct access: Luau calls this in a
/// frame that looks like a call of the tag's `__index` (or `__newindex`) metamethod, fast
/// function `F`, with `(r, key)` (or `(r, key, value)`), and takes the top value as the result of
/// a read.
unsafe extern "C-unwind" fn direct_access<F: Fast>(
    state: *mut ffi::lua_State,
    data: *mut c_void,
    atom: c_int,
    slot: *mut u16,
    tag: c_int,
) {
    let direct = NonNull::new(data)
        .zip(NonNull::new(slot))
        .map(|(data, slot)| Direct {
            data,
            atom,
            slot,
            tag,
        });
    // SAFETY: registered by `install_direct_access` for a tag whose metamethod is a closure
    // made by `closure` for `F`.
    unsafe {
        run::<F>(state, direct);
    }
}

/// Runs fast function `F` in the frame Luau set up; see [`trampoline`].
///
/// # Safety
/// The running function is a closure made by `closure` or `Stack::push_closure` for `F`, and
/// `direct`, if any, describes its first argument.
unsafe fn run<F: Fast>(state: *mut ffi::lua_State, direct: Option<Direct>) -> c_int {
    // SAFETY: Luau calls a C function with the running state; it is never null.
    let state = unsafe { NonNull::new_unchecked(state) };
    // SAFETY: reading the running function's stack top, and the address that names the VM.
    let (args, vm) = unsafe {
        (
            ffi::lua_gettop(state.as_ptr()),
            ffi::lua_callbacks(state.as_ptr()).addr(),
        )
    };
    let shared = running(vm).or_else(|| {
        // SAFETY: upvalue 1 of a closure made by `closure` or `push_closure` is a light
        // userdata pointing at the VM's `Shared`, which lives as long as the VM.
        unsafe {
            let shared = ffi::lua_tolightuserdata(state.as_ptr(), ffi::lua_upvalueindex(1));
            (shared as *const Shared).as_ref()
        }
    });
    let stack = Stack {
        state,
        args,
        shared,
        direct,
        _call: PhantomData,
    };
    match F::call(stack) {
        Some(results) => results,
        // SAFETY: the running function is a closure made by `closure`, called with `args`.
        None => unsafe { fallback(state.as_ptr(), args) },
    }
}

/// Calls the safe implementation (upvalue 2 of the running fast function) with the `args`
/// arguments of the call, and returns how many results it left.
///
/// The body has returned, so nothing of it is left to drop while the safe implementation runs
/// (and perhaps raises an error that unwinds through this frame).
///
/// # Safety
/// The running function is a closure made by `closure` or `Stack::push_closure`, called with
/// `args` arguments.
unsafe fn fallback(state: *mut ffi::lua_State, args: c_int) -> c_int {
    // SAFETY: the arguments are still at 1..=args (bodies only push above them, and what they
    // pushed is dropped here); upvalue 2 holds a function (see `closure`), which is called
    // with them and leaves exactly its results on the stack.
    unsafe {
        ffi::lua_settop(state, args);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, args, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

impl<'call> Stack<'call> {
    pub(super) fn raw(&self) -> *mut ffi::lua_State {
        self.state.as_ptr()
    }

    /// The VM's shared state (always there in a fast function).
    pub fn shared(&self) -> Option<&'call Shared> {
        self.shared
    }

    /// The number of arguments of the call.
    pub fn args(&self) -> c_int {
        self.args
    }

    /// The index of the top value.
    pub fn top(&self) -> c_int {
        // SAFETY: reading the top of the running function's stack.
        unsafe { ffi::lua_gettop(self.raw()) }
    }

    /// Drops every value above `top`, leaving `top` values; a `top` at or above the current top
    /// (or below zero) changes nothing but what it can: the stack never grows here.
    pub fn truncate(&self, top: c_int) {
        let current = self.top();
        let top = top.clamp(0, current);
        // SAFETY: shrinking the stack (checked just above) to a size it had; the values
        // dropped are this call's.
        unsafe { ffi::lua_settop(self.raw(), top) }
    }

    /// Whether `index` (from 1, or negative from the top) names a value of this call's frame.
    fn valid(&self, index: c_int) -> bool {
        if index > 0 && index <= self.args {
            return true;
        }
        let top = self.top();
        (index > 0 && index <= top) || (index < 0 && -index <= top)
    }

    /// The type of the value at `index`; [`Type::Nil`] past the top.
    pub fn kind(&self, index: c_int) -> Type {
        if !self.valid(index) {
            return Type::Nil;
        }
        // SAFETY: `index` is a valid index of this frame.
        type_of(unsafe { ffi::lua_type(self.raw(), index) })
    }

    /// The number at `index`, when it is one.
    pub fn number(&self, index: c_int) -> Option<f64> {
        self.number_of(index, self.kind(index))
    }

    /// The number at `index`, whose type the caller found to be `kind`.
    pub fn number_of(&self, index: c_int, kind: Type) -> Option<f64> {
        (kind == Type::Number && self.valid(index))
            // SAFETY: a valid index holding a number (not a string, which `lua_tonumber`
            // would convert in place).
            .then(|| unsafe { ffi::lua_tonumber(self.raw(), index) })
    }

    /// The boolean at `index`, when it is one.
    pub fn boolean(&self, index: c_int) -> Option<bool> {
        (self.kind(index) == Type::Boolean)
            // SAFETY: a valid index holding a boolean.
            .then(|| unsafe { ffi::lua_toboolean(self.raw(), index) != 0 })
    }

    /// The vector at `index`, when it is one.
    pub fn vector(&self, index: c_int) -> Option<Vec3> {
        if !self.valid(index) {
            return None;
        }
        // SAFETY: a valid index; `lua_tovector` is null for anything but a vector, and
        // otherwise points at its three floats, which stay put while we copy them.
        unsafe {
            let v = ffi::lua_tovector(self.raw(), index);
            (!v.is_null()).then(|| Vec3::new(*v, *v.add(1), *v.add(2)))
        }
    }

    /// The entity at `index`: a light userdata holding entity bits (see `crate::value`).
    pub fn entity(&self, index: c_int) -> Option<Entity> {
        if !self.valid(index) {
            return None;
        }
        // SAFETY: a valid index; only the address of a light userdata is read (null for
        // anything else, and for the entity whose bits are 0, which the type check tells apart).
        let address = unsafe { ffi::lua_tolightuserdatatagged(self.raw(), index, 0) };
        if address.is_null() && self.kind(index) != Type::LightUserData {
            return None;
        }
        Entity::try_from_bits(address.addr() as u64)
    }

    /// The bytes of the string at `index`, when it is one. They stay valid while the string is
    /// on the stack, which the borrow of this call guarantees for arguments. Asks for no atom
    /// (see `crate::bridge::atoms`).
    pub fn string(&self, index: c_int) -> Option<StackStr<'call>> {
        if !self.valid(index) {
            return None;
        }
        let mut len = 0;
        // SAFETY: a valid index; `lua_tolstringatom` is null for anything but a string (it
        // never converts a number, unlike `lua_tolstring`) and otherwise points at the
        // interned string's bytes, `len` long. A null atom pointer asks for no atom.
        let data =
            unsafe { ffi::lua_tolstringatom(self.raw(), index, &mut len, std::ptr::null_mut()) };
        NonNull::new(data as *mut u8).map(|data| StackStr {
            data,
            len,
            _call: PhantomData,
        })
    }

    /// For a direct field access (see [`install_direct_access`]): the key's atom, and the
    /// instruction's cache slot, where a body may keep a hint for the next access (0 at
    /// first; shared by every userdata tag, so check a hint before trusting it).
    pub fn atom(&self) -> Option<(c_int, &'call mut u16)> {
        // SAFETY: Luau passes a pointer to the slot, valid for the length of the call.
        self.direct
            .map(|direct| (direct.atom, unsafe { &mut *direct.slot.as_ptr() }))
    }

    /// The block of the userdata at `index` with tag `tag`, as a `T`.
    ///
    /// # Safety
    /// Every userdata with `tag` in this VM holds a `T` (see [`Stack::new_userdata`]).
    pub unsafe fn userdata<T>(&self, index: c_int, tag: c_int) -> Option<&'call mut T> {
        if let (1, Some(direct)) = (index, self.direct) {
            if direct.tag != tag {
                return None;
            }
            // SAFETY: Luau passes the block of the userdata being indexed with its tag, which
            // is `tag` (checked above); by the caller's promise such a block holds a `T`.
            return Some(unsafe { &mut *direct.data.as_ptr().cast::<T>() });
        }
        if !self.valid(index) {
            return None;
        }
        // SAFETY: a valid index; `lua_touserdatatagged` returns null unless the value is a
        // userdata with `tag`, and by the caller's promise such a block holds a `T`.
        unsafe {
            let data = ffi::lua_touserdatatagged(self.raw(), index, tag) as *mut T;
            data.as_mut()
        }
    }

    /// The block of the userdata in upvalue `n` (from 1) with tag `tag`, as a `T`.
    ///
    /// # Safety
    /// As [`Stack::userdata`].
    pub unsafe fn upvalue_userdata<T>(&self, n: c_int, tag: c_int) -> Option<&'call mut T> {
        // SAFETY: upvalue pseudo-indices are always acceptable (past the closure's upvalues
        // they read as `nil`, and `lua_touserdatatagged` returns null for anything but a
        // userdata with `tag`), which by the caller's promise holds a `T`.
        unsafe {
            let data =
                ffi::lua_touserdatatagged(self.raw(), ffi::lua_upvalueindex(n), tag) as *mut T;
            data.as_mut()
        }
    }

    /// Pushes `nil`.
    pub fn push_nil(&self) {
        // SAFETY: pushes grow the stack as needed.
        unsafe { ffi::lua_pushnil(self.raw()) }
    }

    /// Pushes a boolean.
    pub fn push_bool(&self, value: bool) {
        // SAFETY: as `push_nil`.
        unsafe { ffi::lua_pushboolean(self.raw(), c_int::from(value)) }
    }

    /// Pushes a number.
    pub fn push_number(&self, value: f64) {
        // SAFETY: as `push_nil`.
        unsafe { ffi::lua_pushnumber(self.raw(), value) }
    }

    /// Pushes a vector.
    pub fn push_vector(&self, value: Vec3) {
        // SAFETY: as `push_nil`.
        unsafe { ffi::lua_pushvector(self.raw(), value.x, value.y, value.z) }
    }

    /// Pushes an entity, as `crate::value::entity_to_lua` makes it.
    pub fn push_entity(&self, entity: Entity) {
        let address = std::ptr::without_provenance_mut::<c_void>(entity.to_bits() as usize);
        // SAFETY: as `push_nil`; a light userdata is only an address, never dereferenced.
        unsafe { ffi::lua_pushlightuserdatatagged(self.raw(), address, 0) }
    }

    /// Pushes a string (which may allocate, and so raise a memory error).
    pub fn push_str(&self, bytes: &[u8]) {
        // SAFETY: `bytes` is valid for its length; Luau copies it.
        unsafe { ffi::lua_pushlstring(self.raw(), bytes.as_ptr().cast(), bytes.len()) };
    }

    /// Pushes upvalue `n` (from 1) of the running closure.
    pub fn push_upvalue(&self, n: c_int) {
        // SAFETY: upvalue pseudo-indices past the closure's upvalues read as `nil`.
        unsafe { ffi::lua_pushvalue(self.raw(), ffi::lua_upvalueindex(n)) }
    }

    /// Pushes a new fast function `F`. Its safe implementation and `extra` more upvalues are
    /// the `extra + 1` top values, which it pops; it shares this function's [`Shared`]. `None`,
    /// with nothing done, unless a function is at `-(extra + 1)`.
    pub fn push_closure<F: Fast>(&self, extra: c_int) -> Option<()> {
        let below = extra
            .checked_add(1)
            .filter(|n| (1..UPVALUES_MAX).contains(n))?;
        if self.top() < below {
            return None;
        }
        // SAFETY: `-below` is a valid index (checked above).
        if unsafe { ffi::lua_type(self.raw(), -below) } != ffi::LUA_TFUNCTION {
            return None;
        }
        let shared = std::ptr::from_ref(self.shared?).cast_mut().cast::<c_void>();
        // SAFETY: the safe implementation and the extras are on top (the caller pushed them);
        // the light userdata of `shared` goes under them, as `closure` arranges them, and
        // `lua_pushcclosurek` pops them all.
        unsafe {
            ffi::lua_pushlightuserdatatagged(self.raw(), shared, 0);
            ffi::lua_insert(self.raw(), -(extra + 2));
            ffi::lua_pushcclosurek(
                self.raw(),
                trampoline::<F>,
                F::NAME.as_ptr(),
                extra + UPVALUES,
                None,
            );
        }
        Some(())
    }

    /// Pushes a new table with room for `array` items and `fields` fields.
    pub fn push_table(&self, array: usize, fields: usize) {
        let clamp = |n: usize| c_int::try_from(n).unwrap_or(c_int::MAX);
        // SAFETY: as `push_nil`; sizes are only hints.
        unsafe { ffi::lua_createtable(self.raw(), clamp(array), clamp(fields)) }
    }

    /// Pushes a copy of the table pinned as `pin` (its keys and values; not a deep copy).
    pub fn push_clone(&self, pin: TablePin) {
        self.push_pinned(pin.0);
        // SAFETY: a `TablePin` pins a table (see `pin_table`); the copy replaces it on top.
        unsafe {
            ffi::lua_clonetable(self.raw(), -1);
            ffi::lua_replace(self.raw(), -2);
        }
    }

    /// Pins the table at `index` for the life of the VM; `None` if it is not a table.
    pub fn pin_table(&self, index: c_int) -> Option<TablePin> {
        (self.kind(index) == Type::Table).then(|| TablePin(self.pin(index)))
    }

    /// Pushes the value pinned by [`Stack::pin`] as `pin`.
    pub fn push_pinned(&self, pin: Pin) {
        // SAFETY: `pin` is a registry reference made by `lua_ref`, never released.
        unsafe {
            ffi::lua_rawgeti(
                self.raw(),
                ffi::LUA_REGISTRYINDEX,
                ffi::lua_Integer::from(pin.0),
            );
        }
    }

    /// Pins the value at `index` for the life of the VM, so that the garbage collector never
    /// frees it (and a string's address names that string for good).
    ///
    /// An index that names no value pins `nil` (a pin that reads as `nil`, and stores nothing).
    pub fn pin(&self, index: c_int) -> Pin {
        if !self.valid(index) {
            return Pin(ffi::LUA_REFNIL);
        }
        // SAFETY: a valid index (checked above); `lua_ref` stores the value in the registry.
        Pin(unsafe { ffi::lua_ref(self.raw(), index) })
    }

    /// `t[k] = v` without metamethods, where `t` is at `table` and `k`, `v` are the two top
    /// values, which it pops. A `nil` value leaves the key out. `None`, with nothing done,
    /// unless a table is at `table` with two values above it, the upper a key Luau can store
    /// (not `nil` nor NaN, for which the caller's safe implementation reports the error).
    pub fn raw_set(&self, table: c_int) -> Option<()> {
        self.table_below(table, 2)?;
        // SAFETY: a table is at `table` with two values above it (checked above), and the key
        // is one Luau stores without raising.
        unsafe {
            let key = ffi::lua_type(self.raw(), -2);
            let nan = key == ffi::LUA_TNUMBER && ffi::lua_tonumber(self.raw(), -2).is_nan();
            if key == ffi::LUA_TNIL || nan {
                return None;
            }
            ffi::lua_rawset(self.raw(), table);
        }
        Some(())
    }

    /// `t[i] = v` without metamethods for the top value `v`, which it pops. `None`, with
    /// nothing done, unless a table is at `table` with a value above it.
    pub fn raw_set_index(&self, table: c_int, i: usize) -> Option<()> {
        self.table_below(table, 1)?;
        let i = c_int::try_from(i).unwrap_or(c_int::MAX);
        // SAFETY: a table is at `table` with a value above it (checked above).
        unsafe { ffi::lua_rawseti_(self.raw(), table, i) };
        Some(())
    }

    /// `Some` when a table is at `table` and at least `above` values are above it.
    fn table_below(&self, table: c_int, above: c_int) -> Option<()> {
        let top = self.top();
        let table = self.absolute(table);
        (table > 0 && table <= top - above && self.kind(table) == Type::Table).then_some(())
    }

    /// Pushes `t[k]` without metamethods, where `t` is the table at `table` and `k` the top
    /// value, which it replaces.
    pub fn raw_get(&self, table: c_int) -> Type {
        if self.kind(table) != Type::Table {
            self.truncate(self.top() - 1);
            self.push_nil();
            return Type::Nil;
        }
        // SAFETY: `table` holds a table; the key is on top. `lua_rawget` returns the type of
        // the value it pushed.
        type_of(unsafe { ffi::lua_rawget(self.raw(), table) })
    }

    /// Walks the entries of the table at `table` (absolute) once: for each whose key is the
    /// string at one of `keys` (addresses of interned strings), calls `found(i, value, type)`
    /// with the position `i` in `keys` and the stack index and type of the value, which stays
    /// on the stack only for that call. Returns how many entries the table has, or `None` when
    /// it is not a table or `found` returned `None`.
    pub fn walk(
        &self,
        table: c_int,
        keys: &[usize],
        mut found: impl FnMut(usize, c_int, Type) -> Option<()>,
    ) -> Option<usize> {
        if table <= 0 || self.kind(table) != Type::Table {
            return None;
        }
        let base = self.top();
        let (key, value) = (base + 1, base + 2);
        let mut entries = 0;
        let mut iter = 0;
        loop {
            // SAFETY: `table` holds a table and `iter` came from the previous call (or is 0);
            // `lua_rawiter` pushes the key and the value (at `key` and `value`) or nothing.
            iter = unsafe { ffi::lua_rawiter(self.raw(), table, iter) };
            if iter < 0 {
                return Some(entries);
            }
            entries += 1;
            // SAFETY: `key` is the value just pushed; `lua_tolstringatom` is null for anything
            // but a string and asks for no atom here.
            let name = unsafe {
                ffi::lua_tolstringatom(self.raw(), key, std::ptr::null_mut(), std::ptr::null_mut())
            };
            let position = keys.iter().position(|k| *k == name.addr());
            if let Some(position) = position {
                // SAFETY: `value` was just pushed.
                let kind = type_of(unsafe { ffi::lua_type(self.raw(), value) });
                let outcome = found(position, value, kind);
                self.truncate(base);
                outcome?;
            } else {
                self.truncate(base);
            }
        }
    }

    /// Makes `index` absolute, so that pushes do not move what it names.
    pub fn absolute(&self, index: c_int) -> c_int {
        if index < 0 {
            self.top() + 1 + index
        } else {
            index
        }
    }

    /// Pushes a new userdata with `tag` holding `value`; its metatable is the one set for the
    /// tag with [`install_metatable`].
    ///
    /// # Safety
    /// Every userdata with `tag` holds a `T`, and `T` needs no drop unless the tag has a
    /// destructor that drops it (see [`install_destructor`]).
    pub unsafe fn new_userdata<T>(&self, tag: c_int, value: T) -> &'call mut T {
        const { assert!(std::mem::align_of::<T>() <= 8) };
        // SAFETY: Luau aligns userdata blocks to 8 bytes and raises a memory error rather than
        // returning null; the block is written before anything can read it.
        unsafe {
            let block =
                ffi::lua_newuserdatataggedwithmetatable(self.raw(), std::mem::size_of::<T>(), tag)
                    as *mut T;
            block.write(value);
            &mut *block
        }
    }
}

/// Runs `f` on the stack of `lua` in a protected call: the value `f` pushes (it pushes one
/// when it succeeds, and nothing when it fails) comes back as a `Value`. A Lua error raised
/// inside (out of memory) comes back as the outer `Err`.
pub(crate) fn produce<E>(
    lua: &mlua::Lua,
    f: impl FnOnce(Stack<'_>) -> Result<(), E>,
) -> mlua::Result<Result<mlua::Value, E>> {
    let shared = Shared::of(lua);
    let mut outcome = None;
    // SAFETY: `exec_raw` runs the closure on the VM's current state inside a protected call and
    // collects what it left on the stack; the `Stack` does not outlive the closure.
    let value = unsafe {
        lua.exec_raw::<mlua::Value>((), |state| {
            let stack = Stack {
                // SAFETY: mlua passes the running state, never null.
                state: NonNull::new_unchecked(state),
                args: ffi::lua_gettop(state),
                shared,
                direct: None,
                _call: PhantomData,
            };
            outcome = Some(f(stack));
        })?
    };
    Ok(match outcome {
        Some(Ok(())) => Ok(value),
        Some(Err(failure)) => Err(failure),
        None => Err(mlua::Error::runtime("a conversion did not run"))?,
    })
}

/// A copy of the `T` in `value`, when it is a userdata with `tag`.
///
/// # Safety
/// Every userdata with `tag` in `lua` holds a `T`.
pub(crate) unsafe fn read_userdata<T: Copy>(
    lua: &mlua::Lua,
    value: &mlua::Value,
    tag: c_int,
) -> Option<T> {
    let mlua::Value::UserData(_) = value else {
        return None;
    };
    let mut copy = None;
    // SAFETY: `exec_raw` pushes the value and runs the closure in a protected call;
    // `lua_touserdatatagged` returns null unless it is a userdata with `tag`, which by the
    // caller's promise holds a `T`, copied out while the value is on the stack.
    unsafe {
        lua.exec_raw::<()>(value, |state| {
            let data = ffi::lua_touserdatatagged(state, -1, tag) as *const T;
            copy = data.as_ref().copied();
            ffi::lua_settop(state, -2);
        })
        .ok()?;
    }
    copy
}

/// The [`Type`] of a Luau type tag.
fn type_of(tag: c_int) -> Type {
    match tag {
        ffi::LUA_TNIL | ffi::LUA_TNONE => Type::Nil,
        ffi::LUA_TBOOLEAN => Type::Boolean,
        ffi::LUA_TNUMBER => Type::Number,
        ffi::LUA_TSTRING => Type::String,
        ffi::LUA_TTABLE => Type::Table,
        ffi::LUA_TVECTOR => Type::Vector,
        ffi::LUA_TLIGHTUSERDATA => Type::LightUserData,
        ffi::LUA_TUSERDATA => Type::UserData,
        _ => Type::Other,
    }
}

/// A string on the stack: its bytes, and its address, which names it while it is alive.
#[derive(Clone, Copy)]
pub(crate) struct StackStr<'call> {
    data: NonNull<u8>,
    len: usize,
    _call: PhantomData<&'call [u8]>,
}

impl<'call> StackStr<'call> {
    /// The bytes.
    pub fn bytes(&self) -> &'call [u8] {
        // SAFETY: Luau keeps a string's bytes in place while the string lives, and it lives at
        // least as long as this call (it is an argument, or pinned).
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// The address of the string's bytes: equal for two strings exactly when they are the same
    /// string, since Luau interns every string.
    pub fn address(&self) -> usize {
        self.data.as_ptr().addr()
    }
}

/// A value pinned in the registry of the VM for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pin(c_int);

/// A table pinned in the registry of the VM for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TablePin(Pin);

/// The upvalues a fast function keeps before its own: its VM's [`Shared`] and its safe
/// implementation.
pub(crate) const UPVALUES: c_int = 2;

/// One more than the most upvalues a Luau closure holds besides [`UPVALUES`].
const UPVALUES_MAX: c_int = 255 - UPVALUES;

/// Creates fast function `F`, with upvalue 1 pointing at the VM's [`Shared`], upvalue 2 the safe
/// implementation `slow`, and then `extra` upvalues.
pub(crate) fn closure<F: Fast>(
    lua: &mlua::Lua,
    slow: mlua::Function,
    extra: mlua::MultiValue,
) -> mlua::Result<mlua::Function> {
    let shared = Shared::of(lua)
        .ok_or_else(|| mlua::Error::runtime("fast functions need Shared::install first"))?;
    let shared = std::ptr::from_ref(shared).cast_mut().cast::<c_void>();
    let upvalues = c_int::try_from(extra.len())
        .ok()
        .and_then(|n| n.checked_add(UPVALUES))
        .ok_or_else(|| mlua::Error::runtime("too many upvalues"))?;
    // SAFETY: `exec_raw` pushes `slow` and the `extra` values and runs the closure in a
    // protected call; the light userdata of `shared` goes under them, and `lua_pushcclosurek`
    // pops all of them as upvalues, in that order, and leaves the closure, which `exec_raw`
    // returns.
    unsafe {
        lua.exec_raw((slow, extra), |state| {
            ffi::lua_pushlightuserdatatagged(state, shared, 0);
            ffi::lua_insert(state, -upvalues);
            ffi::lua_pushcclosurek(state, trampoline::<F>, F::NAME.as_ptr(), upvalues, None);
        })
    }
}

/// Sets the metatable of every userdata with `tag` to `metatable`.
pub(crate) fn install_metatable(
    lua: &mlua::Lua,
    tag: c_int,
    metatable: mlua::Table,
) -> mlua::Result<()> {
    // SAFETY: `exec_raw` pushes the table; `lua_setuserdatametatable` pops it and records it
    // for the tag, which no other code of the VM uses.
    unsafe {
        lua.exec_raw::<()>(metatable, |state| {
            ffi::lua_setuserdatametatable(state, tag);
        })
    }
}

unsafe extern "C-unwind" {
    /// Luau's (experimental) direct access for userdata fields; mlua does not bind it.
    fn lua_registeruserdatadirectaccess(
        state: *mut ffi::lua_State,
        tag: c_int,
        get: Option<DirectAccess>,
        set: Option<DirectAccess>,
        namecall: Option<DirectNamecall>,
    ) -> c_int;
}

type DirectAccess =
    unsafe extern "C-unwind" fn(*mut ffi::lua_State, *mut c_void, c_int, *mut u16, c_int);
type DirectNamecall =
    unsafe extern "C-unwind" fn(*mut ffi::lua_State, *mut c_void, c_int, *mut u16, c_int) -> c_int;

/// Gives a string its atom (see `crate::bridge::atoms`): a safe function of the layer above,
/// which Luau's atom callback calls.
pub(crate) type Atoms = fn(&[u8]) -> Option<i16>;

/// The function that gives strings their atoms, set by the first [`install_direct_access`].
static ATOMS: std::sync::OnceLock<Atoms> = std::sync::OnceLock::new();

/// Makes `r.key` and `r.key = value` on userdata with `tag` call the tag's `__index` and
/// `__newindex` fast functions directly, with the key's atom, when the key is a constant
/// string with an atom; other accesses still go through the metamethods. Also makes Luau ask
/// `atoms` for the atoms of strings (the first function given is used for the whole process).
///
/// # Safety
/// `__index` and `__newindex` of the tag's metatable (set before) are fast functions `Index`
/// and `Assign`, which read the userdata at index 1 as the tag's type.
pub(crate) unsafe fn install_direct_access<Index: Fast, Assign: Fast>(
    lua: &mlua::Lua,
    tag: c_int,
    atoms: Atoms,
) -> mlua::Result<()> {
    ATOMS.get_or_init(|| atoms);
    unsafe extern "C-unwind" fn useratom(
        _state: *mut ffi::lua_State,
        name: *const std::ffi::c_char,
        len: usize,
    ) -> i16 {
        // SAFETY: Luau passes the string's bytes, `len` long.
        let name = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), len) };
        // No Lua runs inside, so nothing foreign can unwind through `catch_unwind`.
        let Some(atom) = ATOMS.get() else {
            return -1;
        };
        std::panic::catch_unwind(|| atom(name))
            .ok()
            .flatten()
            .unwrap_or(-1)
    }
    let mut installed = 0;
    // SAFETY: in a protected call, sets the VM's atom callback (which touches only the
    // process's atom table) and registers `direct_access` for the tag, whose metamethods are
    // in place by the caller's promise.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*ffi::lua_callbacks(state)).useratom = Some(useratom);
            installed = lua_registeruserdatadirectaccess(
                state,
                tag,
                Some(direct_access::<Index>),
                Some(direct_access::<Assign>),
                None,
            );
        })?;
    }
    if installed == 0 {
        return Err(mlua::Error::runtime(
            "direct access needs the tag's metatable",
        ));
    }
    Ok(())
}

/// Makes Luau drop the `T` in every userdata with `tag` when it is collected.
///
/// # Safety
/// Every userdata with `tag` holds a `T`.
pub(crate) unsafe fn install_destructor<T>(lua: &mlua::Lua, tag: c_int) -> mlua::Result<()> {
    unsafe extern "C" fn drop_block<T>(_state: *mut ffi::lua_State, block: *mut c_void) {
        // SAFETY: Luau calls this once, for a userdata of the tag, which holds a `T` by the
        // promise of `install_destructor`; it is never used again.
        unsafe { std::ptr::drop_in_place(block.cast::<T>()) }
    }
    // SAFETY: registering a destructor for the tag, in a protected call.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_setuserdatadtor(state, tag, Some(drop_block::<T>));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What safe code can hand the stack's methods: none of it breaks the stack.
    #[test]
    fn preconditions_are_checked_in_release_builds_too() {
        let lua = mlua::Lua::new();
        let outcome = produce(&lua, |stack| {
            let base = stack.top();
            stack.truncate(base + 100);
            assert_eq!(stack.top(), base, "truncate never grows the stack");
            stack.truncate(-5);
            assert_eq!(stack.top(), 0);
            stack.push_number(1.0);
            stack.push_number(2.0);
            assert_eq!(stack.raw_set(1), None, "no table under the key and value");
            assert_eq!(stack.raw_set_index(-1, 1), None);
            assert_eq!(stack.top(), 2, "nothing done");
            let pin = stack.pin(50);
            stack.push_pinned(pin);
            assert_eq!(stack.kind(-1), Type::Nil, "an invalid index pins nil");
            assert_eq!(
                stack.push_closure::<Never>(0),
                None,
                "no Shared, no function"
            );
            stack.truncate(0);
            stack.push_table(0, 1);
            stack.push_nil();
            stack.push_number(1.0);
            assert_eq!(stack.raw_set(1), None, "a nil key is left to the safe path");
            stack.truncate(1);
            stack.push_str(b"k");
            stack.push_number(1.0);
            assert_eq!(stack.raw_set(1), Some(()));
            stack.truncate(1);
            Ok::<(), ()>(())
        });
        assert!(
            matches!(outcome, Ok(Ok(mlua::Value::Table(_)))),
            "{outcome:?}"
        );
    }

    /// A fast function for the checks above, never called.
    struct Never;
    impl Fast for Never {
        const NAME: &'static CStr = c"never";
        fn call(_: Stack<'_>) -> Option<c_int> {
            None
        }
    }
}
