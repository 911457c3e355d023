//! The MUD's server: the bridge between network sessions and Lua events. Every rule of the game
//! lives in `assets/games/mud/scripts/`.
//!
//! - A client that connects becomes an entity with a [`Session`]; Lua hears `on_connect`.
//! - Each line it sends is offered to `on_action` handlers; when none consumes it, to the
//!   default `command` handler.
//! - Lua answers with the [`Tell`] message and hangs up with [`Hangup`]; when a client leaves,
//!   Lua hears `on_disconnect` and the entity is despawned.

use crate::api::MudApiPlugin;
use crate::components::{Hangup, MudTypesPlugin, Session, Tell};
use crate::net::{self, NetEvent, Outbox, SessionId};
use bevy_app::{App, AppExit, Plugin, Startup, TaskPoolPlugin, Update};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// The template folder under the asset folder.
pub const TEMPLATE: &str = "games/mud";

/// The running server: its address and its clients.
#[derive(Resource)]
pub struct MudServer {
    /// The address clients connect to.
    pub addr: SocketAddr,
    listener: net::Listener,
    sessions: HashMap<SessionId, Client>,
}

/// One connected client.
struct Client {
    entity: Entity,
    outbox: Outbox,
    /// Whether a script has taken its `on_connect` yet.
    greeted: bool,
    /// Lines that arrived before then, in order.
    backlog: Vec<String>,
}

/// The most lines kept for a client the game has not greeted yet.
const BACKLOG: usize = 32;

/// What a client is told when a script failed on its behalf (the error itself is a
/// `ScriptError`, with the script's file and line).
const SCRIPT_FAILED: &str = "Something went wrong there; the gods have been told.";

impl MudServer {
    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        self.sessions.len()
    }
}

/// The admin console: lines to run, and where their output goes.
#[derive(Resource)]
pub struct AdminConsole {
    /// Console lines to run.
    pub input: Receiver<String>,
    /// Each line's output, or its error prefixed with `error: `.
    pub output: Sender<String>,
}

/// Serves the game: registers its types and messages, opens the port from the `sv_port` CVar
/// at startup, and moves lines between clients and scripts every frame.
pub struct MudPlugin;

impl Plugin for MudPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((MudTypesPlugin, MudApiPlugin))
            .add_console_command(
                "clients",
                "clients: how many clients are connected, and the server's address",
                |world, _| match world.get_resource::<MudServer>() {
                    Some(server) => Ok(format!(
                        "{} client(s) connected to {}",
                        server.clients(),
                        server.addr
                    )),
                    None => Err("the server is not listening".into()),
                },
            )
            .add_systems(Startup, open_port)
            .add_systems(
                Update,
                (
                    pump_network.before(ScriptingSystem),
                    deliver_output.after(ScriptingSystem),
                    follow_max_clients,
                    admin_console.after(ScriptingSystem),
                ),
            );
    }
}

/// A headless MUD app over the asset folder `assets`, without a runner: add
/// `ScheduleRunnerPlugin`, or call `finish`, `cleanup` and `update` yourself. `port` overrides
/// the `sv_port` CVar.
pub fn app(assets: PathBuf, port: Option<u16>) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(true),
            ..Default::default()
        },
        LuauScriptingPlugin {
            template: Some(TEMPLATE.into()),
            ..Default::default()
        },
        MudPlugin,
    ))
    .insert_resource(PortOverride(port));
    app
}

/// A port that wins over the `sv_port` CVar.
#[derive(Resource)]
struct PortOverride(Option<u16>);

