//! Tests of the fast serde conversions against mlua's: for every value and every Lua input,
//! [`push`] and [`read`] either give exactly what the safe path gives, or give up.

use super::*;
use crate::bridge::test_support::{
    FLOATS, OTHER_TYPES, Outcome, Rng, Tally, Vm, for_types, push_input, table,
};
use crate::ffi::stack::produce;
use crate::serde_lua::FieldDeserializer;
use bevy_ecs::entity::Entity;
use mlua::{Lua, LuaSerdeExt, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// Test types
// ---------------------------------------------------------------------------------------------

/// A flat struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Health {
    current: f32,
    max: f32,
}

/// A newtype.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Speed(f32);

/// A tag component.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Tag;

/// A struct without fields.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Empty {}

/// A tuple struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Pair(i32, String);

/// Unit variants, one renamed.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy, Default)]
enum Mode {
    #[default]
    Idle,
    Walk,
    #[serde(rename = "sprint")]
    Run,
}

/// Every kind of variant.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
enum Action {
    #[default]
    Wait,
    Move(f32),
    Jump(f32, f32),
    Attack {
        target: u32,
        damage: f32,
    },
}

/// What the fast path reads: nested structs, options, defaults, renames, a skipped field and a
/// recursive field.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Creature {
    name: String,
    health: Health,
    level: u8,
    score: i64,
    ratio: f64,
    regen: Option<f32>,
    mode: Mode,
    speed: Speed,
    letter: char,
    alive: bool,
    #[serde(default)]
    armor: i16,
    #[serde(rename = "xp")]
    experience: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    pet: Option<Box<Creature>>,
}

/// What the fast path only writes: sequences, maps, every kind of variant, a tag and a tuple
/// struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Squad {
    members: Vec<Creature>,
    leader: Option<Creature>,
    orders: Vec<Action>,
    ranks: BTreeMap<String, u16>,
    grid: BTreeMap<i32, Vec<f32>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    banner: Tag,
    pair: Pair,
}

/// Every number type serde has below 128 bits.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Numbers {
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: u8,
    f: u16,
    g: u32,
    h: u64,
    i: f32,
    j: f64,
}

/// 128-bit integers, which mlua writes as numbers.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Wide {
    signed: i128,
    unsigned: u128,
}

/// A linked list, for tables that contain themselves.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
struct Node {
    value: i32,
    next: Option<Box<Node>>,
}

/// A struct used as a map key, so a table key in Lua.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Hash, Clone, PartialOrd, Ord)]
struct Point {
    x: i32,
    y: i32,
}

/// A field that takes any value and keeps none (`deserialize_ignored_any`).
#[derive(Deserialize, Debug)]
#[expect(dead_code, reason = "only how it reads matters")]
struct Ignoring {
    value: f32,
    #[serde(default)]
    rest: serde::de::IgnoredAny,
}

/// Bytes, written with `serialize_bytes`.
#[derive(Debug)]
struct Bytes(&'static [u8]);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// A map whose one key is NaN, which no Lua table can hold.
#[derive(Debug)]
struct NanKey;

impl Serialize for NanKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&f64::NAN, &1)?;
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------
// The two paths
// ---------------------------------------------------------------------------------------------

/// A plain VM and a main VM, with entity 7 as `entity`: `push_key` pins names only in a main
/// VM.
fn vms() -> [Vm; 2] {
    let entity = Entity::from_raw_u32(7).expect("a valid index");
    [false, true].map(|main| Vm::new(main, entity))
}

/// The safe path's `to_lua` (in `crate::registry`).
fn safe_push<T: Serialize + ?Sized>(lua: &Lua, value: &T) -> mlua::Result<Value> {
    let options = mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
        .set_array_metatable(false);
    match lua.to_value_with(value, options)? {
        Value::Nil => lua.create_table().map(Value::Table),
        value => Ok(value),
    }
}

