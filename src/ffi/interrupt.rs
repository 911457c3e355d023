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
//! (a hook, a handler, a job) sets it for its length with [`Budget::run`]. A call made from
//! inside another (a task spawned, a console line run, an `on_despawn`) gets at most what its
//! caller has left, and is charged to it.

use mlua::Lua;
use std::cell::Cell;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// How many time limits a scripting step may run before its calls stop at their first reading
/// of the clock (see [`Budget::within_step`]); the stop's message says this number.
pub(crate) const STEP_LIMITS: u32 = 4;

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
    /// When the scripting step running on this thread must stop its calls, if it must.
    static STEP_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Whether the running call's deadline is the step's.
    static STEP_BOUND: Cell<bool> = const { Cell::new(false) };
    /// The limit that stopped the current host call, once one did.
    static STOPPED: Cell<Option<Spent>> = const { Cell::new(None) };
    /// Whether a host call runs on this thread: a call made now is nested in it.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// The id of the host call running on this thread (nested calls share it), given when
    /// first asked for; `0` until then.
    static CALL: Cell<u64> = const { Cell::new(0) };
}

/// The next host call id, unique in the process, so that a VM that moves to another thread
/// never meets an id of its old one.
static NEXT_CALL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How long scripts have stood stopped in the debugger, in nanoseconds: the clock limits and
/// profiles read, [`clock`], leaves it out.
#[cfg(feature = "debugger")]
static PAUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The time limits' clock: the monotonic clock, less the time scripts stood stopped in the
/// debugger, so a script stopped at a breakpoint does not run out of time while it stands.
#[inline]
pub(crate) fn clock() -> Instant {
    let now = Instant::now();
    #[cfg(feature = "debugger")]
    {
        let paused = PAUSED.load(std::sync::atomic::Ordering::Relaxed);
        if paused > 0 {
            return now.checked_sub(Duration::from_nanos(paused)).unwrap_or(now);
        }
    }
    now
}

/// Takes `stood`, the time a script stood stopped in the debugger, off [`clock`].
#[cfg(feature = "debugger")]
pub(crate) fn stood_still(stood: Duration) {
    let nanos = u64::try_from(stood.as_nanos()).unwrap_or(u64::MAX);
    PAUSED.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
}

/// The limit that stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spent {
    /// Out of interrupt checkpoints: the instruction limit.
    Instructions,
    /// Past the deadline: the time limit.
    Time,
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

/// The budget of a call on this thread, as kept while a call nested inside it runs.
struct Saved {
    remaining: u64,
    time_limit: Option<Duration>,
    deadline: Option<Instant>,
    stopped: Option<Spent>,
    active: bool,
    call: u64,
    step_bound: bool,
}

impl Saved {
    /// Takes the budget of the running call (if any), leaving `remaining`, `time_limit` and
    /// `deadline` for the next one.
    fn replace(remaining: u64, time_limit: Option<Duration>, deadline: Option<Instant>) -> Self {
        Self {
            remaining: REMAINING.replace(remaining),
            time_limit: TIME_LIMIT.replace(time_limit),
            deadline: DEADLINE.replace(deadline),
            stopped: STOPPED.replace(None),
            active: ACTIVE.replace(true),
            call: CALL.get(),
            step_bound: STEP_BOUND.replace(false),
        }
    }

    /// Puts the budget back.
    fn restore(&self) {
        REMAINING.set(self.remaining);
        TIME_LIMIT.set(self.time_limit);
        DEADLINE.set(self.deadline);
        STOPPED.set(self.stopped);
        ACTIVE.set(self.active);
        CALL.set(self.call);
        STEP_BOUND.set(self.step_bound);
    }
}

