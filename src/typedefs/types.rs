//! Luau types for Rust types: a small type syntax tree, and the mapping from `bevy_reflect`'s
//! [`TypeInfo`] to it, following the conversions of `crate::reflect` (reflected types) or
//! mlua's serde support (serde types).

use crate::value::is_identifier;
use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_math::{Vec2, Vec3, Vec3A};
use bevy_reflect::enums::VariantInfo;
use bevy_reflect::{NamedField, UnnamedField};
use bevy_reflect::{TypeInfo, TypeRegistry};
use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// A Luau type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// `any`.
    Any,
    /// A named type: `number`, `string`, `Entity`, an alias.
    Name(String),
    /// A string singleton, `"Idle"`.
    Literal(String),
    /// `T?`.
    Optional(Box<Ty>),
    /// `{T}`.
    List(Box<Ty>),
    /// `{[K]: V}`.
    Map(Box<Ty>, Box<Ty>),
    /// `{ a: A, b: B }`.
    Table(Vec<(String, Ty)>),
    /// `A | B`.
    Union(Vec<Ty>),
}

impl Ty {
    fn name(name: &str) -> Self {
        Self::Name(name.to_owned())
    }

    /// `T?`, without doubling the `?` or making `any?`.
    fn optional(self) -> Self {
        match self {
            Self::Any | Self::Optional(_) => self,
            other => Self::Optional(Box::new(other)),
        }
    }

    /// The type on one line.
    pub fn render(&self) -> String {
        match self {
            Self::Any => "any".to_owned(),
            Self::Name(name) => name.clone(),
            Self::Literal(text) => quote(text),
            Self::Optional(inner) => match **inner {
                Self::Union(_) => format!("({})?", inner.render()),
                _ => format!("{}?", inner.render()),
            },
            Self::List(item) => format!("{{{}}}", item.render()),
            Self::Map(key, value) => format!("{{[{}]: {}}}", key.render(), value.render()),
            Self::Table(fields) if fields.is_empty() => "{}".to_owned(),
            Self::Table(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(name, ty)| format!("{}: {}", key(name), ty.render()))
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
            Self::Union(types) => types.iter().map(Ty::render).collect::<Vec<_>>().join(" | "),
        }
    }

    /// The type as the right-hand side of a type alias: a table of fields one per line,
    /// indented by `indent` spaces, anything else as [`render`](Self::render) does.
    pub fn render_block(&self, indent: usize) -> String {
        match self {
            Self::Table(fields) if !fields.is_empty() => {
                let pad = " ".repeat(indent + 4);
                let mut out = String::from("{\n");
                for (name, ty) in fields {
                    out.push_str(&format!("{pad}{}: {},\n", key(name), ty.render()));
                }
                out.push_str(&" ".repeat(indent));
                out.push('}');
                out
            }
            other => other.render(),
        }
    }
}

/// A Luau string literal.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A property name of a table type: as it is, or `["quoted"]`.
pub(crate) fn key(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        format!("[{}]", quote(name))
    }
}

/// How values of a type reach Lua, which decides how some fields look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    /// Through `crate::reflect`: entities stay entities, `Vec3` is a `vector`, a `Duration`
    /// is a number of seconds.
    Reflect,
    /// Through mlua's serde support: an entity is its bits as a number, glam vectors are
    /// lists of numbers, a `Duration` is `{secs, nanos}`.
    Serde,
}

/// A named type to define: its alias, and how to describe it.
pub(crate) struct Pending {
    pub alias: String,
    pub info: &'static TypeInfo,
    pub mode: Mode,
}

/// Gives Rust types Luau names and turns their [`TypeInfo`] into [`Ty`]s.
///
/// Structs and enums met inside fields get aliases of their own, so a type that contains
/// itself stays finite; [`Namer::define_pending`] defines them.
pub(crate) struct Namer<'r> {
    registry: Option<&'r TypeRegistry>,
    taken: BTreeSet<String>,
    aliases: HashMap<(TypeId, Mode), String>,
    pending: Vec<Pending>,
}

