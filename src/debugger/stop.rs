//! A stopped script: deciding whether a break stops, and serving the client's requests on
//! the stopped thread until it says to go on.

use super::session::{Command, Event, LineBreakpoint, Resume, Session, asset_of, file_name};
use super::vm::{self, StepMode, VmDebug};
use crate::ffi::debug::{self as raw, Frame, Reason};
use crate::ffi::interrupt::{Budget, Limits};
use crate::value::entity_from_lua;
use mlua::{Function, Lua, MultiValue, Table, Thread, Value};
use serde_json::{Value as Json, json};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

thread_local! {
    /// Whether this thread is inside a stop: the debugger's own calls (conditions,
    /// evaluate) pass breakpoints and checkpoints without stopping again.
    static STOPPING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a stop for its length.
struct Inside;

impl Inside {
    fn enter() -> Option<Self> {
        (!STOPPING.replace(true)).then_some(Inside)
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        STOPPING.set(false);
    }
}

/// The limits of a `__tostring` run to show a value.
const SHOWING: Limits = Limits {
    checkpoints: 10_000,
    time: Some(Duration::from_millis(100)),
};

/// The most entries a table shows when expanded.
const SHOWN_ENTRIES: usize = 1000;

/// The Lua function a VM's stops call: `(reason, error?)`.
pub(crate) fn handler(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, (reason, error): (i64, Value)| {
        if let Some(reason) = Reason::from_number(reason) {
            on_stop(lua, reason, error);
        }
        Ok(())
    })
}

/// Called by the VM's stop handler: a break, a pause checkpoint or an error.
pub(crate) fn on_stop(lua: &Lua, reason: Reason, error: Value) {
    let Some(_inside) = Inside::enter() else {
        return;
    };
    let Some(session) = lua.app_data_ref::<VmDebug>().map(|vm| vm.session.clone()) else {
        return;
    };
    if !session.attached.load(Ordering::Acquire) {
        vm::end_step(lua);
        return;
    }
    // The cheap checks first: a pause checkpoint runs often while another VM's pause waits.
    match reason {
        Reason::Pause if !session.pause.load(Ordering::Acquire) => return,
        Reason::Error if !session.errors.load(Ordering::Acquire) => return,
        _ => {}
    }
    let Ok(frames) = raw::frames(lua, None) else {
        return;
    };
    let frames: Vec<Frame> = frames.into_iter().filter(|f| f.lua).collect();
    if frames.is_empty() {
        return;
    }
    let (why, text) = match reason {
        Reason::Pause => {
            if !take_pause(&session) {
                return;
            }
            vm::end_step(lua);
            ("pause", None)
        }
        Reason::Error => ("exception", Some(error_text(lua, &error))),
        Reason::Break => match decide(lua, &session, &frames) {
            Some(why) => (why, None),
            None => return,
        },
    };
    stop(lua, &session, None, frames, why, text);
}

/// Takes the pause asked for, if no other script took it first.
fn take_pause(session: &Session) -> bool {
    let taken = session.pause.swap(false, Ordering::AcqRel);
    if taken {
        crate::ffi::debug::want_pause(false);
    }
    taken
}

/// Stops in the frames of a coroutine that failed, for the exception filter: its stack
/// stays as it was when the error was raised.
pub(crate) fn on_failed_thread(lua: &Lua, thread: &Thread, error: &mlua::Error) {
    let Some(_inside) = Inside::enter() else {
        return;
    };
    let Some(session) = lua.app_data_ref::<VmDebug>().map(|vm| vm.session.clone()) else {
        return;
    };
    if !session.attached.load(Ordering::Acquire) || !session.errors.load(Ordering::Acquire) {
        return;
    }
    let Ok(frames) = raw::frames(lua, Some(thread)) else {
        return;
    };
    let frames: Vec<Frame> = frames.into_iter().filter(|f| f.lua).collect();
    if frames.is_empty() {
        return;
    }
    let text = crate::registry::plain(error);
    stop(
        lua,
        &session,
        Some(thread.clone()),
        frames,
        "exception",
        Some(text),
    );
}

