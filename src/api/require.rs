//! `require` and `loadstring`, limited to the asset folder and the calling script.
//!
//! ```lua
//! local util = require("./util")        -- util.luau or util.lua beside this script
//! local ai = require("../shared/ai")     -- folders work; ai/init.luau is tried too
//! local f = loadstring("return 1 + 1")   -- source text only, never bytecode
//! ```
//! Paths are relative to the requiring file and may not lead above the asset folder. Each
//! script has its own module cache, so a module's state is never shared between two scripts,
//! and a hot reload of the script loads its modules afresh. Modules run in a global table of
//! their own; hooks and handlers they register belong to the requiring script.

use crate::api::function;
use crate::error::{ScriptErrorKind, lua_error};
use crate::runtime::context::Owner;
use bevy_asset::AssetServer;
use bevy_asset::io::{AssetReaderError, AssetSourceId};
use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::path::Path;
use std::sync::Arc;

/// Where `require` reads module files from: the default source of Bevy's asset server.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone)]
pub(crate) struct ModuleReader(pub AssetServer);

/// Builds the global table a module runs in: `(lua, owner, file, modules) -> env`. The main VM
/// and worker VMs give their modules different libraries.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
pub(crate) struct ModuleEnv(pub fn(&Lua, &Owner, &str, &Table) -> mlua::Result<Table>);

/// Module files required since the engine last looked, with the script version that required
/// them, so a change to a module can reload the scripts that use it.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct RequiredModules(pub Vec<(crate::runtime::context::ScriptId, String)>);

/// Per-script state of `require`, kept in a Lua table so the garbage collector sees it.
const DIR: &str = "dir";
const MODULES: &str = "modules";
const OWNER_ID: &str = "owner_id";
const OWNER_PATH: &str = "owner_path";

/// Creates the state table of a `require` bound to one file.
pub(crate) fn state(lua: &Lua, owner: &Owner, file: &str, modules: &Table) -> mlua::Result<Table> {
    let state = lua.create_table()?;
    state.raw_set(DIR, parent_dir(file))?;
    state.raw_set(MODULES, modules)?;
    state.raw_set(OWNER_ID, owner.id)?;
    state.raw_set(OWNER_PATH, &*owner.path)?;
    Ok(state)
}

/// The shared implementation of `require`: `(state, request) -> module`.
pub(crate) fn create_require(lua: &Lua) -> mlua::Result<Function> {
    function::create(lua, "require", |lua, (state, request): (Table, Value)| {
        let request: String = function::arg(lua, request, 1, "require")?;
        require(lua, &state, &request)
    })
}

/// The shared implementation of `loadstring`: `(env, source, chunkname?) -> function | nil, error`.
pub(crate) fn create_loadstring(lua: &Lua) -> mlua::Result<Function> {
    function::create(
        lua,
        "loadstring",
        |lua, (env, source, name): (Table, Value, Value)| {
            let source: String = function::arg(lua, source, 1, "loadstring")?;
            let name: Option<String> = function::arg(lua, name, 2, "loadstring")?;
            let name = name.unwrap_or_else(|| "=(loadstring)".to_owned());
            let loaded = lua
                .load(source)
                .set_name(name)
                .set_mode(ChunkMode::Text)
                .set_environment(env)
                .into_function();
            Ok(match loaded {
                Ok(function) => MultiValue::from_iter([Value::Function(function)]),
                Err(error) => MultiValue::from_iter([
                    Value::Nil,
                    Value::String(lua.create_string(error.to_string())?),
                ]),
            })
        },
    )
}

fn require(lua: &Lua, state: &Table, request: &str) -> mlua::Result<Value> {
    let fail = |error: RequireError| {
        lua_error(
            ScriptErrorKind::Runtime,
            format!("require(\"{request}\"): {error}"),
        )
    };
    let dir: String = state.raw_get(DIR)?;
    let path = resolve(&dir, request).map_err(fail)?;
    let modules: Table = state.raw_get(MODULES)?;
    // The cache is keyed by the resolved request (no file system probe on a hit) and by the
    // file found, so `./util` and `util.luau` share one module.
    if let Some(module) = cached(&modules, &path).map_err(fail)? {
        return Ok(module);
    }
    let (file, source) = find(lua, &path).map_err(fail)?;
    let owner = Owner {
        id: state.raw_get(OWNER_ID)?,
        path: Arc::from(state.raw_get::<String>(OWNER_PATH)?),
    };
    if let Some(mut required) = lua.app_data_mut::<RequiredModules>() {
        required.0.push((owner.id, file.clone()));
    }
    if let Some(module) = cached(&modules, &file).map_err(fail)? {
        modules.raw_set(path.as_str(), &module)?;
        return Ok(module);
    }
    // A marker while the module runs, so a cycle fails instead of recursing.
    let loading = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    modules.raw_set(file.as_str(), &loading)?;
    let build = lua
        .app_data_ref::<ModuleEnv>()
        .map(|b| b.0)
        .ok_or(RequireError::NoModules)
        .map_err(fail)?;
    let result = build(lua, &owner, &file, &modules).and_then(|module_env| {
        let chunk = lua
            .load(&*source)
            .set_name(format!("@{file}"))
            .set_mode(ChunkMode::Text)
            .set_environment(module_env)
            .into_function()?;
        crate::debug::chunk_loaded(lua, &file, &chunk, &source);
        crate::debug::call::<Value>(lua, &chunk, ())
    });
    let module = match result {
        Ok(Value::Nil) => Value::Boolean(true),
        Ok(module) => module,
        Err(error) => {
            modules.raw_set(file.as_str(), Value::Nil)?;
            return Err(error);
        }
    };
    modules.raw_set(file.as_str(), &module)?;
    modules.raw_set(path.as_str(), &module)?;
    Ok(module)
}

