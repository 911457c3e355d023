//! [`CVarRegistry`]: the console variables, their changes and their file.

use crate::error::{ScriptError, ScriptErrorKind};
use crate::queue::{Action, ActionQueue};
use crate::suggest::{MAX_NAME, MAX_TEXT};
use bevy_ecs::resource::Resource;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::value::{CVarChanged, CVarValue};

bitflags::bitflags! {
    /// How a console variable behaves.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CVarFlags: u32 {
        /// Saved to and loaded from the CVar file.
        const ARCHIVE = 1;
        /// Only Rust can change it (`CVarRegistry::set_unchecked`); scripts and the console cannot.
        const READ_ONLY = 1 << 1;
        /// Changes only while the `sv_cheats` CVar is true.
        const CHEAT = 1 << 2;
    }
}

impl CVarFlags {
    /// Parses a flag name as Lua and the console spell it: `archive`, `read_only`, `cheat`.
    pub fn parse_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "archive" => Some(Self::ARCHIVE),
            "read_only" | "readonly" => Some(Self::READ_ONLY),
            "cheat" => Some(Self::CHEAT),
            _ => None,
        }
    }
}

/// One console variable.
#[derive(Debug, Clone, PartialEq)]
pub struct CVar {
    /// The current value.
    pub value: CVarValue,
    /// The value it starts with and `reset` restores; its type is the CVar's type.
    pub default: CVarValue,
    /// What it does, for `help` and `list`.
    pub description: String,
    /// How it behaves.
    pub flags: CVarFlags,
    /// The smallest value a number may take.
    pub min: Option<f64>,
    /// The largest value a number may take.
    pub max: Option<f64>,
}

impl CVar {
    /// A CVar with `default` as its value and no range.
    pub fn new(
        default: impl Into<CVarValue>,
        description: impl Into<String>,
        flags: CVarFlags,
    ) -> Self {
        let default = default.into();
        Self {
            value: default.clone(),
            default,
            description: description.into(),
            flags,
            min: None,
            max: None,
        }
    }

    /// Limits a number CVar to `min..=max`.
    pub fn with_range(mut self, min: Option<f64>, max: Option<f64>) -> Self {
        self.min = min;
        self.max = max;
        self
    }
}

/// The name of the CVar that allows changing [`CVarFlags::CHEAT`] CVars.
pub const SV_CHEATS: &str = "sv_cheats";

/// A read-only copy of every CVar value, shared with the worker VMs and kept current by the
/// registry.
pub type CVarSnapshot = Arc<RwLock<BTreeMap<String, CVarValue>>>;

/// All console variables.
#[derive(Resource, Debug)]
pub struct CVarRegistry {
    vars: BTreeMap<String, CVar>,
    snapshot: CVarSnapshot,
    queue: Option<ActionQueue>,
    /// The file ARCHIVE CVars persist in.
    file: Option<PathBuf>,
    /// Set when the file could not be parsed: saving would overwrite the user's data.
    file_is_broken: bool,
    /// Values read from the file for CVars not registered yet; applied when they register.
    pending: BTreeMap<String, toml::Value>,
}

impl CVarRegistry {
    /// Announces changes to `queue` from now on: the plugin calls it on a registry that was
    /// created before it was added.
    pub(crate) fn announce_to(&mut self, queue: ActionQueue) {
        self.queue = Some(queue);
    }

    /// An empty registry whose changes go to `queue` (none: changes are not announced).
    pub fn new(queue: Option<ActionQueue>) -> Self {
        let mut registry = Self {
            vars: BTreeMap::new(),
            snapshot: CVarSnapshot::default(),
            queue,
            file: None,
            file_is_broken: false,
            pending: BTreeMap::new(),
        };
        let cheats = CVar::new(false, "allows changing cheat CVars", CVarFlags::empty());
        registry.vars.insert(SV_CHEATS.to_owned(), cheats.clone());
        registry.publish(SV_CHEATS, &cheats.value);
        registry
    }

