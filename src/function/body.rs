//! What runs when a script calls a game function: the system or closure behind it, reached on
//! the fast path (arguments read and results pushed on the Lua stack) when the types allow it,
//! and through mlua's conversions otherwise.

use super::convert::{Arguments, Fast, ScriptArgs, ScriptReturn};
use crate::ScriptErrorKind;
use crate::error::lua_error;
use crate::ffi::Shared;
use crate::ffi::dynamic::{self, Body};
use bevy_ecs::change_detection::CheckChangeTicks;
use bevy_ecs::system::{In, System, SystemInput};
use bevy_ecs::world::WorldId;
use mlua::{Function, Lua, MultiValue};
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use try_lock::TryLock;

/// The input of a system that scripts call: `In<A>` for arguments `A` (one [`FromScript`]
/// value, a tuple of them, or `()`), or no input at all.
///
/// [`FromScript`]: crate::FromScript
pub trait ScriptInput: SystemInput + 'static {
    /// The arguments scripts pass.
    type Args: ScriptArgs;
    /// The system's input made of the arguments.
    fn input<'a>(args: Self::Args) -> Self::Inner<'a>;
}

impl<A: ScriptArgs> ScriptInput for In<A> {
    type Args = A;
    fn input<'a>(args: A) -> <Self as SystemInput>::Inner<'a> {
        args
    }
}

impl ScriptInput for () {
    type Args = ();
    fn input<'a>(_: ()) -> <Self as SystemInput>::Inner<'a> {}
}

/// What a game function does with the converted arguments of a call.
pub(crate) trait Call: Send + Sync + 'static {
    /// The arguments.
    type Args: ScriptArgs;
    /// The results.
    type Out: ScriptReturn;
    /// Runs the call of the function `name` in the VM whose shared state is `shared` (`None`
    /// in a VM without one).
    fn call(
        &self,
        name: &'static str,
        shared: Option<&Shared>,
        args: Self::Args,
    ) -> mlua::Result<Self::Out>;
}

/// A Bevy system as a game function: built once, run with the lent world at each call.
/// The system sits in a lock that never waits: a call that finds it taken is a call made while
/// the function runs, which is refused.
pub(crate) struct SystemCall<S> {
    system: TryLock<S>,
    world: WorldId,
}

impl<S> SystemCall<S> {
    /// `system`, initialized for the world `world`.
    pub fn new(system: S, world: WorldId) -> Self {
        Self {
            system: TryLock::new(system),
            world,
        }
    }
}

impl<S> Call for SystemCall<S>
where
    S: System,
    S::In: ScriptInput,
    S::Out: ScriptReturn,
{
    type Args = <S::In as ScriptInput>::Args;
    type Out = S::Out;

    fn call(
        &self,
        name: &'static str,
        shared: Option<&Shared>,
        args: Self::Args,
    ) -> mlua::Result<S::Out> {
        let Some(mut system) = self.system.try_lock() else {
            return Err(lua_error(
                ScriptErrorKind::Runtime,
                format!(
                    "`{name}` was called while it runs (it reached Lua, which called it again); \
                     a script function cannot run inside itself"
                ),
            ));
        };
        let Some(lent) = shared.map(|shared| &shared.lent) else {
            return Err(no_world(name, false));
        };
        let Some(mut world) = lent.borrow() else {
            if lent.is_read_only() {
                // A system may change anything.
                return Err(crate::bridge::lent::not_in_parallel_phase(name));
            }
            return Err(no_world(name, lent.is_lent()));
        };
        if world.id() != self.world {
            return Err(lua_error(
                ScriptErrorKind::Runtime,
                format!("`{name}` was built for another World than the one lent to scripts"),
            ));
        }
        let input = <S::In as ScriptInput>::input(args);
        let ran = crate::runtime::context::in_function(name, || {
            catch_unwind(AssertUnwindSafe(|| system.run(input, &mut world)))
        });
        match ran {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(error)) => Err(lua_error(
                ScriptErrorKind::Runtime,
                format!("`{name}` could not run: {error}"),
            )),
            Err(panic) => Err(panicked(name, panic.as_ref())),
        }
    }
}

/// A plain Rust function as a game function: no world, so it runs in every VM.
/// Each VM has a `GameFunction` of its own around a clone, sharing `f`.
pub(crate) struct PlainCall<F, A, R> {
    f: Arc<F>,
    _types: std::marker::PhantomData<fn(A) -> R>,
}

impl<F, A, R> PlainCall<F, A, R> {
    /// Calls `f`.
    pub fn new(f: F) -> Self {
        Self {
            f: Arc::new(f),
            _types: std::marker::PhantomData,
        }
    }
}

impl<F, A, R> Clone for PlainCall<F, A, R> {
    fn clone(&self) -> Self {
        Self {
            f: Arc::clone(&self.f),
            _types: std::marker::PhantomData,
        }
    }
}

impl<F, A, R> Call for PlainCall<F, A, R>
where
    F: Fn(A) -> R + Send + Sync + 'static,
    A: ScriptArgs,
    R: ScriptReturn,
{
    type Args = A;
    type Out = R;

    fn call(&self, name: &'static str, _: Option<&Shared>, args: A) -> mlua::Result<R> {
        // Without a world, the function cannot reach Lua, so nothing needs its name.
        catch_unwind(AssertUnwindSafe(|| (self.f)(args)))
            .map_err(|panic| panicked(name, panic.as_ref()))
    }
}

