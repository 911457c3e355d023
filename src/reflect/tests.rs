//! Round trips and bad input for the reflection bridge.

use std::collections::{HashMap, HashSet};

use bevy_ecs::component::Component;
use bevy_ecs::entity::{EntityGeneration, EntityIndex};
use bevy_ecs::reflect::ReflectComponent;
use bevy_ecs::world::World;
use bevy_math::Quat;
use bevy_reflect::{GetTypeRegistration, Reflect, Typed};

use std::any::TypeId;
use std::time::Duration;

use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_math::{Vec2, Vec3, Vec3A};
use bevy_reflect::{FromReflect, PartialReflect, TypeRegistry};
use mlua::{Lua, Value};

use super::{from_lua, to_lua};
use crate::error::ScriptError;
use crate::error::ScriptErrorKind;

/// A two-field component.
#[derive(Component, Reflect, Default, Debug, PartialEq, Clone)]
#[reflect(Component)]
struct Health {
    current: f32,
    max: f32,
}

/// Entities, alone and in a list.
#[derive(Component, Reflect, Debug, PartialEq)]
#[reflect(Component)]
struct Target {
    entity: Entity,
    others: Vec<Entity>,
}

/// The vector types, a quaternion and a duration.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Motion {
    velocity: Vec3,
    offset: Vec3A,
    facing: Vec2,
    rotation: Quat,
    cooldown: Duration,
}

/// Optional fields.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Loot {
    owner: Option<Entity>,
    bonus: Option<u32>,
    label: Option<String>,
}

/// Every kind of collection, a tuple and a `char`.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Inventory {
    items: Vec<String>,
    counts: HashMap<String, i32>,
    slots: [u8; 3],
    tags: HashSet<String>,
    owners: HashMap<Entity, u32>,
    names: HashMap<u32, String>,
    pair: (i32, String),
    letter: char,
    gaps: Vec<Option<u8>>,
}

/// Unit, tuple and struct variants.
#[derive(Reflect, Default, Debug, PartialEq)]
enum State {
    #[default]
    Idle,
    Walk(f32),
    Patrol(Vec3, Vec3),
    Attack {
        target: u32,
        damage: u32,
    },
}

/// A newtype.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Speed(f32);

/// A tuple struct with two fields.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Cell(i32, i32);

/// Structs, a newtype, an enum and a `Name` nested in a struct.
#[derive(Component, Reflect, Default, Debug, PartialEq)]
#[reflect(Component)]
struct Stats {
    health: Health,
    speed: Speed,
    state: State,
    cell: Cell,
    label: Name,
}

/// Integers of several widths and a float.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Numbers {
    small: u8,
    count: i32,
    big: u64,
    wide: i128,
    ratio: f64,
}

/// A recursive type, so that a table containing itself has somewhere to go.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Tree {
    children: Vec<Tree>,
}

/// A plain list.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Bag {
    items: Vec<u8>,
}

/// A map key that reflects neither `Hash` nor `PartialEq`.
#[derive(Reflect, Debug, PartialEq, Eq, Hash)]
struct Coord {
    x: i32,
    y: i32,
}

/// The same, reflecting both.
#[derive(Reflect, Debug, PartialEq, Eq, Hash)]
#[reflect(Hash, PartialEq)]
struct HashedCoord {
    x: i32,
    y: i32,
}

/// Maps keyed by structs.
#[derive(Reflect, Default, Debug, PartialEq)]
struct Grid {
    plain: HashMap<Coord, u32>,
    hashed: HashMap<HashedCoord, u32>,
}

/// A field of an opaque type.
#[derive(Reflect, Default, Debug)]
struct WithPath {
    path: std::path::PathBuf,
}

fn registry_of<T: GetTypeRegistration>() -> TypeRegistry {
    let mut registry = TypeRegistry::default();
    registry.register::<T>();
    registry
}

/// `to_lua`, then `from_lua`, then `FromReflect`.
fn round_trip<T: FromReflect + Typed + GetTypeRegistration>(value: &T) -> mlua::Result<T> {
    let lua = Lua::new();
    let registry = registry_of::<T>();
    let converted = to_lua(&lua, value)?;
    let back = from_lua(&lua, converted, T::type_info(), &registry, "test")?;
    T::from_reflect(&*back).ok_or_else(|| mlua::Error::runtime("FromReflect refused"))
}

