//! [`ScriptValue`], a dynamic value that crosses between Lua VMs and Rust.
//!
//! Scripts hand values to Rust (hook arguments, job results, events) and Rust hands them back,
//! sometimes to a different VM. A `ScriptValue` owns its data, so it outlives the VM it came
//! from, and it is `Serialize`/`Deserialize`, so it can be saved or sent anywhere.
//!
//! An [`Entity`](bevy_ecs::entity::Entity) travels through Lua as a light userdata whose pointer value is
//! [`Entity::to_bits`](bevy_ecs::entity::Entity::to_bits). Light userdata compare by value, so the same entity converted twice is
//! `==` in Lua and indexes the same table slot.

use std::collections::BTreeMap;
use std::fmt;

use bevy_ecs::entity::Entity;
use bevy_math::Vec3;
use mlua::{IntoLua, LightUserData, Lua, Value};
use serde::{Deserialize, Serialize};

mod from_lua;
pub(crate) mod size;

#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "bevy_luau stores an `Entity` (64 bits) in the pointer of a Lua light userdata, \
     so it needs a target with 64-bit pointers"
);

/// A dynamic value that scripts and Rust exchange.
///
/// Converting from Lua accepts `nil`, booleans, numbers, strings (invalid UTF-8 is replaced),
/// Luau vectors, entities, and tables that are either a sequence `1..n` or have only string
/// keys. Anything else (functions, threads, full userdata, buffers, other keys) is an error that
/// says what was rejected and where, and so is a value nested more than 64 tables deep (or one
/// that contains itself) or made of more than 2^20 values.
///
/// As in Lua, a [`Nil`](Self::Nil) inside a [`List`](Self::List) or [`Map`](Self::Map) does not
/// survive the trip into a Lua table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum ScriptValue {
    /// Lua `nil`.
    #[default]
    Nil,
    /// A Lua boolean.
    Bool(bool),
    /// A Lua number.
    Number(f64),
    /// A Lua string.
    String(String),
    /// A Luau `vector`.
    Vector(#[serde(with = "vec3_serde")] Vec3),
    /// An entity, which Lua sees as a light userdata. Serialized as [`Entity::to_bits`].
    Entity(#[serde(with = "entity_serde")] Entity),
    /// A Lua sequence `{a, b, c}`.
    List(Vec<ScriptValue>),
    /// A Lua table with string keys `{a = 1, b = 2}`.
    Map(BTreeMap<String, ScriptValue>),
}

impl ScriptValue {
    /// Returns `true` for [`Nil`](Self::Nil).
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }

    /// Returns the boolean, if this is a [`Bool`](Self::Bool). Lua's truthiness does not apply:
    /// `nil` and numbers are not booleans.
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// assert_eq!(ScriptValue::Bool(false).as_bool(), Some(false));
    /// assert_eq!(ScriptValue::Nil.as_bool(), None);
    /// assert_eq!(ScriptValue::Number(1.0).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// Returns the number, if this is a [`Number`](Self::Number). Lua has one number type, so
    /// Rust integers convert to numbers too; strings are not parsed.
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// assert_eq!(ScriptValue::from(3).as_number(), Some(3.0));
    /// assert_eq!(ScriptValue::from("3").as_number(), None);
    /// ```
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(value) => Some(*value),
            _ => None,
        }
    }

    /// Returns the string, if this is a [`String`](Self::String).
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// assert_eq!(ScriptValue::from("Ada").as_str(), Some("Ada"));
    /// assert_eq!(ScriptValue::from(7).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(value) => Some(value),
            _ => None,
        }
    }

    /// Returns the vector, if this is a [`Vector`](Self::Vector): a Luau `vector`, not a list of
    /// three numbers.
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// use bevy_math::Vec3;
    ///
    /// assert_eq!(ScriptValue::from(Vec3::Y).as_vector(), Some(Vec3::Y));
    /// let list = ScriptValue::List(vec![0.into(), 1.into(), 0.into()]);
    /// assert_eq!(list.as_vector(), None);
    /// ```
    pub fn as_vector(&self) -> Option<Vec3> {
        match self {
            Self::Vector(value) => Some(*value),
            _ => None,
        }
    }

    /// Returns the entity, if this is an [`Entity`](Self::Entity).
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// use bevy_ecs::world::World;
    ///
    /// let entity = World::new().spawn_empty().id();
    /// // An entity comes back from Lua exactly.
    /// let lua = mlua::Lua::new();
    /// let back: ScriptValue = lua.load("return ...").call(ScriptValue::from(entity)).unwrap();
    /// assert_eq!(back.as_entity(), Some(entity));
    /// // Its index, as a number, is not an entity.
    /// assert_eq!(ScriptValue::from(entity.index_u32()).as_entity(), None);
    /// ```
    pub fn as_entity(&self) -> Option<Entity> {
        match self {
            Self::Entity(value) => Some(*value),
            _ => None,
        }
    }

    /// Returns the items, if this is a [`List`](Self::List): a Lua table that is a sequence.
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// let lua = mlua::Lua::new();
    /// let value: ScriptValue = lua.load("return {10, 20, 30}").eval().unwrap();
    /// let items = value.as_list().unwrap();
    /// assert_eq!(items.len(), 3);
    /// assert_eq!(items[2].as_number(), Some(30.0));
    /// assert_eq!(value.as_map(), None);
    /// ```
    pub fn as_list(&self) -> Option<&[ScriptValue]> {
        match self {
            Self::List(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the entries, if this is a [`Map`](Self::Map): a Lua table with string keys.
    ///
    /// ```
    /// # use bevy_luau::prelude::*;
    /// let lua = mlua::Lua::new();
    /// let value: ScriptValue = lua.load("return {name = 'Ada', hp = 10}").eval().unwrap();
    /// let entries = value.as_map().unwrap();
    /// assert_eq!(entries["name"].as_str(), Some("Ada"));
    /// assert_eq!(entries["hp"].as_number(), Some(10.0));
    /// assert_eq!(value.as_list(), None);
    /// ```
    pub fn as_map(&self) -> Option<&BTreeMap<String, ScriptValue>> {
        match self {
            Self::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Converts an entity into the light userdata that represents it in Lua.
pub(crate) fn entity_to_lua(entity: Entity) -> Value {
    // The `compile_error!` above guarantees that `usize` holds all 64 bits.
    let address = entity.to_bits() as usize;
    Value::LightUserData(LightUserData(std::ptr::without_provenance_mut(address)))
}

/// Reads an entity back from a Lua value made by [`entity_to_lua`].
///
/// Returns `None` for anything else, including light userdata whose bits are not an entity.
pub(crate) fn entity_from_lua(value: &Value) -> Option<Entity> {
    match value {
        Value::LightUserData(data) => entity_from_light_userdata(*data),
        _ => None,
    }
}

fn entity_from_light_userdata(data: LightUserData) -> Option<Entity> {
    Entity::try_from_bits(data.0.addr() as u64)
}

/// Gives every light userdata in `lua` a `__tostring` that prints `Entity(<index>v<generation>)`
/// and a `__type` that makes `typeof(e)` return `"Entity"`.
///
/// Light userdata that are not entities print as `lightuserdata(0x…)`, though `typeof` still
/// says `"Entity"` (Lua's `type` says `"userdata"` for all of them). The metatable is
/// read-only, so scripts cannot change it. Call this once per VM, before sandboxing it.
pub(crate) fn install_entity_metatable(lua: &Lua) -> mlua::Result<()> {
    let metatable = lua.create_table()?;
    let tostring = lua.create_function(|_, data: LightUserData| {
        Ok(match entity_from_light_userdata(data) {
            Some(entity) => format!("Entity({entity})"),
            None => format!("lightuserdata({:p})", data.0),
        })
    })?;
    metatable.raw_set("__tostring", tostring)?;
    metatable.raw_set("__type", "Entity")?;
    metatable.set_readonly(true);
    lua.set_type_metatable::<LightUserData>(Some(metatable));
    Ok(())
}

impl IntoLua for ScriptValue {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        Ok(match self {
            Self::Nil => Value::Nil,
            Self::Bool(value) => Value::Boolean(value),
            Self::Number(value) => Value::Number(value),
            Self::String(value) => Value::String(lua.create_string(&value)?),
            Self::Vector(value) => Value::Vector(mlua::Vector::new(value.x, value.y, value.z)),
            Self::Entity(entity) => entity_to_lua(entity),
            Self::List(items) => {
                let table = lua.create_table_with_capacity(items.len(), 0)?;
                for (index, item) in items.into_iter().enumerate() {
                    table.raw_set(index + 1, item)?;
                }
                Value::Table(table)
            }
            Self::Map(entries) => {
                let table = lua.create_table_with_capacity(0, entries.len())?;
                for (key, item) in entries {
                    table.raw_set(key, item)?;
                }
                Value::Table(table)
            }
        })
    }
}

/// Whether `key` can be written bare in Lua (`{key = 1}`, `t.key`).
pub(crate) fn is_identifier(key: &str) -> bool {
    const KEYWORDS: [&str; 21] = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ];
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&key)
}

/// Lua-like and compact: `{a = 1, b = "x"}`, `{1, 2}`, `vector(1, 2, 3)`, `Entity(5v0)`.
impl fmt::Display for ScriptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nil => f.write_str("nil"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Number(value) => write!(f, "{value}"),
            Self::String(value) => write!(f, "{value:?}"),
            Self::Vector(value) => write!(f, "vector({}, {}, {})", value.x, value.y, value.z),
            Self::Entity(entity) => write!(f, "Entity({entity})"),
            Self::List(items) => {
                f.write_str("{")?;
                for (index, item) in items.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{item}")?;
                }
                f.write_str("}")
            }
            Self::Map(entries) => {
                f.write_str("{")?;
                for (index, (key, item)) in entries.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    if is_identifier(key) {
                        write!(f, "{separator}{key} = {item}")?;
                    } else {
                        write!(f, "{separator}[{key:?}] = {item}")?;
                    }
                }
                f.write_str("}")
            }
        }
    }
}

