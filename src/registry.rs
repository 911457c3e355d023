//! [`ScriptRegistry`]: which components, resources and messages Lua reaches by name, and how.
//!
//! Two backends, both by short type name (`Health`, `Score`, `Damage`):
//! - **serde**: `app.register_script_component::<T>()` (and `_resource`, `_message`) for types
//!   that implement `Serialize + DeserializeOwned`. Values cross through mlua's serde support.
//! - **reflection**: any component or resource registered in the `AppTypeRegistry` with
//!   `ReflectComponent` (`#[reflect(Component)]`, or `#[reflect(Resource)]` for resources) is
//!   found without registration. Values cross through the crate's reflection bridge, so
//!   entities stay exact and `Vec3` fields are native vectors.
//!
//! A serde registration wins over a reflected type with the same short name.

use crate::error::{ScriptErrorKind, lua_error};
use crate::ffi::Stack;
use bevy_ecs::component::{Component, ComponentId, Mutable};
use bevy_ecs::entity::Entity;
use bevy_ecs::message::{Message, MessageCursor, Messages};
use bevy_ecs::reflect::{AppTypeRegistry, ReflectComponent, ReflectResource};
use bevy_ecs::resource::Resource;
use bevy_ecs::world::EntityRef;
use bevy_ecs::world::World;
use bevy_reflect::{Reflect, ReflectFromPtr, ReflectFromReflect, TypeInfo, TypeRegistration};
use mlua::{Lua, LuaSerdeExt, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::TypeId;
use std::collections::HashMap;
use std::ffi::c_int;
use std::fmt::Display;
use std::sync::Arc;

/// The components, resources and messages registered for Lua by name.
///
/// Filled by [`ScriptingAppExt`](crate::ScriptingAppExt); reflected types join on first use.
#[derive(Resource, Default)]
pub struct ScriptRegistry {
    components: HashMap<String, Access>,
    resources: HashMap<String, Access>,
    messages: HashMap<String, Arc<MessageAccess>>,
    /// Event names looked at by [`ScriptRegistry::message_hint`].
    hinted: std::collections::HashSet<String>,
}

impl std::fmt::Debug for ScriptRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn sorted<V>(map: &HashMap<String, V>) -> Vec<&String> {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            names
        }
        f.debug_struct("ScriptRegistry")
            .field("components", &sorted(&self.components))
            .field("resources", &sorted(&self.resources))
            .field("messages", &sorted(&self.messages))
            .finish()
    }
}

impl ScriptRegistry {
    /// Registers a serde component under its short type name; registering it again is a no-op.
    pub fn register_component<T: Component<Mutability = Mutable> + Serialize + DeserializeOwned>(
        &mut self,
    ) {
        self.components
            .entry(short_name(std::any::type_name::<T>()))
            .or_insert_with(|| Access::Serde(SerdeAccess::component::<T>()));
    }

    /// Registers a serde resource under its short type name; registering it again is a no-op.
    pub fn register_resource<T: Resource + Serialize + DeserializeOwned>(&mut self) {
        self.resources
            .entry(short_name(std::any::type_name::<T>()))
            .or_insert_with(|| Access::Serde(SerdeAccess::resource::<T>()));
    }

    /// Registers a serde message under its short type name; registering it again is a no-op.
    pub fn register_message<T: Message + Serialize + DeserializeOwned>(&mut self) {
        self.messages
            .entry(short_name(std::any::type_name::<T>()))
            .or_insert_with(|| Arc::new(MessageAccess::of::<T>()));
    }

    /// The names of every serde-registered component, sorted.
    pub fn component_names(&self) -> Vec<&str> {
        sorted(self.components.keys())
    }

    /// The names of every serde-registered resource, sorted.
    pub fn resource_names(&self) -> Vec<&str> {
        sorted(self.resources.keys())
    }

    /// The names of every registered message, sorted.
    pub fn message_names(&self) -> Vec<&str> {
        sorted(self.messages.keys())
    }

    pub(crate) fn message(&self, name: &str) -> Option<Arc<MessageAccess>> {
        self.messages.get(name).cloned()
    }