/// Opens the port named by the `sv_port` CVar; the app exits with an error when it cannot.
fn open_port(world: &mut World) {
    let requested = world.get_resource::<PortOverride>().and_then(|p| p.0);
    let cvars = world.resource::<CVarRegistry>();
    let port = match requested {
        Some(port) => f64::from(port),
        None => cvars
            .get("sv_port")
            .and_then(CVarValue::as_f64)
            .unwrap_or(4000.0),
    };
    let max_clients = cvars
        .get("sv_max_clients")
        .and_then(CVarValue::as_f64)
        .unwrap_or(32.0);
    let Some(port) = (0.0..=65535.0).contains(&port).then_some(port as u16) else {
        tracing::error!(target: "mud", "sv_port {port} is not a TCP port");
        world.write_message(AppExit::error());
        return;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match net::listen(addr, max_clients.max(0.0) as usize) {
        Ok(listener) => {
            tracing::info!(target: "mud", "listening on {}", listener.addr);
            // `get sv_port` tells the port really in use.
            let mut cvars = world.resource_mut::<CVarRegistry>();
            if let Err(error) = cvars.set("sv_port", i64::from(listener.addr.port())) {
                tracing::warn!(target: "mud", "{error}");
            }
            world.insert_resource(MudServer {
                addr: listener.addr,
                listener,
                sessions: HashMap::default(),
            });
        }
        Err(error) => {
            tracing::error!(target: "mud", "cannot listen on {addr}: {error}; pick another port with `sv_port`");
            world.write_message(AppExit::error());
        }
    }
}

/// Turns network events into Lua events, in the order they happened.
///
/// A client is greeted (`on_connect`) once a script takes it: one that connects while the game's
/// scripts are still loading is greeted when they are, and its early lines wait until then.
fn pump_network(world: &mut World) {
    let Some(mut server) = world.remove_resource::<MudServer>() else {
        return;
    };
    while let Ok(event) = server.listener.events.try_recv() {
        match event {
            NetEvent::Connected { id, outbox } => {
                let entity = world.spawn(Session { id }).id();
                let client = Client {
                    entity,
                    outbox,
                    greeted: false,
                    backlog: Vec::new(),
                };
                server.sessions.insert(id, client);
            }
            NetEvent::Line { id, text } => {
                let Some(client) = server.sessions.get_mut(&id) else {
                    continue;
                };
                if !client.greeted {
                    if client.backlog.len() < BACKLOG {
                        client.backlog.push(text);
                    } else {
                        client
                            .outbox
                            .send("The world is still loading; that line was ignored.");
                    }
                    continue;
                }
                if let Some(reply) = action(world, client.entity, id, text) {
                    client.outbox.send(reply);
                }
            }
            NetEvent::Closed { id } => {
                let Some(client) = server.sessions.remove(&id) else {
                    continue;
                };
                if client.greeted
                    && let Err(error) =
                        ScriptEngine::emit(world, "on_disconnect", payload(client.entity, id, None))
                {
                    tracing::debug!(target: "mud", "on_disconnect failed: {error}");
                }
                if let Ok(entity) = world.get_entity_mut(client.entity) {
                    entity.despawn();
                }
            }
        }
    }
    for (&id, client) in server.sessions.iter_mut().filter(|(_, c)| !c.greeted) {
        match ScriptEngine::emit(world, "on_connect", payload(client.entity, id, None)) {
            Ok(true) => {}
            // Nothing took it: the scripts are not loaded yet. Try again next frame.
            Ok(false) => continue,
            // A handler failed (already a `ScriptError`); trying again each frame would only
            // repeat the error, so the client is let in as it is.
            Err(_) => {
                client.outbox.send(SCRIPT_FAILED);
            }
        }
        client.greeted = true;
        for line in std::mem::take(&mut client.backlog) {
            if let Some(reply) = action(world, client.entity, id, line) {
                client.outbox.send(reply);
            }
        }
    }
    world.insert_resource(server);
}

/// Offers a line to the `on_action` handlers, then to the default `command` handler. Returns
/// what to tell the client when no script could take it.
fn action(world: &mut World, entity: Entity, id: SessionId, line: String) -> Option<String> {
    let payload = payload(entity, id, Some(line));
    for event in ["on_action", "command"] {
        match ScriptEngine::emit(world, event, payload.clone()) {
            Ok(true) => return None,
            Ok(false) => {}
            Err(_) => return Some(SCRIPT_FAILED.into()),
        }
    }
    Some("Nothing in this world answers (no script handled that line).".into())
}

/// The payload of a session event: `{entity = e, session = id, line = "..."}`.
fn payload(entity: Entity, id: SessionId, line: Option<String>) -> ScriptValue {
    let mut map = BTreeMap::from([
        ("entity".to_owned(), ScriptValue::Entity(entity)),
        ("session".to_owned(), ScriptValue::Number(id as f64)),
    ]);
    if let Some(line) = line {
        map.insert("line".to_owned(), ScriptValue::String(line));
    }
    ScriptValue::Map(map)
}

/// Sends what scripts told clients, and hangs up on those they asked to.
fn deliver_output(
    server: Option<Res<MudServer>>,
    mut tells: MessageReader<Tell>,
    mut hangups: MessageReader<Hangup>,
) {
    let Some(server) = server else {
        tells.clear();
        hangups.clear();
        return;
    };
    for tell in tells.read() {
        if let Some(client) = server.sessions.get(&tell.session) {
            client.outbox.send(tell.text.clone());
        }
    }
    for hangup in hangups.read() {
        if let Some(client) = server.sessions.get(&hangup.session) {
            client.outbox.close();
        }
    }
}

/// Runs the admin's console lines.
fn admin_console(world: &mut World) {
    let Some(console) = world.get_resource::<AdminConsole>() else {
        return;
    };
    let (lines, output): (Vec<String>, _) =
        (console.input.try_iter().collect(), console.output.clone());
    for line in lines {
        let reply = match Console::execute(world, &line) {
            Ok(reply) => reply,
            Err(error) => format!("error: {error}"),
        };
        let _ = output.send(reply);
    }
}

/// Applies `sv_max_clients` changes to new connections.
fn follow_max_clients(server: Option<Res<MudServer>>, mut changes: MessageReader<CVarChanged>) {
    for change in changes.read() {
        if let (Some(server), "sv_max_clients") = (&server, change.name.as_str())
            && let Some(max) = change.new.as_f64()
        {
            server
                .listener
                .max_clients
                .store(max.max(0.0) as usize, Ordering::SeqCst);
        }
    }
}