/// Whether a break stops, and why: a step that reached its line, or a breakpoint whose
/// conditions hold. Logpoints write here and do not stop.
fn decide(lua: &Lua, session: &Session, frames: &[Frame]) -> Option<&'static str> {
    let top = &frames[0];
    // Breakpoints the client changed since this VM applied them (while a script was stopped,
    // say) take effect before this one is looked up.
    vm::refresh(lua);
    let step = lua.app_data_ref::<VmDebug>().and_then(|vm| vm.step.clone());
    if let Some(step) = step {
        match step.mode {
            StepMode::Pause => {
                vm::end_step(lua);
                if take_pause(session) {
                    return Some("pause");
                }
            }
            StepMode::Step(mode) if step.call == Budget::call_id() => {
                let same_thread = raw::thread_key(lua) == step.thread;
                let depth = frames.len();
                let moved = top.line != step.line || depth != step.depth;
                let reached = match mode {
                    Resume::StepIn => !same_thread || moved,
                    Resume::Next => same_thread && depth <= step.depth && moved,
                    Resume::StepOut => same_thread && depth < step.depth,
                    Resume::Continue => false,
                };
                if reached {
                    vm::end_step(lua);
                    return Some("step");
                }
            }
            // The host call the step began in returned: the step is over.
            StepMode::Step(_) => vm::end_step(lua),
        }
    }
    let asset = asset_of(&top.source)?;
    let breakpoints = vm::breakpoints_at(lua, asset, top.line);
    let mut stops = false;
    for breakpoint in breakpoints {
        if let Some(message) = holds(lua, session, top, &breakpoint) {
            match &breakpoint.log_message {
                Some(_) => session.output("console", format!("{message}\n")),
                None => stops = true,
            }
        }
    }
    stops.then_some("breakpoint")
}

/// Counts a hit of `breakpoint` and checks its conditions; `Some` (with a logpoint's text)
/// when it applies.
fn holds(lua: &Lua, session: &Session, top: &Frame, breakpoint: &LineBreakpoint) -> Option<String> {
    let hits = breakpoint.hits.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(condition) = &breakpoint.hit_condition {
        match hit_condition_holds(condition, hits) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(message) => session.output("stderr", format!("{message}\n")),
        }
    }
    if let Some(condition) = &breakpoint.condition {
        match evaluate(lua, None, top.level, condition) {
            Ok(values) if truthy(values.front()) => {}
            Ok(_) => return None,
            Err(error) => session.output(
                "stderr",
                format!(
                    "breakpoint condition `{condition}` failed, so it stops: {}\n",
                    crate::registry::plain(&error)
                ),
            ),
        }
    }
    Some(match &breakpoint.log_message {
        Some(message) => interpolate(lua, top.level, message),
        None => String::new(),
    })
}

/// Whether the `hits`th hit passes a hit condition: `N` or `== N`, `>= N`, `> N`, `<= N`,
/// `< N`, `% N`.
pub(crate) fn hit_condition_holds(condition: &str, hits: u64) -> Result<bool, String> {
    let condition = condition.trim();
    let (op, number) = ["==", ">=", "<=", ">", "<", "%", "="]
        .iter()
        .find_map(|op| condition.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("==", condition));
    let n: u64 = number.trim().parse().map_err(|_| {
        format!("hit condition `{condition}` is not a count such as `3`, `>= 3` or `% 2`")
    })?;
    Ok(match op {
        ">=" => hits >= n,
        "<=" => hits <= n,
        ">" => hits > n,
        "<" => hits < n,
        "%" => n != 0 && hits.is_multiple_of(n),
        _ => hits == n,
    })
}