impl Budget {
    /// Runs `f` (a call into Lua) within `limits`, and returns its result together with the
    /// limit that stopped it, if one did: [`Spent::Instructions`] or
    /// [`Spent::Time`].
    ///
    /// A call made while another runs on this thread (a task spawned, a console line run, an
    /// `on_despawn`) is nested: it gets at most what its caller has left, checkpoints and
    /// time, and what it spends is charged to the caller, so that a caller stopped by its
    /// limits cannot go on through calls it makes. The caller's budget is restored, less what
    /// was spent, when `f` returns, and also when it unwinds.
    pub(crate) fn run<R>(limits: Limits, f: impl FnOnce() -> R) -> (R, Option<Spent>) {
        let checkpoints = match limits.checkpoints {
            0 => u64::MAX,
            n => n,
        };
        if !ACTIVE.get() {
            return Self::fresh(checkpoints, limits.time, f);
        }
        // The caller's clock starts now if it has not, so the nested call cannot outlast it.
        let outer_deadline = match (TIME_LIMIT.get(), DEADLINE.get()) {
            (Some(limit), None) => {
                let deadline = clock().checked_add(limit);
                DEADLINE.set(deadline);
                deadline
            }
            (_, deadline) => deadline,
        };
        let own_deadline = limits.time.and_then(|limit| clock().checked_add(limit));
        let deadline = match (outer_deadline, own_deadline) {
            (Some(outer), Some(own)) => Some(outer.min(own)),
            (outer, own) => outer.or(own),
        };
        let start = checkpoints.min(REMAINING.get());
        /// Puts the caller's budget back, less what the nested call spent.
        struct Charge(Saved, u64);
        impl Drop for Charge {
            fn drop(&mut self) {
                let spent = self.1.saturating_sub(REMAINING.get());
                self.0.restore();
                charge(spent);
            }
        }
        let time_limit = deadline.map(|d| d.saturating_duration_since(clock()));
        let charge = Charge(Saved::replace(start, time_limit, deadline), start);
        let result = f();
        let stopped = STOPPED.get();
        drop(charge);
        (result, stopped)
    }

    /// Runs `f` with a budget of its own even inside another call, not charged to it, and puts
    /// the caller's budget back after: for the debugger's own calls (a condition, a logpoint,
    /// an evaluated expression), which must not spend what the stopped call has left.
    #[cfg(feature = "debugger")]
    pub(crate) fn detached<R>(limits: Limits, f: impl FnOnce() -> R) -> (R, Option<Spent>) {
        let checkpoints = match limits.checkpoints {
            0 => u64::MAX,
            n => n,
        };
        Self::fresh(checkpoints, limits.time, f)
    }

    /// The id of the host call running on this thread (`0` when none runs): what the
    /// references of an `ecs.each` loop keep, so that they end with the call that made them.
    /// Ids are given on first use, so calls that never ask cost nothing.
    pub(crate) fn call_id() -> u64 {
        if !ACTIVE.get() {
            return 0;
        }
        match CALL.get() {
            0 => {
                let id = NEXT_CALL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                CALL.set(id);
                id
            }
            id => id,
        }
    }

    /// Runs `f`, a scripting step or a part of it, with calls that stop at `deadline` at the
    /// latest: a call whose clock starts after it stops at its first reading. Each call still
    /// has its own time limit; this bounds the step, whose calls each get one.
    pub(crate) fn within_step<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
        /// Puts the previous step deadline back, on return and on unwind alike.
        struct Restore(Option<Instant>);
        impl Drop for Restore {
            fn drop(&mut self) {
                STEP_DEADLINE.set(self.0);
            }
        }
        let _restore = Restore(STEP_DEADLINE.replace(deadline));
        f()
    }

    /// The deadline of the step running on this thread (see [`Budget::within_step`]), to give
    /// the threads that run a part of it.
    pub(crate) fn step_deadline() -> Option<Instant> {
        STEP_DEADLINE.get()
    }

    /// The id of the running host call if it has one, without giving one.
    pub(crate) fn current_call() -> u64 {
        CALL.get()
    }

    /// The limit that stopped the running call, when a call nested in it spent what was left:
    /// the host function that made the nested call raises it rather than return to a caller
    /// that has nothing left.
    pub(crate) fn spent() -> Option<Spent> {
        (ACTIVE.get() && REMAINING.get() == 0).then(|| STOPPED.get().unwrap_or(Spent::Instructions))
    }

    /// Runs `f` with a budget of its own, not charged to any caller: for a call from the
    /// host that no call into Lua contains.
    fn fresh<R>(
        checkpoints: u64,
        time: Option<Duration>,
        f: impl FnOnce() -> R,
    ) -> (R, Option<Spent>) {
        /// Puts the budget back, on return and on unwind alike.
        struct Restore(Saved);
        impl Drop for Restore {
            fn drop(&mut self) {
                self.0.restore();
            }
        }
        let restore = Restore(Saved::replace(checkpoints, time, None));
        CALL.set(0);
        let result = f();
        let stopped = STOPPED.get();
        drop(restore);
        (result, stopped)
    }
}