impl<'r> Namer<'r> {
    /// A namer that looks up field types in `registry` and never hands out a name of `taken`.
    pub fn new(registry: Option<&'r TypeRegistry>, taken: &[&str]) -> Self {
        let mut names: BTreeSet<String> = BUILTIN_TYPES.iter().map(|s| (*s).to_owned()).collect();
        names.extend(taken.iter().map(|s| (*s).to_owned()));
        Self {
            registry,
            taken: names,
            aliases: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// The reflected type info of `id`, when the type registry knows it.
    pub fn info(&self, id: TypeId) -> Option<&'static TypeInfo> {
        self.registry.and_then(|r| r.get_type_info(id))
    }

    /// A free alias built from `name` (`Stats<Speed>` gives `Stats_Speed`); `suffix` is tried
    /// before numbers when the plain name is taken.
    pub fn claim(&mut self, name: &str, suffix: &str) -> String {
        let base = sanitize(name);
        let mut candidates = vec![base.clone(), format!("{base}_{suffix}")];
        candidates.extend((2..).map(|n| format!("{base}_{n}")).take(1000));
        let alias = candidates
            .into_iter()
            .find(|c| !self.taken.contains(c))
            .unwrap_or_else(|| format!("{base}_{}", self.taken.len()));
        self.taken.insert(alias.clone());
        alias
    }

    /// Records that `id` is known in Lua as `alias` when it reaches Lua in `mode`.
    pub fn bind(&mut self, id: TypeId, mode: Mode, alias: &str) {
        self.aliases.insert((id, mode), alias.to_owned());
    }

    /// Defines the named types met so far, and those met while defining them, in that order.
    pub fn define_pending(&mut self) -> Vec<(Pending, Ty)> {
        let mut defined = Vec::new();
        while !self.pending.is_empty() {
            for pending in std::mem::take(&mut self.pending) {
                let ty = self.shape(pending.info, pending.mode);
                defined.push((pending, ty));
            }
        }
        defined
    }

    /// The definition of a named type: a struct's fields, an enum's variants, or what the
    /// type converts to for anything else.
    pub fn shape(&mut self, info: &'static TypeInfo, mode: Mode) -> Ty {
        match info {
            TypeInfo::Struct(info) => Ty::Table(
                info.iter()
                    .map(|field| {
                        let info = field.type_info().or_else(|| self.info(field.type_id()));
                        (
                            field.name().to_owned(),
                            self.of(field.type_id(), info, mode),
                        )
                    })
                    .collect(),
            ),
            TypeInfo::Enum(info) if !is_option(info.type_path_table().path()) => {
                let variants = info
                    .iter()
                    .map(|variant| self.variant(variant, mode))
                    .collect::<Vec<_>>();
                match variants.len() {
                    0 => Ty::Any,
                    1 => variants.into_iter().next().unwrap_or(Ty::Any),
                    _ => Ty::Union(variants),
                }
            }
            other => self.convert(other, mode),
        }
    }

    /// The type of a value of type `id`, described by `info` or else by the type registry.
    pub fn of(&mut self, id: TypeId, info: Option<&'static TypeInfo>, mode: Mode) -> Ty {
        if let Some(leaf) = leaf(id, mode) {
            return leaf;
        }
        match info.or_else(|| self.info(id)) {
            Some(info) => self.convert(info, mode),
            None => Ty::Any,
        }
    }

    /// A table of named fields (a struct, or a struct variant).
    fn fields<'f>(&mut self, fields: impl Iterator<Item = &'f NamedField>, mode: Mode) -> Ty {
        Ty::Table(
            fields
                .map(|f| {
                    (
                        f.name().to_owned(),
                        self.of(f.type_id(), f.type_info(), mode),
                    )
                })
                .collect(),
        )
    }

