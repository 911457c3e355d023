//! Tests of plans against `from_lua` and `to_lua`: for every value and every Lua input, staging
//! and applying (or pushing) by a plan either gives exactly what the safe path gives, or gives
//! up.

use super::*;
use crate::bridge::test_support::{
    self as support, FLOATS, OTHER_TYPES, Outcome, Rng, Tally, for_types, push_input, table,
};
use crate::ffi::stack::produce;
use crate::reflect::{from_lua, to_lua};
use bevy_ecs::entity::{EntityGeneration, EntityIndex};
use bevy_reflect::{FromReflect, GetTypeRegistration, Reflect, TypeRegistry, Typed};
use mlua::{Lua, Value};
use std::cell::RefCell;
use std::fmt::Debug;
use std::ops::Deref;

// ---------------------------------------------------------------------------------------------
// Test types
// ---------------------------------------------------------------------------------------------

/// A flat struct of floats.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Flat {
    x: f32,
    y: f32,
    z: f32,
}

/// Every integer width.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Ints {
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: i128,
    f: isize,
    g: u8,
    h: u16,
    i: u32,
    j: u64,
    k: u128,
    l: usize,
}

/// The other leaves.
#[derive(Reflect, Clone, PartialEq, Debug)]
struct Mixed {
    alive: bool,
    name: String,
    target: Entity,
    position: Vec3,
    offset: Vec3A,
    facing: Vec2,
    ratio: f64,
}

impl Default for Mixed {
    fn default() -> Self {
        Self {
            alive: false,
            name: String::new(),
            target: Entity::PLACEHOLDER,
            position: Vec3::ZERO,
            offset: Vec3A::ZERO,
            facing: Vec2::ZERO,
            ratio: 0.0,
        }
    }
}

/// A newtype of a leaf.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Speed(f32);

/// A newtype of a newtype.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Meters(Speed);

/// A struct with a newtype field.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Inner {
    level: u8,
    speed: Speed,
}

/// A newtype of a struct.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Wrapped(Inner);

/// Structs and newtypes nested in a struct.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Nested {
    flat: Flat,
    inner: Inner,
    wrapped: Wrapped,
    meters: Meters,
    mixed: Mixed,
}

/// An `Option` field, which plans leave to the safe path.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Maybe {
    value: f32,
    bonus: Option<u32>,
}

/// Every kind of variant.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
enum Mood {
    #[default]
    Calm,
    Angry(f32),
    Sad {
        tears: u32,
    },
}

/// An enum field, which plans leave to the safe path.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Moody {
    mood: Mood,
    level: u8,
}

/// A list field, which plans leave to the safe path.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Listed {
    items: Vec<u8>,
}

/// A tuple struct of two fields (a list in Lua), which plans leave to the safe path.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Twin(i32, i32);

/// A struct with a [`Twin`] field.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Twins {
    twin: Twin,
}

/// A struct without fields.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Marker {}

/// A field hidden from reflection, which `FromReflect` makes anew.
#[derive(Reflect, Default, Clone, PartialEq, Debug)]
struct Cached {
    value: f32,
    #[reflect(ignore)]
    cache: u32,
}

// ---------------------------------------------------------------------------------------------
// The two paths
// ---------------------------------------------------------------------------------------------

/// An entity with a high index and generation.
fn high_entity() -> Entity {
    let index = EntityIndex::from_raw_u32(u32::MAX - 2).expect("index below u32::MAX");
    Entity::from_index_and_generation(index, EntityGeneration::from_bits((1 << 21) + 12_345))
}

/// A [`support::Vm`] with its plans.
struct Vm {
    /// The VM.
    base: support::Vm,
    /// The plans made in it.
    plans: RefCell<Plans>,
}

impl Deref for Vm {
    type Target = support::Vm;

    fn deref(&self) -> &support::Vm {
        &self.base
    }
}

impl Vm {
    /// A VM whose `entity` is [`high_entity`]; with `main`, a main VM, whose field names plans
    /// pin (structs are staged only there).
    fn new(main: bool) -> Self {
        Self {
            base: support::Vm::new(main, high_entity()),
            plans: RefCell::default(),
        }
    }

    /// The plan of `T`, made on first use.
    fn plan<T: Typed>(&self) -> PlanId {
        let mut id = None;
        produce(&self.lua, |stack| {
            id = Some(self.plans.borrow_mut().of(stack, T::type_info()));
            Ok::<(), ()>(())
        })
        .expect("no Lua error")
        .expect("the closure succeeds");
        id.expect("planned")
    }

