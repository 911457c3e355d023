//! Luau's debugger interface: the break callback, breakpoints, and reading and writing the
//! frames of a stopped script (feature `debugger`).
//!
//! A stop runs on the thread of the stopped script, inside Luau: the break callback (or the
//! interrupt, for a pause, or an error handler, for an error) calls a Lua function the crate
//! registered under [`HANDLER`] with a protected call, so the handler is an ordinary mlua
//! callback running on the stopped thread, with the stopped frames beneath it. Everything here
//! that reads frames runs through [`Lua::exec_raw`] from inside that handler (or, for a
//! coroutine that failed, on the coroutine's own stack), and names frames by level on their
//! thread.

use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, MultiValue, Thread, Value};
use std::ffi::{CStr, c_int};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The registry key of the function a stop calls: `(reason) -> ()`.
pub(crate) const HANDLER: &CStr = c"bevy_luau.debugger";

/// Why a script stops, as passed to the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Reason {
    /// A `BREAK` instruction: a breakpoint, or a line that stepping marked.
    Break = 1,
    /// A pause asked for while the script ran, seen at an interrupt checkpoint.
    Pause = 2,
    /// An error, seen by the error handler while the failing frames are on the stack.
    Error = 3,
}

impl Reason {
    /// The reason of a number the handler was called with.
    pub(crate) fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::Break),
            2 => Some(Self::Pause),
            3 => Some(Self::Error),
            _ => None,
        }
    }
}

/// How many debugger sessions want a pause: while it is above zero, interrupt checkpoints
/// that read the clock call the handler, which stops if its own session asked.
static PAUSES: AtomicUsize = AtomicUsize::new(0);

/// How many debugger sessions stop at errors: while it is zero, calls take mlua's own path.
static CATCHING: AtomicUsize = AtomicUsize::new(0);

/// Counts a session that wants a pause (`true`) or no longer does (`false`).
pub(crate) fn want_pause(on: bool) {
    count(&PAUSES, on);
}

/// Counts a session that stops at errors (`true`) or no longer does (`false`).
pub(crate) fn want_errors(on: bool) {
    count(&CATCHING, on);
}

/// Whether some session stops at errors.
#[inline]
pub(crate) fn catching() -> bool {
    CATCHING.load(Ordering::Relaxed) > 0
}

fn count(counter: &AtomicUsize, on: bool) {
    if on {
        counter.fetch_add(1, Ordering::Relaxed);
    } else {
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Makes `handler` the function stops call in `lua`'s VM, and sets the break callback.
pub(crate) fn install(lua: &Lua, handler: Function) -> mlua::Result<()> {
    let key = HANDLER.to_str().expect("the key is ASCII");
    lua.set_named_registry_value(key, handler)?;
    // SAFETY: `lua_callbacks` returns the callbacks of this VM's global state, which lives as
    // long as `lua`; `on_break` only calls the registered handler through a protected call.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*mlua::ffi::lua_callbacks(state)).debugbreak = Some(on_break);
        })
    }
}

/// Luau's break callback: a `BREAK` instruction ran.
unsafe extern "C-unwind" fn on_break(
    state: *mut mlua::ffi::lua_State,
    _: *mut mlua::ffi::lua_Debug,
) {
    // SAFETY: Luau calls the break callback on a running thread with the frame intact and room
    // made on the stack, where calling a function is allowed.
    unsafe { call_handler(state, Reason::Break, false) }
}

/// Called at the interrupt checkpoints that read the clock: stops for a pause if one is
/// wanted.
///
/// # Safety
///
/// Only from the interrupt, with the state Luau called it with, outside a GC step.
#[inline]
pub(crate) unsafe fn checkpoint(state: *mut mlua::ffi::lua_State) {
    if PAUSES.load(Ordering::Relaxed) > 0 {
        // SAFETY: the interrupt runs at a point where calling a function is allowed.
        unsafe { call_handler(state, Reason::Pause, false) }
    }
}

