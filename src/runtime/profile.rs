//! Per-script accounting in the main VM: which script each call into Lua ran for, how long it
//! took, and the memory category its allocations are counted under.
//!
//! Every call from the host into Lua goes through [`call_as`](super::context::call_as), which
//! hands it a [`Site`]. When accounting is on ([`ScriptConfig::profiling`]), the call is timed,
//! wrapped in a `tracing` span and run in its script's memory category. Entity scripts are
//! timed per run of instances of the same script, not per instance, so the per-entity cost is
//! one branch (see `crate::engine::entity_scripts::update`).
//!
//! The totals of a step are kept here and taken by the engine at the end of the step, which
//! keeps the user-facing figures in [`ScriptProfiles`](crate::ScriptProfiles).
//!
//! [`ScriptConfig::profiling`]: crate::ScriptConfig::profiling

use super::identity::{ScriptId, ScriptPaths};
use crate::ffi::memory;
use mlua::Lua;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a call into Lua runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Site<'a> {
    /// A script's top level, as it loads.
    Load,
    /// A `hooks.on_update` hook.
    Hook,
    /// An entity script method: `on_spawn`, `on_update`, `on_event`, `on_despawn`.
    Method(&'static str),
    /// An `events.on` handler of the event.
    Event(&'a str),
    /// A `cvar.on_change` handler of the CVar.
    CVar(&'a str),
    /// A `task` coroutine resuming.
    Task,
    /// A console command written in Lua.
    Command(&'a str),
    /// A `job:on_complete` callback.
    Job,
}

impl Site<'_> {
    /// The kind of call: `hook`, `method`, `event`, `cvar`, `task`, `command`, `job`, `load`.
    pub fn kind(&self) -> &'static str {
        match self {
            Site::Load => "load",
            Site::Hook => "hook",
            Site::Method(_) => "method",
            Site::Event(_) => "event",
            Site::CVar(_) => "cvar",
            Site::Task => "task",
            Site::Command(_) => "command",
            Site::Job => "job",
        }
    }

    /// What in particular: the method, event, CVar or command name; `on_update` for a hook.
    pub fn name(&self) -> &str {
        match self {
            Site::Load => "top level",
            Site::Hook => "on_update",
            Site::Method(name) => name,
            Site::Event(name) | Site::CVar(name) | Site::Command(name) => name,
            Site::Task => "task",
            Site::Job => "on_complete",
        }
    }
}

/// The totals of one kind of call of one script, this step.
#[derive(Debug)]
pub(crate) struct SiteTotals {
    pub kind: &'static str,
    pub name: Arc<str>,
    pub time: Duration,
    pub calls: u64,
}

/// One script, by asset path: its memory category and its totals this step.
#[derive(Debug)]
pub(crate) struct Slot {
    pub path: Arc<str>,
    /// Its memory category; `None` past Luau's 255 categories, when its allocations are counted
    /// with the crate's own under [`memory::MAIN`].
    pub category: Option<u8>,
    pub time: Duration,
    pub calls: u64,
    pub sites: Vec<SiteTotals>,
}

/// The accounting of the main VM.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Debug, Default)]
pub(crate) struct Profiler {
    /// Whether calls are timed, traced and attributed.
    pub enabled: bool,
    slots: Vec<Slot>,
    by_path: HashMap<Arc<str>, usize>,
    by_script: HashMap<ScriptId, usize>,
    /// The category of the call running now, which a nested call restores when it returns.
    current: u8,
    /// How many categories the crate registered in this VM.
    categories: u8,
}

/// The most categories Luau has: numbers 0 to 254, of which 0 is mlua's "main".
const CATEGORIES: u8 = 254;

impl Profiler {
    /// An accounting with nothing recorded yet, on or off.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Default::default()
        }
    }

    /// The slot of the script that version `script` belongs to, made on first use.
    fn slot_of(&mut self, lua: &Lua, script: ScriptId) -> Option<usize> {
        if let Some(slot) = self.by_script.get(&script) {
            return Some(*slot);
        }
        let path = lua.app_data_ref::<ScriptPaths>()?.0.get(&script)?.clone();
        let slot = match self.by_path.get(&path) {
            Some(slot) => *slot,
            None => {
                let slot = self.slots.len();
                let category = (self.categories < CATEGORIES)
                    .then(|| memory::register(lua, &format!("script{slot}"), self.current).ok())
                    .flatten()
                    .map(|()| {
                        self.categories += 1;
                        self.categories
                    });
                self.slots.push(Slot {
                    path: path.clone(),
                    category,
                    time: Duration::ZERO,
                    calls: 0,
                    sites: Vec::new(),
                });
                self.by_path.insert(path, slot);
                slot
            }
        };
        self.by_script.insert(script, slot);
        Some(slot)
    }

    /// Adds `calls` calls that took `time` in all to `slot`'s totals.
    fn record(&mut self, slot: usize, site: Site<'_>, time: Duration, calls: u64) {
        let slot = &mut self.slots[slot];
        slot.time += time;
        slot.calls += calls;
        let (kind, name) = (site.kind(), site.name());
        match slot
            .sites
            .iter_mut()
            .find(|s| s.kind == kind && *s.name == *name)
        {
            Some(totals) => {
                totals.time += time;
                totals.calls += calls;
            }
            None => slot.sites.push(SiteTotals {
                kind,
                name: name.into(),
                time,
                calls,
            }),
        }
    }

    /// Zeroes the step's totals.
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.time = Duration::ZERO;
            slot.calls = 0;
            for site in &mut slot.sites {
                site.time = Duration::ZERO;
                site.calls = 0;
            }
        }
    }
}