    /// Unnamed fields (a tuple, a tuple struct or variant): what the only one is, or a list.
    fn unnamed<'f>(&mut self, fields: impl Iterator<Item = &'f UnnamedField>, mode: Mode) -> Ty {
        let types: Vec<Ty> = fields
            .map(|f| self.of(f.type_id(), f.type_info(), mode))
            .collect();
        match types.as_slice() {
            [only] => only.clone(),
            [first, rest @ ..] if rest.iter().all(|t| t == first) => {
                Ty::List(Box::new(first.clone()))
            }
            _ => Ty::List(Box::new(Ty::Any)),
        }
    }

    fn convert(&mut self, info: &'static TypeInfo, mode: Mode) -> Ty {
        if let Some(leaf) = leaf(info.type_id(), mode) {
            return leaf;
        }
        if mode == Mode::Serde && info.type_path().starts_with("glam::") {
            return Ty::List(Box::new(Ty::name("number")));
        }
        match info {
            TypeInfo::Struct(_) => self.named(info, mode),
            TypeInfo::Enum(enum_info) => {
                if !is_option(enum_info.type_path_table().path()) {
                    return self.named(info, mode);
                }
                match enum_info.variant("Some") {
                    Some(VariantInfo::Tuple(some)) => self.unnamed(some.iter(), mode).optional(),
                    _ => Ty::Any,
                }
            }
            TypeInfo::TupleStruct(tuple) => self.unnamed(tuple.iter(), mode),
            // Unlike a newtype, a tuple of one is still a list.
            TypeInfo::Tuple(tuple) => match self.unnamed(tuple.iter(), mode) {
                list @ Ty::List(_) if tuple.field_len() != 1 => list,
                one => Ty::List(Box::new(one)),
            },
            TypeInfo::List(list) => Ty::List(Box::new(self.of(
                list.item_ty().id(),
                list.item_info(),
                mode,
            ))),
            TypeInfo::Array(array) => Ty::List(Box::new(self.of(
                array.item_ty().id(),
                array.item_info(),
                mode,
            ))),
            TypeInfo::Set(set) => Ty::List(Box::new(self.of(set.value_ty().id(), None, mode))),
            TypeInfo::Map(map) => {
                let key = self.of(map.key_ty().id(), map.key_info(), mode);
                let value = self.of(map.value_ty().id(), map.value_info(), mode);
                Ty::Map(Box::new(key), Box::new(value))
            }
            TypeInfo::Opaque(_) => Ty::Any,
        }
    }

    /// The alias of a struct or enum, naming it (and queueing its definition) on first use.
    fn named(&mut self, info: &'static TypeInfo, mode: Mode) -> Ty {
        let key = (info.type_id(), mode);
        if let Some(alias) = self.aliases.get(&key) {
            return Ty::Name(alias.clone());
        }
        let suffix = match mode {
            Mode::Reflect => "Reflect",
            Mode::Serde => "Serde",
        };
        let alias = self.claim(info.type_path_table().short_path(), suffix);
        self.aliases.insert(key, alias.clone());
        self.pending.push(Pending {
            alias: alias.clone(),
            info,
            mode,
        });
        Ty::Name(alias)
    }

    /// One enum variant: its name (unit), or `{Name: payload}`.
    fn variant(&mut self, variant: &VariantInfo, mode: Mode) -> Ty {
        let payload = match variant {
            VariantInfo::Unit(unit) => return Ty::Literal(unit.name().to_owned()),
            VariantInfo::Tuple(tuple) => self.unnamed(tuple.iter(), mode),
            VariantInfo::Struct(fields) => self.fields(fields.iter(), mode),
        };
        Ty::Table(vec![(variant.name().to_owned(), payload)])
    }
}

/// Type names Luau defines itself, never handed out as aliases.
const BUILTIN_TYPES: &[&str] = &[
    "any", "boolean", "buffer", "never", "nil", "number", "string", "thread", "unknown",
    "userdata", "vector", "typeof", "table", "function",
];

fn is_option(path: &str) -> bool {
    path.starts_with("core::option::Option<")
}

/// The types with a conversion of their own (see `crate::reflect` for reflected values).
fn leaf(id: TypeId, mode: Mode) -> Option<Ty> {
    let is = |ids: &[TypeId]| ids.contains(&id);
    let numbers = [
        TypeId::of::<f32>(),
        TypeId::of::<f64>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<i128>(),
        TypeId::of::<isize>(),
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<u128>(),
        TypeId::of::<usize>(),
    ];
    let strings = [
        TypeId::of::<String>(),
        TypeId::of::<Cow<'static, str>>(),
        TypeId::of::<&'static str>(),
        TypeId::of::<char>(),
        TypeId::of::<Name>(),
    ];
    let vectors = [
        TypeId::of::<Vec3>(),
        TypeId::of::<Vec3A>(),
        TypeId::of::<Vec2>(),
    ];
    Some(if is(&numbers) {
        Ty::name("number")
    } else if id == TypeId::of::<bool>() {
        Ty::name("boolean")
    } else if is(&strings) {
        Ty::name("string")
    } else if id == TypeId::of::<Entity>() {
        match mode {
            Mode::Reflect => Ty::name("Entity"),
            Mode::Serde => Ty::name("number"),
        }
    } else if is(&vectors) {
        match mode {
            Mode::Reflect => Ty::name("vector"),
            Mode::Serde => Ty::List(Box::new(Ty::name("number"))),
        }
    } else if id == TypeId::of::<Duration>() {
        match mode {
            Mode::Reflect => Ty::name("number"),
            Mode::Serde => Ty::Table(vec![
                ("secs".to_owned(), Ty::name("number")),
                ("nanos".to_owned(), Ty::name("number")),
            ]),
        }
    } else {
        return None;
    })
}

