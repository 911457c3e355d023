//! The [`LuauScript`] asset, its loader for `.lua` and `.luau` files, and the [`Script`]
//! component that attaches one to an entity.

use bevy_asset::io::Reader;
use bevy_asset::{Asset, AssetLoader, Handle, LoadContext};
use bevy_ecs::component::Component;
use bevy_ecs::entity::Entity;
use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::reflect::ReflectComponent;
use bevy_ecs::resource::Resource;
use bevy_ecs::world::DeferredWorld;
use bevy_reflect::std_traits::ReflectDefault;
use bevy_reflect::{Reflect, TypePath};
use std::sync::Arc;

/// The source of a `.lua` or `.luau` file, loaded through Bevy's asset server.
///
/// Scripts hot-reload: when the file changes on disk (with the `hot-reload` feature), the asset
/// is modified and [`ScriptEngine`](crate::ScriptEngine) reloads every script made from it.
#[derive(Asset, TypePath, Debug, Clone)]
pub struct LuauScript {
    /// The asset path the script was loaded from, as scripts see it in errors and logs.
    pub path: Arc<str>,
    /// The Luau source text.
    pub source: Arc<str>,
}

impl LuauScript {
    /// Creates a script from its path and source, e.g. to add one to `Assets<LuauScript>` by hand.
    pub fn new(path: impl Into<Arc<str>>, source: impl Into<Arc<str>>) -> Self {
        Self {
            path: path.into(),
            source: source.into(),
        }
    }
}

/// Written when a version of a global or entity script has compiled and run: once when the script
/// first loads, then after every hot reload that took over.
///
/// A version that fails to load writes a [`ScriptError`](crate::ScriptError) instead (and the
/// previous version stays active), so a game's status line can show the error until the next
/// `ScriptLoaded` for the same path clears it. Entity scripts write one per script asset, not
/// per entity. Worker scripts (`add_worker_script`) report their failures as errors and do not
/// write this message.
#[derive(bevy_ecs::message::Message, Debug, Clone, PartialEq, Eq)]
pub struct ScriptLoaded {
    /// The script's asset path (`scripts/enemy.luau`).
    pub path: String,
    /// Whether this version replaced one that was already running (a hot reload).
    pub reloaded: bool,
}

/// Loads [`LuauScript`]s from `.lua` and `.luau` files.
#[derive(Default, TypePath, Debug)]
pub struct LuauScriptLoader;

/// Why a script file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LuauScriptLoaderError {
    /// The file could not be read.
    #[error("could not read script: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not UTF-8 text.
    #[error("script is not valid UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

impl AssetLoader for LuauScriptLoader {
    type Asset = LuauScript;
    type Settings = ();
    type Error = LuauScriptLoaderError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<LuauScript, Self::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let source = String::from_utf8(bytes)?;
        Ok(LuauScript::new(load_context.path().to_string(), source))
    }

    fn extensions(&self) -> &[&str] {
        &["lua", "luau"]
    }
}

/// Attaches a [`LuauScript`] to an entity, which then gets its own instance of the script.
///
/// ```
/// # use bevy_asset::{AssetServer, Handle};
/// # use bevy_luau::{LuauScript, Script};
/// # fn spawn(commands: &mut bevy_ecs::system::Commands, server: &AssetServer) {
/// commands.spawn(Script::new(server.load("scripts/enemy.luau")));
/// # }
/// ```
#[derive(Component, Clone, Debug)]
#[component(on_insert = Script::inserted, on_remove = Script::removed)]
pub struct Script {
    handle: Handle<LuauScript>,
}

impl Script {
    /// Attaches the script behind `handle`.
    pub fn new(handle: Handle<LuauScript>) -> Self {
        Self { handle }
    }

    /// The script asset.
    pub fn handle(&self) -> &Handle<LuauScript> {
        &self.handle
    }

    fn inserted(mut world: DeferredWorld, context: HookContext) {
        if let Some(mut lifecycle) = world.get_resource_mut::<ScriptLifecycle>() {
            lifecycle.inserted.push(context.entity);
        }
    }

    fn removed(mut world: DeferredWorld, context: HookContext) {
        if let Some(mut lifecycle) = world.get_resource_mut::<ScriptLifecycle>() {
            lifecycle.removed.push(context.entity);
        }
    }
}

/// Runs the entity's [`Script`] as a Parallel Luau actor: its instance lives in one of the
/// plugin's actor VMs (`LuauScriptingPlugin::actors`), and its `on_update` runs in the parallel
/// phase of the step, at the same time as the other actor VMs', with read-only world access and
/// its writes queued (see the README's "Scripts on every core").
///
/// ```
/// # use bevy_asset::AssetServer;
/// # use bevy_luau::{Script, ScriptActor};
/// # fn spawn(commands: &mut bevy_ecs::system::Commands, server: &AssetServer) {
/// commands.spawn((Script::new(server.load("scripts/boid.luau")), ScriptActor));
/// # }
/// ```
///
/// From Lua: `ecs.spawn({ Script = "scripts/boid.luau", ScriptActor = {} })`.
///
/// Adding or removing it on an entity whose script runs re-creates the instance in the other
/// kind of VM (`on_despawn` in the old one, `on_spawn` in the new one): a `self` table cannot
/// move between VMs, so its fields start over.
#[derive(Component, Reflect, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[component(on_insert = ScriptActor::changed, on_remove = ScriptActor::changed)]
#[reflect(Component, Default, Debug, PartialEq)]
pub struct ScriptActor;

impl ScriptActor {
    /// Asks the next step to put the entity's instance, if it has a script, in the right VM.
    fn changed(mut world: DeferredWorld, context: HookContext) {
        if let Some(mut lifecycle) = world.get_resource_mut::<ScriptLifecycle>() {
            lifecycle.inserted.push(context.entity);
        }
    }
}

/// Entities whose [`Script`] was inserted or removed since the last step.
#[derive(Resource, Default)]
pub(crate) struct ScriptLifecycle {
    pub(crate) inserted: Vec<Entity>,
    pub(crate) removed: Vec<Entity>,
}