/// The safe path's `from_lua` (in `crate::registry`).
fn safe_read<T: de::DeserializeOwned>(lua: &Lua, value: Value) -> mlua::Result<T> {
    let empty = match &value {
        Value::Table(t) if std::mem::size_of::<T>() == 0 => t.is_empty(),
        _ => false,
    };
    T::deserialize(FieldDeserializer::new(value)).or_else(|error| {
        if empty {
            lua.from_value(Value::Nil).map_err(|_| error)
        } else {
            Err(error)
        }
    })
}

/// Pushes `value` both ways; panics if the fast path pushes anything but what the safe path
/// pushes.
fn check_push<T: Serialize + Debug + ?Sized>(vm: &Vm, value: &T) -> Outcome {
    let fast = produce(&vm.lua, |stack| push(stack, value)).expect("no Lua error");
    let Ok(fast) = fast else {
        return Outcome::GaveUp;
    };
    match safe_push(&vm.lua, value) {
        Ok(safe) => vm.assert_same(&fast, &safe, &value),
        Err(e) => panic!(
            "{value:?} in {}: the fast path pushed {fast:?} where the safe path fails: {e}",
            vm.name
        ),
    }
    Outcome::Same
}

/// Reads `input` as a `T` both ways; panics if the fast path reads anything but what the safe
/// path reads (compared by `Debug`, so NaN matches NaN and -0 does not match 0), or reads
/// where the safe path fails.
fn check_read_value<T: de::DeserializeOwned + Debug>(
    vm: &Vm,
    input: &Value,
    what: &dyn Debug,
) -> Outcome {
    let mut fast = None;
    produce(&vm.lua, |stack| {
        push_input(&vm.lua, input);
        fast = Some(read::<T>(stack, -1));
        Ok::<(), GiveUp>(())
    })
    .expect("no Lua error")
    .expect("the closure succeeds");
    let Some(Ok(fast)) = fast else {
        return Outcome::GaveUp;
    };
    let safe = safe_read::<T>(&vm.lua, input.clone());
    vm.assert_same_rust(&fast, safe, "reads", what);
    Outcome::Same
}

/// [`check_read_value`] of the value of a Lua expression.
fn check_read<T: de::DeserializeOwned + Debug>(vm: &Vm, source: &str) -> Outcome {
    check_read_value::<T>(vm, &vm.eval(source), &source)
}

/// Panics unless the fast path gives up on reading `source` as a `T` and the safe path fails.
fn assert_refused<T: de::DeserializeOwned + Debug>(vm: &Vm, source: &str) {
    assert_eq!(check_read::<T>(vm, source), Outcome::GaveUp, "{source}");
    let safe = safe_read::<T>(&vm.lua, vm.eval(source));
    assert!(safe.is_err(), "{source}: the safe path reads {safe:?}");
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Lua expressions of numbers, strings, vectors and tables of every shape, edge numbers
/// included.
const INPUTS: &[&str] = &[
    "nil",
    "true",
    "false",
    "0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "-2.5",
    "3",
    "127",
    "128",
    "-128",
    "-129",
    "255",
    "256",
    "32767",
    "32768",
    "-32769",
    "65535",
    "65536",
    "2^31 - 1",
    "2^31",
    "-2^31",
    "-2^31 - 1",
    "2^32 - 1",
    "2^32",
    "2^53",
    "2^53 + 2",
    "-2^53",
    "2^63",
    "-2^63",
    "2^64",
    "-2^64",
    "2^127",
    "2^128",
    "-2^127",
    "1e300",
    "-1e300",
    "1e-310",
    "0/0",
    "-(0/0)",
    "math.huge",
    "-math.huge",
    "''",
    "'text'",
    "'a'",
    "'ab'",
    "'é'",
    "'héllo wörld 日本 🦀'",
    "'\\0'",
    "'12'",
    "'\\255\\254'",
    "'Idle'",
    "'Walk'",
    "'sprint'",
    "'Run'",
    "'Move'",
    "'Wait'",
    "vector.create(1, 2, 3)",
    "vector.create(0/0, -0.0, math.huge)",
    "{}",
    "{1, 2, 3}",
    "{'a', 'b'}",
    "{1.5}",
    "{x = 1, y = 2}",
    "{[true] = 1}",
    "{[1] = 'a', [3] = 'c'}",
    "{Move = 2}",
    "{Jump = {1, 2}}",
    "{Attack = {target = 1, damage = 2}}",
    "{Idle = true}",
    "{Move = 2, Wait = 1}",
    "{current = 1, max = 2}",
    "{current = 1, max = 2, extra = true, [1] = 5}",
    "{value = 1}",
    "{value = 1, next = {value = 2}}",
    "setmetatable({}, {__index = function() return 1 end})",
    "(function() local t = {value = 1}; t.next = t; return t end)()",
    "(function() local t = {}; t.current = t; t.max = t; return t end)()",
    "(function() local t = {1}; t[2] = t; return t end)()",
];

/// Every input: [`INPUTS`] then [`OTHER_TYPES`].
fn inputs() -> impl Iterator<Item = &'static str> {
    INPUTS.iter().chain(OTHER_TYPES).copied()
}