    /// For an event name that is not a registered message but looks like a mistyped one (a
    /// type name close to one), `"; did you mean `Damage`?"`, once per name: such an event goes
    /// out as a `ScriptEvent`, which no message reader sees.
    pub(crate) fn message_hint(&mut self, name: &str) -> Option<String> {
        let looks_like_a_type = name.starts_with(|c: char| c.is_ascii_uppercase());
        if !looks_like_a_type || self.messages.is_empty() || self.hinted.contains(name) {
            return None;
        }
        self.hinted.insert(name.to_owned());
        let close = crate::suggest::close_matches(name, self.messages.keys().map(String::as_str));
        (!close.is_empty())
            .then(|| crate::suggest::did_you_mean(name, close.iter().map(String::as_str)))
    }

    pub(crate) fn message_count(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn messages(&self) -> impl Iterator<Item = (&String, &Arc<MessageAccess>)> {
        self.messages.iter()
    }

    /// The serde-registered components or resources, by name, with their Rust types.
    pub(crate) fn serde_types(&self, kind: Kind) -> impl Iterator<Item = (&str, TypeId)> {
        let table = match kind {
            Kind::Component => &self.components,
            Kind::Resource => &self.resources,
        };
        table.iter().filter_map(|(name, access)| match access {
            Access::Serde(serde) => Some((name.as_str(), serde.type_id)),
            Access::Reflect(_) => None,
        })
    }

    /// The registered messages, by name, with their Rust types.
    pub(crate) fn message_types(&self) -> impl Iterator<Item = (&str, TypeId)> {
        self.messages
            .iter()
            .map(|(name, access)| (name.as_str(), access.type_id))
    }
}

fn sorted<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.map(String::as_str).collect();
    names.sort_unstable();
    names
}

/// Whether a name stands for a component or a resource.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Component,
    Resource,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Component => "component",
            Kind::Resource => "resource",
        }
    }
}

/// Finds how to reach the component or resource `name`, from the serde registrations first,
/// then the reflected types. `function` names the caller in errors.
///
/// Reads the world only, so it works in the parallel phase too; nothing is cached here (a
/// reflected type is found by a walk over the type registry): the bridge keeps what each VM
/// looked up (`crate::bridge::names::lookup`).
pub(crate) fn lookup(
    world: &World,
    kind: Kind,
    name: &str,
    function: &str,
) -> mlua::Result<Access> {
    if name.len() > crate::suggest::MAX_NAME {
        return Err(lua_error(
            ScriptErrorKind::UnknownComponent,
            format!(
                "{function}: no {} named `{}`: names are at most {} bytes",
                kind.noun(),
                crate::suggest::shown(name),
                crate::suggest::MAX_NAME
            ),
        ));
    }
    let known = world.get_resource::<ScriptRegistry>().and_then(|registry| {
        let table = match kind {
            Kind::Component => &registry.components,
            Kind::Resource => &registry.resources,
        };
        table.get(name).cloned()
    });
    match known {
        Some(access) => Ok(access),
        None => find_reflected(world, kind, name, function),
    }
}

fn find_reflected(world: &World, kind: Kind, name: &str, function: &str) -> mlua::Result<Access> {
    let unknown = |detail: String| {
        lua_error(
            ScriptErrorKind::UnknownComponent,
            format!("{function}: no {} named `{name}`{detail}", kind.noun()),
        )
    };
    let Some(types) = world.get_resource::<AppTypeRegistry>() else {
        return Err(unknown(String::new()));
    };
    let types = types.read();
    let matches: Vec<&TypeRegistration> = types
        .iter()
        .filter(|r| r.type_info().type_path_table().short_path() == name)
        .filter(|r| is_reflected(r, kind))
        .collect();
    match matches.as_slice() {
        [registration] => {
            let (Some(component), Some(from_reflect)) = (
                registration.data::<ReflectComponent>(),
                registration.data::<ReflectFromReflect>(),
            ) else {
                return Err(unknown(
                    " that scripts can build (it needs `FromReflect`)".into(),
                ));
            };
            Ok(Access::Reflect(Arc::new(ReflectAccess {
                type_id: registration.type_id(),
                info: registration.type_info(),
                component: component.clone(),
                from_ptr: registration.data::<ReflectFromPtr>().cloned(),
                from_reflect: from_reflect.clone(),
            })))
        }
        [] => {
            let known = known_names(world, &types, kind);
            let close = crate::suggest::did_you_mean(name, known.iter().map(String::as_str));
            let fix = match kind {
                Kind::Component => {
                    "derive Reflect with #[reflect(Component)] (a generic type also needs \
                     `app.register_type::<T>()`), or register a serde component with \
                     `app.register_script_component::<T>()`"
                }
                Kind::Resource => {
                    "derive Reflect with #[reflect(Resource)] (a generic type also needs \
                     `app.register_type::<T>()`), or register a serde resource with \
                     `app.register_script_resource::<T>()`"
                }
            };
            Err(unknown(format!("{close} To reach a type from Lua, {fix}")))
        }
        several => {
            let paths: Vec<&str> = several.iter().map(|r| r.type_info().type_path()).collect();
            Err(unknown(format!(
                ": the name is ambiguous between {}; register one with serde",
                paths.join(", ")
            )))
        }
    }
}