/// Runs `check` in Lua with `v` set to the converted value; it must not raise.
fn check_in_lua(value: &dyn PartialReflect, check: &str) -> mlua::Result<()> {
    let lua = Lua::new();
    lua.globals().set("v", to_lua(&lua, value)?)?;
    lua.load(check).exec()
}

/// Evaluates `source` in Lua and reads the result as a `T`.
fn read<T: FromReflect + Typed + GetTypeRegistration>(source: &str) -> mlua::Result<T> {
    let lua = Lua::new();
    let registry = registry_of::<T>();
    let value: Value = lua.load(source).eval()?;
    let what = "ecs.set: component `T`";
    let back = from_lua(&lua, value, T::type_info(), &registry, what)?;
    Ok(T::from_reflect(&*back).expect("a value from_lua accepted makes a T"))
}

/// Reads `source` as a `T`, expecting a type mismatch; returns its message.
fn read_error<T: FromReflect + Typed + GetTypeRegistration + std::fmt::Debug>(
    source: &str,
) -> String {
    let error = read::<T>(source).expect_err("the value should be refused");
    let error = ScriptError::from_lua("test", &error, None);
    assert_eq!(
        error.kind,
        ScriptErrorKind::TypeMismatch,
        "{}",
        error.message
    );
    assert!(
        error.message.starts_with("ecs.set: component `T`: "),
        "{}",
        error.message
    );
    error.message
}

fn high_entity() -> Entity {
    let index = EntityIndex::from_raw_u32(u32::MAX - 2).expect("index below u32::MAX");
    let generation = EntityGeneration::from_bits((1 << 21) + 12_345);
    Entity::from_index_and_generation(index, generation)
}

#[test]
fn struct_round_trips_as_a_table_of_fields() -> mlua::Result<()> {
    let health = Health {
        current: 70.0,
        max: 100.5,
    };
    assert_eq!(round_trip(&health)?, health);
    check_in_lua(&health, "assert(v.current == 70 and v.max == 100.5)")
}

#[test]
fn entity_fields_keep_their_exact_bits() -> mlua::Result<()> {
    let target = Target {
        entity: high_entity(),
        others: vec![Entity::from_raw_u32(3).expect("valid index"), high_entity()],
    };
    let back = round_trip(&target)?;
    assert_eq!(back.entity.to_bits(), high_entity().to_bits());
    assert_eq!(back, target);
    check_in_lua(
        &target,
        "assert(v.entity == v.others[2] and type(v.entity) == 'userdata')",
    )
}

#[test]
fn vec3_is_a_luau_vector_and_quat_a_table() -> mlua::Result<()> {
    let motion = Motion {
        velocity: Vec3::new(1.0, -2.5, 3.25),
        offset: Vec3A::new(0.5, 0.0, -1.0),
        facing: Vec2::new(0.25, 4.0),
        rotation: Quat::from_xyzw(0.0, 0.6, 0.0, 0.8),
        cooldown: Duration::from_millis(1500),
    };
    assert_eq!(round_trip(&motion)?, motion);
    check_in_lua(
        &motion,
        r#"
        assert(typeof(v.velocity) == "vector" and v.velocity.y == -2.5)
        assert(typeof(v.offset) == "vector")
        assert(v.facing == vector.create(0.25, 4, 0))
        assert(type(v.rotation) == "table" and math.abs(v.rotation.w - 0.8) < 1e-6)
        assert(v.cooldown == 1.5)
        "#,
    )
}

#[test]
fn vectors_also_read_from_tables_of_fields() -> mlua::Result<()> {
    let motion: Motion = read(
        "{velocity = {x = 1, y = 2, z = 3}, offset = vector.create(1, 1, 1), \
          facing = {x = 5, y = 6}, rotation = {x = 0, y = 0, z = 0, w = 1}, cooldown = 0.25}",
    )?;
    assert_eq!(motion.velocity, Vec3::new(1.0, 2.0, 3.0));
    assert_eq!(motion.facing, Vec2::new(5.0, 6.0));
    assert_eq!(motion.rotation, Quat::IDENTITY);
    assert_eq!(motion.cooldown, Duration::from_millis(250));
    Ok(())
}

