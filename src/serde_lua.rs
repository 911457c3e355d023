//! Reading serde types from Lua tables by field name.
//!
//! mlua's deserializer reads a struct by walking every pair of the table (`next`), turning
//! each key into a string and matching it to a field. [`FieldDeserializer`] asks the table
//! for each field the struct declares instead (`rawget`), which is about twice as fast for the
//! small structs components usually are, and hands everything else to mlua's deserializer,
//! so values convert exactly as `lua.from_value` converts them.
//!
//! Like serde's own derive, keys that are not fields are ignored. A table that contains itself
//! through a struct field stops at [`MAX_DEPTH`] with an error instead of recursing forever.

use mlua::serde::Deserializer as MluaDeserializer;
use mlua::{Error, Table, Value};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

/// How deeply structs may nest inside one value.
pub(crate) const MAX_DEPTH: usize = 128;

/// Deserializes one Lua value; structs are read field by field.
pub(crate) struct FieldDeserializer {
    value: Value,
    depth: usize,
}

impl FieldDeserializer {
    /// A deserializer of `value`.
    pub(crate) fn new(value: Value) -> Self {
        Self { value, depth: 0 }
    }

    fn mlua(self) -> MluaDeserializer {
        MluaDeserializer::new(self.value)
    }
}

/// Hands the listed methods to mlua's deserializer unchanged.
macro_rules! to_mlua {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
                de::Deserializer::$method(self.mlua(), $($arg,)* visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for FieldDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // Scalars directly, as mlua does; tables and the rest through mlua.
        match self.value {
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Number(n) => visitor.visit_f64(n),
            value => de::Deserializer::deserialize_any(MluaDeserializer::new(value), visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Table(table) if self.depth < MAX_DEPTH => visitor.visit_map(Fields {
                table,
                fields,
                next: 0,
                value: None,
                depth: self.depth + 1,
            }),
            Value::Table(_) => Err(de::Error::custom(format!(
                "`{name}` is nested more than {MAX_DEPTH} deep (does a table contain itself?)"
            ))),
            value => MluaDeserializer::new(value).deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Nil => visitor.visit_none(),
            Value::LightUserData(ud) if ud.0.is_null() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.value {
            Value::UserData(_) => self.mlua().deserialize_newtype_struct(name, visitor),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    to_mlua! {
        deserialize_i8(), deserialize_i16(), deserialize_i32(), deserialize_i64(),
        deserialize_i128(), deserialize_u8(), deserialize_u16(), deserialize_u32(),
        deserialize_u64(), deserialize_u128(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(), deserialize_unit(),
        deserialize_seq(), deserialize_map(), deserialize_identifier(),
        deserialize_ignored_any(),
        deserialize_unit_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }
}

/// A struct's fields, read from a table one `rawget` each.
struct Fields {
    table: Table,
    fields: &'static [&'static str],
    next: usize,
    value: Option<Value>,
    depth: usize,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        while let Some(&field) = self.fields.get(self.next) {
            self.next += 1;
            let value: Value = self.table.raw_get(field)?;
            if !value.is_nil() {
                self.value = Some(value);
                return seed
                    .deserialize(IntoDeserializer::<Error>::into_deserializer(field))
                    .map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value was asked for before its key"))?;
        seed.deserialize(FieldDeserializer {
            value,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::LuaSerdeExt;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Health {
        current: f32,
        max: f32,
        #[serde(default)]
        regen: Option<f32>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Unit {
        name: String,
        health: Health,
        tags: Vec<String>,
        kind: Kind,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    enum Kind {
        Ranged { range: f32 },
        Melee,
    }

    #[derive(Deserialize, Debug)]
    #[expect(dead_code, reason = "only its shape matters")]
    struct Node {
        next: Option<Box<Node>>,
    }

    fn read<T: for<'de> Deserialize<'de>>(lua: &mlua::Lua, source: &str) -> Result<T, Error> {
        let value: Value = lua.load(source).eval()?;
        T::deserialize(FieldDeserializer::new(value))
    }

    #[test]
    fn structs_read_their_fields_and_ignore_other_keys() {
        let lua = mlua::Lua::new();
        let unit: Unit = read(
            &lua,
            "return {name = 'archer', health = {current = 3, max = 5, extra = true}, tags = {'a', 'b'}, kind = {Ranged = {range = 12.5}}}",
        )
        .expect("reads");
        assert_eq!(
            unit,
            Unit {
                name: "archer".into(),
                health: Health {
                    current: 3.0,
                    max: 5.0,
                    regen: None
                },
                tags: vec!["a".into(), "b".into()],
                kind: Kind::Ranged { range: 12.5 },
            }
        );
    }

    #[test]
    fn bad_values_give_the_same_errors_as_mlua() {
        let lua = mlua::Lua::new();
        let missing = read::<Health>(&lua, "return {current = 1}").expect_err("missing");
        assert!(
            missing.to_string().contains("missing field `max`"),
            "{missing}"
        );
        for source in [
            "return {current = 'x', max = 1}",
            "return 5",
            "return {current = {}, max = 1}",
        ] {
            let ours = read::<Health>(&lua, source).expect_err(source);
            let value: Value = lua.load(source).eval().expect("eval");
            let theirs = lua.from_value::<Health>(value).expect_err("mlua");
            assert_eq!(ours.to_string(), theirs.to_string(), "{source}");
        }
    }

    #[test]
    fn a_table_that_contains_itself_is_an_error_not_a_stack_overflow() {
        let lua = mlua::Lua::new();
        let error = read::<Node>(&lua, "local t = {} t.next = t return t").expect_err("cycle");
        assert!(error.to_string().contains("nested more than"), "{error}");
    }
}