/// Every name of `kind` that scripts reach: the serde registrations and the reflected types.
fn known_names(world: &World, types: &bevy_reflect::TypeRegistry, kind: Kind) -> Vec<String> {
    let mut names: Vec<String> = types
        .iter()
        .filter(|r| is_reflected(r, kind))
        .map(|r| r.type_info().type_path_table().short_path().to_owned())
        .collect();
    if let Some(registry) = world.get_resource::<ScriptRegistry>() {
        let table = match kind {
            Kind::Component => &registry.components,
            Kind::Resource => &registry.resources,
        };
        names.extend(table.keys().cloned());
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether a reflected type is a component (or a resource, for [`Kind::Resource`]) that Lua
/// may find by name; it also needs `ReflectFromReflect` for scripts to build it.
pub(crate) fn is_reflected(registration: &TypeRegistration, kind: Kind) -> bool {
    registration.data::<ReflectComponent>().is_some()
        && (kind == Kind::Resource) == registration.data::<ReflectResource>().is_some()
}

/// How one component or resource type crosses between Lua and the world. Cheap to clone: the
/// serde backend is a few function pointers, the reflection backend is shared.
#[derive(Clone)]
pub(crate) enum Access {
    Serde(SerdeAccess),
    Reflect(Arc<ReflectAccess>),
}

/// Names what a call is working on, for its error messages: "ecs.set: component `Health`".
/// Formatted only when an error needs it.
pub(crate) struct Subject<'a> {
    /// The Lua function (`ecs.set`).
    pub function: &'a str,
    /// `component`, `resource` or `message`.
    pub kind: &'static str,
    /// The short type name.
    pub name: &'a str,
}

impl Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} `{}`", self.function, self.kind, self.name)
    }
}

/// The serde backend: monomorphized functions for one type.
#[derive(Clone, Copy)]
pub(crate) struct SerdeAccess {
    get: fn(&Lua, &World, Entity) -> mlua::Result<Option<Value>>,
    /// Builds the value from Lua, ready to be written (to an entity, or as the resource).
    convert: fn(&Lua, Value, &dyn Display) -> mlua::Result<Converted>,
    remove: fn(&mut World, Entity) -> bool,
    /// The fast `ecs.get`: pushes the entity's component (or `nil`); `None` leaves the call to
    /// the safe path.
    pub push: for<'s> fn(Stack<'s>, EntityRef<'_>) -> Option<()>,
    /// The fast `ecs.set`: reads the component from stack index `index` and writes it; `None`
    /// (having changed nothing) leaves the call to the safe path.
    pub read: for<'s> fn(Stack<'s>, c_int, &mut World, Entity) -> Option<()>,
    /// The Rust type, for the type definitions (`crate::typedefs`).
    type_id: TypeId,
    /// The Rust type's name, for errors.
    type_name: &'static str,
}

/// The reflection backend.
pub(crate) struct ReflectAccess {
    type_id: TypeId,
    /// The type's info.
    pub info: &'static TypeInfo,
    /// Reads and writes it on entities.
    pub component: ReflectComponent,
    /// Casts a pointer to it into `dyn Reflect`, for reaching it by component id.
    pub from_ptr: Option<ReflectFromPtr>,
    from_reflect: ReflectFromReflect,
}

/// Options for values leaving Rust through serde: `None` and `()` become `nil`, not the
/// null light userdata (light userdata are entities in this crate).
fn serialize_options() -> mlua::serde::SerializeOptions {
    mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
        .set_array_metatable(false)
}