/// The cached module under `key`, or an error while that module is still loading.
fn cached(modules: &Table, key: &str) -> Result<Option<Value>, RequireError> {
    match modules.raw_get::<Value>(key) {
        Ok(Value::Nil) => Ok(None),
        Ok(Value::LightUserData(_)) => Err(RequireError::Cycle(key.to_owned())),
        Ok(module) => Ok(Some(module)),
        Err(error) => Err(RequireError::Lua(error.to_string())),
    }
}

/// Why `require` (or the console's `exec`) could not find or read a file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RequireError {
    #[error("the path is empty")]
    Empty,
    #[error("only relative paths with `/` are allowed")]
    NotRelative,
    #[error("aliases are not supported; use a path relative to this script")]
    Alias,
    #[error("the path leads outside the asset folder")]
    OutsideAssets,
    #[error("the path names no file")]
    NoFile,
    #[error("require needs Bevy's AssetPlugin")]
    NoAssetPlugin,
    #[error("this VM cannot load modules")]
    NoModules,
    #[error("no module at {}", .0.join(", "))]
    NotFound(Vec<String>),
    #[error("could not read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    #[error("`{0}` requires itself through a cycle")]
    Cycle(String),
    #[error("{0}")]
    Lua(String),
}

/// Resolves `request` against the folder `dir` of the requiring file, both relative to the
/// asset folder. Refuses absolute paths, aliases and any path that leads above the asset folder.
pub(crate) fn resolve(dir: &str, request: &str) -> Result<String, RequireError> {
    if request.is_empty() {
        return Err(RequireError::Empty);
    }
    if request.starts_with('/') || request.contains('\\') || request.contains(':') {
        return Err(RequireError::NotRelative);
    }
    if request.starts_with('@') {
        return Err(RequireError::Alias);
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in request.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(RequireError::OutsideAssets);
                }
            }
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return Err(RequireError::NoFile);
    }
    Ok(parts.join("/"))
}

fn parent_dir(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Finds the module file for a resolved path and reads it.
fn find(lua: &Lua, path: &str) -> Result<(String, String), RequireError> {
    let reader = lua
        .app_data_ref::<ModuleReader>()
        .map(|r| r.0.clone())
        .ok_or(RequireError::NoAssetPlugin)?;
    let candidates: Vec<String> = if path.ends_with(".luau") || path.ends_with(".lua") {
        vec![path.to_owned()]
    } else {
        ["{}.luau", "{}.lua", "{}/init.luau", "{}/init.lua"]
            .iter()
            .map(|pattern| pattern.replace("{}", path))
            .collect()
    };
    for candidate in &candidates {
        if let Some(source) = read(&reader, candidate)? {
            return Ok((candidate.clone(), source));
        }
    }
    Err(RequireError::NotFound(candidates))
}

/// Reads one file from the default asset source; `None` when it does not exist.
pub(crate) fn read(server: &AssetServer, path: &str) -> Result<Option<String>, RequireError> {
    let unreadable = |reason: String| RequireError::Unreadable {
        path: path.to_owned(),
        reason,
    };
    let source = server
        .get_source(AssetSourceId::Default)
        .map_err(|e| unreadable(e.to_string()))?;
    let reader = source.reader();
    bevy_tasks::block_on(async {
        let mut file = match reader.read(Path::new(path)).await {
            Ok(file) => file,
            Err(AssetReaderError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(unreadable(error.to_string())),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| RequireError::NotText(path.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn paths_resolve_against_the_requiring_folder() {
        assert_eq!(resolve("scripts", "./util").unwrap(), "scripts/util");
        assert_eq!(
            resolve("scripts/ai", "../shared/math").unwrap(),
            "scripts/shared/math"
        );
        assert_eq!(resolve("", "lib/x.luau").unwrap(), "lib/x.luau");
    }

    #[test]
    fn escaping_the_asset_folder_is_refused() {
        use super::RequireError::*;
        let refused = |dir, request| resolve(dir, request).unwrap_err();
        assert_eq!(refused("scripts", "../../secret"), OutsideAssets);
        assert_eq!(refused("", "../x"), OutsideAssets);
        assert_eq!(refused("scripts", "/etc/passwd"), NotRelative);
        assert_eq!(refused("scripts", "C:/x"), NotRelative);
        assert_eq!(refused("scripts", "..\\x"), NotRelative);
        assert_eq!(refused("scripts", "@game/x"), Alias);
        assert_eq!(refused("scripts", ""), Empty);
        assert_eq!(refused("scripts", ".."), NoFile);
        assert_eq!(
            OutsideAssets.to_string(),
            "the path leads outside the asset folder"
        );
    }
}