    /// Runs `f` on the stack of a `produce` call with `input` on top, at the index it gets.
    fn with_input<R>(&self, input: &Value, f: impl FnOnce(Stack<'_>, c_int) -> R) -> R {
        let mut out = None;
        produce(&self.lua, |stack| {
            push_input(&self.lua, input);
            out = Some(f(stack, stack.top()));
            Ok::<(), ()>(())
        })
        .expect("no Lua error")
        .expect("the closure succeeds");
        out.expect("ran")
    }
}

/// Both kinds of VM: plans pin field names only in a main VM.
fn vms() -> [Vm; 2] {
    [Vm::new(false), Vm::new(true)]
}

/// The registry the safe path looks field types up in.
fn registry_of<T: GetTypeRegistration>() -> TypeRegistry {
    let mut registry = TypeRegistry::default();
    registry.register::<T>();
    registry
}

/// The safe path: `from_lua`, then `FromReflect`.
fn safe_read<T: FromReflect + Typed + GetTypeRegistration>(
    lua: &Lua,
    input: Value,
) -> mlua::Result<T> {
    let registry = registry_of::<T>();
    let dynamic = from_lua(lua, input, T::type_info(), &registry, "test")?;
    T::from_reflect(&*dynamic).ok_or_else(|| mlua::Error::runtime("FromReflect refused"))
}

/// Compares a value the fast path made of `input` with what the safe path makes of it
/// (by `Debug`, so NaN matches NaN and -0 does not match 0).
fn assert_read_same<T: FromReflect + Typed + GetTypeRegistration + Debug>(
    vm: &Vm,
    input: &Value,
    fast: &T,
    what: &dyn Debug,
) {
    let safe = safe_read::<T>(&vm.lua, input.clone());
    vm.assert_same_rust(fast, safe, "makes", what);
}

/// A type the tests stage, apply and push.
trait Planned: Reflect + FromReflect + Typed + GetTypeRegistration + Clone + Debug {}
impl<T: Reflect + FromReflect + Typed + GetTypeRegistration + Clone + Debug> Planned for T {}

/// Stages `input` by `T`'s plan and applies it onto a copy of `start`; panics if that makes
/// anything but what the safe path makes, or makes something where the safe path fails.
fn check_set<T: Planned>(vm: &Vm, input: &Value, start: &T, what: &dyn Debug) -> Outcome {
    let id = vm.plan::<T>();
    let plans = vm.plans.borrow();
    let mut staged: Vec<Option<Staged>> = std::iter::repeat_with(|| None)
        .take(plans.get(id).leaves)
        .collect();
    let outcome = vm.with_input(input, |stack, index| {
        stage(&plans, id, stack, index, &mut staged)
    });
    if outcome.is_none() {
        return Outcome::GaveUp;
    }
    let mut fast = start.clone();
    let applied = apply(&plans, id, &mut fast, &mut staged.into_iter());
    assert!(applied.is_some(), "{what:?}: staged, but did not apply");
    assert_set_same(vm, input, start, &fast, what);
    Outcome::Same
}

/// Compares a value the fast path set over `start` from `input` with what the safe path sets:
/// the value `from_lua` and `FromReflect` make, applied over `start` for a type written in place
/// (as `ecs.set` does for an existing component), else that value itself.
fn assert_set_same<T: Planned>(vm: &Vm, input: &Value, start: &T, fast: &T, what: &dyn Debug) {
    if !writes_in_place(T::type_info()) {
        return assert_read_same(vm, input, fast, what);
    }
    let safe = safe_read::<T>(&vm.lua, input.clone()).map(|read| {
        let mut safe = start.clone();
        safe.try_apply(&read)
            .expect("a value of the same type applies");
        safe
    });
    vm.assert_same_rust(fast, safe, "sets", what);
}

/// [`check_set`] of the value of a Lua expression onto a default value.
fn check_source<T: Planned + Default>(vm: &Vm, source: &str) -> Outcome {
    check_set(vm, &vm.eval(source), &T::default(), &source)
}

/// Panics unless the plan gives up on `source` and the safe path fails.
fn assert_refused<T: Planned + Default>(vm: &Vm, source: &str) {
    assert_eq!(check_source::<T>(vm, source), Outcome::GaveUp, "{source}");
    let safe = safe_read::<T>(&vm.lua, vm.eval(source));
    assert!(safe.is_err(), "{source}: the safe path reads {safe:?}");
}

/// Reads `input` as the leaf `leaf` of type `T` with `read_leaf` and writes it over `start`
/// with `write_leaf`; panics as [`check_set`] does.
fn check_leaf<T: Planned>(vm: &Vm, leaf: Leaf, input: &Value, start: &T, what: &str) -> Outcome {
    let Some(staged) = vm.with_input(input, |stack, index| read_leaf(stack, index, leaf)) else {
        return Outcome::GaveUp;
    };
    let mut fast = start.clone();
    let written = write_leaf(leaf, &mut fast, staged);
    assert!(
        written.is_some(),
        "{what}: read as {leaf:?}, but did not write"
    );
    assert_read_same(vm, input, &fast, &what);
    Outcome::Same
}

/// Pushes `value` by `T`'s plan; panics if that pushes anything but what `to_lua` pushes, or
/// pushes where it fails.
fn check_push<T: Planned>(vm: &Vm, value: &T) -> Outcome {
    let id = vm.plan::<T>();
    let plans = vm.plans.borrow();
    let fast = produce(&vm.lua, |stack| {
        push_value(&plans, id, stack, value).ok_or(())
    });
    let Ok(fast) = fast.expect("no Lua error") else {
        return Outcome::GaveUp;
    };
    match to_lua(&vm.lua, value) {
        Ok(safe) => vm.assert_same(&fast, &safe, value),
        Err(e) => panic!(
            "{value:?} in {}: the fast path pushed {fast:?} where to_lua fails: {e}",
            vm.name
        ),
    }
    Outcome::Same
}

/// Pushes `value`, a leaf `leaf`, with `push_leaf`; panics as [`check_push`] does.
fn check_push_leaf<T: Planned>(vm: &Vm, leaf: Leaf, value: &T) -> Outcome {
    let fast = produce(&vm.lua, |stack| push_leaf(stack, leaf, value).ok_or(()));
    let Ok(fast) = fast.expect("no Lua error") else {
        return Outcome::GaveUp;
    };
    match to_lua(&vm.lua, value) {
        Ok(safe) => vm.assert_same(&fast, &safe, value),
        Err(e) => panic!("{value:?}: push_leaf pushed {fast:?} where to_lua fails: {e}"),
    }
    Outcome::Same
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Numbers at the edges of every leaf type, as Lua expressions.
const NUMBERS: &[&str] = &[
    "0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "-0.5",
    "2.5",
    "1e-310",
    "-1e-310",
    "0/0",
    "-(0/0)",
    "math.huge",
    "-math.huge",
    "1e300",
    "-1e300",
    "3.4028235677973366e38",
    "3.402823669209385e38",
    // i8, u8
    "-129",
    "-128",
    "127",
    "128",
    "255",
    "256",
    // i16, u16
    "-32769",
    "-32768",
    "32767",
    "32768",
    "65535",
    "65536",
    // i32, u32
    "-2^31 - 1",
    "-2^31",
    "2^31 - 1",
    "2^31",
    "2^32 - 1",
    "2^32",
    // exact integers in a double
    "2^53 - 1",
    "2^53",
    "2^53 + 2",
    "-2^53",
    // i64, u64, isize, usize: the doubles either side of each bound
    "-2^63 - 2^11",
    "-2^63",
    "2^63 - 2^10",
    "2^63",
    "2^64 - 2^11",
    "2^64",
    "-2^64",
    // i128, u128
    "-2^127 - 2^75",
    "-2^127",
    "2^127 - 2^74",
    "2^127",
    "2^128 - 2^75",
    "2^128",
    "-2^128",
];

/// Every other kind of Lua value, but for [`OTHER_TYPES`].
const OTHERS: &[&str] = &[
    "nil",
    "true",
    "false",
    "''",
    "'text'",
    "'héllo 日本 🦀'",
    "'\\255\\254'",
    "'1'",
    "'0x10'",
    "vector.create(1, -2.5, 3)",
    "vector.create(0/0, -0.0, math.huge)",
    "{}",
    "{1, 2, 3}",
    "{x = 1, y = 2}",
    "{x = 1, y = 2, z = 3}",
    "{x = 1, y = 2, z = 3, w = 4}",
    "{Angry = 1}",
    "{Sad = {tears = 2}}",
    "'Calm'",
    "(function() local t = {x = 1, y = 2}; t.z = t; return t end)()",
];

/// Every input: [`NUMBERS`], [`OTHERS`], then [`OTHER_TYPES`].
fn inputs() -> impl Iterator<Item = &'static str> {
    NUMBERS.iter().chain(OTHERS).chain(OTHER_TYPES).copied()
}

/// A valid `Flat`, field by field.
const FLAT: &[(&str, &str)] = &[("x", "1"), ("y", "-2.5"), ("z", "3")];

/// A valid `Ints`, field by field.
const INTS: &[(&str, &str)] = &[
    ("a", "-1"),
    ("b", "-2"),
    ("c", "-3"),
    ("d", "-4"),
    ("e", "-5"),
    ("f", "-6"),
    ("g", "7"),
    ("h", "8"),
    ("i", "9"),
    ("j", "10"),
    ("k", "11"),
    ("l", "12"),
];

/// A valid `Mixed`, field by field.
const MIXED: &[(&str, &str)] = &[
    ("alive", "true"),
    ("name", "'rex'"),
    ("target", "entity"),
    ("position", "vector.create(1, 2, 3)"),
    ("offset", "vector.create(-1, 0.5, 0)"),
    ("facing", "vector.create(0.25, 4, 9)"),
    ("ratio", "0.125"),
];

/// A valid `Nested`, field by field.
const NESTED: &[(&str, &str)] = &[
    ("flat", "{x = 1, y = 2, z = 3}"),
    ("inner", "{level = 4, speed = 5}"),
    ("wrapped", "{level = 6, speed = 7.5}"),
    ("meters", "8"),
    (
        "mixed",
        "{alive = false, name = '', target = entity, position = vector.create(0, 0, 0), \
         offset = vector.create(0, 0, 0), facing = vector.create(0, 0, 0), ratio = 0}",
    ),
];

// ---------------------------------------------------------------------------------------------
// Lua to Rust
// ---------------------------------------------------------------------------------------------

#[test]
fn plans_describe_structs_newtypes_and_leaves() {
    let vm = Vm::new(true);
    let flat = vm.plan::<Flat>();
    let nested = vm.plan::<Nested>();
    let maybe = vm.plan::<Maybe>();
    let plans = vm.plans.borrow();
    assert!(matches!(plans.get(flat).shape, Shape::Struct));
    assert_eq!(plans.get(flat).leaves, 3);
    assert_eq!(plans.get(nested).leaves, 3 + 2 + 2 + 1 + 7);
    let leaves: Vec<usize> = plans.get(nested).fields.iter().map(|f| f.slot).collect();
    assert_eq!(leaves, [0, 3, 5, 7, 8]);
    let bonus = &plans.get(maybe).fields[1];
    assert!(
        matches!(plans.get(bonus.plan).shape, Shape::Opaque),
        "Option"
    );
}

#[test]
fn valid_tables_stage_exactly_as_from_lua() {
    let vm = Vm::new(true);
    assert_eq!(check_source::<Flat>(&vm, &table(FLAT, &[])), Outcome::Same);
    assert_eq!(check_source::<Ints>(&vm, &table(INTS, &[])), Outcome::Same);
    assert_eq!(
        check_source::<Mixed>(&vm, &table(MIXED, &[])),
        Outcome::Same
    );
    assert_eq!(
        check_source::<Nested>(&vm, &table(NESTED, &[])),
        Outcome::Same
    );
    assert_eq!(check_source::<Speed>(&vm, "2.5"), Outcome::Same);
    assert_eq!(check_source::<Meters>(&vm, "-0.0"), Outcome::Same);
    let inner = "{level = 1, speed = 2}";
    assert_eq!(check_source::<Inner>(&vm, inner), Outcome::Same);
    assert_eq!(check_source::<Wrapped>(&vm, inner), Outcome::Same);
    assert_eq!(check_source::<Marker>(&vm, "{}"), Outcome::Same);
    let numbers = "{a = -128, b = 32767, c = -2^31, d = -2^63, e = -2^127, f = 2^63 - 2^10, \
                   g = 255, h = 65535, i = 2^32 - 1, j = 2^64 - 2^11, k = 2^127 - 2^74, l = 0}";
    assert_eq!(check_source::<Ints>(&vm, numbers), Outcome::Same);
}

#[test]
fn every_input_stages_exactly_as_from_lua_or_gives_up() {
    for vm in &vms() {
        for source in inputs() {
            for_types!(
                check_source(vm, source),
                [
                    Flat, Ints, Mixed, Nested, Speed, Meters, Wrapped, Marker, Maybe, Moody,
                    Listed, Twins,
                ]
            );
        }
    }
}

#[test]
fn every_field_stages_every_input_exactly_as_from_lua_or_gives_up() {
    for vm in &vms() {
        for value in std::iter::once(None).chain(inputs().map(Some)) {
            for (fields, check) in [
                (FLAT, check_source::<Flat> as fn(&Vm, &str) -> Outcome),
                (INTS, check_source::<Ints>),
                (MIXED, check_source::<Mixed>),
                (NESTED, check_source::<Nested>),
            ] {
                for &(field, _) in fields {
                    check(vm, &table(fields, &[(field, value)]));
                }
            }
        }
    }
}

/// Checks every input of [`inputs`] as the leaf `$leaf` of type `$ty`, both with `read_leaf`
/// and through a plan of the type itself.
macro_rules! check_leaves {
    ($vm:expr, $($ty:ty => $leaf:ident, $start:expr);* $(;)?) => {$(
        let start: $ty = $start;
        let id = $vm.plan::<$ty>();
        assert!(matches!($vm.plans.borrow().get(id).shape, Shape::Leaf(Leaf::$leaf)));
        for source in inputs() {
            let input = $vm.eval(source);
            let what = format!("{source} as {}", stringify!($ty));
            let by_leaf = check_leaf::<$ty>($vm, Leaf::$leaf, &input, &start, &what);
            let by_plan = check_set::<$ty>($vm, &input, &start, &what);
            assert_eq!(by_leaf, by_plan, "{what}: read_leaf and stage disagree");
        }
    )*};
}

#[test]
fn leaves_read_every_input_exactly_as_from_lua_or_give_up() {
    for vm in &vms() {
        check_leaves!(vm,
            f32 => F32, 7.0;
            f64 => F64, 7.0;
            bool => Bool, true;
            i8 => I8, 7;
            i16 => I16, 7;
            i32 => I32, 7;
            i64 => I64, 7;
            i128 => I128, 7;
            isize => Isize, 7;
            u8 => U8, 7;
            u16 => U16, 7;
            u32 => U32, 7;
            u64 => U64, 7;
            u128 => U128, 7;
            usize => Usize, 7;
            String => String, "old".to_owned();
            Entity => Entity, Entity::PLACEHOLDER;
            Vec3 => Vec3, Vec3::ONE;
            Vec3A => Vec3A, Vec3A::ONE;
            Vec2 => Vec2, Vec2::ONE;
        );
    }
}

#[test]
fn integers_stage_only_whole_numbers_in_range() {
    let vm = Vm::new(true);
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "a",
            &["-128", "127", "-0.0"],
            &["-129", "128", "0.5", "0/0"],
        ),
        ("b", &["-32768", "32767"], &["-32769", "32768"]),
        ("c", &["-2^31", "2^31 - 1"], &["-2^31 - 1", "2^31"]),
        // 2^63, 2^64, 2^127 and 2^128 are what `f64` makes of the types' maxima: they saturate,
        // so that a value read from a field writes back.
        (
            "d",
            &["-2^63", "2^63 - 2^10", "2^53 + 2", "2^63"],
            &["-2^63 - 2^11", "2^63 + 2^11"],
        ),
        (
            "e",
            &["-2^127", "2^127 - 2^74"],
            &["-2^127 - 2^75", "2^127 + 2^75", "math.huge"],
        ),
        ("g", &["0", "255"], &["-1", "256", "-math.huge"]),
        ("h", &["65535"], &["65536"]),
        ("i", &["2^32 - 1"], &["2^32"]),
        ("j", &["2^64 - 2^11", "2^64"], &["2^64 + 2^12", "-1"]),
        ("k", &["2^127 - 2^74"], &["2^128 + 2^76", "-1"]),
    ];
    for &(field, good, bad) in cases {
        for &value in good {
            let source = table(INTS, &[(field, Some(value))]);
            assert_eq!(
                check_source::<Ints>(&vm, &source),
                Outcome::Same,
                "{source}"
            );
        }
        for &value in bad {
            assert_refused::<Ints>(&vm, &table(INTS, &[(field, Some(value))]));
        }
    }
    // 2^127 ..= 2^128 - 2^75 fits a u128 but not the i128 that staging counts in, and 2^127 is
    // i128::MAX saturated: the safe path takes them.
    for (field, value) in [("k", "2^127"), ("e", "2^127")] {
        let source = table(INTS, &[(field, Some(value))]);
        check_source::<Ints>(&vm, &source);
        assert!(
            safe_read::<Ints>(&vm.lua, vm.eval(&source)).is_ok(),
            "{source}"
        );
    }
}