macro_rules! impl_from {
    ($($source:ty => |$value:ident| $make:expr;)*) => {
        $(
            impl From<$source> for ScriptValue {
                fn from($value: $source) -> Self {
                    $make
                }
            }
        )*
    };
}

impl_from! {
    bool => |value| Self::Bool(value);
    f64 => |value| Self::Number(value);
    f32 => |value| Self::Number(value.into());
    i32 => |value| Self::Number(value.into());
    u32 => |value| Self::Number(value.into());
    // Above 2^53 the nearest `f64` is stored, as Lua would.
    i64 => |value| Self::Number(value as f64);
    &str => |value| Self::String(value.to_owned());
    String => |value| Self::String(value);
    Vec3 => |value| Self::Vector(value);
    Entity => |value| Self::Entity(value);
    Vec<ScriptValue> => |value| Self::List(value);
    BTreeMap<String, ScriptValue> => |value| Self::Map(value);
}

/// Serializes a [`Vec3`] as `[x, y, z]`, independent of `bevy_math`'s `serialize` feature.
mod vec3_serde {
    use bevy_math::Vec3;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Vec3, serializer: S) -> Result<S::Ok, S::Error> {
        value.to_array().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec3, D::Error> {
        <[f32; 3]>::deserialize(deserializer).map(Vec3::from_array)
    }
}

