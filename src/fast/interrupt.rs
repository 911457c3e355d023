//! The call limits: Luau's interrupt callback counts checkpoints against a budget per call
//! from the host into Lua, reads the clock every [`CLOCK_EVERY`] checkpoints against the
//! call's time limit, and raises an error when either runs out.
//!
//! The clock starts at the first reading, not when the call begins: most calls (an entity's
//! `on_update`) pass fewer checkpoints than that and never read it, which keeps a reading of
//! the clock off the cost of every call. A call whose first checkpoints are slow is stopped
//! that many slow steps later.
//!
//! The budget is thread-local: a VM runs on one thread at a time, and a call from the host
//! (a hook, a handler, a job) sets it for its length with [`Budget::run`].

use crate::error::ScriptErrorKind;
use mlua::Lua;
use std::cell::Cell;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// How many checkpoints pass between two readings of the clock, which keeps the clock off
/// nearly every iteration of a tight loop. A checkpoint that runs long (a library call on a
/// large string or table) is bounded by the memory limit, and a call overruns its time limit
/// by at most twice this many of them: the ones before the first reading and the ones after
/// the last.
const CLOCK_EVERY: u64 = 64;

thread_local! {
    /// Checkpoints left for the host call running on this thread.
    static REMAINING: Cell<u64> = const { Cell::new(u64::MAX) };
    /// The time limit of the host call running on this thread, if it has one.
    static TIME_LIMIT: Cell<Option<Duration>> = const { Cell::new(None) };
    /// When that call must stop: set at the first reading of the clock.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The limit that stopped the current host call, once one did.
    static STOPPED: Cell<Option<ScriptErrorKind>> = const { Cell::new(None) };
}

/// What one call from the host into Lua may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Interrupt checkpoints; `0` means no limit.
    pub checkpoints: u64,
    /// Wall-clock time; `None` means no limit.
    pub time: Option<Duration>,
}

impl Limits {
    /// No limit at all.
    pub(crate) const NONE: Self = Self {
        checkpoints: 0,
        time: None,
    };
}

/// The budget of one call from the host into Lua.
pub(crate) struct Budget;

impl Budget {
    /// Runs `f` (a call into Lua) within `limits`, and returns its result together with the
    /// limit that stopped it, if one did: [`ScriptErrorKind::InstructionLimit`] or
    /// [`ScriptErrorKind::TimeLimit`].
    ///
    /// Budgets nest: the budget of an outer call is restored when `f` returns, and also when
    /// it unwinds.
    pub(crate) fn run<R>(limits: Limits, f: impl FnOnce() -> R) -> (R, Option<ScriptErrorKind>) {
        /// Puts the outer call's budget back, on return and on unwind alike.
        struct Restore(
            u64,
            Option<Duration>,
            Option<Instant>,
            Option<ScriptErrorKind>,
        );
        impl Drop for Restore {
            fn drop(&mut self) {
                REMAINING.set(self.0);
                TIME_LIMIT.set(self.1);
                DEADLINE.set(self.2);
                STOPPED.set(self.3);
            }
        }
        let checkpoints = match limits.checkpoints {
            0 => u64::MAX,
            n => n,
        };
        let restore = Restore(
            REMAINING.replace(checkpoints),
            TIME_LIMIT.replace(limits.time),
            DEADLINE.replace(None),
            STOPPED.replace(None),
        );
        let result = f();
        let stopped = STOPPED.get();
        drop(restore);
        (result, stopped)
    }
}

/// Reads the clock for the current call: whether it is past its time limit. The first reading
/// starts the clock.
fn over_time() -> bool {
    let Some(limit) = TIME_LIMIT.get() else {
        return false;
    };
    let now = Instant::now();
    match DEADLINE.get() {
        Some(deadline) => now >= deadline,
        None => {
            DEADLINE.set(now.checked_add(limit));
            false
        }
    }
}

/// The interrupt Luau calls at every checkpoint. `gc >= 0` marks a garbage collector step,
/// which must not raise. The common case, a checkpoint with budget left and no clock to read,
/// stays in this small function; the rest is in [`checkpoint_slow`].
unsafe extern "C-unwind" fn interrupt(state: *mut mlua::ffi::lua_State, gc: c_int) {
    if gc >= 0 {
        return;
    }
    let remaining = REMAINING.get();
    if remaining != 0 && !remaining.is_multiple_of(CLOCK_EVERY) {
        REMAINING.set(remaining - 1);
        return;
    }
    // SAFETY: called from the interrupt, with the state Luau gave it.
    unsafe { checkpoint_slow(state, remaining) }
}