/// A valid `Creature`, field by field.
const CREATURE: &[(&str, &str)] = &[
    ("name", "'rex'"),
    ("health", "{current = 1, max = 2}"),
    ("level", "3"),
    ("score", "-4"),
    ("ratio", "0.5"),
    ("regen", "1.5"),
    ("mode", "'Walk'"),
    ("speed", "1.5"),
    ("letter", "'x'"),
    ("alive", "true"),
    ("armor", "-7"),
    ("xp", "10"),
    ("note", "'hi'"),
    (
        "pet",
        "{name = 'pup', health = {current = 1, max = 1}, level = 1, score = 0, ratio = 0, \
         mode = 'Idle', speed = 0, letter = 'p', alive = false, xp = 0}",
    ),
];

/// A valid `Numbers`, field by field.
const NUMBERS: &[(&str, &str)] = &[
    ("a", "-1"),
    ("b", "-2"),
    ("c", "-3"),
    ("d", "-4"),
    ("e", "5"),
    ("f", "6"),
    ("g", "7"),
    ("h", "8"),
    ("i", "0.25"),
    ("j", "0.125"),
];

// ---------------------------------------------------------------------------------------------
// Rust to Lua
// ---------------------------------------------------------------------------------------------

#[test]
fn the_comparison_tells_apart_what_differs() {
    let [vm, _] = vms();
    for source in [
        "1",
        "0/0",
        "-0.0",
        "'a'",
        "vector.create(0/0, -0.0, 1)",
        "light",
        "print",
        "{a = {1, 2}, [{x = 1}] = {y = 2}, [3] = true}",
    ] {
        let (a, b) = (vm.eval(source), vm.eval(source));
        assert_eq!(vm.difference(&a, &b), None, "{source}");
    }
    for (a, b) in [
        ("0", "-0.0"),
        ("0/0", "1"),
        ("1", "'1'"),
        ("true", "false"),
        ("light", "null"),
        ("print", "error"),
        ("vector.create(0, 0, 0)", "vector.create(0, -0.0, 0)"),
        ("{a = 1}", "{a = 1, b = 2}"),
        ("{a = 1, b = 2}", "{a = 1}"),
        ("{a = 1}", "{a = 2}"),
        ("{1, 2}", "{2, 1}"),
        ("{a = {b = {}}}", "{a = {b = {c = 1}}}"),
        ("{[{x = 1}] = 2}", "{[{x = 2}] = 2}"),
        ("{[{x = 1}] = 2}", "{[{x = 1}] = 3}"),
        ("{}", "setmetatable({}, {})"),
    ] {
        let (a_value, b_value) = (vm.eval(a), vm.eval(b));
        assert!(vm.difference(&a_value, &b_value).is_some(), "{a} vs {b}");
    }
}

/// A creature with every field set, and a pet.
fn creature() -> Creature {
    Creature {
        name: "rex".to_owned(),
        health: Health {
            current: 70.0,
            max: 100.5,
        },
        level: 3,
        score: -40,
        ratio: 0.25,
        regen: Some(1.5),
        mode: Mode::Run,
        speed: Speed(2.0),
        letter: 'é',
        alive: true,
        armor: -2,
        experience: 1000,
        note: Some("good boy".to_owned()),
        pet: Some(Box::new(Creature {
            name: "pup".to_owned(),
            ..Creature::default()
        })),
    }
}