    /// Registers a CVar. Registering a name again keeps its current value when the type is
    /// the same (so a hot-reloaded script does not reset it) and updates the rest; another
    /// type is an error. A value waiting in the CVar file is applied.
    ///
    /// ```
    /// use bevy_luau::CVar;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut cvars = CVarRegistry::new(None);
    /// cvars.register("r_fov", CVar::new(75.0, "field of view", CVarFlags::ARCHIVE))?;
    /// assert_eq!(cvars.get("r_fov"), Some(&CVarValue::Float(75.0)));
    ///
    /// // Registering it again, as a reloaded script does, keeps the value and takes the default.
    /// cvars.set("r_fov", 90.0)?;
    /// cvars.register("r_fov", CVar::new(80.0, "field of view", CVarFlags::ARCHIVE))?;
    /// assert_eq!(cvars.get("r_fov"), Some(&CVarValue::Float(90.0)));
    /// assert_eq!(cvars.cvar("r_fov").unwrap().default, CVarValue::Float(80.0));
    ///
    /// // Another type is refused.
    /// let error = cvars.register("r_fov", CVar::new("wide", "", CVarFlags::empty()));
    /// assert_eq!(error.unwrap_err().kind, ScriptErrorKind::Config);
    /// # Ok::<(), ScriptError>(())
    /// ```
    pub fn register(&mut self, name: &str, cvar: CVar) -> Result<(), ScriptError> {
        check_name(name)?;
        if cvar.description.len() > MAX_TEXT {
            return Err(config_error(
                name,
                format!("the description is longer than {MAX_TEXT} bytes"),
            ));
        }
        if self.vars.len() >= MAX_CVARS && !self.vars.contains_key(name) {
            return Err(config_error(
                name,
                format!("there are {MAX_CVARS} CVars already, as many as the registry holds"),
            ));
        }
        if let Some(range_error) = range_problem(&cvar, &cvar.default) {
            return Err(config_error(name, range_error));
        }
        let mut cvar = cvar;
        if let Some(existing) = self.vars.get(name) {
            // Luau has one number type, so a whole number may register a float CVar again (and
            // a whole float an int one); any other change of type is refused.
            match existing.default.coerce_like(cvar.default.clone()) {
                Ok(default) => cvar.default = default,
                Err(_) => {
                    let message = format!(
                        "`{name}` is already a {} CVar; it cannot become a {}",
                        existing.default.type_name(),
                        cvar.default.type_name()
                    );
                    return Err(config_error(name, message));
                }
            }
            cvar.value = existing.value.clone();
        }
        if let Some(saved) = self.pending.remove(name) {
            match from_toml(&cvar.default, saved)
                .and_then(|v| cvar.default.coerce_like(v).map_err(|e| e.to_string()))
            {
                Ok(value) if range_problem(&cvar, &value).is_none() => cvar.value = value,
                Ok(_) | Err(_) => {
                    tracing::warn!(target: "bevy_luau", "ignoring the saved value of `{name}`: it does not fit the CVar")
                }
            }
        }
        self.publish(name, &cvar.value);
        self.vars.insert(name.to_owned(), cvar);
        Ok(())
    }