/// A logpoint's message with each `{expression}` replaced by its value.
fn interpolate(lua: &Lua, level: i32, message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let expression = &rest[open + 1..open + close];
        match evaluate(lua, None, level, expression) {
            Ok(values) => out.push_str(&shown_values(lua, &values)),
            Err(error) => out.push_str(&format!("<{}>", crate::registry::plain(&error))),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn truthy(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Nil | Value::Boolean(false)))
}

fn error_text(lua: &Lua, error: &Value) -> String {
    match error {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) => crate::registry::plain(e),
        other => shown(lua, other),
    }
}

/// Evaluates `expression` in the frame at `level` of `thread` (or the running thread), with
/// its locals and upvalues in scope and its script's globals behind them, and limits of its
/// own. A statement is run when the text is not an expression.
fn evaluate(
    lua: &Lua,
    thread: Option<&Thread>,
    level: i32,
    expression: &str,
) -> mlua::Result<MultiValue> {
    let limits = lua
        .app_data_ref::<VmDebug>()
        .map_or(Limits::NONE, |vm| vm.limits);
    let function = raw::function_at(lua, thread, level)?;
    let globals = match function.as_ref().and_then(Function::environment) {
        Some(env) => env,
        None => lua.globals(),
    };
    let scope = lua.create_table()?;
    if let Some(function) = &function {
        for (name, _, value) in raw::upvalues(lua, function)? {
            scope.raw_set(name, value)?;
        }
    }
    for (name, _, value) in raw::locals(lua, thread, level)? {
        if !name.starts_with('(') {
            scope.raw_set(name, value)?;
        }
    }
    let meta = lua.create_table()?;
    meta.raw_set("__index", &globals)?;
    meta.raw_set("__newindex", &globals)?;
    scope.set_metatable(Some(meta))?;
    let chunk = lua
        .load(format!("return {expression}"))
        .set_name("=evaluate")
        .set_environment(scope.clone())
        .into_function()
        .or_else(|_| {
            lua.load(expression)
                .set_name("=evaluate")
                .set_environment(scope)
                .into_function()
        })?;
    let (result, _) = Budget::detached(limits, || chunk.call::<MultiValue>(()));
    result
}

/// Stops: tells the client and serves its requests until it says to go on.
fn stop(
    lua: &Lua,
    session: &Arc<Session>,
    thread: Option<Thread>,
    frames: Vec<Frame>,
    why: &'static str,
    text: Option<String>,
) {
    let _gate = session.stop_gate();
    if !session.attached.load(Ordering::Acquire) {
        return;
    }
    let Some((id, name)) = lua
        .app_data_ref::<VmDebug>()
        .map(|vm| (vm.thread, vm.name.clone()))
    else {
        return;
    };
    while session.commands.1.try_recv().is_ok() {}
    session.stopped.store(id, Ordering::Release);
    let started = Instant::now();
    let told = session.events.send_timeout(
        Event::Stopped {
            thread: id,
            name,
            reason: why,
            text,
        },
        Duration::from_secs(5),
    );
    let resume = match told {
        Ok(()) => Stopped {
            lua,
            session,
            thread: thread.clone(),
            frames: &frames,
            refs: Vec::new(),
        }
        .serve(),
        Err(_) => Resume::Continue,
    };
    session.stopped.store(0, Ordering::Release);
    crate::ffi::interrupt::stood_still(started.elapsed());
    // Breakpoints set while stopped apply from the next line on.
    vm::refresh(lua);
    if resume != Resume::Continue && thread.is_none() {
        vm::start_step(lua, StepMode::Step(resume), &frames);
    }
}

/// What a variables reference names, for the length of a stop.
enum Container {
    Locals(i32),
    Upvalues(Function),
    Table(Table),
    Entity(Value),
}

/// A script stopped, serving requests.
struct Stopped<'a> {
    lua: &'a Lua,
    session: &'a Session,
    /// The failed coroutine whose frames these are; `None` for the running thread.
    thread: Option<Thread>,
    frames: &'a [Frame],
    refs: Vec<Container>,
}