#[test]
fn structs_push_exactly_as_the_safe_path() {
    let full = creature();
    let bare = Creature::default();
    for vm in &vms() {
        assert_eq!(check_push(vm, &full), Outcome::Same);
        assert_eq!(check_push(vm, &bare), Outcome::Same, "options None");
        assert_eq!(check_push(vm, &full.health), Outcome::Same);
        assert_eq!(check_push(vm, &Speed(4.5)), Outcome::Same, "newtype");
        assert_eq!(check_push(vm, &Tag), Outcome::Same, "tag: empty table");
        assert_eq!(check_push(vm, &Empty {}), Outcome::Same);
        assert_eq!(check_push(vm, &Pair(-3, "x".into())), Outcome::Same);
        assert_eq!(check_push(vm, &Numbers::default()), Outcome::Same);
        assert_eq!(check_push(vm, &vec![1u8, 2, 3]), Outcome::Same);
        assert_eq!(check_push(vm, &Vec::<i32>::new()), Outcome::Same);
        assert_eq!(check_push(vm, &vec![Some(1), None, Some(3)]), Outcome::Same);
        let counts = HashMap::from([("a".to_owned(), 1), ("two words".to_owned(), -2)]);
        assert_eq!(check_push(vm, &counts), Outcome::Same);
        let sorted = BTreeMap::from([(1, "one".to_owned()), (-40, "minus forty".to_owned())]);
        assert_eq!(check_push(vm, &sorted), Outcome::Same);
        let points = HashMap::from([(Point { x: 1, y: 2 }, 3), (Point { x: 0, y: 0 }, 4)]);
        assert_eq!(check_push(vm, &points), Outcome::Same, "table keys");
        let holes = BTreeMap::from([("gone".to_owned(), None), ("here".to_owned(), Some(1))]);
        assert_eq!(check_push(vm, &holes), Outcome::Same, "nil values");
        let squad = Squad {
            members: vec![full.clone(), bare.clone()],
            leader: Some(full.clone()),
            orders: vec![Action::Wait, Action::Move(1.0)],
            ranks: BTreeMap::from([("a".to_owned(), 1)]),
            grid: BTreeMap::from([(0, vec![0.5, -0.0]), (-3, vec![])]),
            tags: vec!["x".to_owned()],
            banner: Tag,
            pair: Pair(1, "y".into()),
        };
        assert_eq!(check_push(vm, &squad), Outcome::Same);
        check_push(vm, &Squad::default());
    }
}

#[test]
fn enums_push_exactly_as_the_safe_path_or_give_up() {
    for vm in &vms() {
        for mode in [Mode::Idle, Mode::Walk, Mode::Run] {
            assert_eq!(check_push(vm, &mode), Outcome::Same, "{mode:?}");
        }
        assert_eq!(check_push(vm, &Action::Wait), Outcome::Same);
        assert_eq!(check_push(vm, &Action::Move(2.5)), Outcome::Same);
        check_push(vm, &Action::Jump(1.0, -1.0));
        check_push(
            vm,
            &Action::Attack {
                target: 4,
                damage: 0.5,
            },
        );
        check_push(vm, &Some(Action::Move(f32::NAN)));
        check_push(vm, &Option::<Action>::None);
        check_push(vm, &vec![Action::Jump(0.0, 0.0), Action::Wait]);
    }
}