/// A call being accounted: ends when dropped, also on unwind.
pub(crate) struct Account<'lua, 'site> {
    lua: &'lua Lua,
    slot: usize,
    site: Site<'site>,
    calls: u64,
    started: Instant,
    previous: u8,
    _span: tracing::span::EnteredSpan,
}

impl<'lua, 'site> Account<'lua, 'site> {
    /// Starts accounting a call of `script` at `site`, when accounting is on: the span is
    /// entered and the script's memory category set.
    pub fn begin(lua: &'lua Lua, script: ScriptId, site: Site<'site>) -> Option<Self> {
        let (slot, path, category, previous) = {
            let mut profiler = lua.app_data_mut::<Profiler>()?;
            if !profiler.enabled {
                return None;
            }
            let slot = profiler.slot_of(lua, script)?;
            let previous = profiler.current;
            let category = profiler.slots[slot].category.unwrap_or(memory::MAIN);
            profiler.current = category;
            (slot, profiler.slots[slot].path.clone(), category, previous)
        };
        let span = tracing::trace_span!(
            target: "bevy_luau::script",
            "script",
            path = %path,
            kind = site.kind(),
            name = site.name(),
        )
        .entered();
        if category != previous {
            memory::set(lua, category);
        }
        Some(Self {
            lua,
            slot,
            site,
            calls: 1,
            started: crate::ffi::interrupt::clock(),
            previous,
            _span: span,
        })
    }

    /// Counts `calls` calls instead of one (a run of entity script instances).
    pub fn calls(&mut self, calls: u64) {
        self.calls = calls;
    }
}

impl Drop for Account<'_, '_> {
    fn drop(&mut self) {
        let took = crate::ffi::interrupt::clock().saturating_duration_since(self.started);
        let restored = self.lua.app_data_mut::<Profiler>().map(|mut profiler| {
            profiler.record(self.slot, self.site, took, self.calls);
            let changed = profiler.current != self.previous;
            profiler.current = self.previous;
            changed
        });
        if restored == Some(true) {
            memory::set(self.lua, self.previous);
        }
    }
}

/// Whether a `tracing` subscriber wants the spans of script calls (target
/// `bevy_luau::script`, trace level).
pub(crate) fn spans_wanted() -> bool {
    tracing::enabled!(target: "bevy_luau::script", tracing::Level::TRACE)
}

/// A `tracing` span for one call of an entity script: the runs of [`Account`] hold the time,
/// the spans say which entity.
pub(crate) fn entity_span(
    path: &str,
    method: &'static str,
    entity: bevy_ecs::entity::Entity,
) -> tracing::Span {
    tracing::trace_span!(
        target: "bevy_luau::script",
        "script",
        path = %path,
        kind = "method",
        name = method,
        entity = %entity,
    )
}

/// Bytes each script's code has allocated and not freed in the VMs `vms` (a script that has
/// instances in several VMs counts in each), by path; `None` for a script past the category
/// limit of a VM.
pub(crate) fn memory_by_path<'a>(
    vms: impl Iterator<Item = &'a Lua>,
) -> Vec<(Arc<str>, Option<usize>)> {
    let mut by_path: Vec<(Arc<str>, Option<usize>)> = Vec::new();
    for lua in vms {
        let slots: Vec<(Arc<str>, Option<u8>)> = lua
            .app_data_ref::<Profiler>()
            .map(|p| {
                p.slots
                    .iter()
                    .map(|s| (s.path.clone(), s.category))
                    .collect()
            })
            .unwrap_or_default();
        for (path, category) in slots {
            let bytes = category.map(|c| memory::total(lua, c));
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, total)) => *total = total.zip(bytes).map(|(a, b)| a + b),
                None => by_path.push((path, bytes)),
            }
        }
    }
    by_path
}

/// The step's totals of the scripts that ran in the VMs `vms`, merged by path (a script with
/// instances in several VMs is one script), and zeroes them for the next step.
pub(crate) fn take_step<'a>(vms: impl Iterator<Item = &'a Lua>) -> Vec<Slot> {
    let mut ran: Vec<Slot> = Vec::new();
    for lua in vms {
        let Some(mut profiler) = lua.app_data_mut::<Profiler>() else {
            continue;
        };
        for slot in profiler.slots.iter().filter(|slot| slot.calls > 0) {
            let merged = match ran.iter_mut().position(|r| r.path == slot.path) {
                Some(at) => &mut ran[at],
                None => {
                    ran.push(Slot {
                        path: slot.path.clone(),
                        category: slot.category,
                        time: Duration::ZERO,
                        calls: 0,
                        sites: Vec::new(),
                    });
                    ran.last_mut().expect("just pushed")
                }
            };
            merged.time += slot.time;
            merged.calls += slot.calls;
            for site in &slot.sites {
                match merged
                    .sites
                    .iter_mut()
                    .find(|s| s.kind == site.kind && s.name == site.name)
                {
                    Some(totals) => {
                        totals.time += site.time;
                        totals.calls += site.calls;
                    }
                    None => merged.sites.push(SiteTotals {
                        kind: site.kind,
                        name: site.name.clone(),
                        time: site.time,
                        calls: site.calls,
                    }),
                }
            }
        }
        profiler.reset();
    }
    ran
}