/// A Luau identifier made from a Rust short type name: every run of other characters becomes
/// one `_` (`Stats<Speed>` gives `Stats_Speed`).
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_owned();
    match out.chars().next() {
        None => "Type".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("T{out}"),
        // Made of identifier characters, not starting with a digit: a keyword such as `end`.
        Some(_) if !is_identifier(&out) => format!("{out}_"),
        Some(_) => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_reflect::{Reflect, TypeRegistry, Typed};
    use std::collections::HashMap;

    #[derive(Reflect)]
    struct Inner {
        speed: f32,
    }

    #[derive(Reflect)]
    enum Mood {
        Idle,
        Walk(f32),
        Attack { target: Entity, damage: u32 },
    }

    #[derive(Reflect)]
    struct Everything {
        flag: bool,
        name: String,
        target: Entity,
        position: Vec3,
        maybe: Option<u8>,
        list: Vec<Option<Inner>>,
        map: HashMap<String, f64>,
        pair: (u8, String),
        mood: Mood,
        end: Duration,
    }

    #[derive(Reflect)]
    struct Tree {
        children: Vec<Tree>,
    }

    fn shape_of<T: Typed>(mode: Mode) -> (String, Vec<(String, String)>) {
        let mut registry = TypeRegistry::new();
        registry.register::<Everything>();
        registry.register::<Tree>();
        let mut namer = Namer::new(Some(&registry), &["Entity"]);
        let alias = namer.claim(T::type_info().type_path_table().short_path(), "x");
        namer.bind(T::type_info().type_id(), mode, &alias);
        let shape = namer.shape(T::type_info(), mode).render();
        let helpers = namer
            .define_pending()
            .into_iter()
            .map(|(pending, ty)| (pending.alias, ty.render()))
            .collect();
        (shape, helpers)
    }

    #[test]
    fn reflected_fields_map_like_the_reflect_conversion() {
        let (shape, helpers) = shape_of::<Everything>(Mode::Reflect);
        assert_eq!(
            shape,
            "{ flag: boolean, name: string, target: Entity, position: vector, maybe: number?, \
             list: {Inner?}, map: {[string]: number}, pair: {any}, mood: Mood, [\"end\"]: number }"
        );
        assert_eq!(
            helpers,
            vec![
                ("Inner".to_owned(), "{ speed: number }".to_owned()),
                (
                    "Mood".to_owned(),
                    "\"Idle\" | { Walk: number } | { Attack: { target: Entity, damage: number } }"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn serde_mode_makes_entities_numbers_and_vectors_lists() {
        let (shape, _) = shape_of::<Everything>(Mode::Serde);
        assert!(shape.contains("target: number"), "{shape}");
        assert!(shape.contains("position: {number}"), "{shape}");
        assert!(
            shape.contains("[\"end\"]: { secs: number, nanos: number }"),
            "{shape}"
        );
    }

    #[test]
    fn a_type_that_contains_itself_refers_to_its_alias() {
        let (shape, helpers) = shape_of::<Tree>(Mode::Reflect);
        assert_eq!(shape, "{ children: {Tree} }");
        assert!(helpers.is_empty());
    }

    #[test]
    fn names_become_identifiers_without_clashes() {
        let mut namer = Namer::new(None, &["Entity"]);
        assert_eq!(namer.claim("Stats<Speed>", "Component"), "Stats_Speed");
        assert_eq!(namer.claim("Entity", "Component"), "Entity_Component");
        assert_eq!(namer.claim("Entity", "Component"), "Entity_2");
        assert_eq!(namer.claim("string", "Resource"), "string_Resource");
        assert_eq!(namer.claim("end", "Resource"), "end_");
        assert_eq!(key("end"), "[\"end\"]");
        assert_eq!(key("a-b"), "[\"a-b\"]");
        assert_eq!(key("ending"), "ending");
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
