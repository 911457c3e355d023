//! [`GameTemplate`]: a game described by a `game.toml` and a `scripts/` folder.
//!
//! ```toml
//! name = "mud"
//! version = "0.1.0"
//! description = "a multiplayer text adventure"
//! scripts = ["world.luau", "combat.luau"]   # under scripts/, in this order; empty: all, alphabetically
//! workers = ["workers/paths.luau"]           # worker scripts, under scripts/ too
//!
//! [cvars]
//! sv_port = 4000
//! tick_rate = 10.0
//! ```
//! `LuauScriptingPlugin { template: Some("games/mud".into()), .. }` loads the template from the
//! asset folder at startup, through the asset server, so every script hot-reloads; its CVars are
//! registered (or, when Rust registered them already, set). [`GameTemplate::load`] reads one from
//! the file system. A missing or malformed `game.toml`, a listed script that does not exist and
//! a script listed twice are [`ScriptErrorKind::Config`] errors with the file and line.

use crate::cvar::CVarValue;
use crate::error::{ScriptError, ScriptErrorKind};
use bevy_ecs::resource::Resource;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// A game: its scripts, worker scripts and CVar defaults.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct GameTemplate {
    /// The game's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it is.
    pub description: String,
    /// Global scripts, relative to the template folder (`scripts/world.luau`), in load order.
    pub scripts: Vec<String>,
    /// Worker scripts, relative to the template folder.
    pub workers: Vec<String>,
    /// CVar defaults from `[cvars]`, by name.
    pub cvars: BTreeMap<String, CVarValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    scripts: Vec<Spanned<String>>,
    #[serde(default)]
    workers: Vec<Spanned<String>>,
    #[serde(default)]
    cvars: BTreeMap<String, Spanned<toml::Value>>,
}

/// The name of the manifest file.
pub const MANIFEST: &str = "game.toml";

impl GameTemplate {
    /// Reads the template in folder `dir` from the file system.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ScriptError> {
        let dir = dir.as_ref();
        let manifest = dir.join(MANIFEST);
        let label = manifest.display().to_string();
        let text = std::fs::read_to_string(&manifest).map_err(|e| {
            ScriptError::new(
                &*label,
                ScriptErrorKind::Config,
                format!("could not read {label}: {e}"),
            )
        })?;
        let scripts_dir = dir.join("scripts");
        let listing = list_scripts(&scripts_dir);
        Self::parse(&text, &label, &listing)
    }

    /// Parses a `game.toml` (`label` names it in errors), given the script files found under
    /// its `scripts/` folder (paths relative to that folder, `/`-separated).
    pub fn parse(text: &str, label: &str, available: &[String]) -> Result<Self, ScriptError> {
        let manifest: Manifest = toml::from_str(text).map_err(|error| {
            let place = error
                .span()
                .map(|span| line_of(text, span.start))
                .map_or(String::new(), |line| format!(":{line}"));
            config(label, format!("{label}{place}: {}", error.message().trim()))
        })?;
        if manifest.name.trim().is_empty() {
            return Err(config(label, format!("{label}: `name` is empty")));
        }
        let check = |list: &[Spanned<String>], what: &str| -> Result<Vec<String>, ScriptError> {
            let mut seen: Vec<&str> = Vec::new();
            for entry in list {
                let line = line_of(text, entry.span().start);
                let path = entry.get_ref().as_str();
                if seen.contains(&path) {
                    return Err(config(
                        label,
                        format!("{label}:{line}: {what} `{path}` is listed twice"),
                    ));
                }
                if !available.iter().any(|a| a == path) {
                    return Err(config(
                        label,
                        format!("{label}:{line}: {what} `{path}` is not in scripts/"),
                    ));
                }
                seen.push(path);
            }
            Ok(seen.iter().map(|p| format!("scripts/{p}")).collect())
        };
        let mut scripts = check(&manifest.scripts, "script")?;
        let workers = check(&manifest.workers, "worker script")?;
        if manifest.scripts.is_empty() {
            // Every script at the top of scripts/, alphabetically; worker scripts are not game scripts.
            let mut all: Vec<&String> = available
                .iter()
                .filter(|p| !p.contains('/') && !manifest.workers.iter().any(|w| w.get_ref() == *p))
                .collect();
            all.sort();
            scripts = all.into_iter().map(|p| format!("scripts/{p}")).collect();
        }
        let mut cvars = BTreeMap::new();
        for (name, value) in manifest.cvars {
            let line = line_of(text, value.span().start);
            let value = match value.into_inner() {
                toml::Value::Boolean(b) => CVarValue::Bool(b),
                toml::Value::Integer(i) => CVarValue::Int(i),
                toml::Value::Float(f) => CVarValue::Float(f),
                toml::Value::String(s) => CVarValue::String(s),
                other => {
                    let message = format!(
                        "{label}:{line}: CVar `{name}` must be a bool, number or string, not {other}"
                    );
                    return Err(config(label, message));
                }
            };
            cvars.insert(name, value);
        }
        Ok(Self {
            name: manifest.name,
            version: manifest.version,
            description: manifest.description,
            scripts,
            workers,
            cvars,
        })
    }
}