/// Calls the registered handler with `reason` (and, with `error`, the value on top of the
/// stack) in a protected call, so nothing it raises reaches the stopped script.
///
/// # Safety
///
/// `state` is a running thread at a point where a function may be called (a break or step
/// callback, an interrupt, an error handler).
unsafe fn call_handler(state: *mut mlua::ffi::lua_State, reason: Reason, error: bool) {
    use mlua::ffi;
    // SAFETY: the caller's contract; every push is checked for room first, and the stack is
    // left as it was found.
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return;
        }
        if ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, HANDLER.as_ptr()) != ffi::LUA_TFUNCTION
        {
            ffi::lua_pop(state, 1);
            return;
        }
        ffi::lua_pushinteger(state, reason as i32 as ffi::lua_Integer);
        let nargs = if error {
            ffi::lua_pushvalue(state, -3);
            2
        } else {
            1
        };
        if ffi::lua_pcall(state, nargs, 0, 0) != ffi::LUA_OK {
            ffi::lua_pop(state, 1);
        }
    }
}

/// The error handler of [`call_catching`]: stops with the failing frames on the stack, then
/// adds the traceback as mlua's own handler does.
unsafe extern "C-unwind" fn on_error(state: *mut mlua::ffi::lua_State) -> c_int {
    use mlua::ffi;
    // SAFETY: Luau calls an error handler with the error on top of the failing thread's
    // stack, before unwinding it; every push is checked for room first.
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return 1;
        }
        // Luau calls error handlers for memory errors too; nothing more may be allocated then.
        if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
            let mut len = 0;
            let text = ffi::lua_tolstring(state, -1, &mut len);
            let text = std::slice::from_raw_parts(text.cast::<u8>(), len);
            if text == b"not enough memory" {
                return 1;
            }
        }
        call_handler(state, Reason::Error, true);
        // mlua's errors from Rust are userdata that carry their own traceback.
        if ffi::lua_type(state, -1) != ffi::LUA_TUSERDATA
            && ffi::lua_checkstack(state, ffi::LUA_TRACEBACK_STACK) != 0
        {
            let text = ffi::luaL_tolstring(state, -1, std::ptr::null_mut());
            ffi::luaL_traceback(state, state, text, 0);
            ffi::lua_remove(state, -2);
        }
        1
    }
}

/// Calls `function` as [`Function::call`] does, but through an error handler that stops in
/// the debugger while the failing frames are still on the stack.
pub(crate) fn call_catching<R: FromLuaMulti>(
    lua: &Lua,
    function: &Function,
    args: impl IntoLuaMulti,
) -> mlua::Result<R> {
    use mlua::ffi;
    // SAFETY: the closure runs in a protected call with the function and its arguments as its
    // stack; it puts the handler beneath them, calls, and re-raises an error (already given its
    // traceback) for `exec_raw` to turn into mlua's error, as `Function::call` would.
    unsafe {
        lua.exec_raw::<R>((function, args), |state| {
            let nargs = ffi::lua_gettop(state) - 1;
            ffi::lua_pushcfunction(state, on_error);
            ffi::lua_insert(state, 1);
            if ffi::lua_pcall(state, nargs, ffi::LUA_MULTRET, 1) != ffi::LUA_OK {
                ffi::lua_error(state);
            }
            ffi::lua_remove(state, 1);
        })
    }
}

/// One frame of a thread's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Its level on its thread (0 is the running function).
    pub level: i32,
    /// Whether it runs Lua code (not a function of the host).
    pub lua: bool,
    /// The chunk name (`@scripts/a.luau`), or `=[C]`.
    pub source: String,
    /// The line it is at; `-1` for host functions.
    pub line: i32,
    /// The line its function was defined at.
    pub defined: i32,
    /// Its function's name, when Luau knows it.
    pub name: Option<String>,
}

/// Runs `f` on the stack of `thread`, or of the running thread: `f` gets the state to push
/// results onto and the state whose frames to read. Whatever `f` leaves on the first is
/// returned.
///
/// # Safety
///
/// `f` must keep both stacks balanced apart from the values it returns, check for room before
/// it pushes, and move values between the two with `lua_xmove` only.
unsafe fn on_stack<R: FromLuaMulti>(
    lua: &Lua,
    thread: Option<&Thread>,
    f: impl FnOnce(*mut mlua::ffi::lua_State, *mut mlua::ffi::lua_State),
) -> mlua::Result<R> {
    use mlua::ffi;
    // SAFETY: `exec_raw` runs the closure in a protected call whose stack holds the thread (if
    // any); the thread is removed before `f` runs, so only `f`'s results stay.
    unsafe {
        match thread {
            Some(thread) => lua.exec_raw::<R>(thread, |state| {
                let target = ffi::lua_tothread(state, 1);
                ffi::lua_remove(state, 1);
                if !target.is_null() {
                    f(state, target);
                }
            }),
            None => lua.exec_raw::<R>((), |state| f(state, state)),
        }
    }
}