/// Converts a component, resource, message or [`Serde`](crate::Serde) value for Lua. A unit struct (a tag component) becomes
/// an empty table, so that having it never reads as `nil`.
pub(crate) fn serialize<T: Serialize>(lua: &Lua, value: &T) -> mlua::Result<Value> {
    match crate::vm::converting(lua, || lua.to_value_with(value, serialize_options()))? {
        Value::Nil => lua.create_table().map(Value::Table),
        value => Ok(value),
    }
}

/// Builds a value from Lua, naming `what` in the error.
fn from_lua<T: DeserializeOwned>(lua: &Lua, value: Value, what: &dyn Display) -> mlua::Result<T> {
    deserialize(lua, value)
        .map_err(|message| lua_error(ScriptErrorKind::TypeMismatch, format!("{what}: {message}")))
}

/// Builds a value from Lua through serde; the error says what did not fit. An empty table also
/// stands for a unit struct (`{}` for a tag).
pub(crate) fn deserialize<T: DeserializeOwned>(lua: &Lua, value: Value) -> Result<T, String> {
    // mlua's deserializer copies a string once for each place it appears: measure first.
    crate::value::size::measure(&value)?;
    // Only a unit struct (a zero-sized type) can stand for `{}`; for the rest, keeping the table
    // for the check would cost on every call.
    let table = match &value {
        Value::Table(t) if std::mem::size_of::<T>() == 0 => Some(t.clone()),
        _ => None,
    };
    crate::vm::converting(lua, || {
        T::deserialize(crate::serde_lua::FieldDeserializer::new(value))
    })
    .or_else(|error| {
        if table.is_some_and(|t| t.is_empty()) {
            lua.from_value(Value::Nil).map_err(|_| error)
        } else {
            Err(error)
        }
    })
    .map_err(|e| plain(&e))
}

/// An mlua serde error without its "deserialize error: " prefix.
pub(crate) fn plain(error: &mlua::Error) -> String {
    match error {
        mlua::Error::DeserializeError(message) | mlua::Error::SerializeError(message) => {
            message.clone()
        }
        other => other.to_string(),
    }
}