/// Serializes an [`Entity`] as [`Entity::to_bits`], like `bevy_ecs`'s `serialize` feature does.
mod entity_serde {
    use bevy_ecs::entity::Entity;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(
        value: &Entity,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.to_bits().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Entity, D::Error> {
        let bits = u64::deserialize(deserializer)?;
        Entity::try_from_bits(bits)
            .ok_or_else(|| D::Error::custom(format!("{bits} is not an entity")))
    }
}

#[cfg(test)]
mod tests {
    use bevy_ecs::entity::{EntityGeneration, EntityIndex};
    use mlua::FromLua;

    use super::*;

    fn high_entity() -> Entity {
        let index = EntityIndex::from_raw_u32(u32::MAX - 2).expect("index below u32::MAX");
        let generation = EntityGeneration::from_bits((1 << 21) + 12_345);
        Entity::from_index_and_generation(index, generation)
    }

    fn nested() -> ScriptValue {
        let inner = BTreeMap::from([
            ("name".to_owned(), ScriptValue::from("crate")),
            ("pos".to_owned(), Vec3::new(1.0, -2.5, 3.25).into()),
            ("owner".to_owned(), high_entity().into()),
        ]);
        ScriptValue::Map(BTreeMap::from([
            (
                "items".to_owned(),
                vec![1.into(), 2.5.into(), true.into()].into(),
            ),
            ("inner".to_owned(), inner.into()),
            ("empty".to_owned(), ScriptValue::List(Vec::new())),
        ]))
    }