/// Reads a C string Luau gave.
///
/// # Safety
///
/// `ptr` is null or a NUL-terminated string that is still alive (from `lua_getinfo`,
/// `lua_getlocal` or `lua_getupvalue`).
unsafe fn text(ptr: *const std::ffi::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller's contract: a NUL-terminated string that is alive.
    let text = unsafe { CStr::from_ptr(ptr) };
    Some(text.to_string_lossy().into_owned())
}

/// The frames of `thread` (or of the running thread, which includes the frames of the
/// handler and of this call at its bottom levels), innermost first.
pub(crate) fn frames(lua: &Lua, thread: Option<&Thread>) -> mlua::Result<Vec<Frame>> {
    let mut frames = Vec::new();
    // SAFETY: `lua_getinfo` with `sln` pushes nothing; the strings are copied at once.
    unsafe {
        on_stack::<()>(lua, thread, |_, target| {
            for level in 0.. {
                let mut ar: mlua::ffi::lua_Debug = std::mem::zeroed();
                if mlua::ffi::lua_getinfo(target, level, c"sln".as_ptr(), &mut ar) == 0 {
                    break;
                }
                let what = text(ar.what).unwrap_or_default();
                frames.push(Frame {
                    level,
                    lua: what != "C",
                    source: text(ar.source).unwrap_or_default(),
                    line: ar.currentline,
                    defined: ar.linedefined,
                    name: text(ar.name),
                });
            }
        })?;
    }
    Ok(frames)
}

/// The locals of the frame at `level` of `thread` (or the running thread), in order, with
/// their numbers for [`set_local`]. Needs debug level 2 for names.
pub(crate) fn locals(
    lua: &Lua,
    thread: Option<&Thread>,
    level: i32,
) -> mlua::Result<Vec<(String, i32, Value)>> {
    let mut names = Vec::new();
    if level < 0 {
        return Ok(Vec::new());
    }
    // SAFETY: each `lua_getlocal` pushes one value on the target, after room is checked, and
    // it is moved to the result stack at once.
    let values = unsafe {
        on_stack::<MultiValue>(lua, thread, |state, target| {
            for n in 1..=255 {
                if mlua::ffi::lua_checkstack(state, 2) == 0
                    || mlua::ffi::lua_checkstack(target, 2) == 0
                {
                    break;
                }
                let name = mlua::ffi::lua_getlocal(target, level, n);
                if name.is_null() {
                    break;
                }
                names.push((text(name).unwrap_or_default(), n));
                if target != state {
                    mlua::ffi::lua_xmove(target, state, 1);
                }
            }
        })?
    };
    Ok(numbered(names, values))
}

/// Names with their numbers, paired with the values read for them.
fn numbered(names: Vec<(String, i32)>, values: MultiValue) -> Vec<(String, i32, Value)> {
    names
        .into_iter()
        .zip(values)
        .map(|((name, n), value)| (name, n, value))
        .collect()
}

/// The function running at `level` of `thread` (or the running thread).
pub(crate) fn function_at(
    lua: &Lua,
    thread: Option<&Thread>,
    level: i32,
) -> mlua::Result<Option<Function>> {
    // A negative level would name a stack slot, not a frame.
    if level < 0 {
        return Ok(None);
    }
    // SAFETY: `lua_getinfo` with `f` pushes the function (only when the level exists), after
    // room is checked; it is moved to the result stack.
    unsafe {
        on_stack::<Option<Function>>(lua, thread, |state, target| {
            if mlua::ffi::lua_checkstack(target, 2) == 0 || mlua::ffi::lua_checkstack(state, 2) == 0
            {
                return;
            }
            let mut ar: mlua::ffi::lua_Debug = std::mem::zeroed();
            if mlua::ffi::lua_getinfo(target, level, c"f".as_ptr(), &mut ar) != 0 && target != state
            {
                mlua::ffi::lua_xmove(target, state, 1);
            }
        })
    }
}

