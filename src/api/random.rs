//! `math.random` and `math.randomseed` of the actor VMs: seeded per call, so that an actor's
//! random numbers do not depend on which VM it runs in or on what ran before it there.
//!
//! Luau keeps one generator per VM, which every script in it draws from: the numbers an actor
//! gets would then depend on the other actors of its VM and on their order, which change with
//! the actor count. Here each call from the host into an actor VM (a method, a task resumed)
//! starts a generator of its own the first time it asks for a number, seeded by the calling
//! entity and by how many of its calls asked before: the numbers depend on the entity's own
//! history alone. The values follow Luau's:
//! `math.random()` is in `[0, 1)`, `math.random(n)` in `[1, n]`, `math.random(m, n)` in
//! `[m, n]`; `math.randomseed(x)` reseeds the rest of the call.

use crate::api::function;
use crate::error::{ScriptErrorKind, lua_error};
use crate::runtime::context::Caller;
use bevy_ecs::entity::Entity;
use mlua::{Lua, Table, Value};
use std::cell::Cell;
use std::collections::HashMap;

/// How many calls of each entity's instance asked for a number so far (Lua app data of an
/// actor VM; an entry goes with its instance).
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct Draws(HashMap<Entity, u64>);

/// Forgets `entity`'s draws: its instance left `lua`'s VM.
pub(crate) fn forget(lua: &Lua, entity: Entity) {
    if let Some(mut draws) = lua.app_data_mut::<Draws>() {
        draws.0.remove(&entity);
    }
}

thread_local! {
    /// The host call the generator belongs to (see `Budget::call_id`) and its state.
    static GENERATOR: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Replaces `math.random` and `math.randomseed` in `globals`, an actor VM's, before it is sealed.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    lua.set_app_data(Draws::default());
    let math: Table = globals.raw_get("math")?;
    math.raw_set(
        "random",
        function::create(lua, "math.random", |lua, (m, n): (Value, Value)| {
            random(lua, &m, &n)
        })?,
    )?;
    math.raw_set(
        "randomseed",
        function::create(lua, "math.randomseed", |_, (seed,): (Value,)| {
            let seed = integer(&seed, 1, "math.randomseed")?.unwrap_or(0);
            GENERATOR.set((call(), mix(seed as u64)));
            Ok(())
        })?,
    )
}

/// The host call running now.
fn call() -> u64 {
    crate::vm::Budget::call_id()
}

/// The next number of the running call's generator, seeding it first if the call is new.
fn next(lua: &Lua) -> u64 {
    let call = call();
    let (owner, mut state) = GENERATOR.get();
    if owner != call {
        let entity = Caller::current()
            .and_then(|caller| caller.entity)
            .unwrap_or(Entity::PLACEHOLDER);
        let draws = lua.app_data_mut::<Draws>().map_or(0, |mut draws| {
            let count = draws.0.entry(entity).or_default();
            *count += 1;
            *count
        });
        state = mix(entity.to_bits() ^ mix(draws));
    }
    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    GENERATOR.set((call, state));
    mix(state)
}

/// SplitMix64's finalizer: a well-spread 64-bit value of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `math.random(m, n)`, as Luau's.
fn random(lua: &Lua, m: &Value, n: &Value) -> mlua::Result<Value> {
    let low = integer(m, 1, "math.random")?;
    let high = integer(n, 2, "math.random")?;
    let (low, high) = match (low, high) {
        (None, None) => {
            // 53 random bits: every double in [0, 1) that has a step of 2^-53.
            let bits = next(lua) >> 11;
            return Ok(Value::Number(bits as f64 / (1u64 << 53) as f64));
        }
        (Some(high), None) => (1, high),
        (Some(low), Some(high)) => (low, high),
        (None, Some(_)) => {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                "bad argument #1 to `math.random`: expected a number, got nil",
            ));
        }
    };
    if low > high {
        return Err(lua_error(
            ScriptErrorKind::Runtime,
            "bad argument to `math.random`: the interval is empty",
        ));
    }
    let span = (high - low) as u64 + 1;
    Ok(Value::Number((low + (next(lua) % span) as i64) as f64))
}

/// Argument `position`, a whole number (truncated, as Luau does), or `None` when nil.
fn integer(value: &Value, position: usize, name: &str) -> mlua::Result<Option<i64>> {
    match value {
        Value::Nil => Ok(None),
        Value::Integer(i) => Ok(Some(*i)),
        Value::Number(n) if n.is_finite() && n.abs() < 2f64.powi(53) => Ok(Some(n.trunc() as i64)),
        other => Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #{position} to `{name}`: expected a finite number, got {}",
                function::describe(other)
            ),
        )),
    }
}
