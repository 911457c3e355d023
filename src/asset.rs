//! The [`LuauScript`] asset and its loader for `.lua` and `.luau` files.

use bevy_asset::io::Reader;
use bevy_asset::{Asset, AssetLoader, LoadContext};
use bevy_reflect::TypePath;
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