#[test]
fn stray_keys_missing_fields_and_other_keys_give_up() {
    let vm = Vm::new(true);
    let flat = |extra: &str| format!("{{x = 1, y = 2, z = 3, {extra}}}");
    for source in [
        "{x = 1, y = 2}".to_owned(),
        "{x = 1, y = 2, z = nil}".to_owned(),
        flat("w = 4"),
        flat("[1] = 0"),
        flat("[true] = 0"),
        flat("[vector.create(1, 2, 3)] = 0"),
        flat("[entity] = 0"),
        flat("[{}] = 0"),
        flat("['\\255'] = 0"),
        "{x = 1, y = 2, zz = 3}".to_owned(),
    ] {
        assert_refused::<Flat>(&vm, &source);
    }
    assert_eq!(check_source::<Marker>(&vm, "{x = 1}"), Outcome::GaveUp);
    let stray_inside = table(NESTED, &[("inner", Some("{level = 1, speed = 2, x = 3}"))]);
    assert_eq!(check_source::<Nested>(&vm, &stray_inside), Outcome::GaveUp);
    let missing_inside = table(NESTED, &[("inner", Some("{level = 1}"))]);
    assert_eq!(
        check_source::<Nested>(&vm, &missing_inside),
        Outcome::GaveUp
    );
}