impl SerdeAccess {
    fn component<T: Component<Mutability = Mutable> + Serialize + DeserializeOwned>() -> Self {
        Self {
            get: |lua, world, entity| {
                let value = world.get_entity(entity).ok().and_then(|e| e.get::<T>());
                value.map(|v| serialize(lua, v)).transpose()
            },
            convert: |lua, value, what| {
                let component: T = from_lua(lua, value, what)?;
                Ok(Converted::Typed(
                    short_type_name::<T>(),
                    Box::new(move |world, entity| {
                        if let Ok(mut e) = world.get_entity_mut(entity) {
                            // Writing in place is far cheaper than an insert, and still marks it
                            // changed.
                            match e.get_mut::<T>() {
                                Some(mut existing) => *existing = component,
                                None => {
                                    e.insert(component);
                                }
                            }
                        }
                    }),
                ))
            },
            remove: |world, entity| {
                world
                    .get_entity_mut(entity)
                    .ok()
                    .and_then(|mut e| e.take::<T>())
                    .is_some()
            },
            push: |stack, entity| match entity.get::<T>() {
                Some(value) => crate::bridge::serde::push(stack, value).ok(),
                None => {
                    stack.push_nil();
                    Some(())
                }
            },
            read: |stack, index, world, entity| {
                let component: T = crate::bridge::serde::read(stack, index).ok()?;
                let mut entity = world.get_entity_mut(entity).ok()?;
                match entity.get_mut::<T>() {
                    Some(mut existing) => *existing = component,
                    None => {
                        entity.insert(component);
                    }
                }
                Some(())
            },
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }

    fn resource<T: Resource + Serialize + DeserializeOwned>() -> Self {
        Self {
            get: |lua, world, _| {
                world
                    .get_resource::<T>()
                    .map(|v| serialize(lua, v))
                    .transpose()
            },
            convert: |lua, value, what| {
                let resource: T = from_lua(lua, value, what)?;
                Ok(Converted::Typed(
                    short_type_name::<T>(),
                    Box::new(move |world, _| {
                        world.insert_resource(resource);
                    }),
                ))
            },
            remove: |world, _| world.remove_resource::<T>().is_some(),
            // Resources are not on the fast path.
            push: |_, _| None,
            read: |_, _, _, _| None,
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }
}

impl Access {
    /// The value on `entity` (ignored for serde resources), or `None` when it has none.
    pub fn get(&self, lua: &Lua, world: &World, entity: Entity) -> mlua::Result<Option<Value>> {
        match self {
            Access::Serde(s) => (s.get)(lua, world, entity),
            Access::Reflect(r) => {
                let Ok(entity) = world.get_entity(entity) else {
                    return Ok(None);
                };
                let value = r.component.reflect(entity);
                crate::vm::converting(lua, || {
                    value
                        .map(|v| crate::reflect::to_lua(lua, v.as_partial_reflect()))
                        .transpose()
                })
            }
        }
    }

    /// Builds the value from Lua, for [`Converted::write`] now or later (the parallel phase
    /// converts at the call, so a value that does not fit is an error there, and writes after
    /// the phase). Reads the world only. `what` names the call for errors.
    pub fn convert(
        &self,
        lua: &Lua,
        world: &World,
        value: Value,
        what: &dyn Display,
    ) -> mlua::Result<Converted> {
        match self {
            Access::Serde(s) => (s.convert)(lua, value, what),
            Access::Reflect(r) => {
                let types = type_registry(world, what)?.read();
                let dynamic = crate::vm::converting(lua, || {
                    crate::reflect::from_lua(lua, value, r.info, &types, &what.to_string())
                })?;
                let concrete = r.from_reflect.from_reflect(&*dynamic).ok_or_else(|| {
                    lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!("{what}: the value does not make a `{}`", r.info.type_path()),
                    )
                })?;
                Ok(Converted::Reflected(Arc::clone(r), concrete))
            }
        }
    }

    /// Removes the value from `entity`; returns whether it had one.
    pub fn remove(&self, world: &mut World, entity: Entity) -> bool {
        match self {
            Access::Serde(s) => (s.remove)(world, entity),
            Access::Reflect(r) => {
                let Ok(mut entity) = world.get_entity_mut(entity) else {
                    return false;
                };
                let had = r.component.contains(&entity);
                r.component.remove(&mut entity);
                had
            }
        }
    }

    /// The component id, when the world has registered the component (no entity has it
    /// before).
    pub fn id(&self, world: &World) -> Option<ComponentId> {
        let type_id = match self {
            Access::Serde(s) => s.type_id,
            Access::Reflect(r) => r.type_id,
        };
        world.components().get_valid_id(type_id)
    }

    /// The short name of the type, for errors.
    pub fn name(&self) -> String {
        match self {
            Access::Serde(s) => short_name(s.type_name),
            Access::Reflect(r) => r.info.type_path_table().short_path().to_owned(),
        }
    }

    /// The value of a resource, or `None` when the world has none.
    pub fn get_resource(&self, lua: &Lua, world: &World) -> mlua::Result<Option<Value>> {
        match self {
            Access::Serde(s) => (s.get)(lua, world, Entity::PLACEHOLDER),
            Access::Reflect(r) => match r.resource_entity(world) {
                Some(entity) => self.get(lua, world, entity),
                None => Ok(None),
            },
        }
    }

    /// Builds a resource value from Lua, for [`Converted::write_resource`] now or later; a
    /// reflected resource that does not exist is an error here (a serde resource is inserted
    /// when missing). Reads the world only.
    pub fn convert_resource(
        &self,
        lua: &Lua,
        world: &World,
        value: Value,
        what: &dyn Display,
    ) -> mlua::Result<Converted> {
        if let Access::Reflect(r) = self
            && r.resource_entity(world).is_none()
        {
            return Err(no_resource(what));
        }
        self.convert(lua, world, value, what)
    }
}

/// The error for a reflected resource that the world does not have.
fn no_resource(what: &dyn Display) -> mlua::Error {
    lua_error(
        ScriptErrorKind::UnknownComponent,
        format!("{what}: the resource does not exist; insert it from Rust first"),
    )
}

/// The type registry of `world`, which reflected values are built with.
fn type_registry<'w>(world: &'w World, what: &dyn Display) -> mlua::Result<&'w AppTypeRegistry> {
    world.get_resource::<AppTypeRegistry>().ok_or_else(|| {
        lua_error(
            ScriptErrorKind::MissingPlugin,
            format!("{what}: the world has no AppTypeRegistry"),
        )
    })
}