#[test]
fn scalars_push_exactly_as_the_safe_path_or_give_up() {
    for vm in &vms() {
        for text in [
            "",
            "text",
            "héllo wörld 日本 🦀",
            "nul\0inside",
            "\"quoted\"\n",
        ] {
            assert_eq!(check_push(vm, text), Outcome::Same, "{text:?}");
        }
        for letter in ['a', '\0', 'é', '日', '🦀'] {
            assert_eq!(check_push(vm, &letter), Outcome::Same, "{letter:?}");
        }
        assert_eq!(check_push(vm, &Bytes(b"\xff\xfe\0")), Outcome::Same);
        for flag in [true, false] {
            assert_eq!(check_push(vm, &flag), Outcome::Same);
        }
        assert_eq!(check_push(vm, &()), Outcome::Same, "unit: empty table");
        assert_eq!(check_push(vm, &Option::<i32>::None), Outcome::Same);
        assert_eq!(check_push(vm, &Some(3)), Outcome::Same);
        macro_rules! limits {
            ($($ty:ty),*) => {$(
                for n in [<$ty>::MIN, <$ty>::MAX, 0 as $ty, 1 as $ty] {
                    assert_eq!(check_push(vm, &n), Outcome::Same, "{n} as {}", stringify!($ty));
                }
            )*};
        }
        limits!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);
        for n in [
            i128::MIN,
            i128::MAX,
            0,
            -1,
            1 << 70,
            i128::from(i64::MIN) - 1,
        ] {
            check_push(vm, &n);
        }
        for n in [u128::MAX, 0, 1 << 64, 1 << 127] {
            check_push(vm, &n);
        }
        for n in FLOATS {
            assert_eq!(check_push(vm, &n), Outcome::Same, "{n}");
            assert_eq!(check_push(vm, &(n as f32)), Outcome::Same, "{n} as f32");
        }
        for n in [f32::NAN, -0.0f32, f32::MAX, f32::MIN_POSITIVE, 1e-45] {
            assert_eq!(check_push(vm, &n), Outcome::Same, "{n}");
        }
        let numbers = Numbers {
            a: i8::MIN,
            b: i16::MAX,
            c: i32::MIN,
            d: i64::MIN,
            e: u8::MAX,
            f: u16::MAX,
            g: u32::MAX,
            h: u64::MAX,
            i: f32::NAN,
            j: -0.0,
        };
        assert_eq!(check_push(vm, &numbers), Outcome::Same);
        check_push(
            vm,
            &Wide {
                signed: i128::MIN,
                unsigned: u128::MAX,
            },
        );
        check_push(
            vm,
            &Wide {
                signed: -5,
                unsigned: 5,
            },
        );
    }
}

#[test]
fn maps_with_keys_a_table_cannot_hold_are_left_to_the_safe_path() {
    for vm in &vms() {
        assert_eq!(check_push(vm, &NanKey), Outcome::GaveUp);
        assert!(safe_push(&vm.lua, &NanKey).is_err(), "NaN key");
        let nil_key = HashMap::from([(None, 1), (Some(2), 3)]);
        assert_eq!(check_push(vm, &nil_key), Outcome::GaveUp);
        assert!(safe_push(&vm.lua, &nil_key).is_err(), "nil key");
        check_push(vm, &HashMap::from([(Some(2), 3)]));
    }
}