#[test]
fn options_enums_lists_and_tuple_structs_give_up() {
    let vm = Vm::new(true);
    for source in [
        "{value = 1, bonus = 2}",
        "{value = 1}",
        "{mood = 'Calm', level = 1}",
        "{mood = {Angry = 2}, level = 1}",
        "{mood = {Sad = {tears = 3}}, level = 1}",
        "{items = {1, 2, 3}}",
        "{items = {}}",
        "{twin = {1, 2}}",
    ] {
        let outcomes = [
            check_source::<Maybe>(&vm, source),
            check_source::<Moody>(&vm, source),
            check_source::<Listed>(&vm, source),
            check_source::<Twins>(&vm, source),
        ];
        assert_eq!(outcomes, [Outcome::GaveUp; 4], "{source}");
    }
    assert!(safe_read::<Maybe>(&vm.lua, vm.eval("{value = 1}")).is_ok());
    assert!(safe_read::<Twins>(&vm.lua, vm.eval("{twin = {1, 2}}")).is_ok());
}

#[test]
fn tables_that_contain_themselves_give_up_without_recursing_forever() {
    let vm = Vm::new(true);
    let sources = [
        "(function() local t = {x = 1, y = 2}; t.z = t; return t end)()",
        "(function() local t = {}; t.flat = t; t.inner = t; t.wrapped = t; t.meters = t; \
         t.mixed = t; return t end)()",
        "(function() local t = {level = 1}; t.speed = t; return t end)()",
    ];
    for source in sources {
        assert_eq!(check_source::<Flat>(&vm, source), Outcome::GaveUp);
        assert_eq!(check_source::<Nested>(&vm, source), Outcome::GaveUp);
        assert_eq!(check_source::<Inner>(&vm, source), Outcome::GaveUp);
        assert_eq!(check_source::<Wrapped>(&vm, source), Outcome::GaveUp);
    }
}