impl Stopped<'_> {
    fn serve(mut self) -> Resume {
        loop {
            match self
                .session
                .commands
                .1
                .recv_timeout(Duration::from_millis(100))
            {
                Ok(Command::Resume(resume)) => return resume,
                Ok(Command::StackTrace(page, reply)) => {
                    let _ = reply.send(Ok(self.stack_trace(page)));
                }
                Ok(Command::Scopes(frame, reply)) => {
                    let _ = reply.send(self.scopes(frame));
                }
                Ok(Command::Variables(reference, reply)) => {
                    let _ = reply.send(self.variables(reference));
                }
                Ok(Command::Evaluate {
                    frame,
                    expression,
                    reply,
                }) => {
                    let _ = reply.send(self.evaluate(frame, &expression));
                }
                Ok(Command::SetVariable {
                    reference,
                    name,
                    value,
                    reply,
                }) => {
                    let _ = reply.send(self.set_variable(reference, &name, &value));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if !self.session.attached.load(Ordering::Acquire) {
                        return Resume::Continue;
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Resume::Continue,
            }
        }
    }

    fn frame(&self, id: i64) -> Result<&Frame, String> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.frames.get(i))
            .ok_or_else(|| format!("no frame {id} in the stopped thread"))
    }

    fn stack_trace(&self, (start, levels): (usize, usize)) -> Json {
        let frames: Vec<Json> = (self.frames.iter().enumerate())
            .skip(start)
            .take(levels)
            .map(|(id, frame)| {
                let name = frame.name.clone().unwrap_or_else(|| match frame.defined {
                    0 => "main chunk".to_owned(),
                    line => format!("function at line {line}"),
                });
                let mut json = json!({
                    "id": id,
                    "name": name,
                    "line": frame.line.max(0),
                    "column": 1,
                });
                if let Some(asset) = asset_of(&frame.source) {
                    let path = self.session.disk_path(asset);
                    json["source"] = json!({ "name": file_name(&path), "path": path });
                } else {
                    json["source"] =
                        json!({ "name": frame.source, "presentationHint": "deemphasize" });
                }
                json
            })
            .collect();
        json!({ "stackFrames": frames, "totalFrames": self.frames.len() })
    }

    fn reference(&mut self, container: Container) -> i64 {
        self.refs.push(container);
        i64::try_from(self.refs.len()).unwrap_or(i64::MAX)
    }

    fn scopes(&mut self, id: i64) -> Result<Json, String> {
        let frame = self.frame(id)?.clone();
        let lua = self.lua;
        let mut scopes = Vec::new();
        let locals_ref = self.reference(Container::Locals(frame.level));
        scopes.push(json!({ "name": "Locals", "presentationHint": "locals", "variablesReference": locals_ref, "expensive": false }));
        let function =
            raw::function_at(lua, self.thread.as_ref(), frame.level).map_err(|e| e.to_string())?;
        if let Some(function) = function {
            let has_upvalues = raw::upvalues(lua, &function).is_ok_and(|u| !u.is_empty());
            if let Some(env) = function.environment() {
                if let Some(this) = self.self_table() {
                    let reference = self.reference(Container::Table(this));
                    scopes.insert(0, json!({ "name": "Self", "variablesReference": reference, "expensive": false }));
                }
                if has_upvalues {
                    let reference = self.reference(Container::Upvalues(function));
                    scopes.push(json!({ "name": "Upvalues", "variablesReference": reference, "expensive": false }));
                }
                let reference = self.reference(Container::Table(env));
                scopes.push(json!({ "name": "Script globals", "variablesReference": reference, "expensive": false }));
            }
        }
        Ok(json!({ "scopes": scopes }))
    }

    /// The entity script's `self`: the `self` of the outermost Lua frame that has one.
    fn self_table(&self) -> Option<Table> {
        self.frames.iter().rev().find_map(|frame| {
            let locals = raw::locals(self.lua, self.thread.as_ref(), frame.level).ok()?;
            locals
                .into_iter()
                .find_map(|(name, _, value)| match (name.as_str(), value) {
                    ("self", Value::Table(table)) => Some(table),
                    _ => None,
                })
        })
    }

    fn container(&self, reference: i64) -> Result<&Container, String> {
        usize::try_from(reference - 1)
            .ok()
            .and_then(|i| self.refs.get(i))
            .ok_or_else(|| format!("no variables under reference {reference}"))
    }

    fn entries(&self, reference: i64) -> Result<Vec<(String, Value)>, String> {
        let lua = self.lua;
        let plain = |e: mlua::Error| crate::registry::plain(&e);
        Ok(match self.container(reference)? {
            Container::Locals(level) => raw::locals(lua, self.thread.as_ref(), *level)
                .map_err(plain)?
                .into_iter()
                .filter(|(name, _, _)| !name.starts_with('('))
                .map(|(name, _, value)| (name, value))
                .collect(),
            Container::Upvalues(function) => raw::upvalues(lua, function)
                .map_err(plain)?
                .into_iter()
                .map(|(name, _, value)| (name, value))
                .collect(),
            Container::Table(table) => {
                let mut entries: Vec<(Value, Value)> = table
                    .pairs::<Value, Value>()
                    .take(SHOWN_ENTRIES)
                    .filter_map(Result::ok)
                    .collect();
                entries.sort_by(|(a, _), (b, _)| order(a, b));
                entries
                    .into_iter()
                    .map(|(key, value)| (key_name(lua, &key), value))
                    .collect()
            }
            Container::Entity(entity) => self.components(entity),
        })
    }

    /// An entity's components by name, read as scripts read them (`ecs.get`).
    fn components(&self, entity: &Value) -> Vec<(String, Value)> {
        let Some(id) = entity_from_lua(entity) else {
            return Vec::new();
        };
        let names = crate::bridge::lent::with_world_ref(self.lua, |world| {
            world
                .inspect_entity(id)
                .map(|components| component_names(world, components))
        });
        let names = match names {
            Ok(Ok(names)) => names,
            Ok(Err(_)) => return vec![("(entity)".into(), "despawned".into_lua_text(self.lua))],
            Err(error) => {
                let text = format!("no world here: {}", crate::registry::plain(&error));
                return vec![("(entity)".into(), text.into_lua_text(self.lua))];
            }
        };
        let get = self
            .lua
            .globals()
            .get::<Table>("ecs")
            .and_then(|ecs| ecs.get::<Function>("get"));
        names
            .into_iter()
            .map(|name| {
                let value = match &get {
                    Ok(get) => {
                        let limits = self.limits();
                        let (value, _) = Budget::detached(limits, || {
                            get.call::<Value>((entity.clone(), name.as_str()))
                        });
                        value.unwrap_or_else(|error| {
                            format!("<{}>", crate::registry::plain(&error)).into_lua_text(self.lua)
                        })
                    }
                    Err(_) => Value::Nil,
                };
                (name, value)
            })
            .collect()
    }

    fn limits(&self) -> Limits {
        self.lua
            .app_data_ref::<VmDebug>()
            .map_or(Limits::NONE, |vm| vm.limits)
    }

    fn variable(&mut self, name: String, value: Value) -> Json {
        let text = shown(self.lua, &value);
        let kind = kind_of(&value);
        let reference = match &value {
            Value::Table(table) => self.reference(Container::Table(table.clone())),
            Value::LightUserData(_) if entity_from_lua(&value).is_some() => {
                self.reference(Container::Entity(value.clone()))
            }
            _ => 0,
        };
        json!({ "name": name, "value": text, "type": kind, "variablesReference": reference })
    }

    fn variables(&mut self, reference: i64) -> Result<Json, String> {
        let entries = self.entries(reference)?;
        let variables: Vec<Json> = entries
            .into_iter()
            .map(|(name, value)| self.variable(name, value))
            .collect();
        Ok(json!({ "variables": variables }))
    }

    fn evaluate(&mut self, frame: Option<i64>, expression: &str) -> Result<Json, String> {
        let level = self.frame(frame.unwrap_or(0))?.level;
        let values = evaluate(self.lua, self.thread.as_ref(), level, expression)
            .map_err(|e| crate::registry::plain(&e))?;
        let result = shown_values(self.lua, &values);
        let reference = match values.front() {
            Some(value @ (Value::Table(_) | Value::LightUserData(_))) => {
                self.variable(String::new(), value.clone())["variablesReference"].clone()
            }
            _ => json!(0),
        };
        Ok(json!({ "result": result, "variablesReference": reference }))
    }

    fn set_variable(&mut self, reference: i64, name: &str, value: &str) -> Result<Json, String> {
        let plain = |e: mlua::Error| crate::registry::plain(&e);
        let top = self.frames.first().map_or(0, |f| f.level);
        let level = match self.container(reference)? {
            Container::Locals(level) => *level,
            _ => top,
        };
        let values = evaluate(self.lua, self.thread.as_ref(), level, value).map_err(plain)?;
        let new = values.front().cloned().unwrap_or(Value::Nil);
        let lua = self.lua;
        let set = match self.container(reference)? {
            Container::Locals(level) => {
                let locals = raw::locals(lua, self.thread.as_ref(), *level).map_err(plain)?;
                match locals.iter().rev().find(|(n, _, _)| n == name) {
                    Some((_, n, _)) => {
                        raw::set_local(lua, self.thread.as_ref(), *level, *n, new.clone())
                            .map_err(plain)?
                    }
                    None => false,
                }
            }
            Container::Upvalues(function) => {
                let upvalues = raw::upvalues(lua, function).map_err(plain)?;
                match upvalues.iter().find(|(n, _, _)| n == name) {
                    Some((_, n, _)) => {
                        raw::set_upvalue(lua, function, *n, new.clone()).map_err(plain)?
                    }
                    None => false,
                }
            }
            Container::Table(table) => {
                let key: Value = match name.parse::<i64>() {
                    Ok(n) => Value::Integer(n),
                    Err(_) => Value::String(lua.create_string(name).map_err(plain)?),
                };
                table.set(key, new.clone()).map_err(plain)?;
                true
            }
            Container::Entity(_) => {
                return Err(
                    "components are set from scripts: evaluate `ecs.set(e, name, value)`".into(),
                );
            }
        };
        if !set {
            return Err(format!("no variable `{name}` here"));
        }
        let shown = self.variable(name.to_owned(), new);
        Ok(
            json!({ "value": shown["value"], "type": shown["type"], "variablesReference": shown["variablesReference"] }),
        )
    }
}