/// Charges `spent` checkpoints to the running call, and stops it (at its next checkpoint)
/// when that, or the clock, leaves it nothing.
fn charge(spent: u64) {
    let remaining = REMAINING.get();
    if remaining == u64::MAX && TIME_LIMIT.get().is_none() {
        // No limit at all.
        return;
    }
    REMAINING.set(remaining.saturating_sub(spent));
    if REMAINING.get() == 0 && STOPPED.get().is_none() {
        STOPPED.set(Some(Spent::Instructions));
    }
    if DEADLINE.get().is_some_and(|deadline| clock() >= deadline) {
        REMAINING.set(0);
        STOPPED.set(Some(Spent::Time));
    }
}

/// Reads the clock for the current call: whether it is past its time limit. The first reading
/// starts the clock.
fn over_time() -> bool {
    let Some(limit) = TIME_LIMIT.get() else {
        return false;
    };
    let now = clock();
    match DEADLINE.get() {
        Some(deadline) => now >= deadline,
        None => {
            let own = now.checked_add(limit);
            let deadline = match (own, STEP_DEADLINE.get()) {
                (Some(own), Some(step)) if step < own => {
                    STEP_BOUND.set(true);
                    Some(step)
                }
                (own, step) => own.or(step),
            };
            DEADLINE.set(deadline);
            deadline.is_some_and(|deadline| now >= deadline)
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
        STOPPED.get().unwrap_or(Spent::Instructions)
    } else {
        REMAINING.set(remaining - 1);
        #[cfg(feature = "debugger")]
        // SAFETY: called from the interrupt, outside a GC step, with the state Luau gave it.
        unsafe {
            super::debug::checkpoint(state);
        }
        if !over_time() {
            return;
        }
        REMAINING.set(0);
        Spent::Time
    };
    STOPPED.set(Some(kind));
    let message = match kind {
        Spent::Time if STEP_BOUND.get() => {
            c"time limit exceeded: the scripting step has run for 4 time limits, so its calls stop until the next step"
        }
        Spent::Time => c"time limit exceeded",
        Spent::Instructions => c"instruction limit exceeded",
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
                    STOPPED.set(Some(Spent::Instructions));
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
    fn a_nested_call_gets_what_its_caller_has_left_and_is_charged_to_it() {
        let limits = Limits {
            checkpoints: 1_000,
            time: Some(Duration::from_secs(60)),
        };
        Budget::run(limits, || {
            REMAINING.set(300);
            Budget::run(limits, || {
                assert_eq!(REMAINING.get(), 300, "at most what the caller has left");
                let inner = DEADLINE
                    .get()
                    .expect("a nested call's clock starts at once");
                assert!(
                    TIME_LIMIT
                        .get()
                        .is_some_and(|t| t <= Duration::from_secs(60))
                );
                REMAINING.set(100);
                inner
            });
            assert_eq!(
                REMAINING.get(),
                100,
                "the caller paid for what the call spent"
            );
            assert_eq!(STOPPED.get(), None);
            // A nested call that spends all it was given leaves its caller stopped.
            let ((), stopped) = Budget::run(limits, || {
                REMAINING.set(0);
                STOPPED.set(Some(Spent::Instructions));
            });
            assert_eq!(stopped, Some(Spent::Instructions));
            assert_eq!(REMAINING.get(), 0);
            assert_eq!(STOPPED.get(), Some(Spent::Instructions));
        });
        // A call that no call contains gets a budget of its own again.
        Budget::run(limits, || assert_eq!(REMAINING.get(), 1_000));
        assert!(!ACTIVE.get());
    }

    #[test]
    fn a_nested_call_never_outlives_its_callers_deadline() {
        let outer = Limits {
            checkpoints: 0,
            time: Some(Duration::from_millis(20)),
        };
        let inner = Limits {
            checkpoints: 0,
            time: Some(Duration::from_secs(3600)),
        };
        Budget::run(outer, || {
            Budget::run(inner, || {
                let deadline = DEADLINE.get().expect("the inner deadline");
                assert!(deadline <= clock() + Duration::from_millis(20));
            });
        });
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
        assert_eq!(stopped, Some(Spent::Time));
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
        assert_eq!(stopped, Some(Spent::Instructions));
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
        assert_eq!(stopped, Some(Spent::Time));
    }
}