#[test]
fn vectors_written_as_tables_are_left_to_the_safe_path() {
    let vm = Vm::new(true);
    let source = table(MIXED, &[("position", Some("{x = 1, y = 2, z = 3}"))]);
    assert_eq!(check_source::<Mixed>(&vm, &source), Outcome::GaveUp);
    assert!(safe_read::<Mixed>(&vm.lua, vm.eval(&source)).is_ok());
    let source = table(MIXED, &[("facing", Some("{x = 1, y = 2}"))]);
    assert_eq!(check_source::<Mixed>(&vm, &source), Outcome::GaveUp);
}

#[test]
fn light_userdata_that_are_not_entities_give_up() {
    let vm = Vm::new(true);
    for target in ["light", "null"] {
        assert_refused::<Mixed>(&vm, &table(MIXED, &[("target", Some(target))]));
    }
}

/// `Stack::entity` reads only light userdata of tag 0 (as scripts and mlua make them); one of
/// another tag reads as bits 0, which is no entity, so it is left to the safe path.
#[test]
fn light_userdata_with_another_tag_give_up() {
    let vm = Vm::new(true);
    let address = high_entity().to_bits() as usize;
    let mut fast = None;
    let input = produce(&vm.lua, |stack| {
        crate::bridge::test_support::push_tagged_light_userdata(&vm.lua, address, 7);
        fast = read_leaf(stack, stack.top(), Leaf::Entity);
        Ok::<(), ()>(())
    })
    .expect("no Lua error")
    .expect("the closure succeeds");
    assert!(fast.is_none(), "{input:?}");
    assert_eq!(
        safe_read::<Entity>(&vm.lua, input).ok(),
        Some(high_entity())
    );
}

