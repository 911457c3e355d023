//! A VM under the debugger: the script files it loaded, the breakpoints applied to them, and
//! the lines a step marked.

use super::session::{LineBreakpoint, Resume, Session, asset_of};
use crate::ffi::debug as raw;
use crate::ffi::interrupt::{Budget, Limits};
use mlua::{Function, Lua};
use std::sync::Arc;

/// How many loaded versions of one file a VM keeps breakpoints on: older ones are dropped.
const VERSIONS_KEPT: usize = 8;

/// The debugger's state of one VM (Lua app data).
pub(crate) struct VmDebug {
    pub session: Arc<Session>,
    /// The VM's thread id in the protocol.
    pub thread: i64,
    /// The VM's thread name in the protocol.
    pub name: String,
    /// The limits of the debugger's own calls in this VM (conditions, evaluate).
    pub limits: Limits,
    chunks: Vec<Chunk>,
    applied: u64,
    pub(super) step: Option<Step>,
}

/// One loaded script file: the chunk's function, whose nested functions are the file's.
struct Chunk {
    asset: Arc<str>,
    function: Function,
    lines: u32,
    /// The breakpoints applied, with the line each landed on.
    applied: Vec<(u32, Arc<LineBreakpoint>)>,
}

/// A step under way.
#[derive(Clone)]
pub(super) struct Step {
    pub mode: StepMode,
    /// The thread (state address) it started on.
    pub thread: usize,
    /// How many Lua frames that thread had.
    pub depth: usize,
    pub line: i32,
    /// The host call it started in; a step ends with it.
    pub call: u64,
    /// The functions whose lines are marked, with their files' line counts.
    pub marked: Vec<(Function, u32)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum StepMode {
    Step(Resume),
    /// Stop at the next line that runs anywhere, for a pause asked for between steps.
    Pause,
}

/// Whether `lua` is under a debugger already.
pub(crate) fn installed(lua: &Lua) -> bool {
    lua.app_data_ref::<VmDebug>().is_some()
}

/// Puts `lua` under the debugger of `session`, as the protocol thread `thread` named `name`:
/// stops call `handler` (made by `stop::handler`).
pub(crate) fn install(
    lua: &Lua,
    session: &Arc<Session>,
    (thread, name): (i64, String),
    limits: Limits,
    handler: impl FnOnce(&Lua) -> mlua::Result<Function>,
) -> mlua::Result<()> {
    raw::install(lua, handler(lua)?)?;
    lua.set_app_data(VmDebug {
        session: session.clone(),
        thread,
        name,
        limits,
        chunks: Vec::new(),
        applied: 0,
        step: None,
    });
    Ok(())
}

/// Records a chunk a VM loaded from the file at asset path `asset`, and applies the file's
/// breakpoints to it: a new version of a file gets the breakpoints of the old.
pub(crate) fn chunk_loaded(lua: &Lua, asset: &str, function: &Function, source: &str) {
    let Some(mut vm) = lua.app_data_mut::<VmDebug>() else {
        return;
    };
    vm.session.loaded(asset);
    let same: Vec<usize> = (vm.chunks.iter().enumerate())
        .filter(|(_, c)| &*c.asset == asset)
        .map(|(i, _)| i)
        .collect();
    if same.len() >= VERSIONS_KEPT {
        vm.chunks.remove(same[0]);
    }
    let mut chunk = Chunk {
        asset: Arc::from(asset),
        function: function.clone(),
        lines: u32::try_from(source.lines().count())
            .unwrap_or(u32::MAX)
            .max(1),
        applied: Vec::new(),
    };
    let session = vm.session.clone();
    apply(lua, &session, &mut chunk);
    vm.chunks.push(chunk);
}

/// Applies the breakpoints again when they changed since this VM last did.
pub(crate) fn refresh(lua: &Lua) {
    let Some(mut vm) = lua.app_data_mut::<VmDebug>() else {
        return;
    };
    let generation = vm.session.generation();
    if vm.applied == generation {
        return;
    }
    vm.applied = generation;
    let session = vm.session.clone();
    for chunk in &mut vm.chunks {
        apply(lua, &session, chunk);
    }
}

/// Turns off the breakpoints applied to `chunk` and applies the session's.
fn apply(lua: &Lua, session: &Session, chunk: &mut Chunk) {
    for (line, _) in chunk.applied.drain(..) {
        let _ = raw::breakpoint(lua, &chunk.function, line, false);
    }
    for breakpoint in session.breakpoints_of(&chunk.asset) {
        if let Ok(Some(line)) = raw::breakpoint(lua, &chunk.function, breakpoint.line, true) {
            super::session::lock(&session.verified).insert(breakpoint.id, line);
            chunk.applied.push((line, breakpoint));
        }
    }
}

/// The breakpoints at `line` of the file at `asset` in this VM.
pub(super) fn breakpoints_at(lua: &Lua, asset: &str, line: i32) -> Vec<Arc<LineBreakpoint>> {
    let Some(vm) = lua.app_data_ref::<VmDebug>() else {
        return Vec::new();
    };
    let Some(chunk) = vm.chunks.iter().rev().find(|c| &*c.asset == asset) else {
        return Vec::new();
    };
    (chunk.applied.iter())
        .filter(|(at, _)| i64::from(*at) == i64::from(line))
        .map(|(_, breakpoint)| breakpoint.clone())
        .collect()
}

/// Starts a step from the frames of a stop: marks every line of the functions it may stop
/// in, so the break callback sees the next line.
pub(super) fn start_step(lua: &Lua, mode: StepMode, frames: &[raw::Frame]) {
    let marked: Vec<(Function, u32)> = match mode {
        StepMode::Step(Resume::StepIn) | StepMode::Pause => all_chunks(lua),
        _ => frames
            .iter()
            .filter_map(|frame| {
                let function = raw::function_at(lua, None, frame.level).ok().flatten()?;
                Some((function, lines_of(lua, &frame.source)))
            })
            .collect(),
    };
    for (function, lines) in &marked {
        mark(lua, function, *lines, true);
    }
    let step = Step {
        mode,
        thread: raw::thread_key(lua),
        depth: frames.len(),
        line: frames.first().map_or(0, |f| f.line),
        call: Budget::call_id(),
        marked,
    };
    let old = lua
        .app_data_mut::<VmDebug>()
        .and_then(|mut vm| vm.step.replace(step));
    if let Some(old) = old {
        unmark_step(lua, old);
    }
}

/// Ends the step under way, if any: unmarks its lines and applies the breakpoints again.
pub(super) fn end_step(lua: &Lua) {
    let step = lua
        .app_data_mut::<VmDebug>()
        .and_then(|mut vm| vm.step.take());
    if let Some(step) = step {
        unmark_step(lua, step);
    }
}

fn unmark_step(lua: &Lua, step: Step) {
    for (function, lines) in &step.marked {
        mark(lua, function, *lines, false);
    }
    if let Some(mut vm) = lua.app_data_mut::<VmDebug>() {
        let session = vm.session.clone();
        for chunk in &mut vm.chunks {
            apply(lua, &session, chunk);
        }
    }
}

/// Marks (or unmarks) every line of `function` and the functions defined in it.
fn mark(lua: &Lua, function: &Function, lines: u32, on: bool) {
    let mut line = 1;
    while line <= lines {
        match raw::breakpoint(lua, function, line, on) {
            Ok(Some(at)) => line = at.max(line) + 1,
            _ => break,
        }
    }
}

fn all_chunks(lua: &Lua) -> Vec<(Function, u32)> {
    lua.app_data_ref::<VmDebug>()
        .map(|vm| {
            vm.chunks
                .iter()
                .map(|c| (c.function.clone(), c.lines))
                .collect()
        })
        .unwrap_or_default()
}

/// The line count of the file a frame's chunk name names, as loaded in this VM.
fn lines_of(lua: &Lua, source: &str) -> u32 {
    let asset = asset_of(source).unwrap_or(source);
    lua.app_data_ref::<VmDebug>()
        .and_then(|vm| {
            vm.chunks
                .iter()
                .filter(|c| &*c.asset == asset)
                .map(|c| c.lines)
                .max()
        })
        .unwrap_or(1000)
}

/// Marks every loaded line of this VM for a pause asked for between steps, unless a step is
/// under way.
pub(crate) fn arm_pause(lua: &Lua) {
    let stepping = lua
        .app_data_ref::<VmDebug>()
        .is_none_or(|vm| vm.step.is_some());
    if !stepping {
        start_step(lua, StepMode::Pause, &[]);
    }
}
