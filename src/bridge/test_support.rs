//! What the tests comparing the fast path with the safe path share (`crate::bridge::serde` and
//! `crate::bridge::plan`): a VM with Lua deep equality and mutation loaded, the stack input of a
//! `produce` call, Lua table constructors, a deterministic PRNG and the tally of outcomes.

use bevy_ecs::entity::Entity;
use mlua::{LightUserData, Lua, LuaSerdeExt, Value};
use std::fmt::Debug;

/// Deep equality of two Lua values: `nil` when they are the same, else where they differ.
/// Numbers compare by value, except that NaN equals NaN and -0 differs from 0; tables compare
/// by their entries (table keys by deep equality) and metatables; the rest by identity.
pub(crate) const EQUAL: &str = r#"
local function show(v)
    return if type(v) == "string" then string.format("%q", v) else tostring(v)
end

local function same_number(a, b)
    if a ~= a or b ~= b then
        return a ~= a and b ~= b
    end
    if a == 0 and b == 0 then
        return 1 / a == 1 / b
    end
    return a == b
end

local function count(t)
    local n = 0
    for _ in next, t do
        n += 1
    end
    return n
end

local equal
function equal(a, b, path, depth)
    if depth > 200 then
        return `{path}: nested too deep to compare`
    end
    local ta, tb = typeof(a), typeof(b)
    if ta ~= tb then
        return `{path}: {ta} {show(a)} vs {tb} {show(b)}`
    end
    if ta == "number" then
        return if same_number(a, b) then nil else `{path}: {show(a)} vs {show(b)}`
    elseif ta == "vector" then
        local same = same_number(a.x, b.x) and same_number(a.y, b.y) and same_number(a.z, b.z)
        return if same then nil else `{path}: {show(a)} vs {show(b)}`
    elseif ta ~= "table" then
        return if rawequal(a, b) then nil else `{path}: {show(a)} vs {show(b)}`
    end
    if getmetatable(a) ~= getmetatable(b) then
        return `{path}: the metatables differ`
    end
    if count(a) ~= count(b) then
        return `{path}: {count(a)} entries vs {count(b)}`
    end
    for key, item in next, a do
        local here = `{path}[{show(key)}]`
        if type(key) == "table" then
            local matched = false
            for other, other_item in next, b do
                if type(other) == "table" and equal(key, other, here, depth + 1) == nil
                    and equal(item, other_item, here, depth + 1) == nil then
                    matched = true
                    break
                end
            end
            if not matched then
                return `{here}: no such key in the other`
            end
        else
            local other = rawget(b, key)
            if other == nil then
                return `{here}: missing in the other`
            end
            local why = equal(item, other, here, depth + 1)
            if why then
                return why
            end
        end
    end
    return nil
end

return function(a, b)
    return equal(a, b, "value", 0)
end
"#;

/// Returns a copy of a Lua value with a few changes, chosen by a seed: entries removed, values
/// replaced by others of every type, stray keys, integer keys, a table that contains itself.
pub(crate) const MUTATE: &str = r#"
local pool = {
    true, false, 0, -0.0, 1, -1, 0.5, 255, 256, -129, 2^31, 2^53, 2^63, -2^63, 2^64, 0/0,
    math.huge, -math.huge, "", "x", "Idle", "Walk", "sprint", "\255", "é",
    vector.create(1, 2, 3), light, null, entity, {}, {1, 2}, {x = 1},
}
local state = 1
local function random(n)
    state = state * 48271 % 2147483647
    return state % n + 1
end

local function keys_of(t)
    local keys = {}
    for key in next, t do
        table.insert(keys, key)
    end
    return keys
end