    #[test]
    fn every_variant_round_trips_through_lua() -> mlua::Result<()> {
        let lua = Lua::new();
        let values = [
            ScriptValue::Nil,
            true.into(),
            false.into(),
            1.5.into(),
            3.into(),
            (-7_i64).into(),
            "héllo".into(),
            Vec3::new(0.5, 2.0, -4.0).into(),
            Entity::from_raw_u32(7).expect("valid index").into(),
            high_entity().into(),
            ScriptValue::List(Vec::new()),
            vec!["a".into(), "b".into()].into(),
            nested(),
        ];
        for value in values {
            lua.globals().set("v", value.clone())?;
            let back: ScriptValue = lua.load("return v").eval()?;
            assert_eq!(back, value);
        }
        Ok(())
    }

    #[test]
    fn high_entity_keeps_its_exact_bits() -> mlua::Result<()> {
        let lua = Lua::new();
        let entity = high_entity();
        let back = entity_from_lua(&entity_to_lua(entity));
        assert_eq!(back.map(Entity::to_bits), Some(entity.to_bits()));
        let max_generation = Entity::from_index_and_generation(
            EntityIndex::from_raw_u32(0).expect("index 0 is valid"),
            EntityGeneration::from_bits(u32::MAX),
        );
        lua.globals().set("e", ScriptValue::from(max_generation))?;
        let back: ScriptValue = lua.load("return e").eval()?;
        assert_eq!(back.as_entity(), Some(max_generation));
        Ok(())
    }

    #[test]
    fn same_entity_is_equal_and_same_table_key_in_lua() -> mlua::Result<()> {
        let lua = Lua::new();
        lua.globals().set("e1", ScriptValue::from(high_entity()))?;
        lua.globals().set("e2", entity_to_lua(high_entity()))?;
        let other = Entity::from_raw_u32(1).expect("valid index");
        lua.globals().set("other", ScriptValue::from(other))?;
        lua.load(
            r#"
            assert(e1 == e2)
            assert(e1 ~= other)
            local t = {}
            t[e1] = 1
            assert(t[e2] == 1)
            assert(t[other] == nil)
            "#,
        )
        .exec()
    }

    #[test]
    fn tostring_and_typeof_name_the_entity() -> mlua::Result<()> {
        let lua = Lua::new();
        install_entity_metatable(&lua)?;
        let entity = high_entity();
        lua.globals().set("e", ScriptValue::from(entity))?;
        lua.globals().set("null", Value::NULL)?;
        let text: String = lua.load("return tostring(e)").eval()?;
        assert_eq!(text, format!("Entity({entity})"));
        assert!(text.contains(&format!("{}v", entity.index())));
        let null: String = lua.load("return tostring(null)").eval()?;
        assert!(null.starts_with("lightuserdata(0x"), "{null}");
        lua.sandbox(true)?;
        lua.load(
            r#"
            assert(typeof(e) == "Entity")
            assert(string.find(tostring(e), "v", 1, true))
            assert(not pcall(function() getmetatable(e).__tostring = nil end))
            "#,
        )
        .exec()
    }