    /// The CVar called `name`.
    pub fn cvar(&self, name: &str) -> Option<&CVar> {
        self.vars.get(name)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&CVarValue> {
        self.vars.get(name).map(|c| &c.value)
    }

    /// Every CVar, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CVar)> {
        self.vars.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// Sets `name` as scripts and the console do: read-only and cheat CVars are refused.
    ///
    /// The value must have the CVar's type (a whole number may set a float CVar) and fit its
    /// range; otherwise it is a [`ScriptErrorKind::TypeMismatch`] error and the old value stays.
    ///
    /// ```
    /// use bevy_luau::CVar;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut cvars = CVarRegistry::new(None);
    /// let volume = CVar::new(0.8, "master volume", CVarFlags::ARCHIVE);
    /// cvars.register("volume", volume.with_range(Some(0.0), Some(1.0)))?;
    /// cvars.set("volume", 1)?;
    /// assert_eq!(cvars.get("volume"), Some(&CVarValue::Float(1.0)));
    ///
    /// assert_eq!(cvars.set("volume", "loud").unwrap_err().kind, ScriptErrorKind::TypeMismatch);
    /// assert!(cvars.set("volume", 1.5).is_err());
    /// assert_eq!(cvars.get("volume"), Some(&CVarValue::Float(1.0)));
    ///
    /// cvars.register("version", CVar::new(3, "build", CVarFlags::READ_ONLY))?;
    /// assert!(cvars.set("version", 4).is_err());
    /// # Ok::<(), ScriptError>(())
    /// ```
    pub fn set(&mut self, name: &str, value: impl Into<CVarValue>) -> Result<(), ScriptError> {
        self.change(name, value.into(), true)
    }

    /// Sets `name` from Rust, even when it is read-only or a cheat.
    pub fn set_unchecked(
        &mut self,
        name: &str,
        value: impl Into<CVarValue>,
    ) -> Result<(), ScriptError> {
        self.change(name, value.into(), false)
    }

    /// Sets `name` from text, parsed by the CVar's type (as the console does).
    pub fn set_from_str(&mut self, name: &str, text: &str) -> Result<(), ScriptError> {
        let cvar = self.known(name)?;
        let value = cvar
            .default
            .parse_like(text)
            .map_err(|m| type_error(name, m))?;
        self.change(name, value, true)
    }

    /// Puts `name` back to its default.
    pub fn reset(&mut self, name: &str) -> Result<(), ScriptError> {
        let default = self.known(name)?.default.clone();
        self.change(name, default, true)
    }

    /// Flips a bool CVar.
    pub fn toggle(&mut self, name: &str) -> Result<bool, ScriptError> {
        match self.known(name)?.value {
            CVarValue::Bool(b) => self.change(name, CVarValue::Bool(!b), true).map(|()| !b),
            ref other => Err(type_error(
                name,
                format!(
                    "only a bool CVar toggles; `{name}` is a {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn known(&self, name: &str) -> Result<&CVar, ScriptError> {
        self.vars.get(name).ok_or_else(|| {
            let suggestions =
                crate::suggest::close_matches(name, self.vars.keys().map(String::as_str));
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", suggestions.join(", "))
            };
            ScriptError::in_cvar(
                name,
                ScriptErrorKind::UnknownCVar,
                format!("no CVar named `{name}`{hint}"),
            )
        })
    }

    /// The value `set(name, value)` would store (coerced to the CVar's type), or the error it
    /// would fail with; changes nothing.
    pub(crate) fn check(&self, name: &str, value: CVarValue) -> Result<CVarValue, ScriptError> {
        self.checked(name, value, true)
    }

    /// [`check`](Self::check), `checked` telling whether the flags apply.
    fn checked(
        &self,
        name: &str,
        value: CVarValue,
        checked: bool,
    ) -> Result<CVarValue, ScriptError> {
        let cheats = matches!(self.get(SV_CHEATS), Some(CVarValue::Bool(true)));
        let cvar = self.known(name)?;
        let denied = |message: String| ScriptError::in_cvar(name, ScriptErrorKind::Denied, message);
        if checked && cvar.flags.contains(CVarFlags::READ_ONLY) {
            return Err(denied(format!("`{name}` is read-only")));
        }
        if checked && cvar.flags.contains(CVarFlags::CHEAT) && !cheats {
            return Err(denied(format!(
                "`{name}` is a cheat; set {SV_CHEATS} to true first"
            )));
        }
        let value = cvar
            .default
            .coerce_like(value)
            .map_err(|m| type_error(name, m))?;
        if let Some(problem) = range_problem(cvar, &value) {
            return Err(ScriptError::in_cvar(
                name,
                ScriptErrorKind::OutOfRange,
                problem,
            ));
        }
        Ok(value)
    }

    fn change(&mut self, name: &str, value: CVarValue, checked: bool) -> Result<(), ScriptError> {
        let value = self.checked(name, value, checked)?;
        let Some(cvar) = self.vars.get_mut(name) else {
            return Ok(());
        };
        if cvar.value == value {
            return Ok(());
        }
        let old = std::mem::replace(&mut cvar.value, value.clone());
        self.publish(name, &value);
        if let Some(queue) = &self.queue {
            queue.push(Action::CVarChanged(CVarChanged {
                name: name.to_owned(),
                old,
                new: value,
            }));
        }
        Ok(())
    }

    /// The snapshot worker VMs read `cvar.get` from.
    pub fn snapshot(&self) -> CVarSnapshot {
        self.snapshot.clone()
    }

    fn publish(&self, name: &str, value: &CVarValue) {
        if let Ok(mut snapshot) = self.snapshot.write() {
            snapshot.insert(name.to_owned(), value.clone());
        }
    }

    /// The file ARCHIVE CVars persist in, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads CVar values from `path` (a TOML table of `name = value`) and remembers the path for
    /// [`save`](Self::save). Every value in the file is applied to its CVar, whatever its flags
    /// (a file is trusted like the code that loads it); `save` writes back the ARCHIVE ones
    /// only, so a value of another CVar in the file lasts until the next save. A missing file is
    /// fine. A file that cannot be parsed is a `Config` error with line and column; the values
    /// stay and the file will not be overwritten. Values for CVars registered later wait until
    /// they register.
    ///
    /// ```
    /// use bevy_luau::CVar;
    /// use bevy_luau::prelude::*;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("cvars.toml");
    /// std::fs::write(&path, "volume = 0.25\nname = 'Ada'\n").unwrap();
    ///
    /// let mut cvars = CVarRegistry::new(None);
    /// cvars.register("volume", CVar::new(0.8, "master volume", CVarFlags::ARCHIVE))?;
    /// cvars.load(&path)?;
    /// assert_eq!(cvars.get("volume"), Some(&CVarValue::Float(0.25)));
    /// // `name` is not registered yet: its saved value waits for it.
    /// cvars.register("name", CVar::new("player", "your name", CVarFlags::ARCHIVE))?;
    /// assert_eq!(cvars.get("name"), Some(&CVarValue::String("Ada".into())));
    ///
    /// // A broken file changes nothing and is never saved over.
    /// std::fs::write(&path, "volume = ").unwrap();
    /// assert_eq!(cvars.load(&path).unwrap_err().kind, ScriptErrorKind::Config);
    /// assert_eq!(cvars.get("volume"), Some(&CVarValue::Float(0.25)));
    /// assert!(cvars.save().is_err());
    /// # Ok::<(), ScriptError>(())
    /// ```
    pub fn load(&mut self, path: impl Into<PathBuf>) -> Result<(), ScriptError> {
        let path = path.into();
        self.file = Some(path.clone());
        self.file_is_broken = false;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                self.file_is_broken = true;
                let message = format!("could not read `{}`: {error}", path.display());
                return Err(ScriptError::new(
                    path.display().to_string(),
                    ScriptErrorKind::Io,
                    message,
                ));
            }
        };
        let table: toml::Table = match toml::from_str(&text) {
            Ok(table) => table,
            Err(error) => {
                self.file_is_broken = true;
                let at = error.span().map(|span| line_column(&text, span.start));
                let place = at.map_or(String::new(), |(line, column)| format!(":{line}:{column}"));
                let message = format!(
                    "{}{place}: {}; the defaults stay and the file will not be overwritten",
                    path.display(),
                    error.message()
                );
                return Err(ScriptError::new(
                    path.display().to_string(),
                    ScriptErrorKind::Config,
                    message,
                ));
            }
        };
        let mut problems = Vec::new();
        for (name, saved) in table {
            let Some(cvar) = self.vars.get(&name) else {
                self.pending.insert(name, saved);
                continue;
            };
            let value = from_toml(&cvar.default, saved)
                .and_then(|v| cvar.default.coerce_like(v).map_err(|e| e.to_string()));
            match value {
                Ok(value) => {
                    if let Err(error) = self.change(&name, value, false) {
                        problems.push(error.message);
                    }
                }
                Err(message) => problems.push(format!("`{name}`: {message}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            let message = format!("{}: {}", path.display(), problems.join("; "));
            Err(ScriptError::new(
                path.display().to_string(),
                ScriptErrorKind::Config,
                message,
            ))
        }
    }

    /// Writes the ARCHIVE CVars to the file given to [`load`](Self::load), atomically (a
    /// temporary file renamed over it). Refuses while that file could not be parsed.
    pub fn save(&self) -> Result<(), ScriptError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let name = path.display().to_string();
        if self.file_is_broken {
            let message =
                format!("not saving over `{name}`: it could not be read, and saving would lose it");
            return Err(ScriptError::new(name, ScriptErrorKind::Config, message));
        }
        let mut table = toml::Table::new();
        for (cvar_name, cvar) in self
            .vars
            .iter()
            .filter(|(_, c)| c.flags.contains(CVarFlags::ARCHIVE))
        {
            table.insert(cvar_name.clone(), to_toml(&cvar.value));
        }
        for (cvar_name, saved) in &self.pending {
            table.insert(cvar_name.clone(), saved.clone());
        }
        let io = |error: std::io::Error| {
            ScriptError::new(
                name.clone(),
                ScriptErrorKind::Io,
                format!("could not save `{name}`: {error}"),
            )
        };
        let text = toml::to_string(&table)
            .map_err(|e| ScriptError::new(name.clone(), ScriptErrorKind::Io, e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let temporary = path.with_extension("toml.tmp");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

/// The most CVars one registry holds.
const MAX_CVARS: usize = 4096;

fn check_name(name: &str) -> Result<(), ScriptError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        let shown: String = name.chars().take(MAX_NAME).collect();
        Err(config_error(
            &shown,
            format!(
                "`{shown}` is not a CVar name (letters, digits, `_` and `.`, at most {MAX_NAME} \
                 bytes)"
            ),
        ))
    }
}

/// Why `value` does not fit `cvar`: out of its range, or a string longer than [`MAX_TEXT`].
fn range_problem(cvar: &CVar, value: &CVarValue) -> Option<String> {
    if let CVarValue::String(text) = value
        && text.len() > MAX_TEXT
    {
        return Some(format!(
            "a string of {} bytes is longer than the {MAX_TEXT} a CVar holds",
            text.len()
        ));
    }
    let number = value.as_f64()?;
    match (cvar.min, cvar.max) {
        (Some(min), _) if number < min => Some(format!("{value} is below the minimum {min}")),
        (_, Some(max)) if number > max => Some(format!("{value} is above the maximum {max}")),
        _ => None,
    }
}

fn type_error(name: &str, message: impl ToString) -> ScriptError {
    ScriptError::in_cvar(name, ScriptErrorKind::TypeMismatch, message.to_string())
}

fn config_error(name: &str, message: String) -> ScriptError {
    ScriptError::in_cvar(name, ScriptErrorKind::Config, message)
}

fn to_toml(value: &CVarValue) -> toml::Value {
    match value {
        CVarValue::Bool(b) => toml::Value::Boolean(*b),
        CVarValue::Int(i) => toml::Value::Integer(*i),
        CVarValue::Float(f) => toml::Value::Float(*f),
        CVarValue::String(s) => toml::Value::String(s.clone()),
    }
}

fn from_toml(like: &CVarValue, value: toml::Value) -> Result<CVarValue, String> {
    match value {
        toml::Value::Boolean(b) => Ok(CVarValue::Bool(b)),
        toml::Value::Integer(i) => Ok(CVarValue::Int(i)),
        toml::Value::Float(f) => Ok(CVarValue::Float(f)),
        toml::Value::String(s) => Ok(CVarValue::String(s)),
        other => Err(format!("expected a {}, got {other}", like.type_name())),
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> CVarRegistry {
        let mut registry = CVarRegistry::new(None);
        registry
            .register(
                "r_fov",
                CVar::new(75.0, "field of view", CVarFlags::ARCHIVE)
                    .with_range(Some(30.0), Some(120.0)),
            )
            .unwrap();
        registry
            .register("name", CVar::new("player", "your name", CVarFlags::ARCHIVE))
            .unwrap();
        registry
            .register("god", CVar::new(false, "invulnerable", CVarFlags::CHEAT))
            .unwrap();
        registry
            .register("version", CVar::new(3, "build", CVarFlags::READ_ONLY))
            .unwrap();
        registry
    }

    #[test]
    fn values_keep_their_type_and_range() {
        let mut r = registry();
        r.set("r_fov", 90).unwrap();
        assert_eq!(r.get("r_fov"), Some(&CVarValue::Float(90.0)));
        assert_eq!(
            r.set("r_fov", 200.0).unwrap_err().kind,
            ScriptErrorKind::OutOfRange
        );
        assert!(
            r.set("r_fov", "wide")
                .unwrap_err()
                .message
                .contains("expected a float")
        );
        assert!(r.set_from_str("r_fov", "abc").is_err());
        assert_eq!(
            r.get("r_fov"),
            Some(&CVarValue::Float(90.0)),
            "the old value stays"
        );
        r.set_from_str("r_fov", "100").unwrap();
        assert_eq!(r.get("r_fov"), Some(&CVarValue::Float(100.0)));
        r.reset("r_fov").unwrap();
        assert_eq!(r.get("r_fov"), Some(&CVarValue::Float(75.0)));
    }

    #[test]
    fn flags_guard_read_only_and_cheat_cvars() {
        let mut r = registry();
        assert!(
            r.set("version", 4)
                .unwrap_err()
                .message
                .contains("read-only")
        );
        r.set_unchecked("version", 4).unwrap();
        assert!(r.toggle("god").unwrap_err().message.contains(SV_CHEATS));
        r.set(SV_CHEATS, true).unwrap();
        assert!(r.toggle("god").unwrap());
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let r = registry();
        let error = r.known("r_fv").unwrap_err();
        assert_eq!(error.kind, ScriptErrorKind::UnknownCVar);
        assert_eq!(error.origin, crate::ErrorOrigin::CVar);
        assert!(error.message.contains("r_fov"), "{}", error.message);
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("a = 1\nb = ?", 10), (2, 5));
    }
}