/// Every `.lua` and `.luau` file under `dir`, relative to it, `/`-separated.
fn list_scripts(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if is_script(&path.to_string_lossy())
                && let Ok(relative) = path.strip_prefix(dir)
            {
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// Whether a file name is a script's.
pub(crate) fn is_script(name: &str) -> bool {
    name.ends_with(".luau") || name.ends_with(".lua")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn config(label: &str, message: String) -> ScriptError {
    ScriptError::new(label, ScriptErrorKind::Config, message)
}

/// Reads the template in folder `dir` of the asset folder through the asset server's default
/// source, so it works wherever the assets live.
pub(crate) fn load_from_assets(
    server: &bevy_asset::AssetServer,
    dir: &str,
) -> Result<GameTemplate, ScriptError> {
    let label = format!("{dir}/{MANIFEST}");
    let text = crate::api::require::read(server, &label)
        .map_err(|e| config(&label, e.to_string()))?
        .ok_or_else(|| config(&label, format!("there is no {label} in the asset folder")))?;
    let scripts_dir = format!("{dir}/scripts");
    let available = list_assets(server, &scripts_dir);
    GameTemplate::parse(&text, &label, &available)
}

/// Every script under asset folder `dir`, relative to it.
fn list_assets(server: &bevy_asset::AssetServer, dir: &str) -> Vec<String> {
    use bevy_tasks::futures_lite::StreamExt;
    let Ok(source) = server.get_source(bevy_asset::io::AssetSourceId::Default) else {
        return Vec::new();
    };
    let reader = source.reader();
    let root = Path::new(dir);
    bevy_tasks::block_on(async {
        let mut found = Vec::new();
        let mut folders = vec![root.to_path_buf()];
        while let Some(folder) = folders.pop() {
            let Ok(mut entries) = reader.read_directory(&folder).await else {
                continue;
            };
            while let Some(path) = entries.next().await {
                if reader.is_directory(&path).await.unwrap_or(false) {
                    folders.push(path);
                } else if is_script(&path.to_string_lossy())
                    && let Ok(relative) = path.strip_prefix(root)
                {
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<String> {
        ["b.luau", "a.lua", "workers/w.luau", "lib/util.luau"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn listed_scripts_keep_their_order() {
        let text = "name = \"g\"\nscripts = [\"b.luau\", \"a.lua\"]\nworkers = [\"workers/w.luau\"]\n[cvars]\nsv_port = 4000\nfast = true\n";
        let template = GameTemplate::parse(text, "game.toml", &files()).unwrap();
        assert_eq!(template.scripts, ["scripts/b.luau", "scripts/a.lua"]);
        assert_eq!(template.workers, ["scripts/workers/w.luau"]);
        assert_eq!(template.cvars["sv_port"], CVarValue::Int(4000));
        assert_eq!(template.cvars["fast"], CVarValue::Bool(true));
    }

    #[test]
    fn no_list_means_every_top_level_script_alphabetically() {
        let template = GameTemplate::parse("name = \"g\"", "game.toml", &files()).unwrap();
        assert_eq!(template.scripts, ["scripts/a.lua", "scripts/b.luau"]);
    }

    #[test]
    fn bad_manifests_are_config_errors_with_lines() {
        let cases = [
            (
                "name = \"g\"\nscripts = [\"a.lua\",\n  \"nope.luau\"]",
                "game.toml:3",
                "not in scripts/",
            ),
            (
                "name = \"g\"\nscripts = [\"a.lua\", \"a.lua\"]",
                "game.toml:2",
                "listed twice",
            ),
            ("name = \"g\"\nscripts = [\n", "game.toml:", ""),
            ("version = \"1\"", "game.toml", "name"),
            (
                "name = \"g\"\n[cvars]\nbad = [1, 2]",
                "game.toml:3",
                "bool, number or string",
            ),
            ("name = \"g\"\nscriptz = []", "game.toml:2", "scriptz"),
        ];
        for (text, place, words) in cases {
            let error = GameTemplate::parse(text, "game.toml", &files()).unwrap_err();
            assert_eq!(error.kind, ScriptErrorKind::Config, "{text}");
            assert!(
                error.message.contains(place) && error.message.contains(words),
                "{text}: {}",
                error.message
            );
        }
    }
}