local function mutate(value, depth)
    if type(value) ~= "table" or depth > 40 then
        return value
    end
    local out = {}
    for key, item in next, value do
        out[key] = mutate(item, depth + 1)
    end
    local keys = keys_of(out)
    local roll = random(12)
    if roll == 1 and #keys > 0 then
        out[keys[random(#keys)]] = nil
    elseif roll == 2 and #keys > 0 then
        out[keys[random(#keys)]] = pool[random(#pool)]
    elseif roll == 3 then
        out.stray = pool[random(#pool)]
    elseif roll == 4 then
        out[random(3)] = pool[random(#pool)]
    end
    return out
end

return function(value, seed)
    state = seed % 2147483646 + 1
    if random(40) == 1 then
        return pool[random(#pool)]
    end
    local out = mutate(value, 0)
    if type(out) == "table" and random(8) == 1 then
        local keys = keys_of(out)
        if #keys > 0 then
            out[keys[random(#keys)]] = out
        end
    end
    return out
end
"#;

/// A VM to compare the two paths in, with [`EQUAL`] and [`MUTATE`] loaded, and globals for
/// inputs to use: `entity` (an entity), `light` (a light userdata that is no entity: its low 32
/// bits, the index, are 0) and `null` (mlua's null, no entity either).
pub(crate) struct Vm {
    /// The VM.
    pub(crate) lua: Lua,
    /// [`EQUAL`], loaded.
    equal: mlua::Function,
    /// [`MUTATE`], loaded.
    mutate: mlua::Function,
    /// Whether it is a main VM, whose field names the fast path pins.
    pub(crate) main: bool,
    /// What kind of VM it is, for messages.
    pub(crate) name: &'static str,
}

impl Vm {
    /// A VM whose global `entity` is `entity`; with `main`, a main VM (with [`Shared`] state).
    ///
    /// [`Shared`]: crate::ffi::Shared
    pub(crate) fn new(main: bool, entity: Entity) -> Self {
        let lua = Lua::new();
        if main {
            crate::bridge::install(&lua, crate::ffi::Extensions::default())
                .expect("a new VM has no shared state");
        }
        let globals = lua.globals();
        let entity = crate::value::entity_to_lua(entity);
        globals.set("entity", entity).expect("sets entity");
        let light = LightUserData(std::ptr::without_provenance_mut(0x5eed_0000_0000));
        globals.set("light", light).expect("sets light");
        globals.set("null", lua.null()).expect("sets null");
        let equal = lua.load(EQUAL).eval().expect("EQUAL compiles");
        let mutate = lua.load(MUTATE).eval().expect("MUTATE compiles");
        let name = if main { "a main VM" } else { "a plain VM" };
        Self {
            lua,
            equal,
            mutate,
            main,
            name,
        }
    }

    /// Evaluates a Lua expression.
    pub(crate) fn eval(&self, source: &str) -> Value {
        self.lua
            .load(source)
            .eval()
            .unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    /// Where `a` and `b` differ (see [`EQUAL`]); `None` when they are deep-equal.
    pub(crate) fn difference(&self, a: &Value, b: &Value) -> Option<String> {
        self.equal.call((a.clone(), b.clone())).expect("compares")
    }

    /// Panics unless `fast` and `safe` are deep-equal.
    pub(crate) fn assert_same(&self, fast: &Value, safe: &Value, what: &dyn Debug) {
        if let Some(why) = self.difference(fast, safe) {
            panic!("{what:?} in {}: the fast path differs: {why}", self.name);
        }
    }

    /// Panics unless `fast`, a Rust value the fast path `did` (reads, makes, sets), prints as
    /// `safe`, the safe path's (by `Debug`, so NaN matches NaN and -0 does not match 0), or if
    /// the safe path fails.
    pub(crate) fn assert_same_rust<T: Debug>(
        &self,
        fast: &T,
        safe: mlua::Result<T>,
        did: &str,
        what: &dyn Debug,
    ) {
        let ty = std::any::type_name::<T>();
        match safe {
            Ok(safe) => assert_eq!(
                format!("{fast:?}"),
                format!("{safe:?}"),
                "{what:?} as {ty} in {}: the fast path {did} another value",
                self.name
            ),
            Err(e) => panic!(
                "{what:?} as {ty} in {}: the fast path {did} {fast:?} where the safe path fails: {e}",
                self.name
            ),
        }
    }

    /// A changed copy of `value` (see [`MUTATE`]).
    pub(crate) fn mutate(&self, value: &Value, seed: u32) -> Value {
        self.mutate.call((value.clone(), seed)).expect("mutates")
    }
}

/// Lua expressions of a value of each type that is not a number, string, boolean, vector or
/// table: the light userdata [`Vm`] sets as globals, a function, a thread, a buffer, a userdata.
pub(crate) const OTHER_TYPES: &[&str] = &[
    "entity",
    "light",
    "null",
    "print",
    "coroutine.create(print)",
    "buffer.create(4)",
    "newproxy()",
];

/// Floats at the edges: both zeros, both NaNs, the infinities and extremes, the smallest normal
/// and subnormal, and an integer no double holds.
pub(crate) const FLOATS: [f64; 12] = [
    0.0,
    -0.0,
    1.5,
    f64::NAN,
    -f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    9_007_199_254_740_993.0,
];

pub(crate) use crate::ffi::testing::{push_input, push_tagged_light_userdata};

/// What a fast conversion did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Outcome {
    /// Converted, exactly as the safe path converts.
    Same,
    /// Left it to the safe path.
    GaveUp,
}

/// How many conversions a property loop compared or saw given up.
#[derive(Default, Debug)]
pub(crate) struct Tally {
    /// Conversions that gave what the safe path gives.
    pub(crate) same: usize,
    /// Conversions left to the safe path.
    pub(crate) gave_up: usize,
}

impl Tally {
    /// Counts `outcome`.
    pub(crate) fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Same => self.same += 1,
            Outcome::GaveUp => self.gave_up += 1,
        }
    }
}

/// A Lua table constructor of `fields`, with those in `changes` set to another value, or left
/// out for `None`.
pub(crate) fn table(fields: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> String {
    let entries: Vec<String> = fields
        .iter()
        .filter_map(|&(name, base)| {
            let value = match changes.iter().find(|(changed, _)| *changed == name) {
                Some(&(_, value)) => value?,
                None => base,
            };
            Some(format!("{name} = {value}"))
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// Calls `$check::<T>(args…)` for each type `T` listed, discarding the outcomes.
macro_rules! for_types {
    ($check:ident $args:tt, [$($ty:ty),* $(,)?]) => {
        $( $check::<$ty> $args; )*
    };
}
pub(crate) use for_types;

/// The integers [`Rng::integer`] favours when it stays within `i64`.
const EDGES_64: [i64; 8] = [
    i64::MIN,
    i64::MAX,
    0,
    -1,
    1,
    1 << 53,
    (1 << 53) + 1,
    i64::MIN + 1,
];

/// The integers [`Rng::integer`] favours when it reaches every width.
const EDGES_128: [i128; 10] = [
    i128::MIN,
    i128::MAX,
    i64::MIN as i128,
    i64::MAX as i128,
    u64::MAX as i128,
    i32::MIN as i128,
    u32::MAX as i128,
    (1 << 53) + 1,
    -1,
    0,
];

/// A tiny deterministic PRNG (SplitMix64), with the leaves the tests' random values are made of;
/// each test file adds the makers of its own types.
pub(crate) struct Rng {
    /// The SplitMix64 state.
    state: u64,
    /// Whether [`Rng::integer`] reaches past `i64`.
    wide: bool,
}

impl Rng {
    /// A generator whose integers stay within `i64`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            state: seed,
            wide: false,
        }
    }

    /// A generator whose integers reach every width up to `i128`.
    pub(crate) fn wide(seed: u64) -> Self {
        Self {
            state: seed,
            wide: true,
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    pub(crate) fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Mostly small integers, sometimes any, sometimes the edges (of `i64`, or of every width).
    pub(crate) fn integer(&mut self) -> i128 {
        match (self.below(4), self.wide) {
            (0, false) => self.pick(&EDGES_64).into(),
            (0, true) => self.pick(&EDGES_128),
            (1, false) => (self.next() as i64).into(),
            (1, true) => (i128::from(self.next()) << 64) | i128::from(self.next()),
            _ => self.below(2001) as i128 - 1000,
        }
    }

    /// Mostly eighths of [`Rng::integer`]s, sometimes any bits, sometimes the edges.
    pub(crate) fn float(&mut self) -> f64 {
        match self.below(5) {
            0 => self.pick(&[
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                f64::MAX,
                f64::MIN_POSITIVE,
                5e-324,
                9_007_199_254_740_993.0,
            ]),
            1 => f64::from_bits(self.next()),
            _ => self.integer() as f64 / 8.0,
        }
    }

    /// A character: ASCII, wider, NUL, or one a string literal must escape.
    pub(crate) fn letter(&mut self) -> char {
        self.pick(&[
            'a', 'Z', '0', ' ', 'é', 'ß', '日', '🦀', '\0', '"', '\\', '\n',
        ])
    }

    /// Up to six [`Rng::letter`]s.
    pub(crate) fn text(&mut self) -> String {
        let len = self.below(7);
        (0..len).map(|_| self.letter()).collect()
    }
}