#[test]
fn fields_hidden_from_reflection_end_as_the_safe_path_leaves_them() {
    let vm = Vm::new(true);
    let start = Cached {
        value: 1.0,
        cache: 7,
    };
    let input = vm.eval("{value = 2}");
    assert_eq!(
        check_set(&vm, &input, &start, &"{value = 2}"),
        Outcome::Same
    );
}

#[test]
fn fields_hidden_from_reflection_are_not_staged() {
    let vm = Vm::new(true);
    assert_eq!(check_source::<Cached>(&vm, "{value = 2}"), Outcome::Same);
    assert_eq!(
        check_source::<Cached>(&vm, "{value = 2, cache = 3}"),
        Outcome::GaveUp
    );
}

// ---------------------------------------------------------------------------------------------
// Rust to Lua
// ---------------------------------------------------------------------------------------------

#[test]
fn leaves_push_exactly_as_to_lua() {
    for vm in &vms() {
        for n in FLOATS {
            assert_eq!(check_push_leaf(vm, Leaf::F64, &n), Outcome::Same, "{n}");
            assert_eq!(check_push_leaf(vm, Leaf::F32, &(n as f32)), Outcome::Same);
        }
        macro_rules! limits {
            ($($ty:ty => $leaf:ident),*) => {$(
                for n in [<$ty>::MIN, <$ty>::MAX, 0, 1] {
                    assert_eq!(check_push_leaf(vm, Leaf::$leaf, &n), Outcome::Same, "{n}");
                    assert_eq!(check_push(vm, &n), Outcome::Same, "{n}");
                }
            )*};
        }
        limits!(
            i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128, isize => Isize,
            u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128, usize => Usize
        );
        for flag in [true, false] {
            assert_eq!(check_push_leaf(vm, Leaf::Bool, &flag), Outcome::Same);
        }
        for text in ["", "héllo 日本 🦀", "nul\0inside"] {
            let text = text.to_owned();
            assert_eq!(check_push_leaf(vm, Leaf::String, &text), Outcome::Same);
        }
        for entity in [
            high_entity(),
            Entity::PLACEHOLDER,
            Entity::from_raw_u32(0).expect("0"),
        ] {
            assert_eq!(check_push_leaf(vm, Leaf::Entity, &entity), Outcome::Same);
        }
        let v = Vec3::new(f32::NAN, -0.0, f32::INFINITY);
        assert_eq!(check_push_leaf(vm, Leaf::Vec3, &v), Outcome::Same);
        assert_eq!(
            check_push_leaf(vm, Leaf::Vec3A, &Vec3A::from(v)),
            Outcome::Same
        );
        assert_eq!(
            check_push_leaf(vm, Leaf::Vec2, &v.truncate()),
            Outcome::Same
        );
        assert_eq!(
            check_push_leaf(vm, Leaf::F32, &1u8),
            Outcome::GaveUp,
            "wrong type"
        );
    }
}

