//! The instruction limit: Luau's interrupt callback counts checkpoints against a budget per
//! call from the host into Lua, and raises an error when it runs out.
//!
//! The budget is thread-local: a VM runs on one thread at a time, and a call from the host
//! (a hook, a handler, a job) sets it for its length with [`Budget::run`].

use mlua::Lua;
use std::cell::Cell;
use std::os::raw::c_int;

thread_local! {
    /// Checkpoints left for the host call running on this thread.
    static REMAINING: Cell<u64> = const { Cell::new(u64::MAX) };
    /// Set once the budget of the current host call ran out.
    static EXHAUSTED: Cell<bool> = const { Cell::new(false) };
}

/// The instruction budget of one call from the host into Lua.
pub(crate) struct Budget;

impl Budget {
    /// Runs `f` (a call into Lua) with `limit` interrupt checkpoints (`0` = unlimited), and
    /// returns its result together with whether the budget ran out.
    ///
    /// Budgets nest: the budget of an outer call is restored when `f` returns, and also when
    /// it unwinds.
    pub(crate) fn run<R>(limit: u64, f: impl FnOnce() -> R) -> (R, bool) {
        /// Puts the outer call's budget back, on return and on unwind alike.
        struct Restore(u64, bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                REMAINING.set(self.0);
                EXHAUSTED.set(self.1);
            }
        }
        let limit = if limit == 0 { u64::MAX } else { limit };
        let restore = Restore(REMAINING.replace(limit), EXHAUSTED.replace(false));
        let result = f();
        let exhausted = EXHAUSTED.get();
        drop(restore);
        (result, exhausted)
    }
}

/// The interrupt Luau calls at every checkpoint. `gc >= 0` marks a garbage collector step,
/// which must not raise.
unsafe extern "C-unwind" fn interrupt(state: *mut mlua::ffi::lua_State, gc: c_int) {
    if gc >= 0 {
        return;
    }
    let remaining = REMAINING.get();
    if remaining > 0 {
        REMAINING.set(remaining - 1);
        return;
    }
    EXHAUSTED.set(true);
    // SAFETY: Luau calls the interrupt on a running thread at a point where raising an error is
    // allowed (this is how Luau's own tools stop runaway scripts); nothing in this frame needs
    // dropping before the error unwinds.
    unsafe { mlua::ffi::luaL_error(state, c"instruction limit exceeded".as_ptr()) }
}

/// Makes [`interrupt`] the interrupt of `lua`'s VM.
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: `lua_callbacks` returns the callbacks of this VM's global state, which lives as
    // long as `lua`; writing the interrupt field is how Luau expects it to be set, and the
    // function stored there only touches thread-local counters and the state it is given.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*mlua::ffi::lua_callbacks(state)).interrupt = Some(interrupt);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_restored_when_its_call_unwinds() {
        let (_, exhausted) = Budget::run(5, || {
            let unwound = std::panic::catch_unwind(|| {
                Budget::run(1, || {
                    EXHAUSTED.set(true);
                    panic!("the inner call unwinds");
                })
            });
            assert!(unwound.is_err());
            assert_eq!(REMAINING.get(), 5, "the outer budget is back");
            assert!(
                !EXHAUSTED.get(),
                "the inner call's exhaustion is not the outer's"
            );
        });
        assert!(!exhausted);
        assert_eq!(REMAINING.get(), u64::MAX);
    }
}