/// A checkpoint that reads the clock or raises: every [`CLOCK_EVERY`]th one, and every one
/// after the call ran out.
///
/// # Safety
///
/// Only from [`interrupt`], with the state Luau called it with.
#[cold]
#[inline(never)]
unsafe fn checkpoint_slow(state: *mut mlua::ffi::lua_State, remaining: u64) {
    let kind = if remaining == 0 {
        // Out of checkpoints, or stopped by the clock earlier: keep raising until the host
        // call returns, so `pcall` cannot swallow the stop.
        STOPPED.get().unwrap_or(ScriptErrorKind::InstructionLimit)
    } else {
        REMAINING.set(remaining - 1);
        if !over_time() {
            return;
        }
        REMAINING.set(0);
        ScriptErrorKind::TimeLimit
    };
    STOPPED.set(Some(kind));
    let message = match kind {
        ScriptErrorKind::TimeLimit => c"time limit exceeded",
        _ => c"instruction limit exceeded",
    };
    // SAFETY: Luau calls the interrupt on a running thread at a point where raising an error is
    // allowed (this is how Luau's own tools stop runaway scripts); nothing in this frame or in
    // the interrupt's needs dropping before the error unwinds.
    unsafe { mlua::ffi::luaL_error(state, message.as_ptr()) }
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

    fn checkpoints(n: u64) -> Limits {
        Limits {
            checkpoints: n,
            time: None,
        }
    }

    #[test]
    fn a_budget_is_restored_when_its_call_unwinds() {
        let (_, stopped) = Budget::run(checkpoints(5), || {
            let unwound = std::panic::catch_unwind(|| {
                Budget::run(checkpoints(1), || {
                    STOPPED.set(Some(ScriptErrorKind::InstructionLimit));
                    panic!("the inner call unwinds");
                })
            });
            assert!(unwound.is_err());
            assert_eq!(REMAINING.get(), 5, "the outer budget is back");
            assert_eq!(
                STOPPED.get(),
                None,
                "the inner call's stop is not the outer's"
            );
        });
        assert_eq!(stopped, None);
        assert_eq!(REMAINING.get(), u64::MAX);
        assert_eq!(DEADLINE.get(), None);
        assert_eq!(TIME_LIMIT.get(), None);
    }

    #[test]
    fn the_clock_stops_a_call_whose_checkpoints_are_slow() {
        let lua = Lua::new();
        install(&lua).unwrap();
        // Each checkpoint copies a megabyte: a million of them would take minutes.
        let slow = lua
            .load("local s = string.rep('x', 1e6) while true do local _ = string.rep(s, 1) end")
            .into_function()
            .unwrap();
        let limits = Limits {
            checkpoints: 1_000_000,
            time: Some(Duration::from_millis(50)),
        };
        let (result, stopped) = Budget::run(limits, || slow.call::<()>(()));
        assert_eq!(stopped, Some(ScriptErrorKind::TimeLimit));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("time limit exceeded"), "{message}");

        // A cheap loop still meets the checkpoint limit first.
        let spin = lua.load("while true do end").into_function().unwrap();
        let limits = Limits {
            checkpoints: 10_000,
            time: Some(Duration::from_secs(3600)),
        };
        let (result, stopped) = Budget::run(limits, || spin.call::<()>(()));
        assert!(result.is_err());
        assert_eq!(stopped, Some(ScriptErrorKind::InstructionLimit));
    }

    #[test]
    fn a_stop_by_the_clock_cannot_be_caught_with_pcall() {
        let lua = Lua::new();
        install(&lua).unwrap();
        let f = lua
            .load(
                "local s = string.rep('x', 1e6)
                 while true do pcall(function() while true do local _ = string.rep(s, 1) end end) end",
            )
            .into_function()
            .unwrap();
        let limits = Limits {
            checkpoints: 0,
            time: Some(Duration::from_millis(50)),
        };
        let (result, stopped) = Budget::run(limits, || f.call::<()>(()));
        assert!(result.is_err());
        assert_eq!(stopped, Some(ScriptErrorKind::TimeLimit));
    }
}