/// The upvalues of `function`, in order, with their numbers for [`set_upvalue`]; none for a
/// host function, whose upvalues are mlua's own.
pub(crate) fn upvalues(lua: &Lua, function: &Function) -> mlua::Result<Vec<(String, i32, Value)>> {
    let mut names = Vec::new();
    // SAFETY: the function is at index 1; each `lua_getupvalue` pushes one value, after room
    // is checked; the function is removed at the end.
    let values = unsafe {
        lua.exec_raw::<MultiValue>(function, |state| {
            let host = mlua::ffi::lua_iscfunction(state, 1) != 0;
            for n in (1..=255).take_while(|_| !host) {
                if mlua::ffi::lua_checkstack(state, 2) == 0 {
                    break;
                }
                let name = mlua::ffi::lua_getupvalue(state, 1, n);
                if name.is_null() {
                    break;
                }
                names.push((text(name).unwrap_or_default(), n));
            }
            mlua::ffi::lua_remove(state, 1);
        })?
    };
    Ok(numbered(names, values))
}

/// Sets local `n` of the frame at `level` of `thread` (or the running thread) to `value`;
/// whether the local exists.
pub(crate) fn set_local(
    lua: &Lua,
    thread: Option<&Thread>,
    level: i32,
    n: i32,
    value: Value,
) -> mlua::Result<bool> {
    use mlua::ffi;
    let mut set = false;
    // SAFETY: the stack holds the thread (or nil) and the value; a copy of the value is moved
    // to the target, where `lua_setlocal` pops it (or it is popped when there is no such
    // local); the stack is emptied at the end.
    unsafe {
        lua.exec_raw::<()>((thread, value), |state| {
            let target = match ffi::lua_type(state, 1) == ffi::LUA_TTHREAD {
                true => ffi::lua_tothread(state, 1),
                false => state,
            };
            if level >= 0
                && ffi::lua_checkstack(state, 2) != 0
                && ffi::lua_checkstack(target, 2) != 0
            {
                // `lua_setlocal` pops the value on some of its paths and not on others: the
                // target's stack is put back to its height before the push either way.
                let height = ffi::lua_gettop(target);
                ffi::lua_pushvalue(state, 2);
                if target != state {
                    ffi::lua_xmove(state, target, 1);
                }
                set = !ffi::lua_setlocal(target, level, n).is_null();
                ffi::lua_settop(target, height);
            }
            ffi::lua_settop(state, 0);
        })?;
    }
    Ok(set)
}

/// Sets upvalue `n` of `function`, a Lua function, to `value`; whether it exists. The upvalues
/// of host functions (mlua's, which hold its callbacks) are never touched.
pub(crate) fn set_upvalue(
    lua: &Lua,
    function: &Function,
    n: i32,
    value: Value,
) -> mlua::Result<bool> {
    let mut set = false;
    // SAFETY: the function and the value are indices 1 and 2; a host function is left alone;
    // `lua_setupvalue` pops the value when it sets it, and the stack is emptied after.
    unsafe {
        lua.exec_raw::<()>((function, value), |state| {
            if mlua::ffi::lua_iscfunction(state, 1) == 0 {
                set = !mlua::ffi::lua_setupvalue(state, 1, n).is_null();
            }
            mlua::ffi::lua_settop(state, 0);
        })?;
    }
    Ok(set)
}

/// Turns the breakpoint at `line` of `function` and of every function defined in it on or off:
/// the line taken is the next one with code. Returns that line, or `None` when no line at or
/// after `line` has code.
pub(crate) fn breakpoint(
    lua: &Lua,
    function: &Function,
    line: u32,
    enabled: bool,
) -> mlua::Result<Option<u32>> {
    let line = c_int::try_from(line).unwrap_or(c_int::MAX);
    let mut target = -1;
    // SAFETY: the function is index 1, checked to be a Lua function (`lua_breakpoint` requires
    // one); it is popped after.
    unsafe {
        lua.exec_raw::<()>(function, |state| {
            if mlua::ffi::lua_iscfunction(state, 1) == 0 {
                target = mlua::ffi::lua_breakpoint(state, 1, line, c_int::from(enabled));
            }
            mlua::ffi::lua_pop(state, 1);
        })?;
    }
    Ok(u32::try_from(target).ok())
}