/// The error for a system function called where there is no world to lend it.
fn no_world(name: &str, borrowed: bool) -> mlua::Error {
    let message = if borrowed {
        format!("`{name}` cannot run now: the world is in use by the calling Rust code")
    } else {
        format!(
            "`{name}` needs the world, which scripts reach only while the scripting step runs \
             (not in a worker VM, nor in a chunk Rust runs outside the step)"
        )
    };
    lua_error(ScriptErrorKind::Runtime, message)
}

/// The error for a game function `name` that panicked with `payload`.
fn panicked(name: &str, payload: &(dyn std::any::Any + Send)) -> mlua::Error {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    lua_error(
        ScriptErrorKind::Runtime,
        format!("`{name}` panicked: {message}"),
    )
}

/// A game function: its name and its call, and the outcome the fast path leaves for the safe
/// implementation when it cannot push the results itself.
pub(crate) struct GameFunction<C: Call> {
    name: &'static str,
    call: C,
    /// Whether `slot` holds an outcome; read on every call, so a plain flag.
    parked: AtomicBool,
    slot: Mutex<Option<mlua::Result<C::Out>>>,
}

impl<C: Call> GameFunction<C> {
    /// The function `name` running `call`.
    pub fn new(name: &'static str, call: C) -> Arc<Self> {
        Arc::new(Self {
            name,
            call,
            parked: AtomicBool::new(false),
            slot: Mutex::new(None),
        })
    }

    /// Leaves `outcome` for the safe implementation, which the fast path calls next.
    fn park(&self, outcome: mlua::Result<C::Out>) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.parked.store(true, Ordering::Relaxed);
    }

    /// The outcome parked by the fast path, if any.
    fn unpark(&self) -> Option<mlua::Result<C::Out>> {
        if !self.parked.swap(false, Ordering::Relaxed) {
            return None;
        }
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Creates the function in `lua`.
    pub fn create(self: &Arc<Self>, lua: &Lua) -> mlua::Result<Function> {
        let this = Arc::clone(self);
        let slow = lua.create_function(move |lua, args: MultiValue| {
            if let Some(parked) = this.unpark() {
                return parked?.into_results(lua, this.name);
            }
            let mut args = Some(C::Args::from_args(lua, args, this.name)?);
            // In a main VM, with its shared state (and its lock); elsewhere without.
            let ran = Shared::with(lua, |shared| {
                args.take()
                    .map(|args| this.call.call(this.name, Some(shared), args))
            })
            .flatten();
            let out = match (ran, args.take()) {
                (Some(out), _) => out,
                (None, Some(args)) => this.call.call(this.name, None, args),
                (None, None) => Err(mlua::Error::runtime("the call's arguments were taken")),
            }?;
            out.into_results(lua, this.name)
        })?;
        let body: Box<dyn Body> = Box::new(FastBody(Arc::clone(self)));
        dynamic::function(lua, dynamic::static_name(self.name), body, slow)
    }
}

/// The fast path of a game function.
struct FastBody<C: Call>(Arc<GameFunction<C>>);

impl<C: Call> Body for FastBody<C> {
    fn call(&self, stack: crate::ffi::Stack<'_>) -> Option<c_int> {
        let function = &*self.0;
        // Every call comes through here first, so an outcome still parked belongs to an
        // earlier call whose safe implementation never ran (mlua failed before it).
        if function.parked.load(Ordering::Relaxed) {
            function.unpark();
        }
        let args = C::Args::from_stack(&Arguments(stack))?;
        let outcome = function
            .call
            .call(function.name, stack.shared(), args)
            .map(|out| out.into_fast(function.name));
        match outcome {
            Ok(Fast::Nothing) => Some(0),
            Ok(Fast::One(output)) => {
                stack.push_output(&output);
                Some(1)
            }
            Ok(Fast::Slow(out)) => {
                function.park(Ok(out));
                None
            }
            Ok(Fast::Failed(error)) | Err(error) => {
                function.park(Err(error));
                None
            }
        }
    }
}

/// A system function's change ticks, checked as schedules check their systems'.
pub(crate) trait Ticks: Send + Sync {
    /// Keeps the system's last-run tick from growing too old.
    fn check_change_tick(&self, check: CheckChangeTicks);
}

impl<S> Ticks for GameFunction<SystemCall<S>>
where
    S: System,
    S::In: ScriptInput,
    S::Out: ScriptReturn,
{
    fn check_change_tick(&self, check: CheckChangeTicks) {
        // A function running now (a nested schedule's check) is checked next time.
        if let Some(mut system) = self.call.system.try_lock() {
            system.check_change_tick(check);
        }
    }
}

/// A worker VM's stand-in for a system function: an error that says where it runs.
pub(crate) fn stub(lua: &Lua, name: &'static str) -> mlua::Result<Function> {
    lua.create_function(move |_, _: MultiValue| -> mlua::Result<()> {
        Err(lua_error(
            ScriptErrorKind::Runtime,
            format!(
                "`{name}` is a function of the main VM's scripts (add_script_function), so a \
                 worker cannot call it; give worker scripts a function with \
                 add_worker_script_function"
            ),
        ))
    })
}