#[test]
fn deeply_nested_values_push_exactly_or_give_up() {
    let chain =
        |length: i32| (0..length).fold(None, |next, value| Some(Box::new(Node { value, next })));
    for vm in &vms() {
        assert_eq!(check_push(vm, &chain(5)), Outcome::Same);
        for length in [15, 16, 17, 31, 32, 33, 64, 100] {
            check_push(vm, &chain(length));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lua to Rust
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_tables_read_exactly_as_the_safe_path() {
    for vm in &vms() {
        assert_eq!(
            check_read::<Creature>(vm, &table(CREATURE, &[])),
            Outcome::Same
        );
        let optional = ["regen", "armor", "note", "pet"];
        let required = optional.map(|field| (field, None));
        let required = table(CREATURE, &required);
        assert_eq!(
            check_read::<Creature>(vm, &required),
            Outcome::Same,
            "{required}"
        );
        for field in optional {
            let source = table(CREATURE, &[(field, None)]);
            assert_eq!(
                check_read::<Creature>(vm, &source),
                Outcome::Same,
                "{source}"
            );
        }
        let extra = "{current = 1, max = 2, extra = true, [1] = 5, [true] = {}}";
        assert_eq!(check_read::<Health>(vm, extra), Outcome::Same, "extra keys");
        assert_eq!(
            check_read::<Numbers>(vm, &table(NUMBERS, &[])),
            Outcome::Same
        );
        assert_eq!(check_read::<Speed>(vm, "2.5"), Outcome::Same, "newtype");
        assert_eq!(check_read::<Empty>(vm, "{}"), Outcome::Same);
        assert_eq!(check_read::<Empty>(vm, "{x = 1}"), Outcome::Same);
        assert_eq!(
            check_read::<Mode>(vm, "'sprint'"),
            Outcome::Same,
            "renamed variant"
        );
        assert_eq!(check_read::<Action>(vm, "'Wait'"), Outcome::Same);
        assert_eq!(check_read::<Option<f32>>(vm, "nil"), Outcome::Same);
        assert_eq!(check_read::<Option<f32>>(vm, "1"), Outcome::Same);
        assert_eq!(check_read::<String>(vm, "'héllo 🦀'"), Outcome::Same);
        assert_eq!(check_read::<char>(vm, "'日'"), Outcome::Same);
        assert_eq!(check_read::<u64>(vm, "2^53"), Outcome::Same);
        assert_eq!(check_read::<i64>(vm, "-2^63"), Outcome::Same);
        assert_eq!(check_read::<f64>(vm, "-0.0"), Outcome::Same);
        assert_eq!(check_read::<f32>(vm, "0/0"), Outcome::Same);
        assert_eq!(
            check_read::<Node>(vm, "{value = 1, next = {value = 2}}"),
            Outcome::Same
        );
    }
}

#[test]
fn every_input_reads_exactly_as_the_safe_path_or_gives_up() {
    for vm in &vms() {
        for source in inputs() {
            for_types!(check_read(vm, source), [
                bool, i8, i16, i32, i64, u8, u16, u32, u64, i128, u128, f32, f64, char, String,
                (), Option<f32>, Option<String>, Option<Health>, Vec<i32>,
                HashMap<String, i32>, BTreeMap<String, f64>, (i32, i32), Health, Speed, Tag,
                Empty, Pair, Mode, Action, Creature, Squad, Numbers, Wide, Node, Box<Health>,
            ]);
        }
    }
}

#[test]
fn every_field_reads_every_input_exactly_as_the_safe_path_or_gives_up() {
    for vm in &vms() {
        let wide = [("signed", "1"), ("unsigned", "2")];
        for value in std::iter::once(None).chain(inputs().map(Some)) {
            for &(field, _) in CREATURE {
                check_read::<Creature>(vm, &table(CREATURE, &[(field, value)]));
            }
            for &(field, _) in NUMBERS {
                check_read::<Numbers>(vm, &table(NUMBERS, &[(field, value)]));
            }
            for &(field, _) in &wide {
                check_read::<Wide>(vm, &table(&wide, &[(field, value)]));
            }
        }
    }
}

#[test]
fn integers_read_only_whole_numbers_in_range() {
    for vm in &vms() {
        assert_eq!(check_read::<u8>(vm, "255"), Outcome::Same);
        for source in ["256", "-1", "2.5", "0/0", "math.huge", "'1'", "-0.0"] {
            assert_refused::<u8>(vm, source);
        }
        for source in ["2^63", "-2^63 - 2^11", "2^64"] {
            assert_refused::<i64>(vm, source);
        }
        // Below 2^64, but past 2^63 it is a float to mlua, which serde's `u64` refuses.
        assert_refused::<u64>(vm, "2^64 - 2^11");
    }
}

#[test]
fn tables_that_contain_themselves_give_up_without_recursing_forever() {
    let sources = [
        "(function() local t = {value = 1}; t.next = t; return t end)()",
        "(function() local a, b = {value = 1}, {value = 2}; a.next = b; b.next = a; return a end)()",
    ];
    for vm in &vms() {
        for source in sources {
            assert_refused::<Node>(vm, source);
        }
        let own_pet = format!(
            "(function() local t = {}; t.pet = t; return t end)()",
            table(CREATURE, &[("pet", None)])
        );
        assert_eq!(check_read::<Creature>(vm, &own_pet), Outcome::GaveUp);
        let own_health = "(function() local t = {}; t.current = t; t.max = t; return t end)()";
        assert_eq!(check_read::<Health>(vm, own_health), Outcome::GaveUp);
    }
}

#[test]
fn ignored_values_read_exactly_as_the_safe_path_or_give_up() {
    for vm in &vms() {
        for source in inputs() {
            check_read::<serde::de::IgnoredAny>(vm, source);
            let fields = [("value", "1"), ("rest", "nil")];
            check_read::<Ignoring>(vm, &table(&fields, &[("rest", Some(source))]));
        }
    }
}

#[test]
fn long_chains_read_exactly_as_the_safe_path_or_give_up() {
    for vm in &vms() {
        for length in [5, 31, 32, 33, 127, 128, 129, 300] {
            let source = format!(
                "(function() local t = nil; for i = 1, {length} do t = {{value = i, next = t}} end; \
                 return t end)()"
            );
            let outcome = check_read::<Node>(vm, &source);
            if length <= 5 {
                assert_eq!(outcome, Outcome::Same, "{length}");
            }
        }
    }
}

#[test]
fn light_userdata_vectors_and_strings_that_are_not_utf8_give_up_or_match() {
    for vm in &vms() {
        for source in ["light", "null"] {
            assert_eq!(
                check_read::<Option<f32>>(vm, source),
                Outcome::GaveUp,
                "{source}"
            );
            check_read::<f32>(vm, source);
            check_read::<Option<Health>>(vm, source);
        }
        check_read::<Health>(vm, "{current = null, max = 1}");
        check_read::<Creature>(vm, &table(CREATURE, &[("regen", Some("null"))]));
        for source in [
            "vector.create(1, 2, 3)",
            "{current = vector.create(1, 2, 3), max = 1}",
        ] {
            check_read::<Health>(vm, source);
            check_read::<(f32, f32, f32)>(vm, source);
            check_read::<Option<f32>>(vm, source);
        }
        for source in ["'\\255'", "'a\\255b'", "'\\192\\128'"] {
            assert_eq!(
                check_read::<String>(vm, source),
                Outcome::GaveUp,
                "{source}"
            );
            assert_eq!(check_read::<char>(vm, source), Outcome::GaveUp, "{source}");
            assert_eq!(check_read::<Mode>(vm, source), Outcome::GaveUp, "{source}");
        }
        let bad_key = "{current = 1, max = 2, ['\\255'] = 3}";
        assert_eq!(check_read::<Health>(vm, bad_key), Outcome::Same, "ignored");
    }
}

// ---------------------------------------------------------------------------------------------
// Random values
// ---------------------------------------------------------------------------------------------

/// Random values of this file's types.
impl Rng {
    /// `make`'s value two times in three, else `None`.
    fn option<T>(&mut self, make: impl FnOnce(&mut Self) -> T) -> Option<T> {
        (!self.one_in(3)).then(|| make(self))
    }

    fn creature(&mut self, depth: usize) -> Creature {
        Creature {
            name: self.text(),
            health: Health {
                current: self.float() as f32,
                max: self.float() as f32,
            },
            level: self.integer() as u8,
            score: self.integer() as i64,
            ratio: self.float(),
            regen: self.option(|r| r.float() as f32),
            mode: self.pick(&[Mode::Idle, Mode::Walk, Mode::Run]),
            speed: Speed(self.float() as f32),
            letter: self.letter(),
            alive: self.one_in(2),
            armor: self.integer() as i16,
            experience: self.integer() as u32,
            note: self.option(Self::text),
            pet: if depth < 3 && self.one_in(3) {
                Some(Box::new(self.creature(depth + 1)))
            } else {
                None
            },
        }
    }

    fn action(&mut self) -> Action {
        match self.below(4) {
            0 => Action::Wait,
            1 => Action::Move(self.float() as f32),
            2 => Action::Jump(self.float() as f32, self.float() as f32),
            _ => Action::Attack {
                target: self.integer() as u32,
                damage: self.float() as f32,
            },
        }
    }

    fn squad(&mut self) -> Squad {
        let members = (0..self.below(3)).map(|_| self.creature(2)).collect();
        let orders = (0..self.below(4)).map(|_| self.action()).collect();
        let ranks = (0..self.below(4))
            .map(|_| (self.text(), self.integer() as u16))
            .collect();
        let grid = (0..self.below(3))
            .map(|_| {
                let row = (0..self.below(3)).map(|_| self.float() as f32).collect();
                (self.integer() as i32, row)
            })
            .collect();
        Squad {
            members,
            leader: self.option(|r| r.creature(2)),
            orders,
            ranks,
            grid,
            tags: (0..self.below(3)).map(|_| self.text()).collect(),
            banner: Tag,
            pair: Pair(self.integer() as i32, self.text()),
        }
    }
}

/// Random values of each type per VM.
const CREATURES: usize = 2000;
const SQUADS: usize = 500;
/// Changed copies read per value.
const MUTATIONS: u32 = 3;

/// Pushes `value` both ways, reads the safe path's Lua value back both ways, then reads
/// changed copies of it both ways.
fn round_trip<T: Serialize + de::DeserializeOwned + Debug>(
    vm: &Vm,
    rng: &mut Rng,
    value: &T,
    pushes: &mut Tally,
    reads: &mut Tally,
) {
    pushes.add(check_push(vm, value));
    let lua_value = safe_push(&vm.lua, value).expect("the safe path pushes it");
    reads.add(check_read_value::<T>(vm, &lua_value, value));
    for _ in 0..MUTATIONS {
        let seed = rng.next() as u32;
        let changed = vm.mutate(&lua_value, seed);
        reads.add(check_read_value::<T>(vm, &changed, &(seed, value)));
    }
}

#[test]
fn random_values_convert_exactly_as_the_safe_path_or_give_up() {
    let mut rng = Rng::new(0x5eed_1234);
    let (mut pushes, mut reads) = (Tally::default(), Tally::default());
    for vm in &vms() {
        for _ in 0..CREATURES {
            let creature = rng.creature(0);
            round_trip(vm, &mut rng, &creature, &mut pushes, &mut reads);
        }
        for _ in 0..SQUADS {
            let squad = rng.squad();
            round_trip(vm, &mut rng, &squad, &mut pushes, &mut reads);
        }
    }
    let values = 2 * (CREATURES + SQUADS);
    assert_eq!(pushes.same + pushes.gave_up, values);
    assert_eq!(
        reads.same + reads.gave_up,
        values * (1 + MUTATIONS as usize)
    );
    // Every creature is a shape the fast path writes, and most read back.
    assert!(pushes.same >= 2 * CREATURES, "{pushes:?}");
    assert!(reads.same >= CREATURES, "{reads:?}");
    println!("pushes {pushes:?}, reads {reads:?}");
}

/// `Serialize` is a safe trait: an implementation that calls `serialize_value` without a key
/// (or a key without a value) gives up, and the stack stays as it was.
#[test]
fn a_map_serialized_out_of_order_gives_up_without_harm() {
    use serde::ser::SerializeMap;
    struct ValueFirst;
    impl Serialize for ValueFirst {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_value(&1.5)?;
            map.serialize_value(&2.5)?;
            map.end()
        }
    }
    struct KeyOnly;
    impl Serialize for KeyOnly {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_key("a")?;
            map.end()
        }
    }
    let lua = Lua::new();
    let outcome = produce(&lua, |stack| push(stack, &ValueFirst));
    assert!(matches!(outcome, Ok(Err(GiveUp))), "{outcome:?}");
    // A key left without its value: the map is pushed with what it had.
    let outcome = produce(&lua, |stack| push(stack, &KeyOnly));
    assert!(
        matches!(outcome, Ok(Ok(Value::Table(_))) | Ok(Err(GiveUp))),
        "{outcome:?}"
    );
}