#[test]
fn values_push_exactly_as_to_lua() {
    for vm in &vms() {
        assert_eq!(check_push(vm, &Flat::default()), Outcome::Same);
        assert_eq!(check_push(vm, &Ints::default()), Outcome::Same);
        assert_eq!(check_push(vm, &Mixed::default()), Outcome::Same);
        assert_eq!(check_push(vm, &Nested::default()), Outcome::Same);
        assert_eq!(check_push(vm, &Speed(-0.0)), Outcome::Same);
        assert_eq!(check_push(vm, &Meters(Speed(f32::NAN))), Outcome::Same);
        assert_eq!(check_push(vm, &Wrapped::default()), Outcome::Same);
        assert_eq!(check_push(vm, &Marker {}), Outcome::Same);
        for bonus in [None, Some(3)] {
            let maybe = Maybe { value: 1.0, bonus };
            assert_eq!(check_push(vm, &maybe), Outcome::Same, "{maybe:?}");
        }
        for mood in [Mood::Calm, Mood::Angry(2.0), Mood::Sad { tears: 3 }] {
            let moody = Moody { mood, level: 1 };
            assert_eq!(check_push(vm, &moody), Outcome::Same, "{moody:?}");
        }
        let listed = Listed {
            items: vec![1, 2, 3],
        };
        assert_eq!(check_push(vm, &listed), Outcome::Same);
        assert_eq!(check_push(vm, &Twins { twin: Twin(1, 2) }), Outcome::Same);
        assert_eq!(
            check_push(
                vm,
                &Cached {
                    value: 1.0,
                    cache: 7
                }
            ),
            Outcome::Same
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Random values
// ---------------------------------------------------------------------------------------------

/// Random values of this file's types.
impl Rng {
    fn float32(&mut self) -> f32 {
        self.float() as f32
    }

    fn entity(&mut self) -> Entity {
        loop {
            if let Some(entity) = Entity::try_from_bits(self.next() >> self.below(64)) {
                return entity;
            }
        }
    }

    fn vec3(&mut self) -> Vec3 {
        Vec3::new(self.float32(), self.float32(), self.float32())
    }

    fn flat(&mut self) -> Flat {
        Flat {
            x: self.float32(),
            y: self.float32(),
            z: self.float32(),
        }
    }

    fn ints(&mut self) -> Ints {
        Ints {
            a: self.integer() as i8,
            b: self.integer() as i16,
            c: self.integer() as i32,
            d: self.integer() as i64,
            e: self.integer(),
            f: self.integer() as isize,
            g: self.integer() as u8,
            h: self.integer() as u16,
            i: self.integer() as u32,
            j: self.integer() as u64,
            k: self.integer() as u128,
            l: self.integer() as usize,
        }
    }

    fn mixed(&mut self) -> Mixed {
        Mixed {
            alive: self.one_in(2),
            name: self.text(),
            target: self.entity(),
            position: self.vec3(),
            offset: self.vec3().into(),
            facing: self.vec3().truncate(),
            ratio: self.float(),
        }
    }

    fn inner(&mut self) -> Inner {
        Inner {
            level: self.integer() as u8,
            speed: Speed(self.float32()),
        }
    }

    fn nested(&mut self) -> Nested {
        Nested {
            flat: self.flat(),
            inner: self.inner(),
            wrapped: Wrapped(self.inner()),
            meters: Meters(Speed(self.float32())),
            mixed: self.mixed(),
        }
    }
}

/// Random values of each type per VM.
const VALUES: usize = 1000;
/// Changed copies staged per value.
const MUTATIONS: u32 = 3;

/// Pushes `value` both ways, stages the safe path's Lua value onto `start`, then stages
/// changed copies of it; returns whether the unchanged value staged.
fn round_trip<T: Planned>(
    vm: &Vm,
    rng: &mut Rng,
    value: &T,
    start: &T,
    pushes: &mut Tally,
    sets: &mut Tally,
) -> Outcome {
    pushes.add(check_push(vm, value));
    let lua_value = to_lua(&vm.lua, value).expect("to_lua converts it");
    let outcome = check_set(vm, &lua_value, start, value);
    sets.add(outcome);
    for _ in 0..MUTATIONS {
        let seed = rng.next() as u32;
        let changed = vm.mutate(&lua_value, seed);
        sets.add(check_set(vm, &changed, start, &(seed, value)));
    }
    outcome
}

#[test]
fn random_values_stage_and_push_exactly_as_the_safe_path_or_give_up() {
    let mut rng = Rng::wide(0x5eed_5678);
    let (mut pushes, mut sets) = (Tally::default(), Tally::default());
    for vm in &vms() {
        for _ in 0..VALUES {
            let (nested, start) = (rng.nested(), rng.nested());
            let staged = round_trip(vm, &mut rng, &nested, &start, &mut pushes, &mut sets);
            if vm.main {
                assert_eq!(staged, Outcome::Same, "{nested:?}: a value to_lua made");
            }
            let (ints, start) = (rng.ints(), rng.ints());
            round_trip(vm, &mut rng, &ints, &start, &mut pushes, &mut sets);
            let (mixed, start) = (rng.mixed(), rng.mixed());
            round_trip(vm, &mut rng, &mixed, &start, &mut pushes, &mut sets);
        }
    }
    let values = 2 * 3 * VALUES;
    assert_eq!(pushes.same, values, "every value pushes: {pushes:?}");
    assert_eq!(sets.same + sets.gave_up, values * (1 + MUTATIONS as usize));
    assert!(sets.same >= 2 * VALUES, "{sets:?}");
    println!("pushes {pushes:?}, sets {sets:?}");
}

/// A chain of structs, each holding the next, twice as deep as the fast path goes.
macro_rules! chain {
    ($last:ident) => {
        #[derive(Reflect, Default, Debug, Clone, PartialEq)]
        struct $last {
            x: f32,
        }
    };
    ($first:ident $next:ident $($rest:ident)*) => {
        #[derive(Reflect, Default, Debug, Clone, PartialEq)]
        struct $first {
            next: $next,
        }
        chain!($next $($rest)*);
    };
}

chain!(L0 L1 L2 L3 L4 L5 L6 L7 L8 L9 L10 L11 L12 L13 L14 L15 L16);

/// Plans are cached by type, but a cached plan is used only where it stays within the depth
/// the fast path handles, so planning the deepest types first cannot make a plan deeper than
/// that.
#[test]
fn cached_plans_never_reach_past_the_depth_limit() {
    let vm = Vm::new(true);
    // Deepest first: each plan finds the next one cached.
    let ids = [
        vm.plan::<L16>(),
        vm.plan::<L15>(),
        vm.plan::<L14>(),
        vm.plan::<L13>(),
        vm.plan::<L12>(),
        vm.plan::<L11>(),
        vm.plan::<L10>(),
        vm.plan::<L9>(),
        vm.plan::<L8>(),
        vm.plan::<L7>(),
        vm.plan::<L6>(),
        vm.plan::<L5>(),
        vm.plan::<L4>(),
        vm.plan::<L3>(),
        vm.plan::<L2>(),
        vm.plan::<L1>(),
        vm.plan::<L0>(),
    ];
    /// How many struct (and newtype) levels the fast path goes down from plan `id`.
    fn depth(plans: &Plans, id: PlanId) -> usize {
        let plan = plans.get(id);
        match plan.shape {
            Shape::Leaf(_) | Shape::Opaque => 0,
            Shape::Newtype(inner) => 1 + depth(plans, inner),
            Shape::Struct => {
                1 + plan
                    .fields
                    .iter()
                    .map(|f| depth(plans, f.plan))
                    .max()
                    .unwrap_or(0)
            }
        }
    }
    let plans = vm.plans.borrow();
    for id in ids {
        assert!(depth(&plans, id) <= MAX_DEPTH, "{}", depth(&plans, id));
        assert_eq!(depth(&plans, id), plans.get(id).height);
    }
}