/// A number naming the running thread (its state's address), to tell threads apart while
/// stepping.
pub(crate) fn thread_key(lua: &Lua) -> usize {
    let mut key = 0;
    // SAFETY: only the address of the state is read.
    let _ = unsafe { lua.exec_raw::<()>((), |state| key = state as usize) };
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coroutine that failed, its stack kept: `a` is its first local, on line 3.
    fn failed(lua: &Lua) -> Thread {
        let thread = lua
            .load("return coroutine.create(function()\n local a = 1\n error('x')\n end)")
            .eval::<Thread>()
            .unwrap();
        assert!(thread.resume::<()>(()).is_err());
        thread
    }

    #[test]
    fn the_frames_of_a_failed_coroutine_read_and_write() {
        let lua = Lua::new();
        lua.set_compiler(mlua::chunk::Compiler::new().set_debug_level(2));
        let thread = failed(&lua);
        let frames = frames(&lua, Some(&thread)).unwrap();
        let top = frames.iter().find(|f| f.lua).expect("a Lua frame");
        assert_eq!(top.line, 3);
        let read = locals(&lua, Some(&thread), top.level).unwrap();
        assert_eq!(read[0].0, "a");
        assert!(set_local(&lua, Some(&thread), top.level, read[0].1, Value::Integer(5)).unwrap());
        let read = locals(&lua, Some(&thread), top.level).unwrap();
        assert_eq!(read[0].2, Value::Integer(5));
        let function = function_at(&lua, Some(&thread), top.level).unwrap();
        assert!(function.is_some());
    }

    #[test]
    fn bad_levels_and_numbers_read_and_write_nothing() {
        let lua = Lua::new();
        lua.set_compiler(mlua::chunk::Compiler::new().set_debug_level(2));
        let thread = failed(&lua);
        assert!(locals(&lua, Some(&thread), -1).unwrap().is_empty());
        assert!(locals(&lua, Some(&thread), 1000).unwrap().is_empty());
        assert!(function_at(&lua, Some(&thread), -1).unwrap().is_none());
        assert!(function_at(&lua, Some(&thread), 1000).unwrap().is_none());
        for (level, n) in [(-1, 1), (1000, 1), (0, 0), (0, 99), (0, -3)] {
            let before = frames(&lua, Some(&thread)).unwrap();
            assert!(!set_local(&lua, Some(&thread), level, n, Value::Integer(7)).unwrap());
            // The stopped stack is as it was: a wrong write pops nothing of it.
            assert_eq!(frames(&lua, Some(&thread)).unwrap(), before);
        }
        let lua_level = before_level(&lua, &thread);
        let read = locals(&lua, Some(&thread), lua_level).unwrap();
        assert_eq!(read.first().map(|l| &l.2), Some(&Value::Integer(1)));
    }

    fn before_level(lua: &Lua, thread: &Thread) -> i32 {
        frames(lua, Some(thread))
            .unwrap()
            .iter()
            .find(|f| f.lua)
            .unwrap()
            .level
    }

    #[test]
    fn host_functions_keep_their_upvalues_and_take_no_breakpoints() {
        let lua = Lua::new();
        let host = lua.create_function(|_, ()| Ok(())).unwrap();
        assert!(upvalues(&lua, &host).unwrap().is_empty());
        assert!(!set_upvalue(&lua, &host, 1, Value::Integer(1)).unwrap());
        assert_eq!(breakpoint(&lua, &host, 1, true).unwrap(), None);
        host.call::<()>(()).unwrap();

        let counter = lua
            .load("local n = 0\nreturn function()\n n += 1\n return n\n end")
            .eval::<Function>()
            .unwrap();
        let read = upvalues(&lua, &counter).unwrap();
        assert_eq!(read.len(), 1);
        assert!(set_upvalue(&lua, &counter, 1, Value::Integer(41)).unwrap());
        assert!(!set_upvalue(&lua, &counter, 2, Value::Integer(0)).unwrap());
        assert_eq!(counter.call::<i64>(()).unwrap(), 42);
        assert_eq!(breakpoint(&lua, &counter, 1, true).unwrap(), Some(3));
        assert_eq!(breakpoint(&lua, &counter, 999, true).unwrap(), None);
    }
}