/// The names scripts know `components` by: the serde registration's name, or the reflected
/// type's short path. Components scripts cannot name (Bevy's own bookkeeping) are left out.
fn component_names<'w>(
    world: &'w bevy_ecs::world::World,
    components: impl Iterator<
        Item = (
            bevy_ecs::component::ComponentId,
            &'w bevy_ecs::component::ComponentInfo,
        ),
    >,
) -> Vec<String> {
    let serde = world.get_resource::<crate::ScriptRegistry>();
    let types = world.get_resource::<bevy_ecs::reflect::AppTypeRegistry>();
    let types = types.map(|t| t.read());
    let mut names: Vec<String> = components
        .filter_map(|(_, info)| {
            let type_id = info.type_id()?;
            let by_serde = serde.and_then(|registry| {
                registry
                    .serde_types(crate::registry::Kind::Component)
                    .find(|(_, id)| *id == type_id)
                    .map(|(name, _)| name.to_owned())
            });
            by_serde.or_else(|| {
                let registration = types.as_ref()?.get(type_id)?;
                Some(
                    registration
                        .type_info()
                        .type_path_table()
                        .short_path()
                        .to_owned(),
                )
            })
        })
        .collect();
    names.sort();
    names
}

/// Makes a Lua string of Rust text for a shown value.
trait IntoLuaText {
    fn into_lua_text(self, lua: &Lua) -> Value;
}