    #[test]
    fn unsupported_lua_values_are_rejected_with_their_reason() {
        let lua = Lua::new();
        let cases = [
            (
                "return {a = {{cb = print}}}",
                "cannot convert a function to a ScriptValue (at `a[1].cb`)",
            ),
            ("return {[true] = 1}", "key `true` is not allowed"),
            (
                "local t = {}; t.me = t; return t",
                "table nested too deeply (or contains a cycle)",
            ),
            ("return {[1] = 1, [3] = 3}", "sequence without holes"),
            (
                "local t = {1, 2, 3}; t[2] = nil; return t",
                "sequence without holes",
            ),
            ("return {1, a = 2}", "mixes sequence items with string keys"),
            ("return coroutine.create(print)", "cannot convert a thread"),
            ("return buffer.create(4)", "cannot convert a buffer"),
            (
                "local t = {1}; for _ = 1, 40 do t = {t, t} end; return t",
                "too large",
            ),
        ];
        for (code, expected) in cases {
            let message = match lua.load(code).eval::<ScriptValue>() {
                Ok(value) => panic!("`{code}` converted to {value}"),
                Err(error) => error.to_string(),
            };
            assert!(message.contains(expected), "`{code}` gave: {message}");
        }
        let error = ScriptValue::from_lua(Value::NULL, &lua).map_err(|e| e.to_string());
        assert!(error.is_err_and(|message| message.contains("is not an Entity")));
    }

    #[test]
    fn numbers_and_strings_convert_like_lua() -> mlua::Result<()> {
        let lua = Lua::new();
        let value: ScriptValue = lua
            .load(r#"return {3, 0.5, "\255ok", vector.create(1, 2, 3)}"#)
            .eval()?;
        let expected: ScriptValue = vec![
            3.into(),
            0.5.into(),
            "\u{FFFD}ok".into(),
            Vec3::new(1.0, 2.0, 3.0).into(),
        ]
        .into();
        assert_eq!(value, expected);
        assert_eq!(
            lua.load("return {}").eval::<ScriptValue>()?,
            ScriptValue::List(Vec::new())
        );
        Ok(())
    }

    #[test]
    fn nested_value_round_trips_through_ron() -> Result<(), Box<dyn std::error::Error>> {
        let value = nested();
        let text = ron::to_string(&value)?;
        assert_eq!(ron::from_str::<ScriptValue>(&text)?, value);
        assert!(ron::from_str::<ScriptValue>("Entity(0)").is_err());
        Ok(())
    }

    #[test]
    fn display_reads_like_lua() {
        let value = ScriptValue::Map(BTreeMap::from([
            ("a".to_owned(), 1.into()),
            ("b".to_owned(), "x".into()),
            ("my key".to_owned(), vec![1.into(), 2.5.into()].into()),
            ("end".to_owned(), ScriptValue::Nil),
        ]));
        assert_eq!(
            value.to_string(),
            r#"{a = 1, b = "x", ["end"] = nil, ["my key"] = {1, 2.5}}"#
        );
        let entity = Entity::from_raw_u32(5).expect("valid index");
        assert_eq!(
            ScriptValue::from(entity).to_string(),
            format!("Entity({entity})")
        );
    }

    #[test]
    fn accessors_match_their_variant() {
        assert!(ScriptValue::Nil.is_nil());
        assert_eq!(ScriptValue::from(true).as_bool(), Some(true));
        assert_eq!(ScriptValue::from(2_u32).as_number(), Some(2.0));
        assert_eq!(ScriptValue::from("s").as_str(), Some("s"));
        assert_eq!(ScriptValue::from(Vec3::X).as_vector(), Some(Vec3::X));
        assert_eq!(
            ScriptValue::from(high_entity()).as_entity(),
            Some(high_entity())
        );
        assert_eq!(
            ScriptValue::from(vec![ScriptValue::Nil])
                .as_list()
                .map(<[_]>::len),
            Some(1)
        );
        assert!(
            nested()
                .as_map()
                .is_some_and(|map| map.contains_key("inner"))
        );
        assert_eq!(ScriptValue::from(1.0).as_str(), None);
    }
}