#[test]
fn options_are_nil_or_their_value_and_may_be_left_out() -> mlua::Result<()> {
    let full = Loot {
        owner: Some(high_entity()),
        bonus: Some(7),
        label: Some("gold".to_owned()),
    };
    assert_eq!(round_trip(&full)?, full);
    assert_eq!(round_trip(&Loot::default())?, Loot::default());
    check_in_lua(&Loot::default(), "assert(next(v) == nil)")?;
    assert_eq!(read::<Loot>("{bonus = 3}")?.bonus, Some(3));
    Ok(())
}

#[test]
fn collections_round_trip() -> mlua::Result<()> {
    let inventory = Inventory {
        items: vec!["sword".to_owned(), "shield".to_owned()],
        counts: HashMap::from([("arrows".to_owned(), 20), ("two words".to_owned(), -1)]),
        slots: [1, 2, 255],
        tags: HashSet::from(["rare".to_owned()]),
        owners: HashMap::from([(high_entity(), 5)]),
        names: HashMap::from([(1, "one".to_owned()), (40, "forty".to_owned())]),
        pair: (-3, "x".to_owned()),
        letter: 'é',
        gaps: vec![Some(1), None, Some(3)],
    };
    assert_eq!(round_trip(&inventory)?, inventory);
    check_in_lua(
        &inventory,
        r#"
        assert(#v.items == 2 and v.items[1] == "sword")
        assert(v.counts.arrows == 20 and v.counts["two words"] == -1)
        assert(v.names[40] == "forty" and v.pair[2] == "x" and v.letter == "é")
        for owner, count in v.owners do assert(type(owner) == "userdata" and count == 5) end
        "#,
    )
}

#[test]
fn enums_use_the_externally_tagged_form() -> mlua::Result<()> {
    let states = [
        (State::Idle, r#"assert(v == "Idle")"#),
        (State::Walk(2.5), "assert(v.Walk == 2.5)"),
        (
            State::Patrol(Vec3::X, Vec3::NEG_Z),
            "assert(v.Patrol[1] == vector.create(1, 0, 0) and #v.Patrol == 2)",
        ),
        (
            State::Attack {
                target: 4,
                damage: 12,
            },
            "assert(v.Attack.target == 4 and v.Attack.damage == 12)",
        ),
    ];
    for (state, check) in states {
        assert_eq!(round_trip(&state)?, state);
        check_in_lua(&state, check)?;
    }
    assert_eq!(read::<State>(r#""Idle""#)?, State::Idle);
    assert_eq!(read::<State>("{Walk = 1}")?, State::Walk(1.0));
    Ok(())
}

#[test]
fn newtypes_are_their_inner_value_and_tuple_structs_lists() -> mlua::Result<()> {
    assert_eq!(round_trip(&Speed(4.5))?, Speed(4.5));
    assert_eq!(round_trip(&Cell(-1, 9))?, Cell(-1, 9));
    check_in_lua(&Speed(4.5), "assert(v == 4.5)")?;
    check_in_lua(&Cell(-1, 9), "assert(v[1] == -1 and v[2] == 9)")
}

#[test]
fn nested_structs_round_trip() -> mlua::Result<()> {
    let stats = Stats {
        health: Health {
            current: 1.0,
            max: 2.0,
        },
        speed: Speed(3.0),
        state: State::Attack {
            target: 1,
            damage: 2,
        },
        cell: Cell(4, 5),
        label: Name::new("orc"),
    };
    assert_eq!(round_trip(&stats)?, stats);
    check_in_lua(
        &stats,
        r#"assert(v.health.max == 2 and v.speed == 3 and v.label == "orc")"#,
    )
}

#[test]
fn numbers_keep_their_values() -> mlua::Result<()> {
    let numbers = Numbers {
        small: 255,
        count: -2_000_000_000,
        big: (1 << 53) - 1,
        wide: -(1 << 60),
        ratio: f64::NAN,
    };
    let back = round_trip(&numbers)?;
    assert!(back.ratio.is_nan(), "NaN crosses unchanged");
    assert_eq!(
        Numbers { ratio: 0.0, ..back },
        Numbers {
            ratio: 0.0,
            ..numbers
        }
    );
    Ok(())
}

#[test]
fn dynamic_results_insert_as_components_directly() -> mlua::Result<()> {
    let lua = Lua::new();
    let registry = registry_of::<Stats>();
    let source = r#"{health = {current = 5, max = 9}, speed = 2, state = {Walk = 1.5},
                     cell = {1, 2}, label = "goblin"}"#;
    let value: Value = lua.load(source).eval()?;
    let dynamic = from_lua(&lua, value, Stats::type_info(), &registry, "test")?;
    let mut world = World::new();
    let entity = world.spawn_empty().id();
    let component = registry
        .get_type_data::<ReflectComponent>(TypeId::of::<Stats>())
        .expect("Stats reflects Component");
    component.insert(&mut world.entity_mut(entity), &*dynamic, &registry);
    let stats = world.get::<Stats>(entity).expect("inserted");
    assert_eq!(
        stats.health,
        Health {
            current: 5.0,
            max: 9.0
        }
    );
    assert_eq!(stats.state, State::Walk(1.5));
    assert_eq!(stats.label.as_str(), "goblin");
    Ok(())
}

#[test]
fn missing_field_is_an_error_naming_it() {
    let message = read_error::<Health>("{current = 70}");
    assert!(message.ends_with("missing field `max`"), "{message}");
}

#[test]
fn unknown_field_is_an_error_listing_the_fields() {
    let message = read_error::<Health>("{current = 70, max = 100, maxx = 1}");
    assert!(
        message.contains("unknown field `maxx`; fields are `current`, `max`"),
        "{message}"
    );
    let message = read_error::<Health>("{current = 70, maxx = 100}");
    assert!(
        message.contains("unknown field `maxx`"),
        "a typo explains: {message}"
    );
    let message = read_error::<Health>("{current = 70, max = 100, [1] = 5}");
    assert!(
        message.contains("unexpected key 1; fields are"),
        "{message}"
    );
}

#[test]
fn wrong_lua_type_names_field_and_value() {
    let message = read_error::<Health>(r#"{current = "x", max = 1}"#);
    assert!(
        message.contains(r#"field `current`: expected a number, got string "x""#),
        "{message}"
    );
    let message = read_error::<Health>("5");
    assert!(
        message.ends_with("expected a table, got number 5"),
        "{message}"
    );
}

#[test]
fn nested_errors_give_the_full_path() {
    let message = read_error::<Stats>(
        r#"{health = {current = 1, max = true}, speed = 1, state = "Idle", cell = {1, 2},
            label = "a"}"#,
    );
    assert!(
        message.contains("field `health.max`: expected a number, got boolean true"),
        "{message}"
    );
    let message = read_error::<Inventory>(
        r#"{items = {"a", 2}, counts = {}, slots = {1, 2, 3}, tags = {}, owners = {},
            names = {}, pair = {1, "x"}, letter = "a", gaps = {}}"#,
    );
    assert!(
        message.contains("field `items[2]`: expected a string"),
        "{message}"
    );
}

#[test]
fn fractional_number_into_an_integer_is_an_error() {
    let message = read_error::<Numbers>("{small = 1, count = 2.5, big = 1, wide = 1, ratio = 1}");
    assert!(
        message.contains("field `count`: 2.5 is not a whole number"),
        "{message}"
    );
}

#[test]
fn number_out_of_range_is_an_error() {
    let message = read_error::<Numbers>("{small = 300, count = 1, big = 1, wide = 1, ratio = 1}");
    assert!(
        message.contains("field `small`: 300 is out of range for u8"),
        "{message}"
    );
    let message = read_error::<Numbers>("{small = 1, count = 1, big = -1, wide = 1, ratio = 1}");
    assert!(message.contains("-1 is out of range for u64"), "{message}");
}

#[test]
fn unknown_variant_is_an_error_listing_the_variants() {
    let message = read_error::<State>(r#""Runn""#);
    assert!(
        message.contains("unknown variant `Runn`; variants are `Idle`, `Walk`, `Patrol`, `Attack`"),
        "{message}"
    );
    let message = read_error::<State>(r#""Walk""#);
    assert!(message.contains("variant `Walk` has fields"), "{message}");
    let message = read_error::<State>("{Walk = 1, Idle = 2}");
    assert!(message.contains("got a table with 2 keys"), "{message}");
}

#[test]
fn array_of_the_wrong_length_is_an_error() {
    let inventory = |slots: &str| {
        format!(
            r#"{{items = {{}}, counts = {{}}, slots = {slots}, tags = {{}}, owners = {{}},
                names = {{}}, pair = {{1, "x"}}, letter = "a", gaps = {{}}}}"#
        )
    };
    let message = read_error::<Inventory>(&inventory("{1, 2}"));
    assert!(
        message.contains("field `slots`: expected a list of 3 items, got 2"),
        "{message}"
    );
    let message = read_error::<Inventory>(&inventory("{1, 2, 3, 4}"));
    assert!(message.contains("expected a list of 3 items"), "{message}");
}

#[test]
fn list_with_a_hole_is_an_error() {
    let message = read_error::<Bag>("{items = {[1] = 1, [3] = 2}}");
    assert!(
        message.contains("field `items`: the list has a hole"),
        "{message}"
    );
    let message = read_error::<Bag>("{items = {1, 2, x = 3}}");
    assert!(
        message.contains("expected a list, got a table with key \"x\""),
        "{message}"
    );
}

#[test]
fn list_of_options_may_have_holes_but_not_a_huge_gap() -> mlua::Result<()> {
    let inventory = |gaps: &str| {
        format!(
            r#"{{items = {{}}, counts = {{}}, slots = {{1, 2, 3}}, tags = {{}}, owners = {{}},
                names = {{}}, pair = {{1, "x"}}, letter = "a", gaps = {gaps}}}"#
        )
    };
    let read_back = read::<Inventory>(&inventory("{[1] = 1, [3] = 3}"))?;
    assert_eq!(read_back.gaps, vec![Some(1), None, Some(3)]);
    let message = read_error::<Inventory>(&inventory("{[1000000] = 1}"));
    assert!(
        message.contains("field `gaps`: the list has too many holes"),
        "{message}"
    );
    Ok(())
}

#[test]
fn struct_map_keys_need_reflected_hash_and_never_panic() -> mlua::Result<()> {
    let grid = Grid {
        plain: HashMap::new(),
        hashed: HashMap::from([(HashedCoord { x: 1, y: -2 }, 7)]),
    };
    assert_eq!(round_trip(&grid)?, grid);
    let message = read_error::<Grid>("{plain = {[{x = 1, y = 2}] = 5}, hashed = {}}");
    assert!(
        message.contains("field `plain`: key table: type `Coord` cannot be a map key"),
        "{message}"
    );
    Ok(())
}

#[test]
fn table_that_contains_itself_stops_at_the_depth_limit() {
    let message = read_error::<Tree>(
        "(function() local t = {children = {}}; t.children[1] = t; return t end)()",
    );
    assert!(
        message.contains("nested more than 64 levels deep"),
        "{message}"
    );
}

#[test]
fn shared_tables_cannot_multiply_into_a_huge_value() {
    // 2^30 nodes if every reference were copied.
    let message = read_error::<Tree>(
        "(function() local t = {children = {}}
          for _ = 1, 30 do t = {children = {t, t}} end
          return t end)()",
    );
    assert!(message.contains("value too large"), "{message}");
}

#[test]
fn deeply_nested_rust_value_stops_at_the_depth_limit() {
    let mut tree = Tree::default();
    for _ in 0..100 {
        tree = Tree {
            children: vec![tree],
        };
    }
    let error = to_lua(&Lua::new(), &tree).expect_err("too deep");
    assert!(
        error
            .to_string()
            .contains("nested more than 64 levels deep"),
        "{error}"
    );
}

#[test]
fn opaque_types_cannot_cross() {
    let lua = Lua::new();
    let value = WithPath { path: "a/b".into() };
    let error = to_lua(&lua, &value).expect_err("PathBuf is opaque");
    let message = error.to_string();
    assert!(
        message.contains(
            "field `path`: type `PathBuf` cannot cross to Lua (it is opaque to reflection)"
        ),
        "{message}"
    );
    let message = read_error::<WithPath>(r#"{path = "a/b"}"#);
    assert!(
        message.contains("type `PathBuf` cannot cross from Lua"),
        "{message}"
    );
}