impl<T: AsRef<str>> IntoLuaText for T {
    fn into_lua_text(self, lua: &Lua) -> Value {
        lua.create_string(self.as_ref())
            .map_or(Value::Nil, Value::String)
    }
}

/// Table keys in a stable order: numbers, then the rest by their text.
fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let number = |v: &Value| match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => format!("{a:?}").cmp(&format!("{b:?}")),
    }
}

fn key_name(lua: &Lua, key: &Value) -> String {
    match key {
        Value::String(s) => s.to_string_lossy(),
        other => format!("[{}]", shown(lua, other)),
    }
}

fn kind_of(value: &Value) -> String {
    if entity_from_lua(value).is_some() {
        return "Entity".into();
    }
    value.type_name().to_owned()
}

/// Values as the client shows them, joined.
fn shown_values(lua: &Lua, values: &MultiValue) -> String {
    match values.len() {
        0 => "nil".into(),
        _ => values
            .iter()
            .map(|v| shown(lua, v))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// One value as the client shows it.
pub(crate) fn shown(lua: &Lua, value: &Value) -> String {
    const LONGEST: usize = 200;
    match value {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(n) => n.to_string(),
        Value::Number(n) => match n.fract() == 0.0 && n.abs() < 1e15 {
            true => format!("{n:.0}"),
            false => n.to_string(),
        },
        Value::Vector(v) => format!("vector({}, {}, {})", v.x(), v.y(), v.z()),
        Value::String(s) => {
            let text = s.to_string_lossy();
            match text.char_indices().nth(LONGEST) {
                Some((end, _)) => format!("{:?}…", &text[..end]),
                None => format!("{text:?}"),
            }
        }
        Value::Table(table) => {
            let length = table.raw_len();
            let keys = table.pairs::<Value, Value>().take(SHOWN_ENTRIES).count();
            match (length, keys) {
                (0, 0) => "{}".into(),
                (n, k) if n == k => format!("{{…}} ({n} items)"),
                (_, k) => format!("{{…}} ({k} entries)"),
            }
        }
        Value::Function(f) => match f.info().name {
            Some(name) => format!("function {name}"),
            None => "function".into(),
        },
        Value::Error(e) => crate::registry::plain(e),
        other => {
            let tostring = lua.globals().get::<Function>("tostring");
            let text = tostring.and_then(|f| {
                let (text, _) = Budget::detached(SHOWING, || f.call::<String>(other.clone()));
                text
            });
            text.unwrap_or_else(|_| other.type_name().to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hit_condition_holds;

    #[test]
    fn hit_conditions_count_hits() {
        assert_eq!(hit_condition_holds("3", 3), Ok(true));
        assert_eq!(hit_condition_holds("3", 4), Ok(false));
        assert_eq!(hit_condition_holds("== 2", 2), Ok(true));
        assert_eq!(hit_condition_holds(">= 3", 5), Ok(true));
        assert_eq!(hit_condition_holds("> 3", 3), Ok(false));
        assert_eq!(hit_condition_holds("< 3", 2), Ok(true));
        assert_eq!(hit_condition_holds("<= 3", 4), Ok(false));
        assert_eq!(hit_condition_holds("% 2", 4), Ok(true));
        assert_eq!(hit_condition_holds("% 2", 5), Ok(false));
        assert_eq!(hit_condition_holds("% 0", 5), Ok(false));
        let error = hit_condition_holds("often", 1).unwrap_err();
        assert!(error.contains("`often`"), "{error}");
    }
}