/// How a [`Converted::Typed`] value writes itself to an entity (a resource ignores it).
pub(crate) type TypedWrite = Box<dyn FnOnce(&mut World, Entity) + Send>;

/// A component or resource value built from Lua and not yet written: the main VM writes it at
/// once, the parallel phase of actor VMs queues it (it is `Send`) and writes it after the phase.
pub(crate) enum Converted {
    /// A value that writes itself: a serde type, or a shorthand of the `ecs` library (`Name`,
    /// `Script`), with its type's name. A resource ignores the entity.
    Typed(&'static str, TypedWrite),
    /// A reflected value: written in place when the entity has the component and its type is
    /// written in place (as the fast path writes it), else inserted whole, which runs its hooks.
    Reflected(Arc<ReflectAccess>, Box<dyn Reflect>),
}

impl std::fmt::Debug for Converted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Converted::Typed(name, _) => f.debug_tuple("Converted::Typed").field(name).finish(),
            Converted::Reflected(_, value) => f
                .debug_tuple("Converted::Reflected")
                .field(&value.as_partial_reflect())
                .finish(),
        }
    }
}

impl Converted {
    /// The short name of the value's type, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Converted::Typed(name, _) => name,
            Converted::Reflected(r, _) => r.info.type_path_table().short_path(),
        }
    }

    /// Writes the value to `entity`; nothing when the entity does not exist. `what` names the
    /// call for errors.
    pub fn write(self, world: &mut World, entity: Entity, what: &dyn Display) -> mlua::Result<()> {
        match self {
            Converted::Typed(_, write) => {
                write(world, entity);
                Ok(())
            }
            Converted::Reflected(r, concrete) => {
                let types = type_registry(world, what)?.clone();
                let types = types.read();
                // An immutable component is inserted whole, which runs its hooks
                // (`ecs.spawn({ChildOf = parent})` builds a hierarchy).
                let mutable = !crate::reflect::is_immutable(world, &r.component);
                if let Ok(mut entity) = world.get_entity_mut(entity) {
                    // As the fast path writes it (see `writes_in_place`).
                    let in_place = mutable && crate::bridge::plan::writes_in_place(r.info);
                    // `reflect_mut` panics on an immutable component: only asked when mutable.
                    let existing = if in_place {
                        r.component.reflect_mut(&mut entity)
                    } else {
                        None
                    };
                    match existing {
                        Some(mut existing) => {
                            existing
                                .try_apply(concrete.as_partial_reflect())
                                .map_err(|e| {
                                    lua_error(ScriptErrorKind::TypeMismatch, format!("{what}: {e}"))
                                })?;
                        }
                        None => {
                            r.component
                                .insert(&mut entity, concrete.as_partial_reflect(), &types)
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes the value as its resource. `what` names the call for errors.
    pub fn write_resource(self, world: &mut World, what: &dyn Display) -> mlua::Result<()> {
        match &self {
            Converted::Typed(..) => self.write(world, Entity::PLACEHOLDER, what),
            Converted::Reflected(r, _) => match r.resource_entity(world) {
                Some(entity) => self.write(world, entity, what),
                None => Err(no_resource(what)),
            },
        }
    }
}

impl ReflectAccess {
    /// How a reflection plan reaches the type on an entity (see `crate::bridge::plan`).
    pub fn reach(&self) -> (&ReflectComponent, Option<&ReflectFromPtr>) {
        (&self.component, self.from_ptr.as_ref())
    }

    /// The entity that holds this resource, when the world has it.
    fn resource_entity(&self, world: &World) -> Option<Entity> {
        let id = world.components().get_valid_id(self.type_id)?;
        world.resource_entities().get(id)
    }
}

/// A message built from Lua and not yet written (`Send`, so the parallel phase can queue it):
/// writes itself, and returns `false` when the app has no queue for its type.
pub(crate) type MessageWrite = Box<dyn FnOnce(&mut World) -> bool + Send>;

/// How one registered message type crosses between Lua and Bevy's message queues.
pub(crate) struct MessageAccess {
    /// Builds a message from a Lua value; `what` names the call for errors.
    pub convert: fn(&Lua, Value, &dyn Display) -> mlua::Result<MessageWrite>,
    /// Creates a reader that starts at the messages written from now on.
    pub reader: fn(&World) -> Box<dyn MessageSource>,
    /// The Rust type, for the type definitions (`crate::typedefs`).
    pub type_id: TypeId,
}

/// Reads the new messages of one type as Lua values.
pub(crate) trait MessageSource: Send + Sync {
    /// Appends the messages written since the last read, converted to Lua.
    fn read(&mut self, lua: &Lua, world: &World, out: &mut Vec<mlua::Result<Value>>);

    /// Passes over the messages written since the last read, unread.
    fn skip(&mut self, world: &World);
}

struct TypedSource<T: Message>(MessageCursor<T>);

impl<T: Message + Serialize> MessageSource for TypedSource<T> {
    fn read(&mut self, lua: &Lua, world: &World, out: &mut Vec<mlua::Result<Value>>) {
        if let Some(messages) = world.get_resource::<Messages<T>>() {
            out.extend(self.0.read(messages).map(|m| serialize(lua, m)));
        }
    }

    fn skip(&mut self, world: &World) {
        if let Some(messages) = world.get_resource::<Messages<T>>() {
            self.0.clear(messages);
        }
    }
}

impl MessageAccess {
    /// The error of a message whose type the app has not added (its [`MessageWrite`] returned
    /// `false`); `what` names the call.
    pub fn not_added(what: &dyn Display) -> mlua::Error {
        lua_error(
            ScriptErrorKind::UnknownComponent,
            format!("{what}: the message type is registered for scripts but not added to the app"),
        )
    }

    fn of<T: Message + Serialize + DeserializeOwned>() -> Self {
        Self {
            convert: |lua, value, what| {
                let message: T = from_lua(lua, value, what)?;
                Ok(Box::new(move |world| {
                    world.write_message(message).is_some()
                }))
            },
            reader: |world| {
                let cursor = world
                    .get_resource::<Messages<T>>()
                    .map(Messages::get_cursor_current)
                    .unwrap_or_default();
                Box::new(TypedSource::<T>(cursor))
            },
            type_id: TypeId::of::<T>(),
        }
    }
}

/// The last segment of `T`'s path (`game::Health` is `Health`), for errors; generics keep
/// their paths.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let path = name.split('<').next().unwrap_or(name);
    match path.rfind("::") {
        Some(at) => &name[at + 2..],
        None => name,
    }
}

/// The short form of a Rust type name: module paths dropped, generics kept
/// (`game::Stats<game::Speed>` becomes `Stats<Speed>`), matching bevy_reflect's short paths.
pub(crate) fn short_name(type_name: &str) -> String {
    let mut short = String::with_capacity(type_name.len());
    let mut segment_start = 0;
    for (i, c) in type_name.char_indices() {
        if matches!(c, '<' | '>' | ',' | '(' | ')' | '[' | ']' | ';' | '&' | ' ') {
            push_last_segment(&mut short, &type_name[segment_start..i]);
            short.push(c);
            segment_start = i + c.len_utf8();
        }
    }
    push_last_segment(&mut short, &type_name[segment_start..]);
    short
}

fn push_last_segment(out: &mut String, path: &str) {
    out.push_str(path.rsplit("::").next().unwrap_or(path));
}

#[cfg(test)]
mod tests {
    use super::{ScriptRegistry, short_name};

    #[derive(bevy_ecs::message::Message, serde::Serialize, serde::Deserialize)]
    struct Damage {
        amount: f32,
    }

    #[test]
    fn a_mistyped_message_name_gets_a_hint_once() {
        let mut registry = ScriptRegistry::default();
        registry.register_message::<Damage>();
        assert_eq!(
            registry.message_hint("Damge").as_deref(),
            Some("; did you mean `Damage`?")
        );
        assert_eq!(registry.message_hint("Damge"), None, "once per name");
        assert_eq!(
            registry.message_hint("door_opened"),
            None,
            "not a type name"
        );
        assert_eq!(registry.message_hint("Teleport"), None, "close to nothing");
    }

    #[test]
    fn short_names_drop_module_paths_inside_generics() {
        assert_eq!(short_name("game::combat::Health"), "Health");
        assert_eq!(short_name("game::Stats<game::Speed>"), "Stats<Speed>");
        assert_eq!(short_name("a::Pair<b::X, (c::Y, u8)>"), "Pair<X, (Y, u8)>");
        assert_eq!(short_name("Plain"), "Plain");
    }
}
